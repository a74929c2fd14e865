// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "host/cli/console.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "fluxpoints: spectral flux points (SEDs) of gamma-ray sources from binned Poisson likelihoods\n"
      "(Cash or WStat), computed like gammapy's FluxPointsEstimator, for many sources at once on\n"
      "GPUs (CUDA) or CPUs (Kokkos)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "fluxpoints 0.1.0");
  fluxpoints::cli::add_demo_command(app);
  fluxpoints::cli::add_estimate_command(app);
  fluxpoints::cli::add_show_command(app);
  fluxpoints::cli::add_batch_command(app);
  fluxpoints::cli::add_simulate_command(app);
  fluxpoints::cli::add_convert_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const fluxpoints::cli::ExitStatus& e) {
    return e.status;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fluxpoints: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
