// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Each subcommand of the `fluxpoints` program registers itself through one of these functions
// (one file per subcommand in host/cli/).
#include <CLI/CLI.hpp>

#include <limits>
#include <string>

namespace fluxpoints::cli {
void add_demo_command(CLI::App& app);
void add_estimate_command(CLI::App& app);
void add_show_command(CLI::App& app);
void add_batch_command(CLI::App& app);
void add_simulate_command(CLI::App& app);
void add_convert_command(CLI::App& app);

// The options of every command that solves: --backend auto|cpu|cuda and --device N (which GPU).
inline void add_backend_options(CLI::App* cmd, std::string& backend, int& device) {
  cmd->add_option("--backend", backend, "auto, cpu or cuda")->capture_default_str();
  cmd->add_option("--device", device,
                  "CUDA device index among those this process sees (after CUDA_VISIBLE_DEVICES)")
      ->check(CLI::Range(0, std::numeric_limits<int>::max()))
      ->capture_default_str();
}
}  // namespace fluxpoints::cli
