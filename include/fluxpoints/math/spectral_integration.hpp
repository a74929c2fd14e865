// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Integrals of spectra over energy bins, exactly as gammapy computes them (spec 5.2):
// the analytic power-law integral (with gammapy's |1 - index| <= 1e-8 log case) and the pieces
// of the log-log trapezoid rule `integrate_spectrum` (ndecade = 100). Shared by host and device.

#include "fluxpoints/math/hd.hpp"

namespace fluxpoints::math {

// numpy.isclose(x, 0) with its defaults (atol 1e-8, rtol irrelevant against 0); false for inf/NaN.
constexpr double kPowerLawLogCaseAtol = 1e-8;
FLUXPOINTS_HD bool isclose_zero(double x) { return dabs(x) <= kPowerLawLogCaseAtol; }

// integral_{e_min}^{e_max} amplitude * (E / reference)^(-index) dE, in gammapy's operation order.
FLUXPOINTS_HD double power_law_integral(double amplitude, double reference, double index,
                                        double e_min, double e_max) {
  const double val = -index + 1.0;
  if (isclose_zero(val)) return amplitude * reference * std::log(e_max / e_min);
  const double prefactor = amplitude * reference / val;
  const double upper = std::pow(e_max / reference, val);
  const double lower = std::pow(e_min / reference, val);
  return prefactor * (upper - lower);
}

// integral_{e_min}^{e_max} E * amplitude * (E / reference)^(-index) dE (gammapy's
// PowerLawSpectralModel.evaluate_energy_flux).
FLUXPOINTS_HD double power_law_energy_flux(double amplitude, double reference, double index,
                                           double e_min, double e_max) {
  const double val = -index + 2.0;
  if (isclose_zero(val)) return amplitude * (reference * reference) * std::log(e_max / e_min);
  const double prefactor = amplitude * (reference * reference) / val;
  const double upper = std::pow(e_max / reference, val);
  const double lower = std::pow(e_min / reference, val);
  return prefactor * (upper - lower);
}

// Points per bin of `integrate_spectrum`: int(max(ndecade * max_j log10(e_hi_j / e_lo_j), 2)),
// one number shared by every bin integrated in the same call. `max_ndecade_log10_ratio` is
// max_j (ndecade * log10(e_hi_j / e_lo_j)), computed with that exact operation order: with
// 20 bins per decade it is 5.000000000000142 and truncates to 5.
constexpr double kIntegrationPointsPerDecade = 100.0;
FLUXPOINTS_HD double loglog_ndecade_log10_ratio(double e_lo, double e_hi) {
  return kIntegrationPointsPerDecade * std::log10(e_hi / e_lo);
}
FLUXPOINTS_HD int loglog_npts(double max_ndecade_log10_ratio) {
  // dmax(NaN, 2) is 2 here; numpy would propagate NaN and fail on int(): bad edges are rejected
  // by the callers before they get here.
  return static_cast<int>(dmax(max_ndecade_log10_ratio, 2.0));
}

// Node k of numpy.geomspace(e_lo, e_hi, npts): 10^(log10(e_lo) + k * step) with exact end points.
FLUXPOINTS_HD double loglog_node(double e_lo, double e_hi, int npts, int k) {
  if (k == 0) return e_lo;
  if (k == npts - 1) return e_hi;
  const double log_lo = std::log10(e_lo);
  const double step = (std::log10(e_hi) - log_lo) / static_cast<double>(npts - 1);
  return std::pow(10.0, static_cast<double>(k) * step + log_lo);
}

// One piece of gammapy's trapz_loglog: the power law through (x0, y0) and (x1, y1), integrated
// analytically from x0 to x1. The ratio y0/y1 is clipped below at the smallest positive double
// before the log (a zero left value gives a steep rise), a 0/0 slope becomes +inf, so a piece
// whose right value is 0 integrates to 0.
FLUXPOINTS_HD double loglog_piece_integral(double x0, double x1, double y0, double y1) {
  double ratio = y0 / y1;
  if (ratio < kSmallestPositive) ratio = kSmallestPositive;  // NaN stays NaN, as np.clip
  double index = -std::log(ratio) / std::log(x0 / x1);
  if (is_nan(index)) index = kInf;
  return power_law_integral(y0, x0, index, x0, x1);
}

// Edge i of a log-interpolated gammapy MapAxis built from `edges` (MapAxis.edges): scipy's interp1d
// of ln E at the integer pixel i, i.e. exp(ln e_0) for i = 0 and exp((ln e_i - ln e_{i-1}) +
// ln e_{i-1}) above. It differs from e_i in the last bit for about half of the edges.
FLUXPOINTS_HD double log_axis_edge(const double* edges, int i) {
  if (i == 0) return std::exp(std::log(edges[0]));
  const double lo = std::log(edges[i - 1]);
  return std::exp((std::log(edges[i]) - lo) + lo);
}

// Centre of a log-spaced energy bin as gammapy's MapAxis.center computes it from the edges given
// to the axis (linear interpolation of ln E at pixel i + 0.5, then exp); differs from
// sqrt(e_lo * e_hi) in the last bit.
FLUXPOINTS_HD double log_bin_center(double e_lo, double e_hi) {
  const double ln_lo = std::log(e_lo);
  return std::exp((std::log(e_hi) - ln_lo) * 0.5 + ln_lo);
}

}  // namespace fluxpoints::math
