// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// A backend solves a whole batch (a BatchView: a LikelihoodBatch, or arrays the caller owns).
// There are no per-problem or per-bin virtual calls: the batch is the unit of work. New
// backends: one folder in kernels/ and one entry in kernels/backend_factory.cpp.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "fluxpoints/batch.hpp"
#include "fluxpoints/batch_result.hpp"
#include "fluxpoints/solve_options.hpp"

namespace fluxpoints {

// Tuning of the CUDA backend. The defaults suit current data-centre GPUs; results do not depend
// on any of these (they change only how the work is cut and scheduled).
struct CudaConfig {
  // Which GPU: an index among the CUDA devices this process sees (0 = the first). The CUDA
  // runtime applies CUDA_VISIBLE_DEVICES first, so with CUDA_VISIBLE_DEVICES=2,3 index 1 is the
  // machine's GPU 3. An index out of range is an error naming the index and the device count
  // ("auto" then falls back to the CPU, saying so).
  int device = 0;
  // Device bytes one chunk of problems may use; 0 = automatic (a share of the free memory, and
  // at least `streams` chunks for batches large enough to profit from overlap). Tests set it
  // small to force chunking.
  std::size_t chunk_bytes = 0;
  // Chunks in flight at once (each has its own stream and buffers): a ring of `streams` slots
  // reused chunk after chunk.
  int streams = 3;
  // Pinned (page-locked) host memory of all slots together at most this many bytes, whatever
  // the batch size (chunks are cut small enough); 0 = no cap.
  std::size_t pinned_bytes_cap = std::size_t{1} << 30;
  // Problems with at least block_min_bins bins get a whole thread block, those with at least
  // warp_min_bins a warp, smaller ones one thread (problems with nuisance parameters: one
  // thread each, whatever their size).
  std::int64_t warp_min_bins = 32;
  std::int64_t block_min_bins = 2048;
  // Scan norms held in registers per read of the bin data: 8 or 16.
  int scan_norms_per_pass = 16;
};

// Which backend make_backend builds, and its tuning.
struct BackendOptions {
  // "cpu", "cuda" or "auto" (CUDA when a device is usable, otherwise the CPU).
  std::string device = "auto";
  // CPU threads of the CPU backend (0 = every core this process may use); the CUDA backend
  // ignores it. Results do not depend on it.
  int workers = 0;
  CudaConfig cuda;
};

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
  // Starts solve(batch, options) and returns at once; the future holds the result, or the
  // exception solve() threw. The arrays the view points to must stay alive and unchanged, and the
  // backend alive, until the future is ready. Lets a caller prepare the next batch while this one
  // is solved. The default runs solve() on a thread of its own; a backend may do better.
  virtual std::future<BatchResult> solve_async(const BatchView& batch,
                                               const SolveOptions& options) const;
};

// "cpu", "cuda" or "auto". "cuda" throws std::runtime_error with the reason when no usable GPU
// (or no CUDA support in this build) is available; "auto" picks CUDA when a device is present and
// otherwise the CPU. `why`, if given, receives one line saying what was chosen and why.
// `workers`: CPU threads of the CPU backend (0 = every core this process may use; 1 = the plain
// Kokkos path); the CUDA backend ignores it. Results do not depend on it.
std::unique_ptr<Backend> make_backend(const std::string& which, std::string* why = nullptr,
                                      int workers = 0);
// The same with every tuning option (device, CPU workers, CUDA settings).
std::unique_ptr<Backend> make_backend(const BackendOptions& options, std::string* why = nullptr);

// The CPU thread count `workers` resolves to: itself if > 0, else the CPUs this process may run
// on (its scheduler affinity, else the hardware's threads), at least 1. Throws
// std::invalid_argument for a negative count.
int resolve_workers(int workers);

// How make_backend reaches the CUDA backend: whether a device is present, and building the
// backend, which throws std::runtime_error saying why when it cannot be used (e.g. the binary has
// no kernel image for that GPU). "auto" then falls back to the CPU and says why in `why`; "cuda"
// passes the error on. Tests replace the hooks to simulate such a GPU on any machine.
struct CudaBackendHooks {
  std::function<bool(std::string* reason)> device_available;
  std::function<std::unique_ptr<Backend>()> make;
};
CudaBackendHooks default_cuda_backend_hooks(const CudaConfig& config = {});
std::unique_ptr<Backend> make_backend(const BackendOptions& options, std::string* why,
                                      const CudaBackendHooks& cuda);
std::unique_ptr<Backend> make_backend(const std::string& which, std::string* why, int workers,
                                      const CudaBackendHooks& cuda);

// Backends compiled into this binary ("cpu", and "cuda" when built with CUDA).
std::vector<std::string> compiled_backends();
// Whether a CUDA device can be used now; `reason` says why not.
bool cuda_device_available(std::string* reason = nullptr);

}  // namespace fluxpoints
