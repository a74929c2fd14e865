// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Each subcommand of the `fluxpoints` program registers itself through one of these functions
// (one file per subcommand in host/cli/).
#include <CLI/CLI.hpp>

namespace fluxpoints::cli {
void add_demo_command(CLI::App& app);
void add_estimate_command(CLI::App& app);
void add_show_command(CLI::App& app);
void add_batch_command(CLI::App& app);
void add_simulate_command(CLI::App& app);
void add_convert_command(CLI::App& app);
}  // namespace fluxpoints::cli
