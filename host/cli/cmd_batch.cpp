// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// `fluxpoints batch CATALOG.h5 -o RESULTS.h5`: flux points of every source of an HDF5 catalog
// (docs/catalog-format.md), in chunks, resumable, sharded over MPI ranks when started by
// mpirun/srun. Estimator options come from the catalog's attributes; the command line overrides.
#include <fmt/core.h>

#include <algorithm>
#include <exception>

#include "commands.hpp"
#include "fluxpoints/backend.hpp"
#include "fluxpoints/catalog/batch_run.hpp"
#include "host/catalog/mpi_env.hpp"
#include "host/cli/console.hpp"
#include "host/cli/estimator_option_args.hpp"

namespace fluxpoints::cli {
namespace {

struct BatchArgs {
  catalog::BatchRunOptions run;
  EstimatorOptionArgs estimator;
  bool no_progress = false, allow_failures = false;
};

void run(BatchArgs& a, const CLI::App& cmd) {
  a.run.progress = !a.no_progress && verbosity() != Verbosity::quiet;
  a.run.quiet = verbosity() == Verbosity::quiet;
  a.run.override_options = [&a, &cmd](EstimatorOptions& o) { a.estimator.apply(o, cmd); };
  catalog::ProcessGroup pg = catalog::start_process_group();
  a.run.processes = pg;
  // Ranks on one node share its cores: by default each takes its share.
  if (a.run.workers == 0 && catalog::local_size() > 1)
    a.run.workers = std::max(1, resolve_workers(0) / catalog::local_size());
  try {
    if (pg.size > 1 && a.run.backend != "cpu") {
      const std::string gpu = catalog::pin_gpu_to_local_rank();
      if (!gpu.empty()) note("fluxpoints batch: rank {}: {}\n", pg.rank, gpu);
    }
    const catalog::BatchRunSummary s = catalog::run_batch(a.run);
    if (a.run.read_only) {
      if (pg.rank == 0)
        say("read only: {} sources read in {:.2f} s ({:.0f} sources/s)\n", s.n_sources, s.seconds,
            s.n_sources / std::max(s.seconds, 1e-9));
      return;
    }
    if (pg.rank == 0) {
      say("{} sources: {} with flux points, {} with errors; {} flux points in {:.2f} s ({:.0f} "
          "flux points/s) on {}{}\n",
          s.n_sources, s.n_ok, s.n_errors, s.n_flux_points, s.seconds,
          s.n_flux_points / std::max(s.seconds, 1e-9), s.backend,
          pg.size > 1 ? fmt::format(" x {} ranks", pg.size) : "");
      note("fluxpoints batch: rank 0 stage times: read {:.2f} s (overlapped), fold+assemble "
           "{:.2f} s, solve {:.2f} s, tables {:.2f} s, write {:.2f} s\n",
           s.stage_seconds[0], s.stage_seconds[1], s.stage_seconds[2], s.stage_seconds[3],
           s.stage_seconds[4]);
      detail("fluxpoints batch: rank 0 computed {} chunks, kept {} from an earlier run; {} was "
             "locked by {}.lock for the run{}\n",
             s.chunks_done, s.chunks_skipped, a.run.output, a.run.output,
             a.run.fits_dir.empty() ? "" : "; per-source FITS files in " + a.run.fits_dir);
      if (s.chunks_skipped > 0)
        say("resumed: {} chunks were kept from the interrupted run\n", s.chunks_skipped);
      say("written: {}\n", a.run.output);
      if (s.n_errors > 0) {
        // Failed sources are errors: reported at every verbosity, and in the exit status.
        fmt::print(
            stderr,
            "fluxpoints batch: {} of {} sources failed (ok = 0); the reason of each is in {} "
            "/sources/error{}\n",
            s.n_errors, s.n_sources, a.run.output, s.first_failures.empty() ? "" : ". First:");
        for (const std::string& f : s.first_failures) fmt::print(stderr, "  {}\n", f);
        if (!a.allow_failures) {
          fmt::print(stderr,
                     "fluxpoints batch: exit status 2 (use --allow-failures to exit 0 when some "
                     "sources fail)\n");
          throw ExitStatus{2};
        }
      }
    }
  } catch (const std::exception& e) {
    if (pg.size > 1) {
      fmt::print(stderr, "fluxpoints: error (rank {}): {}\n", pg.rank, e.what());
      catalog::abort_job(1);
    }
    throw;
  }
}

}  // namespace

void add_batch_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("batch", "Flux points of every source of an HDF5 catalog (chunked, resumable, MPI)");
  static BatchArgs a;
  cmd->add_option("catalog", a.run.catalog, "HDF5 catalog (docs/catalog-format.md)")->required();
  cmd->add_option("-o,--output", a.run.output, "HDF5 result cube")->required();
  add_backend_options(cmd, a.run.backend, a.run.cuda_device);
  cmd->add_option("--workers", a.run.workers, "CPU threads for folding and the CPU solve (0 = every core)")
      ->capture_default_str();
  cmd->add_option("--chunk-sources", a.run.chunk_sources, "sources read, solved and written together")
      ->capture_default_str();
  cmd->add_flag("--resume", a.run.resume, "keep the chunks an interrupted run (same options) finished");
  cmd->add_option("--fits-dir", a.run.fits_dir, "also write one gadf SED FITS file per source here");
  cmd->add_flag("--no-progress", a.no_progress, "no progress line on stderr (--quiet implies it)");
  add_overwrite_flag(cmd, a.run.overwrite);
  cmd->add_flag(
      "--allow-failures", a.allow_failures,
      "exit 0 even when some sources failed (default: exit status 2; their reasons are in "
      "/sources/error)");
  add_verbosity_flags(cmd);
  cmd->add_flag("--read-only", a.run.read_only, "only read the catalog chunk by chunk and time it (benchmark floor)");
  a.estimator.add_to(cmd, EstimatorOptionArgs::kBatchHelp);
  cmd->callback([cmd] { run(a, *cmd); });
}

}  // namespace fluxpoints::cli
