// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Checking a GPU index (CudaConfig::device) against the devices this process sees. Plain C++ (no
// CUDA) so the message is tested on machines without a GPU.
#include <string>

namespace fluxpoints::cuda_backend {

// Why GPU `index` cannot be used when the process sees `count` CUDA devices; empty when it can.
// `visible_devices` is CUDA_VISIBLE_DEVICES (null when unset): the runtime numbers only the
// devices it lists, so the message repeats it.
inline std::string device_index_problem(int index, int count, const char* visible_devices) {
  if (index >= 0 && index < count) return "";
  std::string why = "CUDA device index " + std::to_string(index) + " is out of range: this " +
                    "process sees " + std::to_string(count) + " CUDA device" +
                    (count == 1 ? "" : "s");
  if (count > 0) why += " (indices 0 to " + std::to_string(count - 1) + ")";
  if (visible_devices)
    why += std::string(", as CUDA_VISIBLE_DEVICES=\"") + visible_devices + "\" allows";
  return why;
}

}  // namespace fluxpoints::cuda_backend
