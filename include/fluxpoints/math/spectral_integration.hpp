// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Integrals of spectra over energy bins, exactly as gammapy computes them:
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
// The interior nodes of a bin share log10(e_lo) and the step: loglog_step computes the step
// (from log10(e_lo) and log10(e_hi)), loglog_interior_node one node.
FLUXPOINTS_HD double loglog_step(double log10_lo, double log10_hi, int npts) {
  return (log10_hi - log10_lo) / static_cast<double>(npts - 1);
}
FLUXPOINTS_HD double loglog_interior_node(double log10_lo, double step, int k) {
  return std::pow(10.0, static_cast<double>(k) * step + log10_lo);
}
FLUXPOINTS_HD double loglog_node(double e_lo, double e_hi, int npts, int k) {
  if (k == 0) return e_lo;
  if (k == npts - 1) return e_hi;
  const double log_lo = std::log10(e_lo);
  return loglog_interior_node(log_lo, loglog_step(log_lo, std::log10(e_hi), npts), k);
}

// One piece of gammapy's trapz_loglog: the power law through (x0, y0) and (x1, y1), integrated
// analytically from x0 to x1. The ratio y0/y1 is clipped below at the smallest positive double
// before the log (a zero left value gives a steep rise), a 0/0 slope becomes +inf, so a piece
// whose right value is 0 integrates to 0.
//
// The parts that depend on the nodes only, ln(x0 / x1) and x1 / x0, come in precomputed (a grid
// of nodes serves every spectrum integrated on it). The power-law integral from x0 to x1 with
// reference x0 is written out: its lower term (x0 / x0)^(1 - index) is exactly 1 (pow(1, y) is
// 1 for every y, NaN included), so only the upper term needs a pow.
FLUXPOINTS_HD double loglog_piece_integral(double x0, double x1, double y0, double y1,
                                           double log_x0_over_x1, double x1_over_x0) {
  double ratio = y0 / y1;
  if (ratio < kSmallestPositive) ratio = kSmallestPositive;  // NaN stays NaN, as np.clip
  double index = -std::log(ratio) / log_x0_over_x1;
  if (is_nan(index)) index = kInf;
  // power_law_integral(y0, x0, index, x0, x1), operation for operation.
  const double val = -index + 1.0;
  if (isclose_zero(val)) return y0 * x0 * std::log(x1 / x0);
  const double prefactor = y0 * x0 / val;
  return prefactor * (std::pow(x1_over_x0, val) - 1.0);
}
FLUXPOINTS_HD double loglog_piece_integral(double x0, double x1, double y0, double y1) {
  return loglog_piece_integral(x0, x1, y0, y1, std::log(x0 / x1), x1 / x0);
}

// The nodes of the log-log rule for a set of bins, prepared once and used for any spectrum:
// bin b has nodes[b * npts + k] = loglog_node(e_lo_b, e_hi_b, npts, k), k < npts, and for each
// piece (k, k + 1) log_ratio = ln(x_k / x_k+1) and ratio = x_k+1 / x_k at b * (npts - 1) + k.
// Plain pointers: the arrays live in host vectors or device buffers.
struct LogLogGridView {
  int n_bins = 0;
  int npts = 0;
  const double* nodes = nullptr;      // n_bins * npts
  const double* log_ratio = nullptr;  // n_bins * (npts - 1)
  const double* ratio = nullptr;      // n_bins * (npts - 1)
};

// Fills bin b's nodes and piece factors (the layout of LogLogGridView), given log10 of its edges.
FLUXPOINTS_HD void loglog_fill_bin(double e_lo, double e_hi, double log10_lo, double log10_hi,
                                   int npts, double* nodes, double* log_ratio, double* ratio) {
  const double step = loglog_step(log10_lo, log10_hi, npts);
  nodes[0] = e_lo;
  for (int k = 1; k + 1 < npts; ++k) nodes[k] = loglog_interior_node(log10_lo, step, k);
  nodes[npts - 1] = e_hi;
  for (int k = 0; k + 1 < npts; ++k) {
    log_ratio[k] = std::log(nodes[k] / nodes[k + 1]);
    ratio[k] = nodes[k + 1] / nodes[k];
  }
}

// gammapy's log-log integral of f over bin b of a grid. `y_first` is f at the bin's first node;
// f at its last node is returned in *y_last, so that a caller integrating contiguous bins in
// order evaluates each shared edge once (same inputs, same value: the result does not change).
template <class F>
FLUXPOINTS_HD double loglog_bin_integral(const F& f, const LogLogGridView& g, int b, double y_first,
                                         double* y_last) {
  const int npts = g.npts;
  const double* x = g.nodes + static_cast<std::int64_t>(b) * npts;
  const std::int64_t piece = static_cast<std::int64_t>(b) * (npts - 1);
  double sum = 0.0;
  double y0 = y_first;
  for (int k = 0; k + 1 < npts; ++k) {
    const double y1 = f(x[k + 1]);
    sum +=
        loglog_piece_integral(x[k], x[k + 1], y0, y1, g.log_ratio[piece + k], g.ratio[piece + k]);
    y0 = y1;
  }
  *y_last = y0;
  return sum;
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
