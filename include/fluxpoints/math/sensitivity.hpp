// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// norm_sensitivity (spec 3.6, as gammapy 2.1 computes it): the norm at which the Asimov dataset
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

// TS of the Asimov dataset built at norm theta.
FLUXPOINTS_HD double asimov_ts(const ProblemView& v, double theta) {
  double stat_null = 0.0, stat_alt = 0.0;
  for (std::int64_t k = v.segment_begin; k < v.segment_end; ++k) {
    const bool cash = v.segment_kind[k] == StatKind::cash;
    for (std::int64_t i = v.segment_bins[k]; i < v.segment_bins[k + 1]; ++i) {
      const double s = v.npred_ref[i], o = v.npred_other[i];
      if (cash) {
        const double n = nan_to_num(cash_bin(v.counts[i], s, o, theta).npred);
        stat_null += cash_value(n, s, o, 0.0);
        stat_alt += cash_value(n, s, o, theta);
      } else {
        const double n_off = v.counts_off[i], a = v.alpha[i];
        const double n = nan_to_num(wstat_bin(v.counts[i], n_off, a, s, o, theta).npred);
        stat_null += wstat_value(n, n_off, a, s, o, 0.0);
        stat_alt += wstat_value(n, n_off, a, s, o, theta);
      }
    }
  }
  return stat_null - stat_alt;
}

// Smallest norm > 0 with sqrt(TS_A) = n_sigma, to relative tolerance xtol_rel; NaN when the
// Asimov significance never gets there (no source counts in the problem).
FLUXPOINTS_HD double norm_sensitivity(const ProblemView& v, double n_sigma, double xtol_rel) {
  if (v.n_bins() == 0 || !(n_sigma > 0.0)) return kNaN;
  const double target = n_sigma * n_sigma;
  // TS_A grows with theta > 0: expand an upper bracket, then bisect.
  double lo = 0.0, hi = 1.0;
  int expansions = 0;
  while (!(asimov_ts(v, hi) >= target)) {
    lo = hi;
    hi *= 4.0;
    if (++expansions > 520 || !is_finite(hi)) return kNaN;
  }
  for (int it = 0; it < 200 && hi - lo > xtol_rel * hi; ++it) {
    const double mid = 0.5 * (lo + hi);
    (asimov_ts(v, mid) >= target ? hi : lo) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace fluxpoints::math
