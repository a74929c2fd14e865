// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// A backend solves a whole batch (a BatchView: a LikelihoodBatch, or arrays the caller owns).
// There are no per-problem or per-bin virtual calls: the batch is the unit of work. New
// backends: one folder in kernels/ and one entry in host/engine/backend_factory.cpp.

#include <functional>
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

// How make_backend reaches the CUDA backend: whether a device is present, and building the
// backend, which throws std::runtime_error saying why when it cannot be used (e.g. the binary has
// no kernel image for that GPU). "auto" then falls back to the CPU and says why in `why`; "cuda"
// passes the error on. Tests replace the hooks to simulate such a GPU on any machine.
struct CudaBackendHooks {
  std::function<bool(std::string* reason)> device_available;
  std::function<std::unique_ptr<Backend>()> make;
};
CudaBackendHooks default_cuda_backend_hooks();
std::unique_ptr<Backend> make_backend(const std::string& which, std::string* why, int workers,
                                      const CudaBackendHooks& cuda);

// Backends compiled into this binary ("cpu", and "cuda" when built with CUDA).
std::vector<std::string> compiled_backends();
// Whether a CUDA device can be used now; `reason` says why not.
bool cuda_device_available(std::string* reason = nullptr);

}  // namespace fluxpoints
