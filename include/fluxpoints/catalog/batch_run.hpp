// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// `fluxpoints batch`: flux points of every source of an HDF5 catalog, streamed in chunks of
// sources (read -> fold and assemble -> solve -> write), so memory stays bounded for any catalog.
// Reading the next chunk and writing the previous one overlap the folding and solving.
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
#include <string>
#include <vector>

#include "fluxpoints/estimator/estimator.hpp"

namespace fluxpoints::catalog {

inline constexpr const char* kResultsFormat = "fluxpoints-results";
inline constexpr std::int64_t kResultsFormatVersion = 1;

// The processes of a job (MPI ranks; one process without MPI).
struct ProcessGroup {
  int rank = 0;
  int size = 1;
  std::function<void()> barrier = [] {};
};

struct BatchRunOptions {
  std::string catalog;
  std::string output;
  std::string backend = "auto";
  int cuda_device = 0;              // CUDA device index (CudaConfig::device)
  int workers = 0;                  // CPU threads for folding and the CPU solve; 0 = every core
  std::int64_t chunk_sources = 500; // sources per chunk
  bool resume = false;
  std::string fits_dir;             // "" = no per-source FITS files
  bool progress = true;             // progress line on stderr (rank 0)
  bool quiet = false;               // no informational lines on stderr (errors still throw)
  bool overwrite = false;           // replace an existing output (and --fits-dir files)
  bool read_only = false;           // only read every chunk (the I/O floor of a run); no output
  // Applied to the estimator options after the catalog's attributes (command-line overrides).
  std::function<void(EstimatorOptions&)> override_options;
  ProcessGroup processes;
};

struct BatchRunSummary {
  std::int64_t n_sources = 0, n_ok = 0, n_errors = 0, n_flux_points = 0;
  std::int64_t chunks_done = 0, chunks_skipped = 0;  // by this process; skipped = resumed
  std::vector<std::string>
      first_failures;  // rank 0: "'NAME' (row R): ERROR" of the first failed sources
  double seconds = 0;
  std::string backend;
  // Seconds this process spent in each stage: read (on the reader thread, overlapping the others),
  // fold + assemble, solve, flux-point tables, write (FITS and chunk files).
  double stage_seconds[5] = {0, 0, 0, 0, 0};
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
