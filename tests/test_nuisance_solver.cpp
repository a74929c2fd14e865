// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The solver with linear nuisance parameters (math/nuisance_solver.hpp, reoptimize=True):
//
//  * K = 0 through the nuisance entry is today's solve_and_store, bit for bit;
//  * Cash with a free background amplitude per ON/OFF pair of bins is WStat (the WStat background
//    is exactly that amplitude profiled out with b >= 0): random WStat problems against the
//    engine's own one-dimensional WStat solve, K = 1..16, including the branch where the ON bin
//    has no counts and the fitted background puts its prediction on the kink;
//  * random problems with 1-16 nuisances, Cash, WStat and mixed, bounds none / min = 0 /
//    windows that are often active, against the independent long-double reference
//    (nuisance_reference.hpp): best fit, stat, stat_null, ts, norm_err (Schur complement against
//    a finite difference of the reference profile), errn, errp, ul, the scan, phi_hat, npred;
//  * closed forms (a nuisance per bin, nuisances pinned on their bounds) and the degenerate cases:
//    zero and duplicate templates, a template proportional to s, bounds that pin everything,
//    empty problems, unusable input, the feasibility limit of Cash with bounded nuisances.
//
// The seed is fixed by default and can be overridden with FLUXPOINTS_TEST_SEED.

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "fluxpoints/config.hpp"
#include "nuisance_batch.hpp"
#if FLUXPOINTS_WITH_CUDA
#include "nuisance_cuda_check.hpp"
#endif
#include "nuisance_reference.hpp"
#include "random_nuisance_problems.hpp"
#include "random_problems.hpp"
#include "test_helpers.hpp"

namespace fluxpoints::testing {
namespace {

namespace m = fluxpoints::math;

// --- tolerances -------------------------------------------------------------------------------
// Two double-precision engines on the same problem (WStat equivalence): each stops its norm at
// 1e-12 relative; the nuisance path reaches the profile through an inner Newton solve whose
// remaining error enters P' at second order. 1e-9 sigma leaves room for rounding of sums of
// ~30 terms.
constexpr double kEquivNormTolSigma = 1e-9;
// sigma: analytic curvature (WStat's closed-form d2) against the Schur complement of the
// nuisance Hessian; they agree to rounding times the condition of the 2x2 per-bin blocks.
constexpr double kEquivSigmaRelTol = 1e-8;
// Statistic values: sums of ~30 terms of size up to ~1e4 (n ln n): 1e-13 relative to the terms.
constexpr double kStatRelTol = 1e-12;
// Crossings: both engines solve to 1e-12 relative on the norm.
constexpr double kEquivCrossTolSigma = 1e-8;

// Against the long-double reference. Best fit in units of sigma: the reference locates the
// minimum of P by the sign of the secant P(x + h) - P(x - h), h = 1e-5 sigma, where each P is an
// inner Newton solve with finite-difference derivatives converged to ~1e-12 sigma_phi (the error
// of P is quadratic in it); the engine stops at 1e-12 relative.
constexpr double kRefNormTolSigma = 1e-7;
// norm_err: the reference's Richardson finite difference of P (steps 1e-3 and 2.5e-4 sigma,
// compared only where they agree to 1e-7) against the engine's Schur complement.
constexpr double kRefSigmaRelTol = 1e-6;
// Crossings in units of sigma: bisection of the reference P to 1e-15; the engine solves to 1e-12
// relative; P at a crossing is an inner fit in both.
constexpr double kRefCrossTolSigma = 1e-7;
// phi_hat: the engine's and the reference's best-fit nuisances differ by the norm difference
// times d phi / d theta (1e-7 sigma_theta) and the inner solves' own accuracy.
constexpr double kPhiRelTol = 1e-5;
// A reference nuisance this close (relative) to its bound is on it: far below the accuracy of
// the reference's inner fit, far above the rounding its golden-section polish may add.
constexpr double kBoundTol = 1e-9;
// npred per dataset at the engine's best fit, recomputed by the reference from the engine's phi.
constexpr double kNpredRelTol = 1e-10;

// The size of the terms summed into S at (theta, phi) - |mu|, n |ln mu|, WStat's G and
// background terms - which sets its rounding (the per-bin values can be much smaller: WStat's
// cancel G). RefProblem::term_scale does this for one norm; each bin here gets its own linear
// predictor as its "background" at norm 0.
ld term_scale_of(const NuRefProblem& p, ld theta, const std::vector<ld>& phi) {
  RefProblem one;
  one.datasets.emplace_back();
  for (const NuRefBin& b : p.bins) {
    RefBin r;
    r.wstat = b.wstat;
    r.n = b.n;
    r.s = 0;
    r.other = p.eta(b, theta, phi);
    r.n_off = b.n_off;
    r.alpha = b.alpha;
    one.datasets.back().push_back(r);
  }
  return one.term_scale(0) + 1;
}

SolveOptions all_selected() {
  SolveOptions o;
  o.set_selection("all");
  return o;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }
bool is_finite_norm(double x) { return std::isfinite(x); }

// --- K = 0 --------------------------------------------------------------------------------

TEST(NuisanceSolver, ZeroNuisancesIsTodaysPathBitForBit) {
  const std::uint64_t seed = test_seed();
  // The same random problems as the brute-force test of the 1-D solver, some of them with
  // nuisances in between (their rows must not disturb the K = 0 ones).
  NuisanceBatch nb;
  LikelihoodBatch plain;
  std::vector<int> has_nuisances;
  for (int i = 0; i < 600; ++i) {
    const RefProblem rp = random_problem(seed, i);
    add_to_batch(rp, plain, "");
    const bool with = i % 5 == 3;
    has_nuisances.push_back(with);
    std::vector<NuisanceSpec> specs;
    if (with) specs = {NuisanceSpec{1.0, 0.0, math::kNaN}};
    nb.begin_problem(specs);
    for (const auto& d : rp.datasets) {
      nb.begin_dataset(d.front().wstat ? StatKind::wstat : StatKind::cash);
      for (const RefBin& b : d) {
        const std::vector<double> t = with ? std::vector<double>{0.5} : std::vector<double>{};
        const auto x = [](ld v) { return static_cast<double>(v); };
        if (b.wstat)
          nb.add_wstat_bin(x(b.n), x(b.n_off), x(b.alpha), x(b.s), x(b.other), t);
        else
          nb.add_cash_bin(x(b.n), x(b.s), x(b.other), t);
      }
    }
  }
  nb.finish();
  const SolveOptions o = all_selected();
  const NuisanceRun run = run_nuisance(nb, o);
  // Today's path, called directly.
  BatchResult ref;
  prepare_solve(plain.as_view(), o, ref);
  std::vector<int> evals(plain.n_problems(), 0);
  const math::ResultArrays out = result_arrays(ref, evals);
  const math::BatchArrays in = plain.as_view().arrays;
  const math::SolveSettings settings = o.settings();
  for (std::int64_t p = 0; p < plain.n_problems(); ++p)
    math::solve_and_store(in, p, settings, ref.norm_scan.data(), static_cast<int>(ref.n_scan()),
                          out);
  const BatchResult& r = run.result;
  int compared = 0;
  for (std::int64_t p = 0; p < plain.n_problems(); ++p) {
    if (has_nuisances[p]) continue;
    ++compared;
    SCOPED_TRACE(::testing::Message() << "problem " << p);
    for (const auto& [a, b] : {std::pair{&r.norm, &ref.norm},
                               {&r.norm_err, &ref.norm_err},
                               {&r.ts, &ref.ts},
                               {&r.sqrt_ts, &ref.sqrt_ts},
                               {&r.stat, &ref.stat},
                               {&r.stat_null, &ref.stat_null},
                               {&r.norm_errn, &ref.norm_errn},
                               {&r.norm_errp, &ref.norm_errp},
                               {&r.norm_ul, &ref.norm_ul}})
      EXPECT_TRUE(same_bits((*a)[p], (*b)[p])) << (*a)[p] << " vs " << (*b)[p];
    EXPECT_EQ(r.status[p], ref.status[p]);
    EXPECT_EQ(r.notes[p], ref.notes[p]);
    EXPECT_EQ(r.success[p], ref.success[p]);
    for (std::int64_t j = 0; j < ref.n_scan(); ++j)
      EXPECT_TRUE(
          same_bits(r.stat_scan[p * ref.n_scan() + j], ref.stat_scan[p * ref.n_scan() + j]));
    for (std::int64_t k = plain.problem_segments()[p]; k < plain.problem_segments()[p + 1]; ++k) {
      EXPECT_TRUE(same_bits(r.npred[k], ref.npred[k]));
      EXPECT_TRUE(same_bits(r.npred_excess[k], ref.npred_excess[k]));
      EXPECT_TRUE(same_bits(r.counts[k], ref.counts[k]));
    }
    EXPECT_EQ(run.evaluations[p], evals[p]);
  }
  EXPECT_EQ(compared, 480);
}

// --- Cash + background nuisance per ON/OFF pair == WStat ---------------------------------------

// The WStat problem as Cash bins: ON bin eta = theta s + o + alpha b, OFF bin eta = b, with b a
// nuisance >= 0 (template alpha in the ON bin, 1 in the OFF bin). WStat is W(mu_s, b) profiled
// over b with the ON expectation kept >= 0, Cash clips a negative ON prediction to 0 instead; the
// two agree (P(theta) = W(theta) - G) wherever no ON bin without counts is pushed to that edge,
// i.e. for mu_s >= -alpha n_off / (1 + alpha) in every bin with n_on = 0, theta >= theta_c. Below
// theta_c the Cash profile is lower (its ON bins may go negative at no cost).
struct WStatAsCash {
  RefProblem wstat;
  GenProblem cash;
  double g_constant = 0;  // sum of WStat's G over the bins
  double theta_c = -math::kInf;
};

WStatAsCash wstat_as_cash(const RefProblem& rp) {
  WStatAsCash w;
  w.wstat = rp;
  int K = 0;
  for (const auto& d : rp.datasets) K += static_cast<int>(d.size());
  for (int k = 0; k < K; ++k) w.cash.nuisances.push_back(NuisanceSpec{1.0, 0.0, math::kNaN});
  std::vector<GenBin> bins;
  int k = 0;
  for (const auto& d : rp.datasets)
    for (const RefBin& b : d) {
      const auto x = [](ld v) { return static_cast<double>(v); };
      GenBin on, off;
      on.n = x(b.n);
      on.s = x(b.s);
      on.other = x(b.other);
      on.t.assign(K, 0.0);
      on.t[k] = x(b.alpha);
      off.n = x(b.n_off);
      off.s = 0.0;
      off.other = 0.0;
      off.t.assign(K, 0.0);
      off.t[k] = 1.0;
      bins.push_back(on);
      bins.push_back(off);
      w.g_constant += m::wstat_constant(x(b.n), x(b.n_off));
      if (b.n == 0 && b.s > 0) {
        const double edge = -x(b.alpha) * x(b.n_off) / (1 + x(b.alpha));
        w.theta_c = std::fmax(w.theta_c, (edge - x(b.other)) / x(b.s));
      }
      ++k;
    }
  w.cash.datasets.push_back(bins);
  return w;
}

// Random WStat-only problems with 1..16 bins in all (and alpha > 0).
RefProblem random_wstat_problem(std::uint64_t seed, int index) {
  for (int attempt = 0;; ++attempt) {
    RefProblem rp = random_problem(seed, 7919ull * index + attempt + 1000000ull);
    RefProblem w;
    int n = 0;
    for (const auto& d : rp.datasets) {
      if (!d.front().wstat) continue;
      std::vector<RefBin> keep;
      for (const RefBin& b : d)
        if (n < m::kMaxNuisances && b.alpha > 0) {
          keep.push_back(b);
          ++n;
        }
      if (!keep.empty()) w.datasets.push_back(keep);
    }
    if (n > 0) return w;
  }
}

TEST(NuisanceSolver, CashWithBackgroundNuisanceIsWStat) {
  const std::uint64_t seed = test_seed();
  constexpr int kProblems = 400;
  std::vector<WStatAsCash> cases;
  NuisanceBatch nb;
  LikelihoodBatch plain;
  for (int i = 0; i < kProblems; ++i) {
    cases.push_back(wstat_as_cash(random_wstat_problem(seed, i)));
    add_to_batch(cases.back().cash, nb);
    add_to_batch(cases.back().wstat, plain, "");
  }
  nb.finish();
  const SolveOptions o = all_selected();
  const NuisanceRun run = run_nuisance(nb, o);
  const BatchResult wres = make_backend("cpu")->solve(plain, o);
  const BatchResult& r = run.result;
  int compared = 0, below_edge = 0, with_bound = 0;
  for (int p = 0; p < kProblems; ++p) {
    const WStatAsCash& c = cases[p];
    SCOPED_TRACE(::testing::Message()
                 << "problem " << p << " theta_c " << c.theta_c << describe(c.wstat));
    const double stat_tol = kStatRelTol * (std::fabs(wres.stat[p]) + std::fabs(c.g_constant) + 1);
    // Everywhere: the Cash profile is not above W - G.
    EXPECT_LE(r.stat[p] + c.g_constant, wres.stat[p] + stat_tol);
    for (std::int64_t j = 0; j < wres.n_scan(); ++j) {
      const double w = wres.stat_scan[p * wres.n_scan() + j];
      const double v = r.stat_scan[p * wres.n_scan() + j] + c.g_constant;
      const double tol = kStatRelTol * (std::fabs(w) + std::fabs(c.g_constant) + 1);
      if (o.norm_scan()[j] >= c.theta_c)
        EXPECT_NEAR(v, w, tol) << "scan " << j;
      else
        EXPECT_LE(v, w + tol) << "scan " << j;
    }
    const bool comparable =
        wres.status[p] == SolveStatus::ok && is_finite_norm(wres.norm[p]) &&
        wres.norm[p] > c.theta_c + 1e-6 * (std::fabs(wres.norm[p]) + wres.norm_err[p]);
    if (!comparable) {
      ++below_edge;
      continue;
    }
    ++compared;
    EXPECT_EQ(r.status[p], SolveStatus::ok) << r.reason(p);
    const double sigma = wres.norm_err[p];
    const double scale = std::fabs(wres.norm[p]) + sigma;
    EXPECT_NEAR(r.norm[p], wres.norm[p], kEquivNormTolSigma * scale);
    EXPECT_NEAR(r.norm_err[p], wres.norm_err[p], kEquivSigmaRelTol * sigma);
    EXPECT_NEAR(r.stat[p] + c.g_constant, wres.stat[p], stat_tol);
    if (0 >= c.theta_c) {
      EXPECT_NEAR(r.stat_null[p] + c.g_constant, wres.stat_null[p], stat_tol);
      EXPECT_NEAR(r.ts[p], wres.ts[p], 2 * stat_tol);
    }
    for (const auto& [a, b] :
         {std::pair{&r.norm_errp, &wres.norm_errp}, {&r.norm_ul, &wres.norm_ul}}) {
      if (std::isnan((*b)[p])) {
        EXPECT_TRUE(std::isnan((*a)[p]));
      } else {
        EXPECT_NEAR((*a)[p], (*b)[p], kEquivCrossTolSigma * scale);
      }
    }
    if (wres.norm[p] - wres.norm_errn[p] > c.theta_c) {
      EXPECT_NEAR(r.norm_errn[p], wres.norm_errn[p], kEquivCrossTolSigma * scale);
    }
    // phi_hat is WStat's profiled background at the best fit.
    int k = 0;
    for (const auto& d : c.wstat.datasets)
      for (const RefBin& b : d) {
        const auto x = [](ld v) { return static_cast<double>(v); };
        const double mu_s = wres.norm[p] * x(b.s) + x(b.other);
        const double bhat = m::wstat_background(x(b.n), x(b.n_off), x(b.alpha), mu_s);
        const double phi = run.phi[nb.problem_nuisances[p] + k];
        EXPECT_NEAR(phi, bhat, kPhiRelTol * (std::fabs(bhat) + 1e-3 * (x(b.n) + x(b.n_off) + 1)));
        if (bhat == 0.0) ++with_bound;
        ++k;
      }
  }
  std::cout << "[ wstat-as-cash ] " << compared << " problems compared, " << below_edge
            << " with the WStat minimum at or below theta_c (only P <= W - G checked), "
            << with_bound << " backgrounds on their bound 0 (seed " << seed << ")\n";
  EXPECT_GT(compared, kProblems / 2);
  EXPECT_GT(with_bound, 10);
}

// --- random problems against the long-double reference ---------------------------------------

struct RefCounts {
  int compared = 0;       // smooth minimum, everything compared
  int kink = 0;           // a kink bin on its kink at the best fit: values compared only
  int unverified = 0;     // the reference's inner fit at the best fit failed its probe
  int sigma_skipped = 0;  // the reference's finite-difference curvature was not stable
  int at_bound = 0;       // a nuisance on a bound at the best fit
  int crossings = 0;      // crossings compared
};

// Compares problem p of `run` with the reference. Returns false when it was not compared.
void compare_with_reference(const GenProblem& g, const NuisanceBatch& nb, const NuisanceRun& run,
                            std::int64_t p, const SolveOptions& o, RefCounts& counts) {
  const BatchResult& r = run.result;
  const NuRefProblem rp = to_reference(g);
  RefProfile P(rp);
  const NuRefSolution ref = reference_solve(rp, P);
  SCOPED_TRACE(::testing::Message()
               << "problem " << p << " reference theta " << static_cast<double>(ref.theta)
               << " sigma " << static_cast<double>(ref.sigma) << describe(g));
  ASSERT_EQ(r.status[p], SolveStatus::ok) << r.reason(p);
  const std::vector<ld> phi_ref = ref.phi;
  const double scale_stat = static_cast<double>(term_scale_of(rp, ref.theta, phi_ref));
  // The minimum value and the null. Where the reference's fit ends on a kink of a bin that
  // depends on the nuisances, its smoothing continuation leaves it slightly above the minimum
  // (~1e-10 of the terms): an upper bound there, which the engine must not exceed.
  const double null_scale = static_cast<double>(term_scale_of(rp, 0, phi_ref)) + scale_stat;
  // The engine's stat is S at its own (norm, phi_hat), whatever the shape of the minimum.
  const std::int64_t first_nuisance = nb.problem_nuisances[p];
  std::vector<ld> phi_engine(rp.K);
  for (int k = 0; k < rp.K; ++k) phi_engine[k] = run.phi[first_nuisance + k];
  EXPECT_NEAR(r.stat[p], static_cast<double>(rp.stat(r.norm[p], phi_engine)),
              kStatRelTol * static_cast<double>(term_scale_of(rp, r.norm[p], phi_engine)));
  if (ref.nuisance_kink) {
    EXPECT_LE(r.stat[p], static_cast<double>(ref.stat) + kStatRelTol * scale_stat);
  } else {
    EXPECT_NEAR(r.stat[p], static_cast<double>(ref.stat), kStatRelTol * scale_stat);
  }
  if (ref.null_on_kink || !ref.null_verified) {
    EXPECT_LE(r.stat_null[p], static_cast<double>(ref.stat_null) + kStatRelTol * null_scale);
  } else {
    EXPECT_NEAR(r.stat_null[p], static_cast<double>(ref.stat_null), kStatRelTol * null_scale);
  }
  if (!ref.verified) {
    ++counts.unverified;
    return;
  }
  if (ref.kink || ref.nuisance_kink) {
    ++counts.kink;
    return;
  }
  ++counts.compared;
  const double sigma = static_cast<double>(ref.sigma);
  const double scale = std::fabs(static_cast<double>(ref.theta)) + sigma;
  EXPECT_NEAR(r.norm[p], static_cast<double>(ref.theta), kRefNormTolSigma * scale);
  if (ref.sigma_stable) {
    EXPECT_NEAR(r.norm_err[p], sigma, kRefSigmaRelTol * sigma);
  } else {
    ++counts.sigma_skipped;
  }
  if (ref.null_verified && !ref.null_on_kink) {
    EXPECT_NEAR(
        r.ts[p], static_cast<double>(ref.stat_null - ref.stat),
        2 * kStatRelTol * (scale_stat + static_cast<double>(term_scale_of(rp, 0, phi_ref))));
  }
  // Best-fit nuisances and the notes about them.
  const std::int64_t first = nb.problem_nuisances[p];
  bool on_bound = false;
  for (int k = 0; k < rp.K; ++k) {
    const double v = run.phi[first + k];
    EXPECT_NEAR(v, static_cast<double>(phi_ref[k]),
                kPhiRelTol * (std::fabs(static_cast<double>(phi_ref[k])) + 1))
        << "nuisance " << k;
    // (The reference's polish may leave a nuisance a rounding step off its bound.)
    const ld near = kBoundTol * (1 + std::fabs(phi_ref[k]));
    on_bound = on_bound || phi_ref[k] <= rp.lo[k] + near || phi_ref[k] >= rp.hi[k] - near;
  }
  if (on_bound) ++counts.at_bound;
  EXPECT_EQ((r.notes[p] & m::note_nuisance_at_bound) != 0, on_bound);
  // npred per dataset at the engine's own best fit, recomputed by the reference.
  const std::vector<ld>& phi_eng = phi_engine;
  std::vector<ld> npred(rp.n_datasets, 0), excess(rp.n_datasets, 0);
  for (const NuRefBin& b : rp.bins) {
    npred[b.dataset] += b.npred(rp.eta(b, r.norm[p], phi_eng));
    excess[b.dataset] += r.norm[p] * b.s;
  }
  for (int d = 0; d < rp.n_datasets; ++d) {
    const std::int64_t seg = nb.batch.problem_segments()[p] + d;
    EXPECT_NEAR(r.npred[seg], static_cast<double>(npred[d]),
                kNpredRelTol * static_cast<double>(npred[d]) + 1e-12);
    EXPECT_NEAR(r.npred_excess[seg], static_cast<double>(excess[d]),
                1e-13 * std::fabs(static_cast<double>(excess[d])) + 1e-300);
  }
  // Crossings of the profile inside gammapy's bracket.
  const ld step = ref.sigma;
  const auto check = [&](double engine, ld delta, int side, const char* what, bool upper_root) {
    const ld end = ref_bracket_end(side, ref.theta, step, o.n_sigma_ul + 1);
    const RefCrossing c = reference_crossing(P, ref.theta, ref.stat + delta, side, end, ref.sigma);
    if (!c.in_bracket || std::isnan(c.root)) {
      EXPECT_TRUE(std::isnan(engine)) << what;
      return;
    }
    ++counts.crossings;
    const double expected = upper_root ? static_cast<double>(c.root)
                                       : static_cast<double>(std::fabs(c.root - ref.theta));
    EXPECT_NEAR(engine, expected,
                kRefCrossTolSigma * (scale + std::fabs(static_cast<double>(c.root))))
        << what;
  };
  check(r.norm_errp[p], 1, +1, "errp", false);
  check(r.norm_errn[p], 1, -1, "errn", false);
  check(r.norm_ul[p], 4, +1, "ul", true);
  // The scan: the profile at each scan norm.
  const std::vector<double> grid = o.norm_scan();
  for (std::size_t j = 0; j < grid.size(); ++j) {
    const NuRefInner in = P.inner(grid[j]);
    const double got = r.stat_scan[p * grid.size() + j];
    if (std::isinf(in.value)) {
      EXPECT_TRUE(std::isinf(got)) << "scan " << j;
      continue;
    }
    EXPECT_NEAR(got, static_cast<double>(in.value),
                kStatRelTol * static_cast<double>(term_scale_of(rp, grid[j], in.phi)))
        << "scan " << j;
  }
}

class NuisanceRandom : public ::testing::TestWithParam<int> {};

TEST_P(NuisanceRandom, AgainstLongDoubleReference) {
  const int K = GetParam();
  const std::uint64_t seed = test_seed();
  constexpr int kPerKind = 8;
  std::vector<GenProblem> problems;
  NuisanceBatch nb;
  for (int kind = 0; kind < 3; ++kind)
    for (int i = 0; i < kPerKind; ++i) {
      problems.push_back(random_nuisance_problem(seed, 100 * kind + i, K, kind));
      add_to_batch(problems.back(), nb);
    }
  nb.finish();
  const SolveOptions o = all_selected();
  const auto t0 = std::chrono::steady_clock::now();
  const NuisanceRun run = run_nuisance(nb, o);
  const double engine_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  RefCounts counts;
  for (std::size_t p = 0; p < problems.size(); ++p)
    compare_with_reference(problems[p], nb, run, static_cast<std::int64_t>(p), o, counts);
  std::cout << "[ K = " << K << " ] " << counts.compared << " compared in full, " << counts.kink
            << " on a kink (values only), " << counts.unverified << " reference unverified, "
            << counts.sigma_skipped << " sigma skipped, " << counts.at_bound
            << " with a nuisance on a bound, " << counts.crossings << " crossings; engine "
            << engine_s << " s for " << run.result.evaluations << " passes (seed " << seed << ")\n";
  EXPECT_GE(counts.compared, static_cast<int>(problems.size()) / 2);
  EXPECT_LE(counts.unverified, static_cast<int>(problems.size()) / 10);
}

INSTANTIATE_TEST_SUITE_P(K, NuisanceRandom, ::testing::Values(1, 2, 3, 4, 6, 8, 12, 16));

// --- negative best fits with TS < 1 ---------------------------------------------------------

// A crossing's defining property, P(crossing) - P(best fit) = delta, read off the reference
// profile. The engine places a crossing to ~1e-12 relative and P's slope there is ~2 sqrt(delta)
// / sigma (a few times that where P is skewed): ~1e-11 in delta; the reference's inner fits give
// P to ~1e-12 of the summed terms (added separately). A crossing off by 1e-5 sigma fails.
constexpr double kCrossingDeltaTol = 1e-6;
// Where the best fit is probed on both sides, in units of |theta| + sigma: far above the engine's
// convergence (1e-12), close enough that the probe stays near the minimum.
constexpr double kMinimumProbe = 1e-6;

// Field-like problems (every component re-fitted, min = 0, mostly empty bins) whose best-fit norm
// is below 0 with 0 <= TS < 1: the crossings above the best fit start from a negative norm (errp
// was once put at norm ~0, where P is only TS above its minimum, when the search evaluated the
// bracket's far end first). Many of them have their best fit on a kink, where the comparison of
// the random problems leaves the crossings out. Checked on the reference profile for each: the
// engine's statistic at its best fit and that it is a minimum (no lower value just beside it),
// each finite crossing's defining property, and errp against the reference's own crossing.
TEST(NuisanceSolver, NegativeBestFitBelowTsOneCrossings) {
  const std::uint64_t seed = test_seed();
  const SolveOptions o = all_selected();
  const ld delta_ul = static_cast<ld>(o.n_sigma_ul) * o.n_sigma_ul;
  const ld delta_err = static_cast<ld>(o.n_sigma) * o.n_sigma;
  int selected = 0, properties = 0, errp_compared = 0;
  // Generator indices per K. With the default seed these hold problems 2 (K = 1), 33 (K = 2) and
  // 53 (K = 5), whose errp the search that evaluated the bracket's far end first put at norm ~0.
  struct Range {
    int K, first, count;
  };
  for (const Range& range :
       {Range{1, 0, 20}, Range{2, 24, 16}, Range{5, 44, 16}, Range{8, 0, 12}}) {
    const int K = range.K;
    SCOPED_TRACE(::testing::Message() << "K = " << K);
    std::vector<GenProblem> problems;
    NuisanceBatch nb;
    for (int i = range.first; i < range.first + range.count; ++i) {
      problems.push_back(negative_fit_nuisance_problem(seed, i, K));
      add_to_batch(problems.back(), nb);
    }
    nb.finish();
    const NuisanceRun run = run_nuisance(nb, o);
    const BatchResult& r = run.result;
    for (std::size_t p = 0; p < problems.size(); ++p) {
      // TS < 0 (the engine's best fit above its own null) was another fault: see
      // NuisanceSolver.KinkOfManyBinsBestFitIsTheMinimum.
      if (!(r.status[p] == SolveStatus::ok && r.norm[p] < 0 && r.ts[p] >= 0 && r.ts[p] < 1))
        continue;
      // Without counts where the source predicts, P keeps falling as the norm goes to -inf (no
      // minimum to compare with).
      bool counts_under_source = false;
      for (const GenBin& b : problems[p].datasets[0])
        counts_under_source = counts_under_source || (b.n > 0 && b.s > 0);
      if (!counts_under_source) continue;
      ++selected;
      SCOPED_TRACE(::testing::Message()
                   << "problem " << range.first + p << ": best fit " << r.norm[p] << ", ts "
                   << r.ts[p] << describe(problems[p]));
      const NuRefProblem rp = to_reference(problems[p]);
      RefProfile P(rp);
      const double theta = r.norm[p];
      const NuRefInner best = P.inner(theta);
      const double stat_tol =
          2 * kStatRelTol * static_cast<double>(term_scale_of(rp, theta, best.phi));
      // The engine's best fit and its statistic there, on the reference profile: its value, and
      // a minimum (P is convex: no lower value on either side).
      EXPECT_NEAR(r.stat[p], static_cast<double>(best.value), stat_tol);
      const double scale = std::fabs(theta) + r.norm_err[p];
      for (const double side : {-1.0, 1.0})
        EXPECT_GE(static_cast<double>(P.inner(theta + side * kMinimumProbe * scale).value),
                  static_cast<double>(best.value) - stat_tol)
            << "P falls on side " << side << " of the best fit";
      const auto property = [&](double crossing, ld delta, const char* what) {
        if (std::isnan(crossing)) return;  // errp's NaN is checked below
        ++properties;
        const NuRefInner at = P.inner(crossing);
        EXPECT_NEAR(static_cast<double>(at.value - best.value), static_cast<double>(delta),
                    kCrossingDeltaTol + stat_tol)
            << what << " at norm " << crossing;
      };
      property(theta + r.norm_errp[p], delta_err, "errp");
      property(theta - r.norm_errn[p], delta_err, "errn");
      property(r.norm_ul[p], delta_ul, "ul");
      // errp against the reference's crossing; NaN only where P stays below the target up to
      // gammapy's bracket end (step: sigma, or |theta| without one).
      const double sigma = r.norm_err[p] / o.n_sigma;
      const ld step = sigma > 0 && std::isfinite(sigma) ? sigma : std::fabs(theta);
      const RefCrossing c =
          reference_crossing(P, theta, best.value + delta_err, +1,
                             ref_bracket_end(+1, theta, step, o.n_sigma_ul + 1), scale);
      if (std::isnan(r.norm_errp[p])) {
        EXPECT_FALSE(c.in_bracket) << "errp: NaN, but the reference crosses at " << c.root;
        continue;
      }
      ASSERT_FALSE(std::isnan(c.root)) << "the reference finds no errp crossing";
      ++errp_compared;
      EXPECT_NEAR(theta + r.norm_errp[p], static_cast<double>(c.root),
                  kRefCrossTolSigma * (scale + std::fabs(static_cast<double>(c.root))))
          << "errp";
    }
  }
  std::cout << "[ negative fits ] " << selected
            << " problems with norm < 0 and TS < 1: " << properties << " crossing properties, "
            << errp_compared << " errp against the reference's crossing (seed " << seed << ")\n";
  // About 1 in 4 of the 64 problems qualifies (12 to 21 over the seeds tried): 8 keeps the test
  // meaningful under any seed (FLUXPOINTS_TEST_SEED).
  EXPECT_GE(selected, 8);
  EXPECT_GE(errp_compared, selected / 2);
}

// A fault of the joint fit, found by the test above: with the default seed, problem 2 of the
// field-like generator with K = 5 has its minimum at norm ~0, where many bins without counts in
// which only the source predicts meet at their kink. The joint fit stopped there with nuisance 1
// held at its min (0) while the minimum has it at 0.44: stat 0.16 above the profile's minimum,
// TS = -0.16. The engine's best fit must be the reference's minimum, and never above the null.
TEST(NuisanceSolver, KinkOfManyBinsBestFitIsTheMinimum) {
  const GenProblem g = negative_fit_nuisance_problem(test_seed(), 2, 5);
  NuisanceBatch nb;
  add_to_batch(g, nb);
  nb.finish();
  const NuisanceRun run = run_nuisance(nb, all_selected());
  const BatchResult& r = run.result;
  ASSERT_EQ(r.status[0], SolveStatus::ok) << r.reason(0);
  const NuRefProblem rp = to_reference(g);
  RefProfile P(rp);
  const NuRefSolution ref = reference_solve(rp, P);
  SCOPED_TRACE(::testing::Message() << "engine norm " << r.norm[0] << ", reference "
                                    << static_cast<double>(ref.theta) << describe(g));
  const double scale = static_cast<double>(term_scale_of(rp, ref.theta, ref.phi));
  EXPECT_GE(r.ts[0], -kStatRelTol * scale);
  // The reference's fit ends on the kink, where its smoothing continuation leaves it a little
  // above the minimum (3e-9 here): an upper bound.
  EXPECT_LE(r.stat[0], static_cast<double>(ref.stat) + kStatRelTol * scale);
  // The engine's statistic is its S at its own (norm, phi_hat): on the reference profile too.
  EXPECT_NEAR(r.stat[0], static_cast<double>(P.inner(r.norm[0]).value), kStatRelTol * scale);
}

// What convexity of the profile P implies, checked without a reference on many field-like
// problems: the best fit is never above the null (TS >= 0); where TS < 1 the errn
// (best fit > 0) or errp (best fit < 0) crossing lies beyond norm 0 (P only rises away from its
// minimum, and P(0) = P(best) + TS is still below the target P(best) + 1); likewise the ul
// crossing (P(best) + 4) lies above 0 when the best fit is < 0 and TS < 4.
// It caught two faults of the old solver: the kink fault above (TS < 0, ~1 in 1,000 problems)
// and profile fits stopped next to a Cash bin with counts predicting ~1e-17 (a nuisance started
// on its bound at a norm ~1e-17: S ~ 79 instead of 8.3 there, so errn and ul crossings were
// put at norm ~0; ~1 in 300 problems).
// Tolerances: TS >= -1e-9 (1 + |stat|) - the statistics are sums of ~100 terms of size <= ~100,
// rounding ~1e-13 of that, the fault is >= 1e-4; TS margins of 1e-6 keep a crossing that sits
// at 0 within its own tolerance (1e-10 of the norm scale) out of the strict comparisons.
constexpr double kSweepTsRelTol = 1e-9;
constexpr double kSweepTsMargin = 1e-6;
TEST(NuisanceSolver, ConvexityConsequencesOnManyFieldLikeProblems) {
  const std::uint64_t seed = test_seed();
  constexpr int kProblemsPerK = 1000;
  int solved = 0, errn_checked = 0, errp_checked = 0, ul_checked = 0;
  for (int K : {1, 2, 5, 8, 16}) {
    SCOPED_TRACE(::testing::Message() << "K = " << K << ", seed " << seed);
    NuisanceBatch nb;
    for (int i = 0; i < kProblemsPerK; ++i) add_to_batch(negative_fit_nuisance_problem(seed, i, K), nb);
    nb.finish();
    const NuisanceRun run = run_nuisance(nb, all_selected());
    const BatchResult& r = run.result;
    for (int p = 0; p < kProblemsPerK; ++p) {
      if (r.status[p] != SolveStatus::ok) continue;  // plateaus: no source counts anywhere
      ++solved;
      SCOPED_TRACE(::testing::Message() << "problem " << p << ": norm " << r.norm[p] << ", ts "
                                        << r.ts[p] << ", stat " << r.stat[p]);
      EXPECT_GE(r.ts[p], -kSweepTsRelTol * (1 + std::fabs(r.stat[p])));
      if (r.ts[p] < 1 - kSweepTsMargin && r.norm[p] > 0 && !std::isnan(r.norm_errn[p])) {
        ++errn_checked;
        EXPECT_LT(r.norm[p] - r.norm_errn[p], 0.0) << "errn crossing at or above norm 0";
      }
      if (r.ts[p] < 1 - kSweepTsMargin && r.norm[p] < 0 && !std::isnan(r.norm_errp[p])) {
        ++errp_checked;
        EXPECT_GT(r.norm[p] + r.norm_errp[p], 0.0) << "errp crossing at or below norm 0";
      }
      if (r.ts[p] < 4 - kSweepTsMargin && r.norm[p] < 0 && !std::isnan(r.norm_ul[p])) {
        ++ul_checked;
        EXPECT_GT(r.norm_ul[p], 0.0) << "ul crossing at or below norm 0";
      }
    }
  }
  std::cout << "[ convexity ] " << solved << " solved problems: " << errn_checked << " errn, "
            << errp_checked << " errp, " << ul_checked << " ul crossings checked (seed " << seed
            << ")\n";
  EXPECT_GE(solved, 4500);
  EXPECT_GE(errn_checked + errp_checked, 200);
}

// --- closed forms ------------------------------------------------------------------------------

// Closed forms: the engine's best fit to 1e-10 of (|theta| + sigma) (Newton stops at 1e-12
// relative; double sums), sigma from the analytic curvature to 1e-9, crossings to 1e-10.
constexpr double kClosedNormTol = 1e-10;
constexpr double kClosedSigmaRelTol = 1e-9;
constexpr double kClosedCrossTol = 1e-10;

// One Cash bin per nuisance plus one bin with the source alone: every nuisance absorbs its own
// bin exactly (phi_k t_k + theta s_k + o_k = n_k) at any norm, so the profile is the one-bin Cash
// of the source bin (theta_hat = (n0 - b0)/s0, sigma = sqrt(n0)/s0) plus the constant
// sum 2 (n_k - n_k ln n_k); phi_hat_k = (n_k - o_k - theta_hat s_k) / t_k.
TEST(NuisanceSolver, OneBinPerNuisanceClosedForm) {
  for (int K : {1, 3, 8, 16}) {
    SCOPED_TRACE(::testing::Message() << "K = " << K);
    NuisanceBatch nb;
    std::vector<NuisanceSpec> specs(K, NuisanceSpec{1.0, math::kNaN, math::kNaN});
    nb.begin_problem(specs);
    nb.begin_dataset(StatKind::cash);
    const double n0 = 120, s0 = 40, b0 = 15;
    nb.add_cash_bin(n0, s0, b0, std::vector<double>(K, 0.0));
    std::vector<double> n(K), s(K), o(K), t(K);
    double constant = 0;
    for (int k = 0; k < K; ++k) {
      n[k] = 30 + 7 * k;
      s[k] = 2.0 + 0.5 * k;
      o[k] = 3.0 + k;
      t[k] = 10.0 + k;
      std::vector<double> row(K, 0.0);
      row[k] = t[k];
      nb.add_cash_bin(n[k], s[k], o[k], row);
      constant += 2 * (n[k] - n[k] * std::log(n[k]));
    }
    nb.finish();
    const SolveOptions opt = all_selected();
    const NuisanceRun run = run_nuisance(nb, opt);
    const BatchResult& r = run.result;
    const double theta = (n0 - b0) / s0, sigma = std::sqrt(n0) / s0;
    ASSERT_EQ(r.status[0], SolveStatus::ok) << r.reason(0);
    EXPECT_NEAR(r.norm[0], theta, kClosedNormTol * (theta + sigma));
    EXPECT_NEAR(r.norm_err[0], sigma, kClosedSigmaRelTol * sigma);
    const double stat = 2 * (n0 - n0 * std::log(n0)) + constant;
    EXPECT_NEAR(r.stat[0], stat, kStatRelTol * (std::fabs(stat) + 2 * n0 * std::log(n0)));
    // Crossings of the one-bin Cash: x - 1 - ln x = delta / (2 n0), x = mu / n0.
    const auto root = [&](double delta, int side) {
      double lo = side > 0 ? 1 : 1e-300, hi = side > 0 ? 1e3 : 1;
      for (int i = 0; i < 400; ++i) {
        const double mid = 0.5 * (lo + hi);
        const double g = mid - 1 - std::log(mid) - delta / (2 * n0);
        ((side > 0) == (g > 0) ? hi : lo) = mid;
      }
      return (n0 * 0.5 * (lo + hi) - b0) / s0;
    };
    EXPECT_NEAR(r.norm_errp[0], root(1, +1) - theta, kClosedCrossTol * (theta + sigma));
    EXPECT_NEAR(r.norm_errn[0], theta - root(1, -1), kClosedCrossTol * (theta + sigma));
    EXPECT_NEAR(r.norm_ul[0], root(4, +1), kClosedCrossTol * (theta + sigma));
    for (int k = 0; k < K; ++k)
      EXPECT_NEAR(run.phi[k], (n[k] - o[k] - theta * s[k]) / t[k],
                  1e-9 * (1 + std::fabs(run.phi[k])));
    // npred of the dataset: the source bin's prediction n0 plus every other bin exactly (n_k).
    double total = n0;
    for (int k = 0; k < K; ++k) total += n[k];
    EXPECT_NEAR(r.npred[0], total, 1e-10 * total);
    EXPECT_EQ(r.notes[0] & (m::note_nuisance_at_bound | m::note_nuisance_not_identified), 0u);
  }
}

// Nuisances held on their bounds: the counts contain each template three times over, but every
// nuisance lies in [0, 0.5 + 0.1 k]. Each ends on one of its bounds (the source takes up part of
// the excess where it overlaps), so the solution - and norm_err, a nuisance on its bound being
// held fixed - equals the K = 0 problem with the nuisances' contributions at those values added
// to the background.
TEST(NuisanceSolver, ActiveBoundsEqualFixedNuisances) {
  const int K = 4;
  NuisanceBatch nb;
  std::vector<NuisanceSpec> specs;
  for (int k = 0; k < K; ++k) specs.push_back(NuisanceSpec{0.2, 0.0, 0.5 + 0.1 * k});
  nb.begin_problem(specs);
  nb.begin_dataset(StatKind::cash);
  struct Bin {
    double n, s, b;
    std::vector<double> t;
  };
  std::vector<Bin> bins;
  for (int i = 0; i < 12; ++i) {
    Bin x{0, 20.0 * std::exp(-0.2 * i), 5.0 + i, std::vector<double>(K)};
    double extra = 0;
    for (int k = 0; k < K; ++k) {
      x.t[k] = 4.0 * std::exp(-0.5 * std::pow((i - 3.0 * k) / 2.0, 2));
      extra += 3 * x.t[k];
    }
    x.n = std::round(1.3 * x.s + x.b + extra);
    nb.add_cash_bin(x.n, x.s, x.b, x.t);
    bins.push_back(x);
  }
  nb.finish();
  const SolveOptions opt = all_selected();
  const NuisanceRun run = run_nuisance(nb, opt);
  const BatchResult& r = run.result;
  ASSERT_EQ(r.status[0], SolveStatus::ok) << r.reason(0);
  EXPECT_NE(r.notes[0] & m::note_nuisance_at_bound, 0u);
  LikelihoodBatch fixed;
  fixed.begin_problem();
  fixed.begin_dataset(StatKind::cash);
  for (int k = 0; k < K; ++k)
    EXPECT_TRUE(run.phi[k] == specs[k].min || run.phi[k] == specs[k].max)
        << "nuisance " << k << " " << run.phi[k];
  for (const Bin& x : bins) {
    double bkg = x.b;
    for (int k = 0; k < K; ++k) bkg += run.phi[k] * x.t[k];
    fixed.add_cash_bin(x.n, x.s, bkg);
  }
  const BatchResult f = make_backend("cpu")->solve(fixed, opt);
  const double scale = std::fabs(f.norm[0]) + f.norm_err[0];
  // Two double-precision paths (eta summed in a different order): rounding only.
  EXPECT_NEAR(r.norm[0], f.norm[0], 1e-10 * scale);
  EXPECT_NEAR(r.norm_err[0], f.norm_err[0], 1e-9 * f.norm_err[0]);
  EXPECT_NEAR(r.stat[0], f.stat[0], kStatRelTol * (1 + std::fabs(f.stat[0])) * 100);
  // The crossings re-fit the nuisances (a bound may release away from the best fit): they are
  // at least as far out as with the nuisances fixed.
  EXPECT_GE(r.norm_errp[0], f.norm_errp[0] * (1 - 1e-9));
  EXPECT_GE(r.norm_errn[0], f.norm_errn[0] * (1 - 1e-9));
}

// --- degenerate cases -------------------------------------------------------------------------

// A small Cash problem with a background template; `extra` adds more templates to it.
void add_base_problem(NuisanceBatch& nb, const std::vector<NuisanceSpec>& specs,
                      const std::function<std::vector<double>(int, double, double)>& templates) {
  nb.begin_problem(specs);
  nb.begin_dataset(StatKind::cash);
  for (int i = 0; i < 10; ++i) {
    const double s = 15.0 * std::exp(-0.25 * i), b = 4.0 + 0.5 * i;
    const double n = std::round(1.2 * s + 1.1 * b);
    nb.add_cash_bin(n, s, 0.1, templates(i, s, b));
  }
}

TEST(NuisanceSolver, ZeroAndDuplicateTemplates) {
  const NuisanceSpec free{1.0, math::kNaN, math::kNaN};
  NuisanceBatch nb;
  // 0: the background template alone; 1: plus a template that is zero everywhere; 2: the
  // background template twice.
  add_base_problem(nb, {free}, [](int, double, double b) { return std::vector<double>{b}; });
  add_base_problem(nb, {free, NuisanceSpec{0.7, math::kNaN, math::kNaN}},
                   [](int, double, double b) {
                     return std::vector<double>{b, 0.0};
                   });
  add_base_problem(nb, {free, free}, [](int, double, double b) {
    return std::vector<double>{b, b};
  });
  nb.finish();
  const NuisanceRun run = run_nuisance(nb, all_selected());
  const BatchResult& r = run.result;
  for (int p = 0; p < 3; ++p) {
    SCOPED_TRACE(::testing::Message() << "problem " << p);
    ASSERT_EQ(r.status[p], SolveStatus::ok) << r.reason(p);
    const double scale = std::fabs(r.norm[0]) + r.norm_err[0];
    EXPECT_NEAR(r.norm[p], r.norm[0], 1e-10 * scale);
    EXPECT_NEAR(r.norm_err[p], r.norm_err[0], 1e-9 * r.norm_err[0]);
    EXPECT_NEAR(r.stat[p], r.stat[0], kStatRelTol * 1e3);
    EXPECT_NEAR(r.norm_ul[p], r.norm_ul[0], 1e-9 * scale);
    EXPECT_NEAR(r.stat_null[p], r.stat_null[0], kStatRelTol * 1e3);
  }
  EXPECT_EQ(r.notes[0] & m::note_nuisance_not_identified, 0u);
  // The zero template's nuisance keeps its start value and is reported as not identified.
  EXPECT_NE(r.notes[1] & m::note_nuisance_not_identified, 0u);
  EXPECT_EQ(run.phi[nb.problem_nuisances[1] + 1], 0.7);
  EXPECT_NEAR(run.phi[nb.problem_nuisances[1]], run.phi[0], 1e-9 * run.phi[0]);
  // Duplicates: their sum is the single template's amplitude; not identified separately.
  EXPECT_NE(r.notes[2] & m::note_nuisance_not_identified, 0u);
  EXPECT_NEAR(run.phi[nb.problem_nuisances[2]] + run.phi[nb.problem_nuisances[2] + 1], run.phi[0],
              1e-9 * run.phi[0]);
}

TEST(NuisanceSolver, TemplateProportionalToSourceIsFlat) {
  NuisanceBatch nb;
  // 0: an unbounded nuisance whose template is 2 s: the norm is not identified at all.
  add_base_problem(nb, {NuisanceSpec{1.0, math::kNaN, math::kNaN}},
                   [](int, double s, double) { return std::vector<double>{2 * s}; });
  // 1: the same with min = 0: P(theta) = min over phi >= 0 of S(theta + 2 phi), flat below the
  // norm the data want and rising above it; the minimum is a plateau.
  add_base_problem(nb, {NuisanceSpec{0.0, 0.0, math::kNaN}},
                   [](int, double s, double) { return std::vector<double>{2 * s}; });
  nb.finish();
  const NuisanceRun run = run_nuisance(nb, all_selected());
  const BatchResult& r = run.result;
  for (int p = 0; p < 2; ++p) {
    SCOPED_TRACE(::testing::Message() << "problem " << p);
    EXPECT_EQ(r.status[p], SolveStatus::flat_minimum) << r.reason(p);
    EXPECT_EQ(r.success[p], 0);
    EXPECT_TRUE(std::isnan(r.norm_err[p]) || r.norm_err[p] == 0 || std::isinf(r.norm_err[p]))
        << r.norm_err[p];
  }
  // Unbounded: flat everywhere, so no crossing exists on either side.
  EXPECT_TRUE(std::isnan(r.norm_errn[0]));
  EXPECT_TRUE(std::isnan(r.norm_errp[0]));
  // The flat profile's value is the saturated fit: the same in both problems.
  EXPECT_NEAR(r.stat[0], r.stat[1], kStatRelTol * 1e3);
}

TEST(NuisanceSolver, PinnedNuisancesEqualFixedBackground) {
  // min == max pins a nuisance: the problem is the K = 0 one with the pinned contributions in
  // the background.
  NuisanceBatch nb;
  LikelihoodBatch fixed;
  nb.begin_problem({NuisanceSpec{0.0, 1.7, 1.7}, NuisanceSpec{5.0, 0.4, 0.4}});
  fixed.begin_problem();
  for (int d = 0; d < 2; ++d) {
    const StatKind kind = d == 0 ? StatKind::cash : StatKind::wstat;
    nb.begin_dataset(kind);
    fixed.begin_dataset(kind);
    for (int i = 0; i < 8; ++i) {
      const double s = 10.0 / (1 + i), t1 = 3.0 + i, t2 = 8.0 * std::exp(-i);
      if (kind == StatKind::cash) {
        nb.add_cash_bin(std::round(s + 2 + 1.7 * t1), s, 2.0, {t1, t2});
        fixed.add_cash_bin(std::round(s + 2 + 1.7 * t1), s, 2.0 + (1.7 * t1 + 0.4 * t2));
      } else {
        nb.add_wstat_bin(std::round(s + 3), 10, 0.2, s, 0.0, {t1, t2});
        fixed.add_wstat_bin(std::round(s + 3), 10, 0.2, s, 0.0 + (1.7 * t1 + 0.4 * t2));
      }
    }
  }
  nb.finish();
  const SolveOptions opt = all_selected();
  const NuisanceRun run = run_nuisance(nb, opt);
  const BatchResult f = make_backend("cpu")->solve(fixed, opt);
  const BatchResult& r = run.result;
  ASSERT_EQ(r.status[0], SolveStatus::ok) << r.reason(0);
  EXPECT_EQ(run.phi[0], 1.7);
  EXPECT_EQ(run.phi[1], 0.4);
  const double scale = std::fabs(f.norm[0]) + f.norm_err[0];
  EXPECT_NEAR(r.norm[0], f.norm[0], 1e-10 * scale);
  EXPECT_NEAR(r.norm_err[0], f.norm_err[0], 1e-9 * f.norm_err[0]);
  EXPECT_NEAR(r.norm_ul[0], f.norm_ul[0], 1e-9 * scale);
  EXPECT_NEAR(r.stat[0], f.stat[0], kStatRelTol * 1e3);
  for (std::int64_t j = 0; j < f.n_scan(); ++j)
    EXPECT_NEAR(r.stat_scan[j], f.stat_scan[j], kStatRelTol * 1e3);
}

TEST(NuisanceSolver, EmptyProblemsAndUnusableInput) {
  NuisanceBatch nb;
  const NuisanceSpec free{1.0, math::kNaN, math::kNaN};
  nb.begin_problem({free});  // 0: no dataset
  nb.begin_problem({free});  // 1: a dataset without bins
  nb.begin_dataset(StatKind::cash);
  // 2: too many nuisances
  std::vector<NuisanceSpec> many(m::kMaxNuisances + 1, free);
  nb.begin_problem(many);
  nb.begin_dataset(StatKind::cash);
  nb.add_cash_bin(10, 5, 1, std::vector<double>(many.size(), 1.0));
  // 3: min > max
  nb.begin_problem({NuisanceSpec{1.0, 2.0, 1.0}});
  nb.begin_dataset(StatKind::cash);
  nb.add_cash_bin(10, 5, 1, {1.0});
  // 4: a negative template value in a Cash bin with counts
  nb.begin_problem({free});
  nb.begin_dataset(StatKind::cash);
  nb.add_cash_bin(10, 5, 1, {-1.0});
  // 5: a non-finite template value
  nb.begin_problem({free});
  nb.begin_dataset(StatKind::wstat);
  nb.add_wstat_bin(10, 5, 0.2, 5, 0, {math::kNaN});
  // 6: negative templates are fine where the statistic has no feasibility limit (WStat, Cash
  // without counts)
  nb.begin_problem({free});
  nb.begin_dataset(StatKind::wstat);
  nb.add_wstat_bin(10, 20, 0.2, 5, 0, {-0.5});
  nb.add_wstat_bin(15, 20, 0.2, 8, 0, {1.0});
  nb.begin_dataset(StatKind::cash);
  nb.add_cash_bin(0, 5, 1, {-0.2});
  nb.add_cash_bin(12, 5, 1, {0.3});
  nb.finish();
  const NuisanceRun run = run_nuisance(nb, all_selected());
  const BatchResult& r = run.result;
  EXPECT_EQ(r.status[0], SolveStatus::no_dataset);
  EXPECT_EQ(r.status[1], SolveStatus::empty_mask);
  EXPECT_TRUE(std::isnan(run.phi[0]));
  EXPECT_TRUE(std::isnan(run.phi[1]));
  EXPECT_TRUE(std::isnan(r.stat[0]));
  EXPECT_EQ(r.stat[1], 0.0);
  for (int p = 2; p <= 5; ++p) {
    SCOPED_TRACE(::testing::Message() << "problem " << p);
    EXPECT_EQ(r.status[p], SolveStatus::invalid_nuisance);
    EXPECT_EQ(r.success[p], 0);
    EXPECT_TRUE(std::isnan(r.norm[p]));
    EXPECT_TRUE(std::isnan(r.stat_scan[p * r.n_scan()]));
    EXPECT_TRUE(std::isnan(run.phi[nb.problem_nuisances[p]]));
    EXPECT_TRUE(std::isnan(r.npred[nb.batch.problem_segments()[p]]));
  }
  EXPECT_EQ(r.counts[nb.batch.problem_segments()[2]], 10.0);
  EXPECT_EQ(r.status[6], SolveStatus::ok) << r.reason(6);
}

// Cash with a bounded background nuisance: the lowest feasible norm is where the bin that limits
// it keeps a positive prediction with the nuisance at its max, theta_lo = -(o + t max) / s. The
// profile is +inf below it (no nuisance value keeps every Cash bin with counts positive), so the
// lower crossing exists and lies above theta_lo, and so does the scan there.
TEST(NuisanceSolver, FeasibilityLimitWithBoundedNuisance) {
  NuisanceBatch nb;
  nb.begin_problem({NuisanceSpec{0.5, 0.0, 1.0}});
  nb.begin_dataset(StatKind::cash);
  nb.add_cash_bin(3, 10.0, 0.5, {2.0});  // theta > -(0.5 + 2 * 1) / 10 = -0.25
  nb.add_cash_bin(1, 1.0, 0.2, {4.0});   // theta > -(0.2 + 4) / 1 = -4.2
  nb.add_cash_bin(0, 5.0, 0.1, {1.0});
  nb.finish();
  SolveOptions o = all_selected();
  o.scan_values = {-0.3, -0.25, -0.2, 0.5};
  const NuisanceRun run = run_nuisance(nb, o);
  const BatchResult& r = run.result;
  ASSERT_EQ(r.status[0], SolveStatus::ok) << r.reason(0);
  const double theta_lo = -0.25;
  EXPECT_GT(r.norm[0], theta_lo);
  ASSERT_TRUE(std::isfinite(r.norm_errn[0]));
  EXPECT_GT(r.norm[0] - r.norm_errn[0], theta_lo);
  EXPECT_TRUE(std::isinf(r.stat_scan[0]) && r.stat_scan[0] > 0);  // below theta_lo
  EXPECT_TRUE(std::isinf(r.stat_scan[1]) && r.stat_scan[1] > 0);  // at theta_lo (open limit)
  EXPECT_TRUE(std::isfinite(r.stat_scan[2]));
  EXPECT_TRUE(std::isfinite(r.stat_scan[3]));
  // The same values from the reference.
  GenProblem g;
  g.nuisances = {NuisanceSpec{0.5, 0.0, 1.0}};
  g.datasets = {{GenBin{false, 3, 10.0, 0.5, 0, 0, {2.0}}, GenBin{false, 1, 1.0, 0.2, 0, 0, {4.0}},
                 GenBin{false, 0, 5.0, 0.1, 0, 0, {1.0}}}};
  const NuRefProblem rp = to_reference(g);
  EXPECT_EQ(static_cast<double>(rp.feasible_min()), theta_lo);
  RefProfile P(rp);
  EXPECT_NEAR(r.stat_scan[2], static_cast<double>(P.inner(-0.2).value), kStatRelTol * 100);
  const NuRefSolution ref = reference_solve(rp, P);
  EXPECT_NEAR(r.norm[0], static_cast<double>(ref.theta),
              kRefNormTolSigma * (std::fabs(r.norm[0]) + r.norm_err[0]));
  const RefCrossing lo =
      reference_crossing(P, ref.theta, ref.stat + 1, -1,
                         ref_bracket_end(-1, ref.theta, ref.sigma, o.n_sigma_ul + 1), ref.sigma);
  ASSERT_FALSE(std::isnan(lo.root));
  EXPECT_NEAR(r.norm_errn[0], static_cast<double>(ref.theta - lo.root),
              kRefCrossTolSigma * (1 + r.norm_err[0]));
}

// The norm's own bounds with nuisances: norm_min = 0 active (the data want a negative norm).
TEST(NuisanceSolver, NormBoundActive) {
  NuisanceBatch nb;
  add_base_problem(nb, {NuisanceSpec{1.0, 0.0, math::kNaN}},
                   [](int, double s, double b) { return std::vector<double>{b + 0.5 * s}; });
  nb.finish();
  SolveOptions o = all_selected();
  o.norm_min = 0.0;
  const NuisanceRun run = run_nuisance(nb, o);
  const BatchResult& r = run.result;
  ASSERT_EQ(r.status[0], SolveStatus::ok) << r.reason(0);
  // With the template containing half the source shape, the data are fitted by the nuisance
  // alone better than with any positive norm? Either way the norm stays inside its bound.
  EXPECT_GE(r.norm[0], 0.0);
  if (r.norm[0] == 0.0) {
    EXPECT_NE(r.notes[0] & m::note_at_min_bound, 0u);
  }
  // The reference with the same bound on the norm: minimise P over theta >= 0.
  GenProblem g;
  g.nuisances = {NuisanceSpec{1.0, 0.0, math::kNaN}};
  std::vector<GenBin> bins;
  for (int i = 0; i < 10; ++i) {
    const double s = 15.0 * std::exp(-0.25 * i), b = 4.0 + 0.5 * i;
    bins.push_back(GenBin{false, std::round(1.2 * s + 1.1 * b), s, 0.1, 0, 0, {b + 0.5 * s}});
  }
  g.datasets = {bins};
  const NuRefProblem rp = to_reference(g);
  RefProfile P(rp);
  const NuRefSolution ref = reference_solve(rp, P);
  const double expected = ref.theta > 0 ? static_cast<double>(ref.theta) : 0.0;
  EXPECT_NEAR(r.norm[0], expected, kRefNormTolSigma * (std::fabs(expected) + r.norm_err[0]));
  EXPECT_NEAR(r.stat[0], static_cast<double>(P.inner(expected).value), kStatRelTol * 1e3);
}

// --- CPU and CUDA -------------------------------------------------------------------------------

// The same shared math in a CUDA thread (nuisance_cuda_check.cu) against the host. Sums run over
// the bins in the same order on both; nvcc contracts a*b+c into FMA where g++ (without -mfma)
// does not, so values differ by rounding, which the solver's stopping rules can amplify to their
// tolerance (1e-12 relative on norms) times the profile's shape.
constexpr double kDeviceStatRelTol = 1e-11;
constexpr double kDeviceNormRelTol = 1e-8;

TEST(NuisanceSolver, CudaMatchesCpu) {
#if !FLUXPOINTS_WITH_CUDA
  GTEST_SKIP() << "built without the CUDA backend";
#else
  std::string reason;
  if (!cuda_device_available(&reason)) GTEST_SKIP() << "no CUDA device: " << reason;
  const std::uint64_t seed = test_seed();
  NuisanceBatch nb;
  for (int K : {1, 2, 4, 8, 16})
    for (int kind = 0; kind < 3; ++kind)
      for (int i = 0; i < 4; ++i)
        add_to_batch(random_nuisance_problem(seed, 1000 + 10 * kind + i, K, kind), nb);
  for (int i = 0; i < 40; ++i) {  // and K = 0 problems through the same entry
    const RefProblem rp = random_problem(seed, 5000 + i);
    nb.begin_problem({});
    for (const auto& d : rp.datasets) {
      nb.begin_dataset(d.front().wstat ? StatKind::wstat : StatKind::cash);
      for (const RefBin& b : d) {
        const auto x = [](ld v) { return static_cast<double>(v); };
        if (b.wstat)
          nb.add_wstat_bin(x(b.n), x(b.n_off), x(b.alpha), x(b.s), x(b.other), {});
        else
          nb.add_cash_bin(x(b.n), x(b.s), x(b.other), {});
      }
    }
  }
  nb.finish();
  const SolveOptions o = all_selected();
  const NuisanceRun cpu = run_nuisance(nb, o);
  NuisanceDeviceInput in;
  const LikelihoodBatch& b = nb.batch;
  in.counts = b.counts().to_vector();
  in.npred_ref = b.npred_ref().to_vector();
  in.npred_other = b.npred_other().to_vector();
  in.counts_off = b.counts_off().to_vector();
  in.alpha = b.alpha().to_vector();
  in.segment_bins = b.segment_bins().to_vector();
  in.segment_kind = b.segment_kind().to_vector();
  in.problem_segments = b.problem_segments().to_vector();
  in.problem_nuisances = nb.problem_nuisances;
  in.template_offset = nb.template_offset;
  in.template_values = nb.template_values;
  in.start = nb.start;
  in.min = nb.min;
  in.max = nb.max;
  in.scan = cpu.result.norm_scan;
  in.settings = o.settings();
  NuisanceDeviceOutput gpu;
  ASSERT_TRUE(solve_nuisance_on_cuda(in, gpu, &reason)) << reason;
  const BatchResult& r = cpu.result;
  const auto close = [](double a, double c, double rel) { return is_close(a, c, rel, rel * 1e-3); };
  for (std::int64_t p = 0; p < b.n_problems(); ++p) {
    SCOPED_TRACE(::testing::Message() << "problem " << p);
    EXPECT_EQ(gpu.status[p], r.status[p]);
    const double scale = std::fabs(r.norm[p]) + (std::isfinite(r.norm_err[p]) ? r.norm_err[p] : 0);
    EXPECT_TRUE(close(gpu.stat[p], r.stat[p], kDeviceStatRelTol))
        << gpu.stat[p] << " " << r.stat[p];
    EXPECT_TRUE(close(gpu.stat_null[p], r.stat_null[p], kDeviceStatRelTol));
    for (const auto& [g, c] : {std::pair{&gpu.norm, &r.norm},
                               {&gpu.norm_err, &r.norm_err},
                               {&gpu.norm_errn, &r.norm_errn},
                               {&gpu.norm_errp, &r.norm_errp},
                               {&gpu.norm_ul, &r.norm_ul}})
      EXPECT_TRUE(std::isnan((*c)[p]) ? std::isnan((*g)[p])
                                      : std::fabs((*g)[p] - (*c)[p]) <=
                                            kDeviceNormRelTol * (scale + std::fabs((*c)[p])))
          << (*g)[p] << " vs " << (*c)[p];
    for (std::int64_t j = 0; j < r.n_scan(); ++j)
      EXPECT_TRUE(close(gpu.stat_scan[p * r.n_scan() + j], r.stat_scan[p * r.n_scan() + j],
                        kDeviceStatRelTol));
  }
  for (std::size_t k = 0; k < cpu.phi.size(); ++k)
    EXPECT_TRUE(is_close(gpu.phi[k], cpu.phi[k], kDeviceNormRelTol, kDeviceNormRelTol)) << k;
#endif
}

}  // namespace
}  // namespace fluxpoints::testing
