// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Host-side entry points of the CUDA backend. Plain C++: no CUDA types leak out of kernels/cuda.
#include <memory>
#include <string>

#include "fluxpoints/backend.hpp"

namespace fluxpoints::cuda_backend {
// Number of usable CUDA devices; 0 with `reason` set when there is none (no driver, no device).
int device_count(std::string* reason);
// Throws std::runtime_error with the reason when no device is usable.
std::unique_ptr<Backend> make();
}  // namespace fluxpoints::cuda_backend
