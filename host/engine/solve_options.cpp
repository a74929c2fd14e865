// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/solve_options.hpp"

#include <cmath>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>

#include "fluxpoints/limits.hpp"

namespace fluxpoints {

std::vector<double> interp_grid(double a, double b, int n, const std::string& interp) {
  if (n < 1) throw std::invalid_argument("scan: the number of norm values must be >= 1");
  if (n > limits::kMaxScanValues)
    throw std::invalid_argument("scan: " + std::to_string(n) + " norm values exceed the maximum of " +
                                std::to_string(limits::kMaxScanValues));
  std::function<double(double)> fwd, inv;
  if (interp == "lin") {
    fwd = [](double x) { return x; };
    inv = fwd;
  } else if (interp == "log") {
    // gammapy clips non-positive bounds to the smallest positive double before the log.
    fwd = [](double x) { return std::log(x > 0 ? x : math::kSmallestPositive); };
    inv = [](double x) { return std::exp(x); };
  } else if (interp == "sqrt") {
    fwd = [](double x) { return std::copysign(std::sqrt(std::abs(x)), x); };
    inv = [](double x) { return std::copysign(x * x, x); };
  } else {
    throw std::invalid_argument("scan interp '" + interp + "' is not one of lin, log, sqrt");
  }
  const double lo = fwd(a), hi = fwd(b);
  std::vector<double> out(n);
  // numpy.linspace: start + i*step, with the last point set to stop exactly.
  const double step = n > 1 ? (hi - lo) / (n - 1) : 0.0;
  for (int i = 0; i < n; ++i) out[i] = inv(i + 1 == n && n > 1 ? hi : lo + i * step);
  return out;
}

void SolveOptions::set_selection(const std::string& selection) {
  errn_errp = ul = scan = false;
  std::stringstream ss(selection);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
    if (item.empty() || item == "none") continue;
    if (item == "all") errn_errp = ul = scan = true;
    else if (item == "errn-errp") errn_errp = true;
    else if (item == "ul") ul = true;
    else if (item == "scan") scan = true;
    else
      throw std::invalid_argument("selection_optional: unknown entry '" + item +
                                  "' (expected errn-errp, ul, scan or all)");
  }
}

std::string SolveOptions::selection() const {
  std::string s;
  const auto add = [&](bool on, const char* name) {
    if (on) s += (s.empty() ? "" : ",") + std::string(name);
  };
  add(errn_errp, "errn-errp");
  add(ul, "ul");
  add(scan, "scan");
  return s.empty() ? "none" : s;
}

std::vector<double> SolveOptions::norm_scan() const {
  if (!scan_values.empty()) return scan_values;
  return interp_grid(scan_min, scan_max, scan_n_values, scan_interp);
}

math::SolveSettings SolveOptions::settings() const {
  math::SolveSettings s;
  s.n_sigma = n_sigma;
  s.n_sigma_ul = n_sigma_ul;
  // gammapy: scan_n_sigma = max(n_sigma_ul, n_sigma_sensitivity) + 1, n_sigma_sensitivity
  // defaulting to n_sigma_ul.
  s.scan_n_sigma = n_sigma_ul + 1.0;
  s.norm_start = norm_value;
  s.norm_min = norm_min;
  s.norm_max = norm_max;
  s.errn_errp = errn_errp;
  s.ul = ul;
  return s;
}

void SolveOptions::validate() const {
  if (!(n_sigma > 0) || !std::isfinite(n_sigma))
    throw std::invalid_argument("n_sigma must be a positive number, got " + std::to_string(n_sigma));
  if (!(n_sigma_ul > 0) || !std::isfinite(n_sigma_ul))
    throw std::invalid_argument("n_sigma_ul must be a positive number, got " +
                                std::to_string(n_sigma_ul));
  if (!std::isfinite(norm_value))
    throw std::invalid_argument("norm value (start) must be finite");
  if (std::isfinite(norm_min) && std::isfinite(norm_max) && !(norm_min < norm_max))
    throw std::invalid_argument("norm min (" + std::to_string(norm_min) +
                                ") must be below norm max (" + std::to_string(norm_max) + ")");
  if (std::isinf(norm_min) || std::isinf(norm_max))
    throw std::invalid_argument("norm min/max must be finite or NaN (unbounded)");
  for (double v : scan_values)
    if (!std::isfinite(v)) throw std::invalid_argument("norm scan values must be finite");
  if (scan_values.size() > static_cast<std::size_t>(limits::kMaxScanValues))
    throw std::invalid_argument("norm scan values: " + std::to_string(scan_values.size()) +
                                " values exceed the maximum of " +
                                std::to_string(limits::kMaxScanValues));
  if (scan_values.empty() && (scan_n_values < 1 || scan_n_values > limits::kMaxScanValues))
    throw std::invalid_argument("norm scan_n_values = " + std::to_string(scan_n_values) +
                                " must be between 1 and " +
                                std::to_string(limits::kMaxScanValues));
  if (scan_values.empty()) norm_scan();  // validates interp and count
}

}  // namespace fluxpoints
