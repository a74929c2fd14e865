// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The solver against closed forms: one-bin Cash and WStat problems through every backend, and the
// solver's statuses on synthetic profiles (math/solver.hpp used directly).
//
// One-bin Cash, S = 2 (mu - n ln mu) with mu = theta s + b:
//   S' = 2 s (1 - n/mu) = 0        ->  theta_hat = (n - b) / s
//   S'' = 2 n s^2 / mu^2 = 2 s^2/n ->  sigma = sqrt(2 / S'') = sqrt(n) / s
//   S - S_min = 2 n (x - 1 - ln x) with x = mu / n, so a Delta crossing solves
//   x - 1 - ln x = Delta / (2n), x = -W(-exp(-1 - Delta/(2n))) on the two Lambert-W branches;
//   theta = (n x - b) / s.
// One-bin WStat: the MLE is mu_s = n_on - alpha n_off with b_hat = n_off, W_min = 0, and
//   S'' = 2 s^2 / (n_on + alpha^2 n_off), so sigma = sqrt(n_on + alpha^2 n_off) / s.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/math/solver.hpp"
#include "reference_likelihood.hpp"
#include "test_helpers.hpp"

namespace fluxpoints::testing {
namespace {

namespace m = fluxpoints::math;

// The best fit to 1e-10 of (|theta| + sigma): the solver's Newton stops at 1e-12 relative and its
// double-precision S' is good to ~1e-16 of its terms.
constexpr double kNormTol = 1e-10;
// sigma = sqrt(2/S'') is analytic in the engine: limited only by the norm above.
constexpr double kSigmaRelTol = 1e-9;
// Crossings: solved to 1e-12 relative (+1e-14); S in double.
constexpr double kCrossingTol = 1e-10;
// Statistic values: a few ulps of the terms (mu, n ln mu).
constexpr double kStatRelTol = 1e-13;

// Roots of x - 1 - ln x = c (c > 0) on either side of 1, by bisection in long double (the two real
// branches of the Lambert-W solution).
ld lambert_crossing(ld c, int side) {
  ld lo = side > 0 ? 1 : std::exp(-1 - c);
  ld hi = side > 0 ? 2 + 2 * c : 1;
  const auto g = [&](ld x) { return x - 1 - std::log(x) - c; };
  for (int it = 0; it < 400; ++it) {
    const ld mid = 0.5L * (lo + hi);
    if (mid == lo || mid == hi) break;
    // g decreases below 1 and increases above it.
    const bool beyond = side > 0 ? g(mid) > 0 : g(mid) < 0;
    (beyond ? hi : lo) = mid;
  }
  return 0.5L * (lo + hi);
}

struct CashCase {
  double n, s, b;
};

class ClosedForm : public BackendTest {};

TEST_P(ClosedForm, OneBinCash) {
  const std::vector<CashCase> cases = {{100, 50, 20}, {5, 2, 0.5}, {1000, 300, 500},
                                       {1, 0.1, 0},   {3, 1, 10},  {40, 0.02, 1}};
  LikelihoodBatch batch;
  for (const CashCase& c : cases) {
    batch.begin_problem();
    batch.begin_dataset(StatKind::cash);
    batch.add_cash_bin(c.n, c.s, c.b);
  }
  SolveOptions o = all_options();
  const BatchResult r = backend().solve(batch, o);
  const std::vector<double> grid = o.norm_scan();
  for (std::size_t p = 0; p < cases.size(); ++p) {
    const CashCase& c = cases[p];
    SCOPED_TRACE(::testing::Message() << "n=" << c.n << " s=" << c.s << " b=" << c.b);
    const double theta = (c.n - c.b) / c.s;
    const double sigma = std::sqrt(c.n) / c.s;
    EXPECT_EQ(r.status[p], SolveStatus::ok) << r.reason(p);
    EXPECT_EQ(r.success[p], 1);
    EXPECT_NEAR(r.norm[p], theta, kNormTol * (std::fabs(theta) + sigma));
    EXPECT_NEAR(r.norm_err[p], sigma, kSigmaRelTol * sigma);

    const double stat_min = 2 * (c.n - c.n * std::log(c.n));
    const double term = 2 * c.n * (1 + std::fabs(std::log(c.n)));
    EXPECT_NEAR(r.stat[p], stat_min, kStatRelTol * term);
    const double stat_null = static_cast<double>(ref_cash(c.n, c.s, c.b, 0));
    EXPECT_NEAR(r.stat_null[p], stat_null, kStatRelTol * (term + std::fabs(stat_null)));
    EXPECT_NEAR(r.ts[p], stat_null - stat_min, 2 * kStatRelTol * (term + std::fabs(stat_null)));
    EXPECT_EQ(r.sqrt_ts[p], (theta > 0 ? 1 : -1) * std::sqrt(std::fmax(r.ts[p], 0.0)));

    const auto root = [&](ld delta, int side) {
      return static_cast<double>((c.n * lambert_crossing(delta / (2 * c.n), side) - c.b) / c.s);
    };
    const double up1 = root(1, +1), lo1 = root(1, -1), up4 = root(4, +1);
    EXPECT_NEAR(r.norm[p] + r.norm_errp[p], up1, kCrossingTol * (std::fabs(up1) + sigma));
    EXPECT_NEAR(r.norm[p] - r.norm_errn[p], lo1, kCrossingTol * (std::fabs(lo1) + sigma));
    EXPECT_NEAR(r.norm_ul[p], up4, kCrossingTol * (std::fabs(up4) + sigma));

    // At the best fit mu = n: npred = n, npred_excess = n - b.
    EXPECT_EQ(r.counts[p], c.n);
    EXPECT_NEAR(r.npred[p], c.n, kNormTol * c.n);
    EXPECT_NEAR(r.npred_excess[p], c.n - c.b, kNormTol * (c.n + c.b));
    for (std::size_t j = 0; j < grid.size(); ++j) {
      const double want = static_cast<double>(ref_cash(c.n, c.s, c.b, grid[j]));
      EXPECT_NEAR(r.stat_scan[p * grid.size() + j], want, kStatRelTol * (term + std::fabs(want)));
    }
  }
}

struct WStatCase {
  double n_on, n_off, alpha, s;
};

TEST_P(ClosedForm, OneBinWStat) {
  // Generic, negative MLE (n_on < alpha n_off), n_on = 0 (lower branch), n_off = 0 (Cash branch),
  // bright and faint.
  const std::vector<WStatCase> cases = {{20, 50, 0.2, 4}, {5, 100, 0.2, 2}, {0, 10, 0.5, 1},
                                        {7, 0, 0.3, 1},   {1000, 900, 1.0, 300}, {1, 1, 0.05, 0.1}};
  LikelihoodBatch batch;
  for (const WStatCase& c : cases) {
    batch.begin_problem();
    batch.begin_dataset(StatKind::wstat);
    batch.add_wstat_bin(c.n_on, c.n_off, c.alpha, c.s);
  }
  SolveOptions o = all_options();
  const BatchResult r = backend().solve(batch, o);
  for (std::size_t p = 0; p < cases.size(); ++p) {
    const WStatCase& c = cases[p];
    SCOPED_TRACE(::testing::Message() << "n_on=" << c.n_on << " n_off=" << c.n_off << " alpha=" << c.alpha);
    const double mu_hat = c.n_on - c.alpha * c.n_off;
    const double theta = mu_hat / c.s;
    const double sigma = std::sqrt(c.n_on + c.alpha * c.alpha * c.n_off) / c.s;
    EXPECT_EQ(r.status[p], SolveStatus::ok) << r.reason(p);
    EXPECT_NEAR(r.norm[p], theta, kNormTol * (std::fabs(theta) + sigma));
    EXPECT_NEAR(r.norm_err[p], sigma, kSigmaRelTol * sigma);
    const double term = 2 * (c.n_on + c.n_off) * (1 + std::log(1 + c.n_on + c.n_off));
    EXPECT_NEAR(r.stat[p], 0.0, kStatRelTol * term);  // the saturated model: W_min = 0
    // W(0): b_hat = (n_on + n_off) / (1 + alpha) (gammapy's closed form at mu_s = 0).
    const ld b0 = (c.n_on + c.n_off) / (1 + static_cast<ld>(c.alpha));
    const ld w0 = 2 * ((1 + static_cast<ld>(c.alpha)) * b0 - (c.n_on > 0 ? c.n_on * std::log(c.alpha * b0) : 0) -
                       (c.n_off > 0 ? c.n_off * std::log(b0) : 0)) + ref_wstat_constant(c.n_on, c.n_off);
    EXPECT_NEAR(r.stat_null[p], static_cast<double>(w0), kStatRelTol * term);
    EXPECT_NEAR(r.ts[p], static_cast<double>(w0), 2 * kStatRelTol * term);
    // Negative norms are natural with WStat (n_on < alpha n_off): sqrt_ts < 0, npred_excess < 0.
    EXPECT_EQ(r.sqrt_ts[p], (theta > 0 ? 1 : -1) * std::sqrt(std::fmax(r.ts[p], 0.0)));
    EXPECT_NEAR(r.npred_excess[p], mu_hat, kNormTol * (std::fabs(mu_hat) + sigma * c.s));
    EXPECT_NEAR(r.npred[p], c.n_on, kNormTol * (c.n_on + c.n_off + 1));

    // Crossings: long-double bisection of the exact one-bin formula.
    RefProblem ref;
    RefBin bin;
    bin.wstat = true; bin.n = c.n_on; bin.n_off = c.n_off; bin.alpha = c.alpha; bin.s = c.s;
    ref.datasets = {{bin}};
    const auto root = [&](ld delta, int side) {
      return static_cast<double>(brute_force_crossing(ref, theta, 0, delta, side, side * kLdInf, sigma).root);
    };
    const double up1 = root(1, +1), lo1 = root(1, -1), up4 = root(4, +1);
    EXPECT_NEAR(r.norm[p] + r.norm_errp[p], up1, kCrossingTol * (std::fabs(up1) + sigma));
    EXPECT_NEAR(r.norm[p] - r.norm_errn[p], lo1, kCrossingTol * (std::fabs(lo1) + sigma));
    EXPECT_NEAR(r.norm_ul[p], up4, kCrossingTol * (std::fabs(up4) + sigma));
  }
}

FLUXPOINTS_INSTANTIATE_BACKENDS(ClosedForm);

// --- the solver on synthetic profiles -----------------------------------------------------------

// S(theta) = ((theta - c) / sigma)^2: best fit c, error sigma, crossings at c +- n sigma.
struct Parabola {
  double c, sigma;
  m::ProfilePoint profile(double t) const {
    const double u = (t - c) / sigma;
    return {u * u, 2 * u / sigma, 2 / (sigma * sigma)};
  }
  double feasible_min() const { return -m::kInf; }
};

TEST(SolverProfiles, ParabolaIsExact) {
  m::SolveSettings o;
  o.errn_errp = o.ul = true;
  o.n_sigma = 1.5;
  for (const Parabola f : {Parabola{3, 0.5}, Parabola{-40, 7}, Parabola{0, 1e-6}, Parabola{1e4, 30}}) {
    SCOPED_TRACE(::testing::Message() << "c=" << f.c << " sigma=" << f.sigma);
    const m::ProblemSolution s = m::solve_profile(f, o);
    EXPECT_EQ(s.status, SolveStatus::ok);
    EXPECT_NEAR(s.norm, f.c, kNormTol * (std::fabs(f.c) + f.sigma));
    EXPECT_NEAR(s.norm_err, 1.5 * f.sigma, kSigmaRelTol * f.sigma);
    EXPECT_NEAR(s.norm_errp, 1.5 * f.sigma, kCrossingTol * (std::fabs(f.c) + f.sigma));
    EXPECT_NEAR(s.norm_errn, 1.5 * f.sigma, kCrossingTol * (std::fabs(f.c) + f.sigma));
    EXPECT_NEAR(s.norm_ul, f.c + 2 * f.sigma, kCrossingTol * (std::fabs(f.c) + f.sigma));
    EXPECT_EQ(s.notes, m::note_none);
  }
}

TEST(SolverProfiles, BoundsClampTheBestFit) {
  m::SolveSettings o;
  o.errn_errp = o.ul = true;
  const Parabola f{3, 0.5};
  o.norm_min = 3.2;  // above the free minimum
  m::ProblemSolution s = m::solve_profile(f, o);
  EXPECT_EQ(s.norm, 3.2);
  EXPECT_TRUE(s.notes & m::note_at_min_bound);
  EXPECT_TRUE(std::isnan(s.norm_errn));  // the bracket [min, theta] is a point
  EXPECT_TRUE(s.notes & m::note_errn_no_crossing);
  o.norm_min = m::kNaN;
  o.norm_max = 2.9;  // below it
  s = m::solve_profile(f, o);
  EXPECT_EQ(s.norm, 2.9);
  EXPECT_TRUE(s.notes & m::note_at_max_bound);
  EXPECT_TRUE(std::isnan(s.norm_errp));
  EXPECT_TRUE(std::isnan(s.norm_ul));
}

struct NaNProfile {
  m::ProfilePoint profile(double) const { return {m::kNaN, m::kNaN, m::kNaN}; }
  double feasible_min() const { return -m::kInf; }
};
struct Decreasing {  // S = -theta: no minimum
  m::ProfilePoint profile(double t) const { return {-t, -1, 0}; }
  double feasible_min() const { return -m::kInf; }
};
struct Quartic {  // S = theta^4: S'' = 0 at the minimum, Newton converges only linearly
  m::ProfilePoint profile(double t) const { return {t * t * t * t, 4 * t * t * t, 12 * t * t}; }
  double feasible_min() const { return -m::kInf; }
};

TEST(SolverProfiles, FailureStatuses) {
  m::SolveSettings o;
  EXPECT_EQ(m::solve_profile(NaNProfile{}, o).status, SolveStatus::non_finite);
  const m::ProblemSolution d = m::solve_profile(Decreasing{}, o);
  EXPECT_EQ(d.status, SolveStatus::no_minimum);
  EXPECT_TRUE(std::isnan(d.norm));
  o.max_iterations = 4;
  EXPECT_EQ(m::solve_profile(Quartic{}, o).status, SolveStatus::max_iterations);
  // With the default limit the quartic converges (its "sigma" then comes from S'' near 0).
  EXPECT_EQ(m::solve_profile(Quartic{}, m::SolveSettings{}).status, SolveStatus::ok);
}

}  // namespace
}  // namespace fluxpoints::testing
