// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// `fluxpoints batch CATALOG.h5 -o RESULTS.h5`: flux points of every source of an HDF5 catalog
// (docs/catalog-format.md), in chunks, resumable, sharded over MPI ranks when started by
// mpirun/srun. Estimator options come from the catalog's attributes; the command line overrides.
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
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
  std::string overlap = "device";
  bool reoptimize = false, no_reoptimize = false;
};

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds)) return "?";
  const long s = std::lround(seconds);
  return s >= 3600 ? fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60)
                   : fmt::format("{}:{:02d}", s / 60, s % 60);
}

// What rank 0 shows while the library runs: the plan line (not with --quiet), one progress line
// per finished chunk (rewritten in place on a terminal; not with --quiet or --no-progress).
void show_progress(const catalog::BatchProgress& p, bool progress_lines) {
  const catalog::BatchJob& job = *p.job;
  if (job.rank != 0) return;
  static bool line_open = false;  // a progress line without its newline (terminal)
  const bool tty = isatty(STDERR_FILENO);
  switch (p.stage) {
    case catalog::BatchStage::plan:
      note(
          "fluxpoints batch: {}; {}; {} sources, {} datasets, {} energy groups, {} chunks of {}, "
          "{}{}{}\n",
          job.backend_why, job.fold_why, job.n_sources, job.n_datasets, job.n_groups, job.n_chunks,
          job.chunk_sources, job.backend,
          job.ranks > 1 ? fmt::format(" x {} ranks", job.ranks) : "",
          job.resuming ? " (resuming)" : "");
      return;
    case catalog::BatchStage::write: {
      if (!progress_lines) return;
      // Rank 0 reports its own share; with several ranks the rates are scaled by their number.
      const std::string who = job.ranks > 1 ? fmt::format(" rank 0 of {}:", job.ranks) : "";
      fmt::print(stderr,
                 "{}fluxpoints batch:{} {}/{} sources ({:.1f}%), {:.1f} sources/s, {:.0f} flux "
                 "points/s{}, ETA {}{}",
                 tty ? "\r" : "", who, p.sources_done, p.sources_total,
                 100.0 * p.sources_done / std::max<std::int64_t>(p.sources_total, 1),
                 p.sources_per_second, p.flux_points_per_second,
                 job.ranks > 1 ? " (all ranks)" : "", format_duration(p.eta_seconds),
                 tty ? "" : "\n");
      line_open = tty;
      return;
    }
    case catalog::BatchStage::merge:
    case catalog::BatchStage::done:
      if (line_open) fmt::print(stderr, "\n");
      line_open = false;
      return;
    default:
      return;
  }
}

void run(BatchArgs& a, const CLI::App& cmd) {
  const bool progress_lines = !a.no_progress && verbosity() != Verbosity::quiet;
  a.run.progress = progress_lines;
  a.run.overlap = a.overlap == "always"  ? catalog::Overlap::always
                  : a.overlap == "never" ? catalog::Overlap::never
                                         : catalog::Overlap::device;
  a.run.on_progress = [progress_lines](const catalog::BatchProgress& p) {
    show_progress(p, progress_lines);
  };
  // Warnings are shown at every verbosity.
  a.run.on_warning = [](const std::string& w) {
    fmt::print(stderr, "fluxpoints batch: warning: {}\n", w);
  };
  a.run.on_detail = [](const std::string& d) { detail("fluxpoints batch: {}\n", d); };
  a.run.override_options = [&a, &cmd](EstimatorOptions& o) { a.estimator.apply(o, cmd); };
  if (a.reoptimize) a.run.reoptimize = true;
  if (a.no_reoptimize) a.run.reoptimize = false;
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
      const catalog::BatchStageSeconds& t = s.stage_seconds;
      note("fluxpoints batch: rank 0 stage times: read {:.2f} s (overlapped), fold+assemble "
           "{:.2f} s, solve {:.2f} s{}, tables {:.2f} s, write {:.2f} s\n",
           t.read, t.fold, t.solve, s.overlapped ? " (waited for; the rest overlapped)" : "",
           t.tables, t.write);
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
  cmd->add_option("--overlap", a.overlap,
                  "device: solve a chunk while the next is read and folded when the backend is a "
                  "GPU; always: also on the CPU (its solve threads then run beside the folding's); "
                  "never: one stage after the other. The results are the same")
      ->check(CLI::IsMember({"device", "always", "never"}))
      ->capture_default_str();
  cmd->add_option("--fold", a.run.fold,
                  "where the models are folded through the datasets. auto: on the GPU when the "
                  "solve backend is CUDA, else on the CPU; host: on the CPU (--workers threads); "
                  "device: on the CUDA GPU --device, many sources per call (an error when there is "
                  "none). Models without a closed form and field catalogs are always folded on "
                  "the CPU (-v says so). Device and host results agree to ~1e-12 relative")
      ->check(CLI::IsMember({"auto", "host", "device"}))
      ->capture_default_str();
  add_overwrite_flag(cmd, a.run.overwrite);
  auto* reopt = cmd->add_flag("--reoptimize", a.reoptimize,
                              "re-fit the free components of a field catalog (other sources' "
                              "amplitudes, background norms) with each norm; default: the "
                              "catalog's reoptimize attribute");
  cmd->add_flag("--no-reoptimize", a.no_reoptimize,
                "keep every other component fixed at its value (overrides the catalog)")
      ->excludes(reopt);
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
