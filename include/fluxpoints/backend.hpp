// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// A backend solves a whole batch (a BatchView: a LikelihoodBatch, or arrays the caller owns).
// There are no per-problem or per-bin virtual calls: the batch is the unit of work. New
// backends: one folder in kernels/ and one entry in host/engine/backend_factory.cpp.

#include <memory>
#include <string>
#include <vector>

#include "fluxpoints/batch.hpp"
#include "fluxpoints/batch_result.hpp"
#include "fluxpoints/solve_options.hpp"

namespace fluxpoints {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Validates the batch and options (std::invalid_argument on bad input), then solves. The view's
  // arrays are read in place, never copied on the host side beyond what the backend needs.
  virtual BatchResult solve(const BatchView& batch, const SolveOptions& options) const = 0;
  BatchResult solve(const LikelihoodBatch& batch, const SolveOptions& options) const {
    return solve(batch.as_view(), options);
  }
};

// "cpu", "cuda" or "auto". "cuda" throws std::runtime_error with the reason when no usable GPU
// (or no CUDA support in this build) is available; "auto" picks CUDA when a device is present and
// otherwise the CPU. `why`, if given, receives one line saying what was chosen and why.
// `workers`: CPU threads of the CPU backend (0 = every core this process may use; 1 = the plain
// Kokkos path); the CUDA backend ignores it. Results do not depend on it.
std::unique_ptr<Backend> make_backend(const std::string& which, std::string* why = nullptr,
                                      int workers = 0);

// Backends compiled into this binary ("cpu", and "cuda" when built with CUDA).
std::vector<std::string> compiled_backends();
// Whether a CUDA device can be used now; `reason` says why not.
bool cuda_device_available(std::string* reason = nullptr);

}  // namespace fluxpoints
