// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "host/cli/estimator_option_args.hpp"

#include "fluxpoints/estimator/config.hpp"
#include "fluxpoints/limits.hpp"

namespace fluxpoints::cli {

const EstimatorOptionArgs::Help EstimatorOptionArgs::kEstimateHelp = {
    "group edges, e.g. 0.7,1,2,5,10 (TeV) or '700,1000,2000 GeV'",
    "selection_optional: all, none, or a comma list of errn-errp,ul,scan,sensitivity",
    "n_sigma for norm_err/errn/errp",
    "n_sigma_ul for norm_ul",
    "norm scan minimum (norm.scan_min, default 0.2)",
    "norm scan maximum (norm.scan_max, default 5)",
    "norm scan points (norm.scan_n_values)",
    "explicit norm scan values (norm.scan_values)",
    true,
};

const EstimatorOptionArgs::Help EstimatorOptionArgs::kBatchHelp = {
    "override: group edges, e.g. 0.1,1,10 (TeV)",
    "override: selection_optional (all, none, errn-errp,ul,scan)",
    "override: n_sigma",
    "override: n_sigma_ul",
    "override: norm scan minimum",
    "override: norm scan maximum",
    "override: norm scan points",
    "override: explicit norm scan values",
    false,
};

void EstimatorOptionArgs::add_to(CLI::App* cmd, const Help& help) {
  cmd->add_option("--energy-edges", energy_edges, help.energy_edges);
  cmd->add_option("--selection", selection, help.selection);
  auto* n_sigma_option = cmd->add_option("--n-sigma", n_sigma, help.n_sigma);
  auto* n_sigma_ul_option = cmd->add_option("--n-sigma-ul", n_sigma_ul, help.n_sigma_ul);
  if (help.show_sigma_defaults) {
    n_sigma_option->capture_default_str();
    n_sigma_ul_option->capture_default_str();
  }
  cmd->add_option("--norm-min", norm_min, help.norm_min);
  cmd->add_option("--norm-max", norm_max, help.norm_max);
  cmd->add_option("--norm-n-values", norm_n_values, help.norm_n_values)
      ->check(CLI::Range(1, limits::kMaxScanValues));
  cmd->add_option("--norm-values", norm_values, help.norm_values)->delimiter(',');
}

void EstimatorOptionArgs::apply(EstimatorOptions& options, const CLI::App& cmd) const {
  const auto given = [&](const char* name) { return cmd.count(name) > 0; };
  if (given("--energy-edges")) options.energy_edges = parse_energy_edges_tev(energy_edges);
  if (given("--selection")) options.set_selection(selection);
  if (given("--n-sigma")) options.solve.n_sigma = n_sigma;
  if (given("--n-sigma-ul")) options.solve.n_sigma_ul = n_sigma_ul;
  if (given("--norm-min")) options.solve.scan_min = norm_min;
  if (given("--norm-max")) options.solve.scan_max = norm_max;
  if (given("--norm-n-values")) options.solve.scan_n_values = norm_n_values;
  if (given("--norm-values")) options.solve.scan_values = norm_values;
}

}  // namespace fluxpoints::cli
