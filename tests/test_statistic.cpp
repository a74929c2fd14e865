// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Per-bin statistics of include/fluxpoints/math/statistic.hpp against gammapy's formulas:
// Cash values (truncated at 1e-25), every branch of gammapy's WStat (n_on = 0, n_off = 0, both
// positive), and the analytic first and second
// derivatives against long-double finite differences of the reference formulas, in every regime
// and just either side of each branch point.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "fluxpoints/math/statistic.hpp"
#include "reference_likelihood.hpp"

namespace fluxpoints::testing {
namespace {

namespace m = fluxpoints::math;

// A double-precision evaluation of a closed form of a few terms: a handful of ulps of the largest
// term.
constexpr double kClosedFormRelTol = 1e-13;
// Finite differences in long double (eps 1.1e-19) with steps of 1e-4 relative: the rounding error is
// ~eps |S| / h for S' and ~eps |S| / h^2 for S'', the truncation error O(h^4); both are far below
// these tolerances, which are relative to the size of the derivative's terms.
constexpr double kFdD1RelTol = 1e-9;
constexpr double kFdD2RelTol = 1e-6;
constexpr long double kFdNoiseUlps = 64;
// The engine's per-bin value in double against the long-double reference, relative to the size of
// its terms (mu, n ln mu): a few double ulps.
constexpr double kValueRelTol = 1e-14;

// --- Cash values --------------------------------------------------------------------------------

TEST(CashBin, ValueFollowsSpecFormula) {
  struct Case { double n, s, b, theta; };
  for (const Case c : {Case{95, 54.52297653, 20, 1.6}, Case{0, 2, 1, 0.5}, Case{1000, 300, 500, 1.3},
                       Case{1, 0.05, 0.01, 2}, Case{3, 1, 10, -7}}) {
    SCOPED_TRACE(::testing::Message() << "n=" << c.n << " s=" << c.s << " b=" << c.b);
    const double mu = c.theta * c.s + c.b;
    const double expected = 2 * (mu - (c.n > 0 ? c.n * std::log(mu) : 0.0));
    const m::BinTerms t = m::cash_bin(c.n, c.s, c.b, c.theta);
    EXPECT_NEAR(t.value, expected, kClosedFormRelTol * (std::fabs(mu) + c.n * std::fabs(std::log(mu))));
    EXPECT_EQ(t.npred, mu);
    EXPECT_EQ(m::cash_value(c.n, c.s, c.b, c.theta), t.value);
  }
}

TEST(CashBin, TruncationUsesSinglePrecisionLog) {
  // gammapy takes the log of a float32 copy of 1e-25: ln(float32(1e-25)) = -57.5646273053, not
  // the double-precision -57.5646273248.
  EXPECT_NEAR(m::kCashLogTruncation, std::log(static_cast<double>(static_cast<float>(1e-25))), 1e-14);
  EXPECT_NEAR(m::kCashLogTruncation, -57.5646273053, 1e-10);
  // Predictions at or below 1e-25 (or negative, clipped first) give the flat truncated value.
  for (const double theta : {-0.5, -3.0, -1e6}) {
    const m::BinTerms t = m::cash_bin(7, 2, 1, theta);
    EXPECT_DOUBLE_EQ(t.value, 2 * (1e-25 - 7 * m::kCashLogTruncation));
    EXPECT_EQ(t.d1, 0.0);
    EXPECT_EQ(t.d2, 0.0);
    EXPECT_EQ(t.npred, 0.0);
  }
  // n = 0: the log term is skipped, so the clipped bin contributes 2e-25.
  EXPECT_EQ(m::cash_bin(0, 2, 1, -1).value, 2e-25);
  EXPECT_EQ(m::cash_value(0, 2, 1, -1), 2e-25);
}

// --- WStat: gammapy's branches ------------------------------------------------------------------

// gammapy's closed form, evaluated naively in long double (no cancellation problem at the sizes
// used here): b = (C + D) / (2 alpha (alpha + 1)).
ld gammapy_background(ld n_on, ld n_off, ld alpha, ld mu_s) {
  const ld c = alpha * (n_on + n_off) - (1 + alpha) * mu_s;
  const ld d = std::sqrt(c * c + 4 * alpha * (alpha + 1) * n_off * mu_s);
  return (c + d) / (2 * alpha * (alpha + 1));
}

// The defining minimisation over b, independent of every closed form: W(b) is convex, so its
// minimum over b >= 0 with a non-negative ON expectation is where dW/db changes sign (bisection in
// long double), or the lower end when W already rises there.
ld minimise_over_background(ld n_on, ld n_off, ld alpha, ld mu_s) {
  const auto dw = [&](ld b) {
    ld v = 1 + alpha;
    if (n_on > 0) v -= alpha * n_on / (mu_s + alpha * b);
    if (n_off > 0) v -= n_off / b;
    return v;
  };
  const ld lower = mu_s < 0 ? -mu_s / alpha : 0;
  ld hi = lower + 1;
  while (dw(hi) < 0) hi = lower + 2 * (hi - lower);
  ld lo = lower;
  if (!(n_on > 0 && mu_s <= 0) && !(n_off > 0 && lower == 0) && dw(lower) >= 0) return lower;
  for (int it = 0; it < 400; ++it) {
    const ld mid = 0.5L * (lo + hi);
    if (mid == lo || mid == hi) break;
    (dw(mid) < 0 ? lo : hi) = mid;
  }
  return 0.5L * (lo + hi);
}

struct WStatCase {
  std::string branch;
  double n_on, n_off, alpha, mu_s;
  ld b_table;  // b_hat from gammapy's closed form for the branch
  ld w_table;  // W(mu_s) for the branch (with G), NaN where gammapy has no closed form
};

std::vector<WStatCase> wstat_table_cases() {
  std::vector<WStatCase> cases;
  const auto generic_w = [](ld n_on, ld n_off, ld alpha, ld mu_s, ld b) {
    return 2 * (mu_s + (1 + alpha) * b - n_on * std::log(mu_s + alpha * b) - n_off * std::log(b)) +
           ref_wstat_constant(n_on, n_off);
  };
  // generic: the quadratic root, W at it.
  for (const double mu_s : {3.0, -3.0, 0.37, 250.0, 1e5}) {
    const ld b = gammapy_background(10, 20, 0.2L, mu_s);
    cases.push_back({"generic", 10, 20, 0.2, mu_s, b, generic_w(10, 20, 0.2L, mu_s, b)});
  }
  {
    const ld b = gammapy_background(5, 1000, 0.01L, 1e5);  // C < 0, where C + D cancels
    cases.push_back({"generic, C<0", 5, 1000, 0.01, 1e5, b, generic_w(5, 1000, 0.01L, 1e5, b)});
  }
  // mu_s = 0: b = (n_on + n_off) / (1 + alpha).
  for (const auto& nn : std::vector<std::pair<double, double>>{{10, 20}, {0, 20}, {10, 0}}) {
    const ld b = (nn.first + nn.second) / (1 + 0.2L);
    cases.push_back({"mu_s=0", nn.first, nn.second, 0.2, 0.0, b, generic_w(nn.first, nn.second, 0.2L, 0, b)});
  }
  // n_on = 0, mu_s >= -alpha n_off / (1 + alpha): b = n_off / (1 + alpha), W linear with slope 2.
  {
    const ld alpha = 0.25L, n_off = 12, branch = -alpha * n_off / (1 + alpha);  // -2.4
    for (const double mu_s : {5.0, 0.0, -1.0, static_cast<double>(branch)}) {
      const ld b = n_off / (1 + alpha);
      const ld w = 2 * mu_s + 2 * (n_off - n_off * std::log(b)) + ref_wstat_constant(0, n_off);
      cases.push_back({"n_on=0, above", 0, 12, 0.25, mu_s, b, w});
    }
    // Below the branch point: b = -mu_s / alpha, W = 2 [-mu_s/alpha - n_off ln(-mu_s/alpha)] + G.
    for (const double mu_s : {-2.5, -10.0, -1e4}) {
      const ld b = -mu_s / alpha;
      const ld w = 2 * (-mu_s / alpha - n_off * std::log(-mu_s / alpha)) + ref_wstat_constant(0, n_off);
      cases.push_back({"n_on=0, below", 0, 12, 0.25, mu_s, b, w});
    }
  }
  // n_off = 0: below alpha n_on / (1 + alpha) b = n_on/(1+alpha) - mu_s/alpha and W is linear with
  // slope -2/alpha; above, b = 0 and W is Cash without background.
  {
    const ld alpha = 0.2L, n_on = 6, branch = alpha * n_on / (1 + alpha);  // 1.0
    for (const double mu_s : {0.5, -2.0, -300.0}) {
      const ld b = n_on / (1 + alpha) - mu_s / alpha;
      const ld w = 2 * (n_on - mu_s / alpha - n_on * std::log(alpha * n_on / (1 + alpha))) +
                   ref_wstat_constant(n_on, 0);
      cases.push_back({"n_off=0, below", 6, 0, 0.2, mu_s, b, w});
    }
    for (const double mu_s : {static_cast<double>(branch), 4.0, 900.0}) {
      const ld w = 2 * (mu_s - n_on * std::log(static_cast<ld>(mu_s))) + ref_wstat_constant(n_on, 0);
      cases.push_back({"n_off=0, above", 6, 0, 0.2, mu_s, 0, w});
    }
  }
  // n_on = n_off = 0: b = max(0, -mu_s/alpha); W = 2 mu_s above 0, 2 |mu_s| / alpha below.
  for (const double mu_s : {3.0, 0.0, -3.0}) {
    const ld alpha = 0.2L;
    const ld b = mu_s < 0 ? -mu_s / alpha : 0;
    const ld w = mu_s >= 0 ? 2 * static_cast<ld>(mu_s) : 2 * std::fabs(static_cast<ld>(mu_s)) / alpha;
    cases.push_back({"n_on=n_off=0", 0, 0, 0.2, mu_s, b, w});
  }
  return cases;
}

TEST(WStatBin, EveryTableBranchBackgroundAndValue) {
  for (const WStatCase& c : wstat_table_cases()) {
    SCOPED_TRACE(::testing::Message() << c.branch << ": n_on=" << c.n_on << " n_off=" << c.n_off
                                      << " alpha=" << c.alpha << " mu_s=" << c.mu_s);
    const double b = m::wstat_background(c.n_on, c.n_off, c.alpha, c.mu_s);
    EXPECT_NEAR(b, static_cast<double>(c.b_table),
                kClosedFormRelTol * static_cast<double>(std::fabs(c.b_table) + std::fabs(c.mu_s) / c.alpha) + 1e-300);
    // The reference's per-case background is the table's, and both are the defining minimum.
    EXPECT_NEAR(static_cast<double>(ref_wstat_background(c.n_on, c.n_off, c.alpha, c.mu_s)),
                static_cast<double>(c.b_table), 1e-15 * static_cast<double>(1 + std::fabs(c.b_table)));
    const ld b_min = minimise_over_background(c.n_on, c.n_off, c.alpha, c.mu_s);
    EXPECT_NEAR(static_cast<double>(b_min), static_cast<double>(c.b_table),
                1e-15 * static_cast<double>(1 + std::fabs(c.b_table)));

    // s = 1, o = 0, theta = mu_s: the bin value is W(mu_s) with gammapy's constant.
    const m::BinTerms t = m::wstat_bin(c.n_on, c.n_off, c.alpha, 1.0, 0.0, c.mu_s);
    const double scale = static_cast<double>(std::fabs(c.w_table)) + 2 * (c.n_on + c.n_off) *
                         (1 + std::log(1 + c.n_on + c.n_off + std::fabs(c.mu_s) + static_cast<double>(c.b_table)));
    EXPECT_NEAR(t.value, static_cast<double>(c.w_table), kClosedFormRelTol * scale);
    EXPECT_NEAR(t.value, static_cast<double>(ref_wstat(c.n_on, c.n_off, c.alpha, 1, 0, c.mu_s)),
                kClosedFormRelTol * scale);
    // npred = clip(mu_s + alpha b_hat, 0).
    const ld npred = std::fmax(0.0L, c.mu_s + c.alpha * c.b_table);
    EXPECT_NEAR(t.npred, static_cast<double>(npred), kClosedFormRelTol * static_cast<double>(npred + std::fabs(c.mu_s)));
  }
}

TEST(WStatBin, LinearBranchesHaveTheTableSlopes) {
  // n_on = 0 above the branch point: slope 2; n_off = 0 below its branch point: slope -2/alpha;
  // n_on = n_off = 0: 2 above 0 and -2/alpha below (kink at 0).
  struct Case { double n_on, n_off, alpha, mu_a, mu_b, slope; };
  for (const Case c : {Case{0, 12, 0.25, -2.0, 7.0, 2.0}, Case{6, 0, 0.2, -5.0, 0.9, -10.0},
                       Case{0, 0, 0.2, 0.5, 9.0, 2.0}, Case{0, 0, 0.2, -9.0, -0.5, -10.0}}) {
    const double wa = m::wstat_bin(c.n_on, c.n_off, c.alpha, 1, 0, c.mu_a).value;
    const double wb = m::wstat_bin(c.n_on, c.n_off, c.alpha, 1, 0, c.mu_b).value;
    EXPECT_NEAR((wb - wa) / (c.mu_b - c.mu_a), c.slope, 1e-12 * std::fabs(c.slope) * (1 + std::fabs(wa) + std::fabs(wb)));
  }
}

TEST(WStatBin, UnconstrainedOneBinMinimumIsNonMinusAlphaNoff) {
  // The one-bin MLE is mu_s = n_on - alpha n_off on every branch (negative when the OFF
  // excess dominates), where S' = 0, and there W = 0 (G makes the saturated model zero).
  struct Case { double n_on, n_off, alpha; };
  for (const Case c : {Case{20, 50, 0.2}, Case{5, 100, 0.2}, Case{0, 10, 0.5}, Case{7, 0, 0.3},
                       Case{1000, 900, 1.0}, Case{1, 1, 0.05}}) {
    SCOPED_TRACE(::testing::Message() << "n_on=" << c.n_on << " n_off=" << c.n_off);
    const double mu = c.n_on - c.alpha * c.n_off;
    const m::BinTerms t = m::wstat_bin(c.n_on, c.n_off, c.alpha, 1, 0, mu);
    const double scale = 2 * (c.n_on + c.n_off) * (1 + std::log(1 + c.n_on + c.n_off));
    EXPECT_NEAR(t.d1, 0.0, kClosedFormRelTol * scale);
    EXPECT_NEAR(t.value, 0.0, kClosedFormRelTol * scale);
    EXPECT_GT(t.d2, 0.0);
    // Curvature: 2 / (n_on + alpha^2 n_off), the Gaussian limit of the On/Off variance.
    EXPECT_NEAR(t.d2, 2 / (c.n_on + c.alpha * c.alpha * c.n_off), kClosedFormRelTol * t.d2 * 10);
  }
}

TEST(WStatBin, ZeroAlphaContributesNothing) {
  // gammapy: alpha = 0 gives NaN in b_hat, and nan_to_num makes the bin's stat 0.
  const m::BinTerms t = m::wstat_bin(5, 3, 0.0, 2.0, 0.5, 1.5);
  EXPECT_EQ(t.value, 0.0);
  EXPECT_EQ(t.d1, 0.0);
  EXPECT_EQ(t.d2, 0.0);
  EXPECT_EQ(t.npred, 3.5);  // clip(mu_s + NaN -> 0, 0)
}

// --- derivatives against finite differences -----------------------------------------------------

struct DerivativeCase {
  std::string regime;
  RefBin bin;
  ld theta;
  ld h;  // finite-difference step: the whole stencil (+-2h) stays on one branch
};

// A case mu_s = branch * (1 + side * 1e-4) (+ side * 1e-4 when the branch is 0), with a step that
// keeps the stencil on that side.
DerivativeCase near_branch(std::string regime, RefBin bin, ld mu_branch, int side) {
  const ld dist = 1e-4L * (std::fabs(mu_branch) + 1);
  const ld mu = mu_branch + side * dist;
  return {regime + (side > 0 ? " (just above)" : " (just below)"), bin, (mu - bin.other) / bin.s,
          dist / (10 * bin.s)};
}

std::vector<DerivativeCase> derivative_cases() {
  const auto cash = [](ld n, ld s, ld b) { RefBin r; r.n = n; r.s = s; r.other = b; return r; };
  const auto wstat = [](ld n_on, ld n_off, ld alpha, ld s, ld o) {
    RefBin r; r.wstat = true; r.n = n_on; r.n_off = n_off; r.alpha = alpha; r.s = s; r.other = o;
    return r;
  };
  std::vector<DerivativeCase> c;
  c.push_back({"cash bright", cash(900, 300, 500), 1.3L, 1e-4L});
  c.push_back({"cash faint", cash(1, 0.05L, 0.01L), 2, 1e-3L});
  c.push_back({"cash n=0", cash(0, 2, 1), 0.5L, 1e-4L});
  c.push_back({"cash near feasibility", cash(5, 2, 1), -0.5L + 1e-3L, 1e-8L});
  c.push_back({"cash below background", cash(3, 1, 10), -7, 1e-4L});
  c.push_back(near_branch("cash n=0 kink", cash(0, 2, 1), 0, +1));
  c.push_back(near_branch("cash n=0 kink", cash(0, 2, 1), 0, -1));
  c.push_back(near_branch("cash truncation", cash(4, 2, 1), 2e-25L, -1));  // flat side
  c.push_back({"cash truncated", cash(4, 2, 1), -3, 1e-3L});
  c.push_back({"wstat generic", wstat(10, 20, 0.2L, 2, 0), 1.5L, 1e-4L});
  c.push_back({"wstat generic, other signal", wstat(10, 20, 0.2L, 2, 1.5L), 0.7L, 1e-4L});
  c.push_back({"wstat generic, negative mu_s", wstat(2, 50, 0.2L, 1, 0), -3, 1e-4L});
  c.push_back({"wstat generic, mu_s=0", wstat(10, 20, 0.2L, 1, 0), 0, 1e-4L});
  c.push_back({"wstat generic, C<0", wstat(5, 1000, 0.01L, 1, 0), 1e5L, 100});
  c.push_back({"wstat bright", wstat(1000, 990, 1.0L, 300, 0), 0.05L, 1e-5L});
  c.push_back({"wstat n_on=0 above", wstat(0, 10, 0.2L, 1, 0), 1, 1e-4L});
  c.push_back({"wstat n_on=0 below", wstat(0, 10, 0.2L, 1, 0), -5, 1e-4L});
  c.push_back(near_branch("wstat n_on=0 branch", wstat(0, 10, 0.2L, 1, 0), -0.2L * 10 / 1.2L, +1));
  c.push_back(near_branch("wstat n_on=0 branch", wstat(0, 10, 0.2L, 1, 0), -0.2L * 10 / 1.2L, -1));
  c.push_back({"wstat n_off=0 below", wstat(6, 0, 0.2L, 1, 0), 0.5L, 1e-4L});
  c.push_back({"wstat n_off=0 below, negative", wstat(6, 0, 0.2L, 1, 0), -2, 1e-4L});
  c.push_back({"wstat n_off=0 above", wstat(6, 0, 0.2L, 1, 0), 4, 1e-4L});
  c.push_back(near_branch("wstat n_off=0 branch", wstat(6, 0, 0.2L, 1, 0), 0.2L * 6 / 1.2L, +1));
  c.push_back(near_branch("wstat n_off=0 branch", wstat(6, 0, 0.2L, 1, 0), 0.2L * 6 / 1.2L, -1));
  c.push_back({"wstat n_on=n_off=0 above", wstat(0, 0, 0.2L, 1, 0), 1, 1e-4L});
  c.push_back({"wstat n_on=n_off=0 below", wstat(0, 0, 0.2L, 1, 0), -1, 1e-4L});
  c.push_back(near_branch("wstat n_on=n_off=0 kink", wstat(0, 0, 0.2L, 1, 0), 0, +1));
  c.push_back(near_branch("wstat n_on=n_off=0 kink", wstat(0, 0, 0.2L, 1, 0), 0, -1));
  return c;
}

TEST(BinDerivatives, MatchLongDoubleFiniteDifferences) {
  for (const DerivativeCase& c : derivative_cases()) {
    SCOPED_TRACE(::testing::Message() << c.regime << " at theta=" << static_cast<double>(c.theta));
    const RefBin& b = c.bin;
    const auto f = [&](ld x) { return b.stat(x); };
    const ld h = c.h;
    const ld d1_fd = (f(c.theta - 2 * h) - 8 * f(c.theta - h) + 8 * f(c.theta + h) - f(c.theta + 2 * h)) / (12 * h);
    const ld f0 = f(c.theta);
    const ld d2_h = (f(c.theta + h) - 2 * f0 + f(c.theta - h)) / (h * h);
    const ld d2_2h = (f(c.theta + 2 * h) - 2 * f0 + f(c.theta - 2 * h)) / (4 * h * h);
    const ld d2_fd = (4 * d2_h - d2_2h) / 3;

    const double theta = static_cast<double>(c.theta);
    const m::BinTerms t =
        b.wstat ? m::wstat_bin(static_cast<double>(b.n), static_cast<double>(b.n_off),
                               static_cast<double>(b.alpha), static_cast<double>(b.s),
                               static_cast<double>(b.other), theta)
                : m::cash_bin(static_cast<double>(b.n), static_cast<double>(b.s),
                              static_cast<double>(b.other), theta);
    // The size of the terms summed in one evaluation (mu, n ln mu, the constant G): rounding in
    // the reference and in the engine scales with it, not with the (possibly cancelling) total.
    const ld mu_terms = std::fabs(c.theta * b.s) + std::fabs(b.other) + 1e-300L;
    const ld term_scale = 2 * mu_terms + 2 * (b.n + b.n_off) * (1 + std::fabs(std::log(mu_terms + b.n + b.n_off)));
    // What the finite differences can resolve: the stencils' rounding noise, kFdNoiseUlps long-double
    // ulps of the terms, divided by h (S') or h^2 (S'').
    ld f_max = 0;
    for (int k = -2; k <= 2; ++k) f_max = std::fmax(f_max, std::fabs(f(c.theta + k * h)));
    const ld noise = kFdNoiseUlps * std::numeric_limits<ld>::epsilon() * (f_max + term_scale);
    // The engine's own double rounding of S' scales with its terms: 2 s (1 + n/mu), where 1 - n/mu
    // may cancel.
    const ld d1_scale = 2 * b.s * (1 + (b.n + b.n_off) / mu_terms + (b.alpha > 0 ? 1 / b.alpha : 0));
    EXPECT_NEAR(t.d1, static_cast<double>(d1_fd), static_cast<double>(kFdD1RelTol * d1_scale + noise / h));
    EXPECT_NEAR(t.d2, static_cast<double>(d2_fd), static_cast<double>(kFdD2RelTol * std::fabs(d2_fd) + noise / (h * h)));
    // And the value itself against the reference at the same (double) norm.
    const ld value_ref = f(static_cast<ld>(theta));
    EXPECT_NEAR(t.value, static_cast<double>(value_ref),
                static_cast<double>(kValueRelTol * (std::fabs(value_ref) + term_scale)));
  }
}

TEST(BinDerivatives, FirstDerivativeIsContinuousAtC1BranchPoints) {
  // The n_on = 0 and n_off = 0 branch points are C1: S' has the same value from both
  // formulas there (slope 2, resp. -2/alpha).
  const double a = 0.2;
  const double on0 = -a * 10 / (1 + a);
  EXPECT_NEAR(m::wstat_bin(0, 10, a, 1, 0, on0).d1, 2.0, 1e-12);
  EXPECT_NEAR(m::wstat_bin(0, 10, a, 1, 0, std::nextafter(on0, -1.0)).d1, 2.0, 1e-9);
  const double off0 = a * 6 / (1 + a);
  EXPECT_NEAR(m::wstat_bin(6, 0, a, 1, 0, off0).d1, -2 / a, 1e-12);
  EXPECT_NEAR(m::wstat_bin(6, 0, a, 1, 0, std::nextafter(off0, 10.0)).d1, -2 / a, 1e-9);
}

}  // namespace
}  // namespace fluxpoints::testing
