// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// `fluxpoints simulate --catalog N --seed S -o CATALOG.h5`: a random, realistic test catalog.
#include <fmt/core.h>

#include "commands.hpp"
#include "fluxpoints/catalog/simulate.hpp"

namespace fluxpoints::cli {

void add_simulate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("simulate", "Simulate a test catalog of N sources (HDF5 catalog format)");
  static catalog::SimulateCatalogOptions o;
  static std::string output;
  cmd->add_option("--catalog", o.n_sources, "number of sources")->required();
  cmd->add_option("--seed", o.seed, "random seed (same seed, same catalog)")->capture_default_str();
  cmd->add_option("--min-datasets", o.min_datasets, "fewest On/Off datasets per source")->capture_default_str();
  cmd->add_option("--max-datasets", o.max_datasets, "most On/Off datasets per source")->capture_default_str();
  cmd->add_option("--groups", o.n_groups, "energy groups from 0.1 to 100 TeV (divides 30)")->capture_default_str();
  cmd->add_option("--selection", o.selection, "selection_optional stored in the catalog")->capture_default_str();
  cmd->add_option("-o,--output", output, "catalog file to write")->required();
  cmd->callback([] {
    catalog::simulate_catalog(o, output);
    fmt::print("written: {} ({} sources, seed {})\n", output, o.n_sources, o.seed);
  });
}

}  // namespace fluxpoints::cli
