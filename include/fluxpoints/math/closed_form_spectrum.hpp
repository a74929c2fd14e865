// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// A spectral model as plain data: a type tag and its parameter values, no virtual calls, no heap.
// It covers every model whose dnde is a closed formula of a few parameters (gammapy's PowerLaw,
// PowerLaw2, LogParabola, the exponential cutoffs, the broken power laws, Constant and
// PowerLawNorm), so a model can be evaluated and integrated the same way on the host and on a
// device. The formulas are those of spectral_functions.hpp (one copy); the host model classes
// describe themselves with SpectralModel::closed_form(). Models that hold a table or other models
// (Template, Compound, EBL absorption, Scale) have no closed form and stay on the host.
// Units as everywhere in the library: TeV, cm-2 s-1 TeV-1 (cm-2 s-1 for PowerLaw2).

#include <cstdint>

#include "fluxpoints/math/spectral_functions.hpp"
#include "fluxpoints/math/spectral_integration.hpp"

namespace fluxpoints::math {

enum class ClosedFormKind : std::int32_t {
  power_law = 0,
  power_law2,
  log_parabola,
  exp_cutoff_power_law,
  exp_cutoff_power_law_3fgl,
  super_exp_cutoff_3fgl,
  super_exp_cutoff_4fgl,
  super_exp_cutoff_4fgl_dr3,
  broken_power_law,
  smooth_broken_power_law,
  constant,
  power_law_norm,
};
constexpr int kClosedFormKinds = 12;
// The most parameters of one closed-form model (SmoothBrokenPowerLaw's six).
constexpr int kClosedFormMaxParameters = 6;

// p[] holds the parameter values in gammapy's order for the type (the order of the host class'
// parameters()), unused entries 0.
struct ClosedFormSpectrum {
  ClosedFormKind kind = ClosedFormKind::power_law;
  double p[kClosedFormMaxParameters] = {0, 0, 0, 0, 0, 0};
};

// dnde at energy e (TeV).
FLUXPOINTS_HD double closed_form_dnde(const ClosedFormSpectrum& m, double e) {
  const double* p = m.p;
  switch (m.kind) {
    case ClosedFormKind::power_law:
      return power_law_dnde(e, p[0], p[1], p[2]);
    case ClosedFormKind::power_law2:
      return power_law2_dnde(e, p[0], p[1], p[2], p[3]);
    case ClosedFormKind::log_parabola:
      return log_parabola_dnde(e, p[0], p[1], p[2], p[3]);
    case ClosedFormKind::exp_cutoff_power_law:
      return exp_cutoff_power_law_dnde(e, p[0], p[1], p[2], p[3], p[4]);
    case ClosedFormKind::exp_cutoff_power_law_3fgl:
      return exp_cutoff_power_law_3fgl_dnde(e, p[0], p[1], p[2], p[3]);
    case ClosedFormKind::super_exp_cutoff_3fgl:
      return super_exp_cutoff_3fgl_dnde(e, p[0], p[1], p[2], p[3], p[4]);
    case ClosedFormKind::super_exp_cutoff_4fgl:
      return super_exp_cutoff_4fgl_dnde(e, p[0], p[1], p[2], p[3], p[4]);
    case ClosedFormKind::super_exp_cutoff_4fgl_dr3:
      return super_exp_cutoff_4fgl_dr3_dnde(e, p[0], p[1], p[2], p[3], p[4]);
    case ClosedFormKind::broken_power_law:
      return broken_power_law_dnde(e, p[0], p[1], p[2], p[3]);
    case ClosedFormKind::smooth_broken_power_law:
      return smooth_broken_power_law_dnde(e, p[0], p[1], p[2], p[3], p[4], p[5]);
    case ClosedFormKind::constant:
      return p[0];
    case ClosedFormKind::power_law_norm:
      // gammapy: norm * (E / reference)^(-tilt), the power-law formula with norm as amplitude.
      return power_law_dnde(e, p[0], p[1], p[2]);
  }
  return kNaN;
}

// Whether gammapy integrates this type analytically (else: its log-log rule, ndecade = 100).
FLUXPOINTS_HD bool has_analytic_integral(ClosedFormKind kind) {
  return kind == ClosedFormKind::power_law || kind == ClosedFormKind::power_law2 ||
         kind == ClosedFormKind::power_law_norm;
}

// The analytic integral over [e_lo, e_hi] of a type with has_analytic_integral; NaN otherwise.
FLUXPOINTS_HD double closed_form_analytic_integral(const ClosedFormSpectrum& m, double e_lo,
                                                   double e_hi) {
  const double* p = m.p;
  switch (m.kind) {
    case ClosedFormKind::power_law:  // index, amplitude, reference
      return power_law_integral(p[1], p[2], p[0], e_lo, e_hi);
    case ClosedFormKind::power_law2:  // amplitude, index, emin, emax
      return power_law2_integral(p[0], p[1], p[2], p[3], e_lo, e_hi);
    case ClosedFormKind::power_law_norm:  // tilt, norm, reference
      return power_law_integral(p[1], p[2], p[0], e_lo, e_hi);
    default:
      return kNaN;
  }
}

// dnde of a closed-form model as a function object (for the log-log rule's templates).
struct ClosedFormDnde {
  const ClosedFormSpectrum& m;
  FLUXPOINTS_HD double operator()(double e) const { return closed_form_dnde(m, e); }
};

// The log-parabola and the exponential-cutoff power law (alpha = 1) with a positive amplitude,
// in the form the log-log rule integrates fastest: dnde = amplitude exp(-q), evaluated from
// L = ln(E / reference) (one exp per node, where the direct formula takes a log and a pow, or a
// pow and an exp), and the slope of the rule's power law through two nodes,
// -ln(y0 / y1) / ln(x0 / x1), in closed form (no log of the ratio):
//   LogParabola:        q = (alpha + beta L) L     slope alpha + beta (L0 + L1)
//   ExpCutoffPowerLaw:  q = index L + lambda E     slope index + lambda (E1 - E0) / ln(E1 / E0)
// Both are the same functions as closed_form_dnde; only the rounding differs (a few units in the
// last place of each node's value, since the exponent is below ~50 in magnitude).
enum class LogSlopeKind : std::int32_t { none = 0, log_parabola, exp_cutoff_power_law };
struct LogSlopeSpectrum {
  LogSlopeKind kind = LogSlopeKind::none;
  double amplitude = 0.0;
  double ln_reference = 0.0;
  double a = 0.0;  // LogParabola: alpha; ExpCutoffPowerLaw: index
  double b = 0.0;  // LogParabola: beta; ExpCutoffPowerLaw: lambda_
};

// m in that form, or kind none when m is another type, has alpha != 1, a non-positive amplitude
// or a non-finite parameter (those keep the direct formula and gammapy's handling of 0 and inf).
FLUXPOINTS_HD LogSlopeSpectrum log_slope_form(const ClosedFormSpectrum& m) {
  LogSlopeSpectrum s;
  const double* p = m.p;
  double reference;
  if (m.kind == ClosedFormKind::log_parabola) {  // amplitude, reference, alpha, beta
    s.amplitude = p[0];
    reference = p[1];
    s.a = p[2];
    s.b = p[3];
  } else if (m.kind == ClosedFormKind::exp_cutoff_power_law && p[4] == 1.0) {
    // index, amplitude, reference, lambda_, alpha
    s.amplitude = p[1];
    reference = p[2];
    s.a = p[0];
    s.b = p[3];
  } else {
    return s;
  }
  if (!(s.amplitude > 0.0) || !is_finite(s.amplitude) || !(reference > 0.0) ||
      !is_finite(reference) || !is_finite(s.a) || !is_finite(s.b))
    return s;
  s.kind = m.kind == ClosedFormKind::log_parabola ? LogSlopeKind::log_parabola
                                                  : LogSlopeKind::exp_cutoff_power_law;
  s.ln_reference = log(reference);
  return s;
}

// dnde at energy e, given ln_e = ln(e).
FLUXPOINTS_HD double log_slope_dnde(const LogSlopeSpectrum& s, double e, double ln_e) {
  const double l = ln_e - s.ln_reference;
  const double q = s.kind == LogSlopeKind::log_parabola ? (s.a + s.b * l) * l : s.a * l + s.b * e;
  return s.amplitude * exp(-q);
}

// One piece of the log-log rule (loglog_piece_integral) with the slope in closed form. Where a
// node value is 0, subnormal or infinite, or the slope is not finite, gammapy's clipping rules
// decide: the piece is left to loglog_piece_integral.
FLUXPOINTS_HD double log_slope_piece_integral(const LogSlopeSpectrum& s, double x0, double x1,
                                              double ln_x0, double ln_x1, double y0, double y1,
                                              double log_x0_over_x1, double x1_over_x0) {
  if (y0 >= kSmallestPositive && y1 >= kSmallestPositive && y0 < kInf && y1 < kInf) {
    const double index = s.kind == LogSlopeKind::log_parabola
                             ? s.a + s.b * ((ln_x0 - s.ln_reference) + (ln_x1 - s.ln_reference))
                             : s.a + s.b * (x1 - x0) / -log_x0_over_x1;
    const double val = -index + 1.0;
    // (x1 / x0)^(1 - index) is (x1 / x0) (y1 / y0) by the definition of the slope.
    if (is_finite(index) && !isclose_zero(val))
      return y0 * x0 / val * (x1_over_x0 * (y1 / y0) - 1.0);
  }
  return loglog_piece_integral(x0, x1, y0, y1, log_x0_over_x1, x1_over_x0);
}

// loglog_bin_integral for a model in log-slope form. ln_first and ln_last: ln of the bin's first
// and last nodes (its edges); the interior nodes' logs follow from the grid's log ratios.
FLUXPOINTS_HD double log_slope_bin_integral(const LogSlopeSpectrum& s, const LogLogGridView& g,
                                            int b, double ln_first, double ln_last, double y_first,
                                            double* y_last) {
  const int npts = g.npts;
  const double* x = g.nodes + static_cast<std::int64_t>(b) * npts;
  const std::int64_t piece = static_cast<std::int64_t>(b) * (npts - 1);
  double sum = 0.0;
  double y0 = y_first, ln0 = ln_first;
  for (int k = 0; k + 1 < npts; ++k) {
    const double ln1 = k + 2 == npts ? ln_last : ln0 - g.log_ratio[piece + k];
    const double y1 = log_slope_dnde(s, x[k + 1], ln1);
    sum += log_slope_piece_integral(s, x[k], x[k + 1], ln0, ln1, y0, y1, g.log_ratio[piece + k],
                                    g.ratio[piece + k]);
    y0 = y1;
    ln0 = ln1;
  }
  *y_last = y0;
  return sum;
}

}  // namespace fluxpoints::math
