// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include <stdexcept>

#include "fluxpoints/backend.hpp"
#include "kernels/kokkos/kokkos_backend.hpp"
#ifdef FLUXPOINTS_WITH_CUDA
#include "kernels/cuda/cuda_backend.hpp"
#endif

namespace fluxpoints {

std::vector<std::string> compiled_backends() {
#ifdef FLUXPOINTS_WITH_CUDA
  return {"cpu", "cuda"};
#else
  return {"cpu"};
#endif
}

bool cuda_device_available(std::string* reason) {
#ifdef FLUXPOINTS_WITH_CUDA
  return cuda_backend::device_count(reason) > 0;
#else
  if (reason) *reason = "this build has no CUDA support (configured with FLUXPOINTS_CUDA=OFF)";
  return false;
#endif
}

CudaBackendHooks default_cuda_backend_hooks() {
  CudaBackendHooks hooks;
  hooks.device_available = [](std::string* reason) { return cuda_device_available(reason); };
  hooks.make = []() -> std::unique_ptr<Backend> {
#ifdef FLUXPOINTS_WITH_CUDA
    return cuda_backend::make();
#else
    throw std::runtime_error("--backend cuda: this build has no CUDA support (FLUXPOINTS_CUDA=OFF)");
#endif
  };
  return hooks;
}

std::unique_ptr<Backend> make_backend(const std::string& which, std::string* why, int workers) {
  return make_backend(which, why, workers, default_cuda_backend_hooks());
}

std::unique_ptr<Backend> make_backend(const std::string& which, std::string* why, int workers,
                                      const CudaBackendHooks& cuda) {
  if (which == "cpu") {
    if (why) *why = "backend cpu (requested)";
    return kokkos_backend::make(workers);
  }
  if (which == "cuda") {
    auto b = cuda.make();
    if (why) *why = "backend cuda (requested)";
    return b;
  }
  if (which == "auto") {
    std::string reason;
    if (cuda.device_available(&reason)) {
      try {
        auto b = cuda.make();
        if (why) *why = "backend auto: using the CUDA GPU";
        return b;
      } catch (const std::runtime_error& e) {
        // A GPU this binary cannot use (no kernel image for it, no context): the CPU does it.
        reason = std::string("a CUDA device is present but cannot be used: ") + e.what();
      }
    }
    if (why) *why = "backend auto: using the CPU (" + reason + ")";
    return kokkos_backend::make(workers);
  }
  throw std::invalid_argument("unknown backend '" + which + "' (expected auto, cpu or cuda)");
}

}  // namespace fluxpoints
