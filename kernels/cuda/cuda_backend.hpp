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
//  - the scan runs as its own kernel holding many norms in registers per read of the bin data;
//  - problems with nuisance parameters (reoptimize) sort after all others and are solved one per
//    thread by the shared math::solve_and_store_nuisance, their scans included; a chunk carries
//    their nuisances and gathered templates (chunk_staging.hpp) and brings back the fitted
//    nuisances (BatchResult::nuisance).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fluxpoints/backend.hpp"

namespace fluxpoints::cuda_backend {

// The tuning options are public (fluxpoints/backend.hpp).
using fluxpoints::CudaConfig;

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
// Throws std::runtime_error with the reason when no device is usable, config.device is not an
// index among the devices this process sees, or kernel_image_problem() finds that the kernels
// cannot run on that device.
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
