// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Host-side entry points of the CUDA backend. Plain C++: no CUDA types leak out of kernels/cuda.
//
// How a batch is solved on the GPU (cuda_backend.cu):
//  - the batch is cut into chunks of whole problems that fit a device-memory budget
//    (chunk_plan.hpp); several chunks are in flight on separate streams, so the copy into pinned
//    memory, the transfers and the kernels of different chunks overlap;
//  - per chunk, problem ids are radix-sorted by bin count (CUB): small problems are solved one
//    per thread (neighbouring threads get similar sizes), medium ones one per warp and large ones
//    one per thread block; there every profile evaluation is a warp or block reduction whose
//    result all threads receive, so they all run the same scalar solver (math/solver.hpp);
//  - the scan runs as its own kernel holding many norms in registers per read of the bin data.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fluxpoints/backend.hpp"

namespace fluxpoints::cuda_backend {

struct CudaConfig {
  // Device bytes one chunk of problems may use; 0 = automatic (a share of the free memory, and
  // at least `streams` chunks for batches large enough to profit from overlap). Tests set it
  // small to force chunking.
  std::size_t chunk_bytes = 0;
  // Chunks in flight at once (each has its own stream and buffers): a ring of `streams` slots
  // reused chunk after chunk.
  int streams = 3;
  // Pinned (page-locked) host memory of all slots together at most this many bytes, whatever
  // the batch size (chunks are cut small enough; see automatic_chunk_bytes); 0 = no cap.
  std::size_t pinned_bytes_cap = std::size_t{1} << 30;
  // Problems with at least block_min_bins bins get a whole thread block, those with at least
  // warp_min_bins a warp, smaller ones one thread.
  std::int64_t warp_min_bins = 32;
  std::int64_t block_min_bins = 2048;
  // Scan norms held in registers per read of the bin data: 8 or 16 (a tuning knob; the sums do
  // not depend on it).
  int scan_norms_per_pass = 16;
};

// Time spent in each phase of the last solve, summed over chunks. GPU phases are measured with
// CUDA events on their stream; with several streams they overlap, so `wall_s` is less than the
// sum of the phases.
struct PhaseTimes {
  double setup_s = 0;     // (re)allocating device and pinned buffers, when the batch outgrew them
  double stage_s = 0;     // host: copying batch slices into pinned memory
  double upload_s = 0;    // host -> device transfers
  double solve_s = 0;     // sort, solve and scan kernels
  double download_s = 0;  // device -> host transfers
  double unstage_s = 0;   // host: copying results out of pinned memory
  double wall_s = 0;      // the whole solve() call
  int chunks = 0;
};

// Number of usable CUDA devices; 0 with `reason` set when there is none (no driver, no device).
int device_count(std::string* reason);
// Empty when a kernel of this binary runs on the current device (it creates the context, then
// launches a one-thread kernel and reads its result back); otherwise why not, naming the GPU and
// the architectures the binary was built for (e.g. no kernel image for an older GPU).
std::string kernel_image_problem();
// Throws std::runtime_error with the reason when no device is usable or kernel_image_problem()
// finds that the kernels cannot run on it.
std::unique_ptr<Backend> make(const CudaConfig& config = {});

// The backend's solver with its timings, for benchmarks. It keeps its device and pinned buffers
// between calls, so repeated solves of similar batches allocate nothing. The constructor throws
// like make() when there is no device.
class Solver {
 public:
  explicit Solver(const CudaConfig& config = {});
  ~Solver();
  Solver(const Solver&) = delete;
  Solver& operator=(const Solver&) = delete;
  // What Backend::solve does, filling `times` if given.
  BatchResult solve(const BatchView& batch, const SolveOptions& options,
                    PhaseTimes* times = nullptr);
  BatchResult solve(const LikelihoodBatch& batch, const SolveOptions& options,
                    PhaseTimes* times = nullptr);
  // The scan kernels alone: uploads the batch once (it must fit the device in one piece), runs
  // the scan of `norms` over all problems `repetitions` times and returns the mean kernel
  // seconds per run (CUDA events).
  double time_scan(const LikelihoodBatch& batch, const std::vector<double>& norms,
                   int repetitions);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fluxpoints::cuda_backend
