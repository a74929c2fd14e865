// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// math::norm_sensitivity (power-law steps from the small-signal root) against its bracketed
// Brent fallback and against the definition sqrt(TS_A(norm)) = n_sigma, on random Cash, WStat and
// mixed problems from faint to bright sources.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "fluxpoints/batch.hpp"
#include "fluxpoints/math/sensitivity.hpp"

namespace fluxpoints {
namespace {

// Both searches stop within ~xtol (1e-10) of the root: 1e-9 leaves room for both.
constexpr double kXtol = 1e-10;
constexpr double kRelTol = 1e-9;
// sqrt(TS_A) at the root: the norm is within ~1e-10, and sqrt(TS_A) moves by at most ~that much
// relative; TS_A itself is a difference of sums of ~1e3 with ~1e-13 rounding.
constexpr double kSigmaTol = 1e-7;

TEST(NormSensitivity, AgreesWithTheBracketedSearchAndReachesNSigma) {
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  LikelihoodBatch batch;
  for (int p = 0; p < 3000; ++p) {
    batch.begin_problem("p" + std::to_string(p));
    const double amplitude = std::pow(10.0, -4.0 + 6.0 * u(rng));  // faint to bright
    for (int k = 0; k < 1 + p % 4; ++k) {
      const bool cash = (p + k) % 3 == 0;
      batch.begin_dataset(cash ? StatKind::cash : StatKind::wstat);
      for (int i = 0; i < 1 + p % 5; ++i) {
        const double b = std::pow(10.0, -1.0 + 3.0 * u(rng)), alpha = 0.05 + 0.5 * u(rng);
        const double s = u(rng) < 0.05 ? 0.0 : amplitude * 100.0 * u(rng);
        std::poisson_distribution<int> on(b + s), off(b / alpha);
        if (cash) {
          batch.add_cash_bin(on(rng), s, b);
        } else {
          batch.add_wstat_bin(on(rng), off(rng), alpha, s, u(rng) < 0.2 ? 3.0 * u(rng) : 0.0);
        }
      }
    }
  }
  int solved = 0;
  for (std::int64_t p = 0; p < batch.n_problems(); ++p) {
    const auto v = batch.view(p);
    const double fast = math::norm_sensitivity(v, 5.0, kXtol);
    const double reference = math::norm_sensitivity_bracketed(v, 5.0, kXtol);
    ASSERT_EQ(std::isnan(fast), std::isnan(reference)) << "problem " << p;
    if (std::isnan(reference)) continue;
    ++solved;
    EXPECT_NEAR(fast, reference, kRelTol * reference) << "problem " << p;
    EXPECT_NEAR(std::sqrt(math::asimov_ts(v, fast)), 5.0, kSigmaTol) << "problem " << p;
  }
  EXPECT_GT(solved, 2500);  // the comparison covered the problems, not just NaN cases
}

// The Asimov TS terms take the difference of the two statistics with one log per ratio; the
// whole values (wstat_value, cash_value) carry the constant G and their own logs, each term
// rounded to a few eps of its magnitude. They agree to that rounding: 1e-13 (~450 eps) of the sum
// of the terms' magnitudes (term_scale) leaves room for the ~10 roundings.
constexpr double kTermRelTol = 1e-13;

// |mu| + |count ln mu|, with mu below the Cash truncation taken at the truncation.
double term_scale(double count, double mu) {
  return std::abs(mu) + count * std::abs(std::log(std::max(std::abs(mu), 1e-25)));
}

TEST(AsimovTs, TermsEqualTheDifferenceOfTheWholeStatistics) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int t = 0; t < 20000; ++t) {
    const double s = u(rng) < 0.05 ? 0.0 : std::pow(10.0, -3.0 + 5.0 * u(rng));
    const double o = u(rng) < 0.3 ? 0.0 : std::pow(10.0, -2.0 + 3.0 * u(rng));
    const double alpha = u(rng) < 0.03 ? 0.0 : 0.02 + 2.0 * u(rng);
    const double n_on = u(rng) < 0.1 ? 0.0 : std::floor(std::pow(10.0, 3.0 * u(rng)));
    const double n_off = u(rng) < 0.1 ? 0.0 : std::floor(std::pow(10.0, 3.0 * u(rng)));
    const double theta = std::pow(10.0, -3.0 + 6.0 * u(rng));
    // WStat: Asimov counts from the observed ones, as asimov_ts builds them.
    const double n = math::asimov_wstat_counts(n_on, n_off, alpha, s, o, theta);
    const double w0 = math::wstat_value(n, n_off, alpha, s, o, 0.0);
    const double w1 = math::wstat_value(n, n_off, alpha, s, o, theta);
    double scale = 2.0 * (term_scale(n, n) + term_scale(n_off, n_off));  // G
    for (const double mu_s : {o, theta * s + o}) {
      const double b = alpha > 0.0 ? math::wstat_background(n, n_off, alpha, mu_s) : 0.0;
      scale += 2.0 * (term_scale(n, mu_s + alpha * b) + term_scale(n_off, b) + std::abs(b));
    }
    EXPECT_NEAR(math::asimov_wstat_ts_term(n, n_off, alpha, s, o, theta), w0 - w1,
                kTermRelTol * scale)
        << "n " << n << " n_off " << n_off << " alpha " << alpha << " s " << s << " o " << o
        << " theta " << theta;
    // Cash, with b = o (0 included: the truncated prediction).
    const double nc = math::asimov_cash_counts(s, o, theta);
    const double c0 = math::cash_value(nc, s, o, 0.0), c1 = math::cash_value(nc, s, o, theta);
    EXPECT_NEAR(math::asimov_cash_ts_term(nc, s, o, theta), c0 - c1,
                kTermRelTol * 2.0 * (term_scale(nc, o) + term_scale(nc, theta * s + o)))
        << "n " << nc << " s " << s << " b " << o << " theta " << theta;
  }
}

// asimov_ts' derivative (the Newton steps of norm_sensitivity) against a central difference of
// TS_A with step h = 1e-4 theta: its truncation error is ~(h / theta)^2 = 1e-8 relative, and its
// rounding is that of TS_A (each bin's term rounded to ~1e-15 of the counts and predictions it
// combines, summed in `scale`) divided by h, which dominates at small theta, where TS_A ~ theta^2.
// A missing or wrong term of the derivative is off by far more than either.
constexpr double kSlopeRelTol = 1e-5;
constexpr double kTsRoundingRelTol = 1e-13;
TEST(AsimovTs, SlopeIsTheDerivativeOfTsA) {
  std::mt19937_64 rng(31);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  LikelihoodBatch batch;
  for (int p = 0; p < 400; ++p) {
    batch.begin_problem("p" + std::to_string(p));
    for (int k = 0; k < 1 + p % 3; ++k) {
      const bool cash = (p + k) % 4 == 0;
      batch.begin_dataset(cash ? StatKind::cash : StatKind::wstat);
      for (int i = 0; i < 1 + p % 4; ++i) {
        const double b = std::pow(10.0, -1.0 + 3.0 * u(rng)), alpha = 0.05 + 0.5 * u(rng);
        const double s = std::pow(10.0, -2.0 + 4.0 * u(rng));
        std::poisson_distribution<int> on(b + s), off(b / alpha);
        if (cash) {
          batch.add_cash_bin(on(rng), s, b);
        } else {
          // Some bins without OFF counts (a profiled background of 0 over part of the range).
          batch.add_wstat_bin(on(rng), u(rng) < 0.1 ? 0 : off(rng), alpha, s,
                              u(rng) < 0.2 ? 3.0 * u(rng) : 0.0);
        }
      }
    }
  }
  int checked = 0;
  for (std::int64_t p = 0; p < batch.n_problems(); ++p) {
    const auto v = batch.view(p);
    for (const double theta : {1e-3, 0.03, 1.0, 30.0}) {
      double slope = 0.0;
      const double ts = math::asimov_ts(v, theta, &slope);
      EXPECT_EQ(ts, math::asimov_ts(v, theta)) << "problem " << p;  // the same TS either way
      if (std::isnan(slope)) continue;
      const double h = 1e-4 * theta;
      const double numeric =
          (math::asimov_ts(v, theta + h) - math::asimov_ts(v, theta - h)) / (2.0 * h);
      double scale = 0.0;
      for (std::int64_t i = v.segment_bins[v.segment_begin]; i < v.segment_bins[v.segment_end];
           ++i)
        scale += v.counts[i] + v.counts_off[i] + v.npred_other[i] + theta * v.npred_ref[i] + 1.0;
      EXPECT_NEAR(slope, numeric, kSlopeRelTol * std::abs(slope) + kTsRoundingRelTol * scale / h)
          << "problem " << p << " theta " << theta;
      ++checked;
    }
  }
  EXPECT_GT(checked, 1400);  // the derivative exists almost everywhere here
}

TEST(NormSensitivity, NaNWithoutSourceCounts) {
  LikelihoodBatch batch;
  batch.begin_problem("no source");
  batch.begin_dataset(StatKind::wstat);
  batch.add_wstat_bin(10.0, 40.0, 0.25, 0.0, 0.0);
  EXPECT_TRUE(std::isnan(math::norm_sensitivity(batch.view(0), 5.0, kXtol)));
}

}  // namespace
}  // namespace fluxpoints
