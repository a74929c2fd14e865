// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The estimator options that `estimate` and `batch` both take on the command line (energy
// groups, selection, sigmas, norm scan): one place that declares them and one that applies the
// given ones over options from a config file or a catalog.
#include <CLI/CLI.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "fluxpoints/estimator/estimator.hpp"

namespace fluxpoints::cli {

struct EstimatorOptionArgs {
  std::string energy_edges, selection;
  double n_sigma = 1, n_sigma_ul = 2, norm_min = NAN, norm_max = NAN;
  int norm_n_values = 11;
  std::vector<double> norm_values;

  // Help texts per command: `estimate` explains each option and shows the defaults; for `batch`
  // they override the catalog's options, whose values the help cannot know.
  struct Help {
    const char* energy_edges;
    const char* selection;
    const char* n_sigma;
    const char* n_sigma_ul;
    const char* norm_min;
    const char* norm_max;
    const char* norm_n_values;
    const char* norm_values;
    bool show_sigma_defaults;  // capture_default_str on --n-sigma and --n-sigma-ul
  };
  static const Help kEstimateHelp;
  static const Help kBatchHelp;

  // Adds --energy-edges, --selection, --n-sigma, --n-sigma-ul, --norm-min, --norm-max,
  // --norm-n-values and --norm-values to `cmd`, bound to this object.
  void add_to(CLI::App* cmd, const Help& help);
  // Sets in `options` each of those options given on `cmd`'s command line; the rest stay.
  void apply(EstimatorOptions& options, const CLI::App& cmd) const;
};

}  // namespace fluxpoints::cli
