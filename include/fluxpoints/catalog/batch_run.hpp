// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// `fluxpoints batch`: flux points of every source of an HDF5 catalog, streamed in chunks of
// sources, so memory stays bounded for any catalog. A run is a pipeline of stages: plan (options,
// output checks, chunk ranges), resume (chunk files of an interrupted run), then per chunk read ->
// fold and assemble -> solve -> tables -> write, and at the end merge and summary. Reading the
// next chunk and writing the previous one run on their own threads; the solve of chunk k runs
// while chunk k + 1 is read and folded (BatchRunOptions::overlap).
//
// Each finished chunk is written to its own small HDF5 file in RESULTS.h5.parts/ (written under a
// temporary name, flushed, then renamed: a chunk file exists only when it is complete). When every
// chunk is done, the chunk files are merged into RESULTS.h5 (again via a temporary name) and the
// folder is removed. So a job killed at any moment loses at most the chunks in flight, and
// --resume skips the chunks already on disk; the same files also carry the results of MPI ranks
// to rank 0, which merges them. A source that cannot be processed (unreadable dataset, NaNs,
// shapes that do not match, no valid bin) gets an error record with the reason; the others are
// not affected. The result layout is documented in docs/catalog-format.md.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fluxpoints/estimator/estimator.hpp"
#include "fluxpoints/fold_backend.hpp"

namespace fluxpoints::catalog {

inline constexpr const char* kResultsFormat = "fluxpoints-results";
inline constexpr std::int64_t kResultsFormatVersion = 1;

// The processes of a job (MPI ranks; one process without MPI).
struct ProcessGroup {
  int rank = 0;
  int size = 1;
  std::function<void()> barrier = [] {};
};

// The stages of a run, in order. Every chunk of sources goes through read, fold, solve, tables
// and write; plan and resume come before the chunks, merge (rank 0) and done after them.
enum class BatchStage { plan, resume, read, fold, solve, tables, write, merge, done };
const char* stage_name(BatchStage stage);

// What a job is, known once it is planned (the same in every progress report).
struct BatchJob {
  std::int64_t n_sources = 0, n_datasets = 0, n_groups = 0;
  std::int64_t n_chunks = 0, chunk_sources = 0;
  std::string backend;      // the backend's name
  std::string backend_why;  // one line: what make_backend chose and why
  std::string fold_why;     // one line: where the fold runs (BatchRunOptions::fold) and why
  int rank = 0, ranks = 1;
  bool resuming = false;
};

// One progress report. Counts are this process's share of the catalog (its chunks); the rates
// are scaled by the number of ranks (an estimate for the whole job).
struct BatchProgress {
  // The stage the run enters now; plan and resume are reported once done (the job is planned,
  // the resumed chunks are counted in sources_done).
  BatchStage stage = BatchStage::plan;
  std::int64_t sources_done = 0;        // with results handed to the writer (or resumed)
  std::int64_t sources_total = 0;
  double sources_per_second = 0, flux_points_per_second = 0;  // of the sources computed by this run
  double eta_seconds = 0;               // this process's remaining sources at that rate
  const BatchJob* job = nullptr;        // valid during the call
};

// Whether a run overlaps the solve of one chunk with the folding of the next.
enum class Overlap {
  device,  // when the backend solves on a device (CUDA): the CPU folds meanwhile
  always,  // also with the CPU backend, whose `workers` solve threads then run beside the
           // folding's `workers` threads (more threads than `workers` busy at once)
  never,   // each chunk is solved before the next one is folded
};

// Where batch folds the sources' models through their datasets.
//   auto:   on the device when the solve backend is on one (CUDA), else on the host
//   host:   on the CPU, source by source on the folding threads (`workers`)
//   device: on the CUDA GPU `cuda_device`, the closed-form models of a slice of the chunk's
//           sources per call (a slice per worker); an error (std::runtime_error, before any
//           work) when no GPU can be used
// Models without a closed form (e.g. EBL-absorbed or template models) and field catalogs (with
// components) are folded on the host in every case; on_detail says so per chunk. The device's
// pow/exp/log round differently from the host's, so results on the device agree with the host's
// to about 1e-12 relative, not bit for bit. Any other value: std::invalid_argument.

struct BatchRunOptions {
  std::string catalog;
  std::string output;
  std::string backend = "auto";
  int cuda_device = 0;              // CUDA device index (CudaConfig::device)
  int workers = 0;                  // CPU threads for folding and the CPU solve; 0 = every core
  std::string fold = "auto";        // "auto", "host" or "device" (see above)
  // Tests: fold with this backend as --fold device would (null: as `fold` says).
  std::shared_ptr<const FoldBackend> fold_backend;
  std::int64_t chunk_sources = 500; // sources per chunk
  bool resume = false;
  std::string fits_dir;             // "" = no per-source FITS files
  bool overwrite = false;           // replace an existing output (and --fits-dir files)
  bool read_only = false;           // only read every chunk (the I/O floor of a run); no output
  // When chunk k is solved (Backend::solve_async) while chunk k + 1 is read and folded, and chunk
  // k's tables are built while chunk k + 1 solves. The results are the same bits either way.
  Overlap overlap = Overlap::device;
  // Applied to the estimator options after the catalog's attributes (command-line overrides).
  std::function<void(EstimatorOptions&)> override_options;
  // Re-fit the free components of a field catalog with each norm (nuisance parameters);
  // unset: the catalog's `reoptimize` attribute decides.
  std::optional<bool> reoptimize;
  ProcessGroup processes;
  // The library prints nothing; a caller that wants to show the run installs these. Both are
  // called on the thread that called run_batch, in every process. on_progress hears the plan,
  // the resume, every stage of every chunk when `progress` is true, the merge (rank 0) and the
  // end; on_warning gets one line per warning (e.g. a stale lock file taken over).
  std::function<void(const BatchProgress&)> on_progress;
  std::function<void(const std::string&)> on_warning;
  // Details for a verbose log, one line each (e.g. sources of a chunk folded on the host because
  // their model has no closed form). Called on the thread that called run_batch.
  std::function<void(const std::string&)> on_detail;
  bool progress = true;             // false: on_progress hears no per-chunk stages
};

// Seconds this process spent in each stage, each measured by the stage itself and summed over
// chunks at the end. `read` runs on a reader thread, beside the others; `write` on a writer
// thread. `solve` is the time the pipeline waited for the solve: with `overlap` the solve runs
// beside the next chunk's reading and folding, and only what is not hidden behind them counts.
struct BatchStageSeconds {
  double read = 0, fold = 0, solve = 0, tables = 0, write = 0;
};

struct BatchRunSummary {
  std::int64_t n_sources = 0, n_ok = 0, n_errors = 0, n_flux_points = 0;
  std::int64_t chunks_done = 0, chunks_skipped = 0;  // by this process; skipped = resumed
  std::vector<std::string>
      first_failures;  // rank 0: "'NAME' (row R): ERROR" of the first failed sources
  double seconds = 0;
  std::string backend;
  bool overlapped = false;  // whether solves overlapped the folding (options.overlap, > 1 chunk)
  BatchStageSeconds stage_seconds;
};

// Runs the job. Every process of `options.processes` calls it; rank 0 merges and returns the
// totals of the whole catalog. The output follows the output rule (fluxpoints/io/output.hpp) and
// one run at a time may write it: rank 0 holds OUTPUT.lock (flock) for the whole run. Throws
// std::runtime_error for a bad catalog, an output that is refused or cannot be written, another
// run on the same output, or --resume with chunk files from a different job. A source that fails
// is not an exception: it gets an error record (summary.n_errors).
BatchRunSummary run_batch(const BatchRunOptions& options);

// The folder of chunk files of an output path.
std::string parts_folder(const std::string& output);

}  // namespace fluxpoints::catalog
