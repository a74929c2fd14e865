// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// norm_sensitivity (as gammapy 2.1 computes it): the norm at which the Asimov dataset
// of the problem reaches a significance sqrt(TS_A) = n_sigma (gammapy's default n_sigma is 5).
// The Asimov counts are the model prediction at that norm, npred() of the dataset:
//   Cash : clip(theta s + b, 0);
//   WStat: clip(theta s + o + alpha b_hat, 0), b_hat profiled on the OBSERVED counts (gammapy's
//          npred() of an On/Off dataset), keeping n_off.
// TS_A = stat_A(0) - stat_A(theta) on those counts (the null value of a flux estimator is 0).
// gammapy samples 100 log-spaced points and runs Brent with rtol 0.01; we solve the root itself,
// so the two agree to about 1%.

#include "fluxpoints/math/problem_view.hpp"

namespace fluxpoints::math {

// The Asimov counts of one bin at norm theta (npred() of the bin, NaN read as 0).
FLUXPOINTS_HD double asimov_cash_counts(double s, double b, double theta) {
  const double mu = theta * s + b;
  return nan_to_num(mu > 0.0 ? mu : 0.0);
}
// *b_hat (when not null): the profiled OFF expectation it used (NaN for alpha <= 0).
FLUXPOINTS_HD double asimov_wstat_counts(double n_on, double n_off, double alpha, double s,
                                         double o, double theta, double* b_hat = nullptr) {
  const double mu_s = theta * s + o;
  if (b_hat) *b_hat = kNaN;
  if (!(alpha > 0.0) || !is_finite(alpha)) return nan_to_num(mu_s > 0.0 ? mu_s : 0.0);
  const double b = wstat_background(n_on, n_off, alpha, mu_s);
  if (b_hat) *b_hat = b;
  const double on_bkg = nan_to_num(alpha * b);
  return nan_to_num(mu_s + on_bkg > 0.0 ? mu_s + on_bkg : 0.0);
}

// wstat_background(n_on, n_off, alpha, 0) to the last bit, without its square root where that is
// exact: with mu_s = 0 the root is sqrt(c * c) for c = alpha (n_on + n_off) >= 0, which is c
// itself when c * c neither overflows nor underflows (the square root of a correctly rounded
// square is the number). Most catalog sources are alone in their datasets (o = 0).
constexpr double kExactSquareMin = 1e-150, kExactSquareMax = 1e150;
FLUXPOINTS_HD double wstat_background_without_signal(double n_on, double n_off, double alpha) {
  const double c = alpha * (n_on + n_off);
  if (!(c > kExactSquareMin && c < kExactSquareMax))
    return wstat_background(n_on, n_off, alpha, 0.0);
  return (c + c) / (2.0 * alpha * (alpha + 1.0));
}

// One On/Off bin's W_A(0) - W_A(theta) on Asimov counts n. Both values carry the same constant G,
// which cancels: it is left out (saving its logs and the rounding of adding and removing it)
// whenever both values are finite and far from overflow, where gammapy's nan_to_num changes
// nothing; their log terms are then taken as one log of a ratio each (n ln(mu_0 / mu_theta),
// n_off ln(b_0 / b_theta): half the logs, and no cancellation between two large logs).
// Otherwise the values are taken whole, as wstat_value gives them.
constexpr double kWStatNoOverflow = 1e300;
// *slope (when not null): d/dn [W_A(0) - W_A(theta)] * dn_dtheta - dW_A(theta)/dtheta, the term's
// derivative along the Asimov counts n(theta) with dn/dtheta = dn_dtheta: by the envelope theorem
// (b profiled) dW/dn = -2 ln mu_on + 2 ln n and dW/dtheta = 2 s (1 - n / mu_on), so it is
// 2 ln(mu_alt / mu_null) dn_dtheta - 2 s (1 - n / mu_alt); NaN where the values are taken whole.
FLUXPOINTS_HD double asimov_wstat_ts_term(double n, double n_off, double alpha, double s, double o,
                                          double theta, double dn_dtheta = 0.0,
                                          double* slope = nullptr) {
  if (slope) *slope = 0.0;
  if (!(alpha > 0.0) || !is_finite(alpha)) return 0.0;  // such bins contribute 0 (wstat_bin)
  const double mu_s = theta * s + o;
  const double b_null = o == 0.0 ? wstat_background_without_signal(n, n_off, alpha)
                                 : wstat_background(n, n_off, alpha, o);
  const double b_alt = wstat_background(n, n_off, alpha, mu_s);
  const double mu_null = o + alpha * b_null, mu_alt = mu_s + alpha * b_alt;
  // The logs' arguments are positive (else a value is infinite or NaN) and every input is small
  // enough that no term overflows (|ln x| < 746 for every positive double): W_A is then finite
  // on both sides and nan_to_num changes nothing.
  const bool logs_finite = (n == 0.0 || (mu_null > 0.0 && mu_alt > 0.0)) &&
                           (n_off == 0.0 || (b_null > 0.0 && b_alt > 0.0));
  // Each of them times (8 + 2 alpha) below kWStatNoOverflow (a product that overflows to inf
  // fails the test too).
  const double scale = 8.0 + 2.0 * alpha;
  if (logs_finite && n * scale < kWStatNoOverflow && n_off * scale < kWStatNoOverflow &&
      dabs(o) * scale < kWStatNoOverflow && dabs(mu_s) * scale < kWStatNoOverflow &&
      b_null * scale < kWStatNoOverflow && b_alt * scale < kWStatNoOverflow) {
    double w = (o - mu_s) + (1.0 + alpha) * (b_null - b_alt);
    double log_on = 0.0;
    if (n != 0.0) {
      log_on = log(mu_null / mu_alt);
      w -= n * log_on;
    }
    if (n_off != 0.0) w -= n_off * log(b_null / b_alt);
    if (is_finite(w)) {
      if (slope) *slope = -2.0 * log_on * dn_dtheta - 2.0 * s * (1.0 - n / mu_alt);
      return 2.0 * w;
    }
    // else a ratio overflowed: take the values whole
  }
  if (slope) *slope = kNaN;
  return wstat_value(n, n_off, alpha, s, o, 0.0) - wstat_value(n, n_off, alpha, s, o, theta);
}

// One Cash bin's C_A(0) - C_A(theta) on Asimov counts n: one log of the ratio of the two
// predictions where neither is truncated, the values whole otherwise. *slope (when not null): its
// derivative along n(theta) = theta s + b, -2 s ln(b / mu) (dC/dtheta is 0 at n = mu); NaN where
// the values are taken whole.
FLUXPOINTS_HD double asimov_cash_ts_term(double n, double s, double b, double theta,
                                         double* slope = nullptr) {
  const double mu = theta * s + b;
  if (b > kCashTruncation && mu > kCashTruncation && is_finite(b) && is_finite(mu)) {
    const double log_ratio = n > 0.0 ? log(b / mu) : 0.0;
    const double c = (b - mu) - (n > 0.0 ? n * log_ratio : 0.0);
    if (is_finite(c)) {
      if (slope) *slope = -2.0 * s * log_ratio;
      return 2.0 * c;
    }
    // else the ratio overflowed: take the values whole
  }
  if (slope) *slope = kNaN;
  return cash_value(n, s, b, 0.0) - cash_value(n, s, b, theta);
}

// TS of the Asimov dataset built at norm theta, and (when slope is not null) its derivative
// dTS_A/dtheta: NaN where some bin's is not written out (a truncated or overflowing prediction,
// a profiled OFF expectation of 0).
FLUXPOINTS_HD double asimov_ts(const ProblemView& v, double theta, double* slope = nullptr) {
  double ts = 0.0, dts = 0.0;
  for (std::int64_t k = v.segment_begin; k < v.segment_end; ++k) {
    const bool cash = v.segment_kind[k] == StatKind::cash;
    for (std::int64_t i = v.segment_bins[k]; i < v.segment_bins[k + 1]; ++i) {
      const double s = v.npred_ref[i], o = v.npred_other[i];
      double d = 0.0;
      if (cash) {
        const double n = asimov_cash_counts(s, o, theta);
        ts += asimov_cash_ts_term(n, s, o, theta, slope ? &d : nullptr);
      } else {
        const double n_on = v.counts[i], n_off = v.counts_off[i], a = v.alpha[i];
        double b = kNaN;
        const double n = asimov_wstat_counts(n_on, n_off, a, s, o, theta, slope ? &b : nullptr);
        double dn = kNaN;
        if (slope && n > 0.0 && is_finite(n)) {
          // n = mu_s + alpha b, b the OFF expectation profiled on the observed counts:
          // dn/dtheta = s (1 + alpha db/dmu_s), db/dmu_s = b (n_off - (1 + alpha) b) / (alpha
          // (alpha + 1) b^2 + n_off mu_s) by differentiating its quadratic; b = 0 (no OFF
          // counts and a signal above alpha n_on / (1 + alpha)) stays 0 nearby.
          const double mu_s = theta * s + o;
          if (b > 0.0) {
            const double db =
                b * (n_off - (1.0 + a) * b) / (a * (a + 1.0) * (b * b) + n_off * mu_s);
            dn = s * (1.0 + a * db);
          } else if (b == 0.0 && n_off == 0.0) {
            dn = s;
          }
        }
        ts += asimov_wstat_ts_term(n, n_off, a, s, o, theta, dn, slope ? &d : nullptr);
      }
      dts += d;
    }
  }
  if (slope) *slope = dts;
  return ts;
}

// The root by bracketing and Brent's method: norm_sensitivity's fallback, for problems where its
// faster iteration does not settle. Smallest norm > 0 with sqrt(TS_A) = n_sigma, to relative
// tolerance xtol_rel (the returned norm is within xtol_rel / 2 of the root, as the midpoint of a
// bracket xtol_rel wide would be); NaN when the Asimov significance never gets there (no source
// counts in the problem).
//
// TS_A grows with theta > 0 from TS_A(0) = 0. The root of g = sqrt(TS_A) - n_sigma is bracketed
// by stepping up from theta = 1 (g is nearly linear in theta where the background dominates, so
// each step aims at the root by extrapolating g through the origin, by 2x to 1000x), then found
// with Brent's method (inverse quadratic and secant steps, bisection when they stall): about ten
// evaluations of TS_A, where bisection needed about forty.
FLUXPOINTS_HD double norm_sensitivity_bracketed(const ProblemView& v, double n_sigma,
                                                double xtol_rel) {
  if (v.n_bins() == 0 || !(n_sigma > 0.0)) return kNaN;
  // Without source counts TS_A is 0 at every norm: no bracket exists.
  bool any_source = false;
  for (std::int64_t i = v.segment_bins[v.segment_begin]; i < v.segment_bins[v.segment_end]; ++i)
    any_source = any_source || v.npred_ref[i] != 0.0;
  if (!any_source) return kNaN;
  const auto g = [&](double theta) {
    const double ts = asimov_ts(v, theta);
    return (ts > 0.0 ? sqrt(ts) : 0.0) - n_sigma;
  };
  // Bracket: g(lo) < 0 <= g(hi).
  double lo = 0.0, g_lo = -n_sigma;
  double hi = 1.0, g_hi = g(hi);
  for (int steps = 0; !(g_hi >= 0.0); ++steps) {
    if (is_nan(g_hi) || steps > 2200) return kNaN;
    const double sqrt_ts = g_hi + n_sigma;
    const double factor = sqrt_ts > 0.0 ? dmin(dmax(1.5 * n_sigma / sqrt_ts, 2.0), 1e3) : 4.0;
    lo = hi;
    g_lo = g_hi;
    hi *= factor;
    if (!is_finite(hi)) return kNaN;
    g_hi = g(hi);
  }
  if (g_hi == 0.0) return hi;

  // Brent's method on [lo, hi]: b is the best estimate, c the other end of the bracket, a the
  // previous b. Stops when the bracket [b, c] is within 2 tol of b.
  double a = lo, fa = g_lo, b = hi, fb = g_hi, c = lo, fc = g_lo;
  double step = b - a, previous_step = step;
  constexpr double kEpsilon = 2.220446049250313e-16;
  for (int it = 0; it < 200; ++it) {
    if ((fb > 0.0) == (fc > 0.0)) {  // keep the root between b and c
      c = a;
      fc = fa;
      step = previous_step = b - a;
    }
    if (dabs(fc) < dabs(fb)) {  // b: the end with the smaller |g|
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const double tol = 2.0 * kEpsilon * dabs(b) + 0.25 * xtol_rel * dabs(b);
    const double half = 0.5 * (c - b);
    if (dabs(half) <= tol || fb == 0.0) return b;
    if (dabs(previous_step) >= tol && dabs(fa) > dabs(fb)) {
      // Interpolate: secant through a and b, or inverse quadratic through a, b and c.
      double p, q;
      const double s = fb / fa;
      if (a == c) {
        p = 2.0 * half * s;
        q = 1.0 - s;
      } else {
        const double qa = fa / fc, r = fb / fc;
        p = s * (2.0 * half * qa * (qa - r) - (b - a) * (r - 1.0));
        q = (qa - 1.0) * (r - 1.0) * (s - 1.0);
      }
      if (p > 0.0) {
        q = -q;
      } else {
        p = -p;
      }
      // Accept the interpolation if it stays well inside the bracket and shrinks fast enough.
      if (2.0 * p < dmin(3.0 * half * q - dabs(tol * q), dabs(previous_step * q))) {
        previous_step = step;
        step = p / q;
      } else {
        step = previous_step = half;
      }
    } else {
      step = previous_step = half;
    }
    a = b;
    fa = fb;
    b += dabs(step) > tol ? step : (half > 0.0 ? tol : -tol);
    fb = g(b);
  }
  return b;
}

// The Asimov significance's curvature at theta = 0: TS_A(theta) ~ F theta^2 for small theta, with
// F = sum s^2 / var, var the null expectation's variance (Cash: the background b; WStat: the
// other models' counts o plus alpha (1 + alpha) b_hat, b_hat the OFF expectation profiled at
// mu_s = o). n_sigma / sqrt(F) is the root where the background dominates.
FLUXPOINTS_HD double asimov_curvature(const ProblemView& v) {
  double f = 0.0;
  for (std::int64_t k = v.segment_begin; k < v.segment_end; ++k) {
    const bool cash = v.segment_kind[k] == StatKind::cash;
    for (std::int64_t i = v.segment_bins[k]; i < v.segment_bins[k + 1]; ++i) {
      const double s = v.npred_ref[i], o = v.npred_other[i];
      double var = o;
      if (!cash) {
        const double a = v.alpha[i];
        if (!(a > 0.0) || !is_finite(a)) continue;  // such bins add nothing to TS_A
        var = o + a * (1.0 + a) * wstat_background(v.counts[i], v.counts_off[i], a, o);
      }
      if (var > 0.0) f += s * s / var;
    }
  }
  return f;
}

// Smallest norm > 0 with sqrt(TS_A) = n_sigma, to relative tolerance about xtol_rel; NaN when the
// Asimov significance never gets there (no source counts in the problem).
//
// h(theta) = sqrt(TS_A(theta)) grows like a power of theta: theta where the background dominates,
// more slowly where the source does. Starting from the small-signal root n_sigma / sqrt(F)
// (asimov_curvature), each step solves h = c theta^k for n_sigma, with the local power
// k = d ln h / d ln theta = theta TS_A' / (2 TS_A) from asimov_ts' derivative: Newton's method in
// (ln theta, ln h), about four evaluations of TS_A on catalog-like problems (bright sources; three
// for faint ones), where fitting k through the last two points needed about six and bracketing
// with Brent's method about nine. Where the derivative is not available (a truncated or
// overflowing term) or outside sane bounds, k is fitted through the last two points instead.
// Steps stop when they move theta by less than xtol_rel / 4, or one evaluation earlier, when two
// successive Newton steps shrink like Newton's: the error after a step of relative size |move| is
// about M move^2, M = |(ln h)''| / (2 (ln h)') below ~0.5 here (the power k drifts from 1 to 1/2
// over a few e-folds of theta); M is estimated as |move| / previous move^2 (at least 0.5), and
// the iteration stops once M move^2 <= xtol_rel / 80 and |move| < 1e-3. A wrong derivative makes
// the moves shrink slower, M's estimate large, and the iteration go on. A problem on which the
// steps do not settle within 30 is solved by norm_sensitivity_bracketed.
FLUXPOINTS_HD double norm_sensitivity(const ProblemView& v, double n_sigma, double xtol_rel) {
  if (v.n_bins() == 0 || !(n_sigma > 0.0)) return kNaN;
  bool any_source = false;
  for (std::int64_t i = v.segment_bins[v.segment_begin]; i < v.segment_bins[v.segment_end]; ++i)
    any_source = any_source || v.npred_ref[i] != 0.0;
  if (!any_source) return kNaN;
  const double f = asimov_curvature(v);
  double t = f > 0.0 && is_finite(f) ? n_sigma / sqrt(f) : 1.0;
  if (!(t > 0.0) || !is_finite(t)) t = 1.0;
  constexpr double kMaxPower = 5.0, kMinPower = 0.2;  // keep a step within sane bounds
  constexpr double kAsymptoticMove = 1e-3;  // moves below this: the error model holds
  constexpr double kMinCurvature = 0.5;     // the smallest M the error estimate assumes
  double t_previous = kNaN, h_previous = kNaN;
  double previous_move = kInf;  // relative move of the last Newton step; inf: none yet
  for (int it = 0; it < 30 && t > 0.0 && is_finite(t); ++it) {
    double dts = kNaN;
    const double ts = asimov_ts(v, t, &dts);
    if (is_nan(ts)) break;
    const double h = ts > 0.0 ? sqrt(ts) : 0.0;
    double t_next;
    bool newton = false;
    if (!(h > 0.0)) {
      t_next = t * 1e3;  // TS_A rounds to 0 here: far below the root
    } else {
      const double k_newton = t * dts / (2.0 * ts);
      double k = 1.0;  // h proportional to theta, when nothing better is known
      if (is_finite(k_newton) && k_newton >= kMinPower && k_newton <= kMaxPower) {
        k = k_newton;
        newton = true;
      } else if (h_previous > 0.0 && h != h_previous) {
        const double k_fit = log(h / h_previous) / log(t / t_previous);
        k = is_nan(k_fit) ? 1.0 : dmin(dmax(k_fit, kMinPower), kMaxPower);
      }
      t_next = t * pow(n_sigma / h, 1.0 / k);
    }
    if (dabs(t_next - t) <= 0.25 * xtol_rel * t_next) return t_next;
    const double move = dabs(t_next - t) / t_next;
    if (newton && move < kAsymptoticMove && previous_move < kAsymptoticMove) {
      const double m = dmax(move / (previous_move * previous_move), kMinCurvature);
      if (m * move * move <= 0.0125 * xtol_rel) return t_next;
    }
    previous_move = newton ? move : kInf;
    t_previous = t;
    h_previous = h;
    t = t_next;
  }
  return norm_sensitivity_bracketed(v, n_sigma, xtol_rel);
}

}  // namespace fluxpoints::math
