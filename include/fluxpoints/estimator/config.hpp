// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Estimator options from a YAML file, with gammapy's FluxPointsEstimator names:
//
//   energy_edges: [0.7, 1, 2, 5, 10]        # TeV; or ["0.7 TeV", "1 TeV", ...];
//                                            # or {min: 0.4 TeV, max: 20 TeV, nbins: 10} (log)
//   source: crab                             # name or index in the model file
//   selection_optional: all                  # or [errn-errp, ul, scan, sensitivity], or null
//   n_sigma: 1
//   n_sigma_ul: 2
//   n_sigma_sensitivity: 5
//   sum_over_energy_groups: false
//   allow_multiple_telescopes: false
//   sqrt_ts_threshold_ul: 2
//   reoptimize: false                        # true is not supported (an error)
//   norm: {value: 1, min: .nan, max: .nan, scan_min: 0.2, scan_max: 5, scan_n_values: 11,
//          scan_values: [...], interp: log}
//
// gammapy's high-level analysis config layout is accepted too: a `flux_points:` block with
// `energy: {min, max, nbins}`, `source` and `parameters: {selection_optional: ...}`.

#include <string>

#include "fluxpoints/estimator/estimator.hpp"

namespace fluxpoints {

// Applies the keys present in the file to `options` and `source` (keys that are absent leave them
// unchanged). Unknown keys, wrong types and bad values throw std::runtime_error naming the file
// and the key.
void apply_estimator_config(const std::string& path, EstimatorOptions& options,
                            std::string& source);

// "0.7 TeV", "700 GeV" or a plain number (TeV) -> TeV. Throws std::invalid_argument.
double parse_energy_tev(const std::string& text);

// "0.7,1,2,5,10" (TeV) or "700,1000,2000 GeV" (a unit after the last number applies to all).
std::vector<double> parse_energy_edges_tev(const std::string& text);

}  // namespace fluxpoints
