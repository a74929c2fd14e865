// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The engine's public backend API (fluxpoints/backend.hpp) on top of the backends in kernels/:
// the only file outside a backend's folder that includes a backend's header.
#include <memory>
#include <stdexcept>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/config.hpp"
#include "kernels/kokkos/kokkos_backend.hpp"
#if FLUXPOINTS_WITH_CUDA
#include "kernels/cuda/cuda_backend.hpp"
#endif

namespace fluxpoints {

std::future<BatchResult> Backend::solve_async(const BatchView& batch,
                                              const SolveOptions& options) const {
  return std::async(std::launch::async,
                    [this, batch, options] { return solve(batch, options); });
}

std::vector<std::string> compiled_backends() {
#if FLUXPOINTS_WITH_CUDA
  return {"cpu", "cuda"};
#else
  return {"cpu"};
#endif
}

bool cuda_device_available(std::string* reason) {
#if FLUXPOINTS_WITH_CUDA
  return cuda_backend::device_count(reason) > 0;
#else
  if (reason) *reason = "this build has no CUDA support (configured with FLUXPOINTS_CUDA=OFF)";
  return false;
#endif
}

CudaBackendHooks default_cuda_backend_hooks(const CudaConfig& config) {
  CudaBackendHooks hooks;
  hooks.device_available = [](std::string* reason) { return cuda_device_available(reason); };
  hooks.make = [config]() -> std::unique_ptr<Backend> {
#if FLUXPOINTS_WITH_CUDA
    return cuda_backend::make(config);
#else
    (void)config;
    throw std::runtime_error("--backend cuda: this build has no CUDA support (FLUXPOINTS_CUDA=OFF)");
#endif
  };
  return hooks;
}

std::unique_ptr<Backend> make_backend(const BackendOptions& options, std::string* why,
                                      const CudaBackendHooks& cuda) {
  const std::string& which = options.device;
  if (which == "cpu") {
    if (why) *why = "backend cpu (requested)";
    return kokkos_backend::make(options.workers);
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
    return kokkos_backend::make(options.workers);
  }
  throw std::invalid_argument("unknown backend '" + which + "' (expected auto, cpu or cuda)");
}

std::unique_ptr<Backend> make_backend(const BackendOptions& options, std::string* why) {
  return make_backend(options, why, default_cuda_backend_hooks(options.cuda));
}

std::unique_ptr<Backend> make_backend(const std::string& which, std::string* why, int workers,
                                      const CudaBackendHooks& cuda) {
  BackendOptions options;
  options.device = which;
  options.workers = workers;
  return make_backend(options, why, cuda);
}

std::unique_ptr<Backend> make_backend(const std::string& which, std::string* why, int workers) {
  BackendOptions options;
  options.device = which;
  options.workers = workers;
  return make_backend(options, why);
}

}  // namespace fluxpoints
