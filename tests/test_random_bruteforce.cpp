// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Random problems against a brute-force long-double solution (tests/reference_likelihood.hpp):
// mixed Cash and WStat datasets, 1-12 bins, 1-3 datasets per problem, bright and faint, with zero
// bins, n_off = 0 bins and all-zero groups. Every problem is classified by the shape of its minimum
// (smooth, kink, plateau) and compared in the way that shape allows:
//
//  * smooth: norm, norm_err = sqrt(2/S''), stat, stat_null, ts, errn/errp/ul and stat_scan;
//  * kink (a Cash n = 0 bin or a WStat n_on = n_off = 0 bin puts S' through a jump at the
//    minimum): everything except norm_err, whose curvature is undefined there
//    (gammapy's HESSE returns a step-size artefact; the engine reports sqrt(2/S'') of the smooth
//    bins, or the half-width of the Delta-stat = 1 interval when that is 0). The brute force
//    builds gammapy's bracket with that half-width as the step; the bracket ends lie 1e5 steps
//    away, so whether a crossing is inside never hinges on the choice for these problems;
//  * plateau (Cash with all counts 0): status flat_minimum, the norm anywhere on the plateau, ts,
//    the upper crossings from the plateau's edge, no lower crossing (the statistic never rises
//    below the plateau).
//
// The seed is fixed by default and can be overridden with FLUXPOINTS_TEST_SEED; it is printed.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "random_problems.hpp"
#include "reference_likelihood.hpp"
#include "test_helpers.hpp"

namespace fluxpoints::testing {
namespace {

constexpr int kRandomProblems = 10000;

// --- tolerances -------------------------------------------------------------------------------
// Best fit, in units of sigma: the brute force locates the minimum by the sign of the long-double
// secant S(x + h) - S(x - h), h = 1e-5 sigma, which rounding limits to ~eps_ld |S| / (h S'')
// ~3e-10 sigma for |S| ~ 1e5 (bias O(h^2)); the engine's Newton stops at 1e-12 relative, and its
// double-precision S' is good to ~1e-16 of its terms / S''.
constexpr double kNormTolSigma = 1e-8;
constexpr double kNormRelTol = 1e-11;
// norm_err against sqrt(2/S'') with S'' from long-double finite differences (step 1e-3 sigma,
// Richardson): truncation O(1e-12), rounding ~eps_ld |S| / (h^2 S'') < 1e-7.
constexpr double kSigmaRelTol = 1e-6;
// The brute force's estimate of that rounding noise is conservative (measured errors are 10-50x
// below it), so sigma is compared wherever the estimate stays below 10 kSigmaRelTol.
constexpr double kSigmaNoiseSkip = 10 * kSigmaRelTol;
// Statistic values: a double-precision sum of <= 36 bins, relative to the size of the terms summed.
constexpr double kStatRelTol = 1e-13;
// Crossings, in units of sigma (or of the bracket step where there is no sigma): the engine
// stops at 1e-12 relative (+1e-14 absolute) on the norm and evaluates S in double
// (~1e-16 of its terms, divided by |S'| ~ 2/sigma at the crossing).
constexpr double kCrossTolSigma = 1e-8;
constexpr double kCrossRelTol = 1e-11;
// npred per dataset at the engine's norm: a double sum of clipped per-bin predictions.
constexpr double kNpredRelTol = 1e-12;

ld term_scale(const RefProblem& p, ld theta) { return p.term_scale(theta); }

struct Crossings {
  RefCrossing errn, errp, ul;
  bool ambiguous = false;  // more than one crossing on a side within the bracket
};

// What the brute force expects for one problem.
struct Expected {
  RefSolution fit;
  Crossings cross;
  // A kink, S'' jump or zero prediction so close to the minimum that the estimated rounding noise
  // of the finite-difference curvature exceeds kSigmaNoiseSkip: sigma is not compared.
  bool near_branch = false;
  std::vector<ld> scan;
};

// gammapy's crossings for a brute-force fit: roots of S = S_min + delta between the best fit and
// its confidence bracket end, NaN without a sign change there.
Crossings expected_crossings(const RefProblem& p, RefSolution& fit, const SolveOptions& o) {
  Crossings c;
  const ld n1 = static_cast<ld>(o.n_sigma) * o.n_sigma, nul = static_cast<ld>(o.n_sigma_ul) * o.n_sigma_ul;
  const ld scan_n_sigma = o.n_sigma_ul + 1;
  if (fit.shape == RefShape::kink) {
    // Engine convention at a kink: sigma = half-width of the Delta-stat = 1 interval (the one
    // side's distance where only one side crosses).
    const ld scale = 1e-3L * (1 + std::fabs(fit.theta));
    const ld up = brute_force_crossing(p, fit.theta, fit.stat, 1, +1, kLdInf, scale).root;
    const ld lo = brute_force_crossing(p, fit.theta, fit.stat, 1, -1, -kLdInf, scale).root;
    if (!std::isnan(up) && !std::isnan(lo)) fit.bracket_step = 0.5L * (up - lo);
    else fit.bracket_step = std::isnan(up) ? fit.theta - lo : up - fit.theta;
  }
  const ld step = fit.bracket_step > 0 ? fit.bracket_step : 1;
  const ld hi_end = ref_bracket_end(+1, fit.theta, step, scan_n_sigma);
  const ld lo_end = ref_bracket_end(-1, fit.theta, step, scan_n_sigma);
  const ld scale = fit.sigma > 0 ? fit.sigma : step;
  c.errp = brute_force_crossing(p, fit.theta, fit.stat, n1, +1, hi_end, scale);
  c.ul = brute_force_crossing(p, fit.theta, fit.stat, nul, +1, hi_end, scale);
  if (fit.shape == RefShape::plateau) {
    c.errn.in_bracket = p.stat(lo_end) - fit.stat - n1 > 0;  // flat: never
  } else {
    c.errn = brute_force_crossing(p, fit.theta, fit.stat, n1, -1, lo_end, scale);
  }
  // A second sign change between the nearest lower crossing and the bracket end makes Brent's
  // answer depend on the algorithm (Cash below its feasible limit is not convex).
  if (c.errn.in_bracket && !std::isnan(c.errn.root)) {
    for (int k = 1; k <= 200 && !c.ambiguous; ++k) {
      const ld t = c.errn.root + (lo_end - c.errn.root) * std::pow(1e-9L, 1 - k / 200.0L);
      if (p.stat(t) < fit.stat + n1) c.ambiguous = true;
    }
  }
  return c;
}

struct RandomSuite {
  std::uint64_t seed = 0;
  std::vector<RefProblem> problems;
  std::vector<Expected> expected;
  LikelihoodBatch batch;
  SolveOptions options;
};

RandomSuite build_suite(std::uint64_t first_index, int n_problems, const SolveOptions& options) {
  RandomSuite s;
  s.seed = test_seed();
  s.options = options;
  const std::vector<double> grid = options.norm_scan();
  s.batch.reserve(n_problems, n_problems * 13);
  for (int i = 0; i < n_problems; ++i) {
    s.problems.push_back(random_problem(s.seed, first_index + i));
    add_to_batch(s.problems.back(), s.batch, "random " + std::to_string(first_index + i));
    Expected e;
    e.fit = brute_force_minimum(s.problems.back());
    e.cross = expected_crossings(s.problems.back(), e.fit, s.options);
    e.near_branch = e.fit.shape == RefShape::smooth && !(e.fit.sigma_noise < kSigmaNoiseSkip);
    for (double t : grid) e.scan.push_back(s.problems.back().stat(t));
    s.expected.push_back(e);
  }
  return s;
}

// Built once per process: every backend's test compares against the same brute force.
const RandomSuite& default_suite() {
  static const RandomSuite suite = build_suite(0, kRandomProblems, all_options());
  return suite;
}

// The same comparison with n_sigma = 2, n_sigma_ul = 3 (Delta = 4 and 9, bracket N = 4), norm
// start 0.3 and a custom scan grid, on other problems of the same seed.
constexpr int kOtherOptionsProblems = 500;
constexpr std::uint64_t kOtherOptionsFirstIndex = 1000000;
SolveOptions other_options() {
  SolveOptions o = all_options();
  o.n_sigma = 2;
  o.n_sigma_ul = 3;
  o.norm_value = 0.3;
  o.scan_values = {-2, -0.5, 0, 0.1, 1, 7.5, 40};
  return o;
}

class RandomProblems : public BackendTest {
 protected:
  void compare(const RandomSuite& suite);
};

TEST_P(RandomProblems, MatchBruteForce) { compare(default_suite()); }

TEST_P(RandomProblems, MatchBruteForceWithOtherOptions) {
  compare(build_suite(kOtherOptionsFirstIndex, kOtherOptionsProblems, other_options()));
}

void RandomProblems::compare(const RandomSuite& suite) {
  const int n_problems = static_cast<int>(suite.problems.size());
  std::cout << "[ seed     ] FLUXPOINTS_TEST_SEED=" << suite.seed << " (" << n_problems
            << " problems)" << std::endl;
  RecordProperty("seed", std::to_string(suite.seed));
  const BatchResult r = backend().solve(suite.batch, suite.options);

  int n_smooth = 0, n_kink = 0, n_plateau = 0, n_near_branch = 0, n_ambiguous = 0, n_nan = 0;
  int reported = 0, failed_problems = 0;
  const int kMaxReported = std::getenv("FLUXPOINTS_TEST_VERBOSE") ? 100000 : 15;
  for (int p = 0; p < n_problems; ++p) {
    const RefProblem& ref = suite.problems[p];
    const Expected& e = suite.expected[p];
    std::ostringstream why;
    why.precision(17);
    const auto check = [&](bool ok, const std::string& what, double got, ld want, ld tol) {
      if (!ok) why << "\n  " << what << ": got " << got << ", brute force " << static_cast<double>(want)
                   << " (tolerance " << static_cast<double>(tol) << ")";
    };
    const auto near = [&](const std::string& what, double got, ld want, ld tol) {
      const bool ok = std::isnan(static_cast<double>(want))
                          ? std::isnan(got)
                          : std::fabs(static_cast<ld>(got) - want) <= tol;
      check(ok, what, got, want, tol);
    };

    const RefSolution& f = e.fit;
    // At a kink or a plateau's edge S is linear on either side, so the engine's norm tolerance
    // enters the stat linearly (at a smooth minimum only quadratically).
    ld edge_tol = 0;
    if (f.shape != RefShape::smooth) {
      const ld step = 1e-9L * (1 + std::fabs(f.theta));
      const ld slope = std::fmax(std::fabs(ref.stat(f.theta + step) - f.stat),
                                 std::fabs(f.stat - ref.stat(f.theta - step))) /
                       step;
      edge_tol = slope * kNormRelTol * (1 + std::fabs(f.theta));
    }
    const ld stat_tol = kStatRelTol * term_scale(ref, f.theta) + edge_tol;
    const ld null_tol = kStatRelTol * term_scale(ref, 0);
    near("stat_null", r.stat_null[p], ref.stat(0), null_tol);
    near("stat", r.stat[p], f.stat, stat_tol);
    near("ts", r.ts[p], ref.stat(0) - f.stat, stat_tol + null_tol);

    const ld sigma_scale = f.sigma > 0 ? f.sigma : f.bracket_step;
    switch (f.shape) {
      case RefShape::smooth:
        ++n_smooth;
        near("norm", r.norm[p], f.theta, kNormTolSigma * f.sigma + kNormRelTol * std::fabs(f.theta));
        check(r.status[p] == SolveStatus::ok, "status", static_cast<double>(r.status[p]), 0, 0);
        if (e.near_branch) ++n_near_branch;
        else near("norm_err", r.norm_err[p], suite.options.n_sigma * f.sigma, kSigmaRelTol * suite.options.n_sigma * f.sigma);
        break;
      case RefShape::kink:
        ++n_kink;
        near("norm (kink)", r.norm[p], f.theta, kNormRelTol * (1 + std::fabs(f.theta)) + kNormTolSigma * sigma_scale);
        check(r.status[p] == SolveStatus::ok, "status", static_cast<double>(r.status[p]), 0, 0);
        // The kink rule: the engine sees the kink, whatever curvature the other bins add, and
        // its error is n_sigma times the Delta-stat = 1 half-width (bracket_step here).
        check((r.notes[p] & math::note_kink) != 0, "note_kink", r.notes[p], math::note_kink, 0);
        near("norm_err (kink: half-width)", r.norm_err[p], suite.options.n_sigma * f.bracket_step,
             (kCrossTolSigma + kCrossRelTol) * suite.options.n_sigma * f.bracket_step);
        break;
      case RefShape::plateau: {
        ++n_plateau;
        check(r.status[p] == SolveStatus::flat_minimum, "status (plateau)",
              static_cast<double>(r.status[p]), static_cast<ld>(SolveStatus::flat_minimum), 0);
        // Anywhere on the plateau (up to its edge, located to the engine's norm tolerance).
        const ld plateau_edge_tol = kNormRelTol * (1 + std::fabs(f.theta));
        check(r.norm[p] <= f.theta + plateau_edge_tol, "norm on plateau", r.norm[p], f.theta,
              plateau_edge_tol);
        break;
      }
    }
    const bool success = r.status[p] == SolveStatus::ok;
    check(r.success[p] == (success ? 1 : 0), "success", r.success[p], success, 0);
    const double ts_clipped = std::fmax(r.ts[p], 0.0);
    const double sqrt_ts = (success && r.norm[p] > 0) ? std::sqrt(ts_clipped) : -std::sqrt(ts_clipped);
    check(r.sqrt_ts[p] == sqrt_ts, "sqrt_ts sign rule", r.sqrt_ts[p], sqrt_ts, 0);

    // Crossings as absolute norms: errp/errn are distances from the engine's own best fit.
    const auto cross = [&](const std::string& what, double got_root, const RefCrossing& c) {
      if (!c.in_bracket) {
        check(std::isnan(got_root), what + " (no crossing in the bracket: NaN)", got_root, kLdNaN, 0);
        ++n_nan;
        return;
      }
      near(what, got_root, c.root, kCrossTolSigma * sigma_scale + kCrossRelTol * std::fabs(c.root));
    };
    if (e.cross.ambiguous) {
      ++n_ambiguous;  // only the upper side is compared
    } else {
      cross("errn crossing", r.norm[p] - r.norm_errn[p], e.cross.errn);
    }
    cross("errp crossing", r.norm[p] + r.norm_errp[p], e.cross.errp);
    cross("ul", r.norm_ul[p], e.cross.ul);

    for (std::size_t j = 0; j < e.scan.size(); ++j)
      near("stat_scan[" + std::to_string(j) + "]", r.stat_scan[p * e.scan.size() + j], e.scan[j],
           kStatRelTol * term_scale(ref, r.norm_scan[j]));

    // Per-dataset sums at the engine's norm.
    const ld theta = r.norm[p];
    const std::int64_t k0 = suite.batch.problem_segments()[p];
    for (std::size_t d = 0; d < ref.datasets.size(); ++d) {
      ld counts = 0, npred = 0, s_sum = 0;
      for (const RefBin& b : ref.datasets[d]) {
        counts += b.n;
        npred += b.npred(theta);
        s_sum += b.s;
      }
      near("counts", r.counts[k0 + d], counts, 0);
      near("npred", r.npred[k0 + d], npred, kNpredRelTol * (npred + std::fabs(theta) * s_sum + 1e-300L));
      near("npred_excess", r.npred_excess[k0 + d], theta * s_sum, kNpredRelTol * std::fabs(theta * s_sum));
    }

    if (!why.str().empty()) {
      ++failed_problems;
      if (reported++ < kMaxReported)
        ADD_FAILURE() << "problem " << p << " (seed " << suite.seed << ", shape "
                      << (f.shape == RefShape::smooth ? "smooth" : f.shape == RefShape::kink ? "kink" : "plateau")
                      << ", engine: " << r.reason(p) << ")" << why.str() << "\n inputs:" << describe(ref);
    }
  }
  std::cout << "[ shapes   ] smooth " << n_smooth << " (sigma skipped near a branch point: "
            << n_near_branch << "), kink " << n_kink << ", plateau " << n_plateau
            << "; ambiguous lower crossings " << n_ambiguous << "; NaN crossings " << n_nan
            << std::endl;
  EXPECT_EQ(failed_problems, 0) << "of " << n_problems << " problems";
  // The generator must keep producing every shape, or the classes above test nothing.
  EXPECT_GT(n_kink, 0);
  EXPECT_GT(n_plateau, 0);
  EXPECT_GT(n_smooth, n_problems / 2);
}

FLUXPOINTS_INSTANTIATE_BACKENDS(RandomProblems);

}  // namespace
}  // namespace fluxpoints::testing
