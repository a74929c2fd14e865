// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Per-bin Poisson fit statistics (stat = -2 ln L) as gammapy defines them, with their first and
// second derivatives in the flux-point norm theta: Cash, and WStat (On/Off, background profiled).
// Every backend (CPU, CUDA) evaluates the likelihood only through these functions.

#include "fluxpoints/math/hd.hpp"

namespace fluxpoints::math {

// Cash truncation: predicted counts at or below this value are replaced by it (gammapy's
// TRUNCATION_VALUE).
constexpr double kCashTruncation = 1e-25;
// gammapy's compiled Cash sum takes the log of the truncation value in single precision:
// ln(float32(1e-25)) = -57.5646273053 (not -57.5646273248). Kept for parity.
constexpr double kCashLogTruncation = -57.56462730530966;

// Value and derivatives of one bin's statistic with respect to the norm theta, plus the bin's
// total predicted counts as gammapy's npred() reports them (clipped at 0).
struct BinTerms {
  double value;  // stat contribution
  double d1;     // d stat / d theta
  double d2;     // d^2 stat / d theta^2
  double npred;  // total predicted counts, clipped at 0
};

// Cash with known background. n: counts, s: source counts at theta = 1, b: everything else.
// mu = theta*s + b is clipped at 0 (npred()), then truncated at 1e-25; the n*ln(mu) term is
// skipped for n = 0. In the truncated region the stat is flat: both derivatives are 0.
FLUXPOINTS_HD BinTerms cash_bin(double n, double s, double b, double theta) {
  const double mu = theta * s + b;
  const double npred = mu > 0.0 ? mu : 0.0;
  BinTerms t;
  t.npred = npred;
  if (npred > kCashTruncation) {
    t.value = 2.0 * (npred - (n > 0.0 ? n * log(npred) : 0.0));
    const double r = n / npred;
    t.d1 = 2.0 * s * (1.0 - r);
    t.d2 = 2.0 * s * s * r / npred;
  } else {
    t.value = 2.0 * (kCashTruncation - (n > 0.0 ? n * kCashLogTruncation : 0.0));
    t.d1 = 0.0;
    t.d2 = 0.0;
  }
  return t;
}

// Value only (used for scans: no divisions needed).
FLUXPOINTS_HD double cash_value(double n, double s, double b, double theta) {
  const double mu = theta * s + b;
  if (mu > kCashTruncation) return 2.0 * (mu - (n > 0.0 ? n * log(mu) : 0.0));
  return 2.0 * (kCashTruncation - (n > 0.0 ? n * kCashLogTruncation : 0.0));
}

// Profiled WStat background: the expected OFF counts b_hat that minimise W for a given signal
// mu_s (positive root of alpha(alpha+1) b^2 - C b - n_off mu_s = 0). gammapy evaluates
// (C + D) / (2 alpha (alpha+1)); for C < 0 that cancels, so the equal form 2 n_off mu_s / (D - C)
// is used there (the same value, without the cancellation). Returns NaN for alpha = 0 like
// gammapy's 0/0.
FLUXPOINTS_HD double wstat_background(double n_on, double n_off, double alpha, double mu_s) {
  const double c = alpha * (n_on + n_off) - (1.0 + alpha) * mu_s;
  const double d = sqrt(c * c + 4.0 * alpha * (alpha + 1.0) * n_off * mu_s);
  if (c >= 0.0) return (c + d) / (2.0 * alpha * (alpha + 1.0));
  return 2.0 * n_off * mu_s / (d - c);
}

// The theta-dependent part of one On/Off bin's WStat at signal mu_s (alpha > 0), without the
// constant G and before gammapy's nan_to_num: w with W = 2 w + G, and the b_hat and mu_on it
// used (the derivatives need them).
struct WStatCore {
  double b_hat;  // profiled OFF expectation
  double mu_on;  // mu_s + alpha b_hat
  double w;      // mu_s + (1 + alpha) b_hat - n_on ln mu_on - n_off ln b_hat (0 ln terms skipped)
};
FLUXPOINTS_HD WStatCore wstat_core(double n_on, double n_off, double alpha, double mu_s) {
  WStatCore c;
  c.b_hat = wstat_background(n_on, n_off, alpha, mu_s);
  c.mu_on = mu_s + alpha * c.b_hat;
  c.w = mu_s + (1.0 + alpha) * c.b_hat;
  if (n_on != 0.0) c.w -= n_on * log(c.mu_on);
  if (n_off != 0.0) c.w -= n_off * log(c.b_hat);
  return c;
}

// gammapy's goodness-of-fit constant G = 2 [n_on (ln n_on - 1) + n_off (ln n_off - 1)], each term
// 0 when its count is 0. It does not depend on theta but is part of every reported stat value.
FLUXPOINTS_HD double wstat_constant(double n_on, double n_off) {
  double g = 0.0;
  if (n_on != 0.0) g += n_on * (log(n_on) - 1.0);
  if (n_off != 0.0) g += n_off * (log(n_off) - 1.0);
  return 2.0 * g;
}

// WStat for one On/Off bin. s: source counts at theta = 1 in the ON region; o: other sky models'
// counts, which gammapy puts in the signal term too. mu_s = theta*s + o.
// The value follows gammapy's formula with the profiled background and its nan_to_num; the
// derivatives are those of that same function on each branch:
//   n_on > 0 : dW/dmu = 2 (1 - n_on/mu), mu = mu_s + alpha b_hat (envelope theorem);
//              d2W/dmu2 = 2 n_on n_off / (alpha^2 n_on b_hat^2 + n_off mu^2), which covers the
//              n_off = 0 branches too (2 n_on / mu_s^2 where b_hat = 0, 0 where b_hat > 0);
//   n_on = 0 : b_hat = n_off/(1+alpha) while mu_s >= -alpha n_off/(1+alpha): slope 2, no
//              curvature; below, gammapy's root is b_hat = -mu_s/alpha and
//              W = 2 [-mu_s/alpha - n_off ln(-mu_s/alpha)] (+ G).
// alpha = 0 (or non-finite) bins contribute 0, as gammapy's nan_to_num makes them.
FLUXPOINTS_HD BinTerms wstat_bin(double n_on, double n_off, double alpha, double s, double o,
                                 double theta) {
  BinTerms t{0.0, 0.0, 0.0, 0.0};
  const double mu_s = theta * s + o;
  if (!(alpha > 0.0) || !is_finite(alpha)) {
    // gammapy: b_hat = 0/0 -> NaN -> stat 0; npred_background NaN -> 0.
    t.npred = mu_s > 0.0 ? mu_s : 0.0;
    return t;
  }
  const WStatCore core = wstat_core(n_on, n_off, alpha, mu_s);
  const double b_hat = core.b_hat, mu_on = core.mu_on;
  t.value = nan_to_num(2.0 * core.w + wstat_constant(n_on, n_off));
  const double on_bkg = nan_to_num(alpha * b_hat);
  t.npred = mu_s + on_bkg > 0.0 ? mu_s + on_bkg : 0.0;

  double dw, d2w;
  if (n_on > 0.0) {
    dw = 2.0 * (1.0 - n_on / mu_on);
    const double denom = alpha * alpha * n_on * b_hat * b_hat + n_off * mu_on * mu_on;
    d2w = denom > 0.0 ? 2.0 * n_on * n_off / denom : 0.0;
    if (n_off == 0.0) d2w = b_hat > 0.0 ? 0.0 : 2.0 * n_on / (mu_s * mu_s);
  } else if (mu_s >= -alpha * n_off / (1.0 + alpha)) {
    dw = 2.0;
    d2w = 0.0;
  } else {
    dw = 2.0 * (-1.0 / alpha - n_off / mu_s);
    d2w = 2.0 * n_off / (mu_s * mu_s);
  }
  t.d1 = s * dw;
  t.d2 = s * s * d2w;
  return t;
}

FLUXPOINTS_HD double wstat_value(double n_on, double n_off, double alpha, double s, double o,
                                 double theta) {
  return wstat_bin(n_on, n_off, alpha, s, o, theta).value;
}

}  // namespace fluxpoints::math
