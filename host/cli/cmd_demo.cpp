// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// `fluxpoints demo`: solves a small built-in batch (a synthetic spectrum of eight reco bins in
// four groups, as Cash and as On/Off WStat data) and prints the flux-point table. Useful as a
// smoke test of a build and of the chosen backend.
#include <fmt/core.h>

#include "commands.hpp"
#include "fluxpoints/backend.hpp"
#include "fluxpoints/examples.hpp"
#include "host/cli/console.hpp"

namespace fluxpoints::cli {

void add_demo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Solve a small built-in example batch and print it");
  static std::string backend = "auto";
  static std::string selection = "all";
  static int workers = 0, device = 0;
  add_backend_options(cmd, backend, device);
  cmd->add_option("--selection", selection, "selection_optional: errn-errp,ul,scan or all")
      ->capture_default_str();
  cmd->add_option("--workers", workers, "CPU backend threads (0 = every core)")->capture_default_str();
  add_verbosity_flags(cmd);
  cmd->callback([] {
    std::string why;
    BackendOptions choice;
    choice.device = backend;
    choice.workers = workers;
    choice.cuda.device = device;
    auto b = make_backend(choice, &why);
    note("{}: {}\n", why, b->name());
    SolveOptions options;
    options.set_selection(selection);
    const LikelihoodBatch batch = examples::synthetic_spectrum_batch();
    const BatchResult r = b->solve(batch, options);
    say("{:<28} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>11} {:>7}\n", "problem", "norm",
        "norm_err", "norm_errn", "norm_errp", "norm_ul", "ts", "stat", "success");
    for (std::int64_t p = 0; p < r.n_problems(); ++p) {
      say("{:<28} {:>10.6g} {:>10.6g} {:>10.6g} {:>10.6g} {:>10.6g} {:>10.6g} {:>11.7g} {:>7}\n",
          batch.label(p), r.filtered_norm(p), r.filtered_norm_err(p), r.norm_errn[p],
          r.norm_errp[p], r.norm_ul[p], r.ts[p], r.stat[p], r.success[p] ? "True" : "False");
      if (!r.success[p]) say("    reason: {}\n", r.reason(p));
    }
  });
}

}  // namespace fluxpoints::cli
