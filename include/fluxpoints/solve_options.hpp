// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Options of a batch solve, with gammapy's names and defaults.

#include <string>
#include <vector>

#include "fluxpoints/math/solver.hpp"

namespace fluxpoints {

struct SolveOptions {
  double n_sigma = 1.0;
  double n_sigma_ul = 2.0;
  // selection_optional: which optional quantities to compute.
  bool errn_errp = false;
  bool ul = false;
  bool scan = false;
  // The norm parameter: start value and hard limits (NaN = unbounded, gammapy's default).
  double norm_value = 1.0;
  double norm_min = math::kNaN;
  double norm_max = math::kNaN;
  // Scan grid: used verbatim if not empty, else scan_min..scan_max with scan_n_values points
  // spaced in `scan_interp` ("log", "lin" or "sqrt").
  std::vector<double> scan_values;
  double scan_min = 0.2;
  double scan_max = 5.0;
  int scan_n_values = 11;
  std::string scan_interp = "log";

  // Parses gammapy's selection_optional: a comma list of "errn-errp", "ul", "scan", or "all"
  // (= all of them) or "" / "none". Throws std::invalid_argument naming an unknown entry.
  void set_selection(const std::string& selection);
  std::string selection() const;
  // The grid that goes into norm_scan.
  std::vector<double> norm_scan() const;
  // Plain-data settings for the device/host solver.
  math::SolveSettings settings() const;
  // Throws std::invalid_argument for inconsistent values (n_sigma <= 0, min >= max, ...).
  void validate() const;
};

// numpy-style grid between a and b in the given interpolation ("lin", "log", "sqrt"), as
// gammapy's Parameter.scan_values builds it.
std::vector<double> interp_grid(double a, double b, int n, const std::string& interp);

}  // namespace fluxpoints
