// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The flux-point solve with linear nuisance parameters (nuisance_problem.hpp), shared by every
// backend. What it computes is what gammapy's reoptimize=True computes for such parameters:
//
//  * best fit: the minimum of S(theta, phi) over the norm and the free nuisances jointly, inside
//    their bounds (MIGRAD on all free parameters);
//  * norm_err: sqrt(2 / P''(theta_hat)), P the profile P(theta) = min_phi S(theta, phi); P'' is
//    the Schur complement S_tt - S_tF H_FF^-1 S_Ft over the free nuisances F (HESSE on all free
//    parameters gives sigma_theta^2 = 2 [H^-1]_tt, the same number);
//  * stat_null = P(0), errn / errp / ul = the crossings of P with P(theta_hat) + n^2 inside
//    gammapy's bracket, the scan = P at each scan norm (every one re-fits the nuisances);
//  * npred / npred_excess at (theta_hat, phi_hat), and phi_hat itself.
//
// The engine: S is convex on its feasible set (Cash bins with counts need eta > 0, WStat is
// defined everywhere; nuisance_problem.hpp), so one routine, minimise_linear, serves both the
// joint fit (norm and nuisances free) and the profile at a fixed norm (nuisances free). It is a
// primal active-set Newton method:
//  * bounds on the coordinates and the kinks of piecewise-linear bins (Cash without counts,
//    WStat with n_on = n_off = 0) are constraints it can hold active; each step solves the
//    equality-constrained Newton system of the active set, and constraints whose multipliers
//    have the wrong sign (bounds) or leave the kink's subgradient interval are released;
//  * the line search never leaves the feasible set (a trial with a Cash bin with counts at
//    eta <= 0 is cut back), stops on the first bound it meets (which becomes active) and, when
//    the statistic rises across a kink, tries the kink itself (which becomes active);
//  * directions without curvature (flat pivots of the Hessian, small_linalg.hpp) carry no step
//    when the gradient has no component along them (zero or duplicate templates: the nuisance is
//    not identified and keeps a value) and a growing capped step when it has one (a template
//    that only meets bins where the statistic is linear).
// One place this method cannot finish: many kink bins meeting at one point, typically the norm
// at 0 in a field where the source alone predicts in many bins without counts. Held one at a
// time, no kink carries their joint subgradient, so the joint fit can stall there with a bound
// held that should have been released (a best fit above its own null, TS < 0). Such a stop is
// marked unverified, and the best fit is then left to the one-dimensional search on the
// profile, whose fits hold the norm fixed, where those bins are no kinks at all (measured on a
// simulated field catalog: ~17 % of flux points take this path, ~0.2 % change their result).
// The profile then plugs into the one-dimensional machinery of solver.hpp (crossings, kinks in
// theta, plateaus): P'(theta) = dS/dtheta at phi_hat(theta) plus the active kinks' multipliers
// times their norm coefficients (envelope theorem), P'' as above with the active set held.
//
// Bounds at the best fit: a nuisance on its min or max (an active bound) is held fixed in
// P''(theta_hat), so norm_err is the error with that nuisance fixed. MINUIT's transformation of
// bounded parameters has a zero derivative on the bound, so HESSE's covariance sees such a
// parameter as fixed too. The crossings and the scan re-fit the nuisances inside their bounds
// (what gammapy's L-BFGS-B with bounds does): a bound can release away from the best fit.
//
// Feasibility: every template value and every source count s must be >= 0 in Cash bins with
// counts (predicted counts of non-negative components; checked, status invalid_nuisance
// otherwise). Then raising any coordinate never makes such a bin infeasible, and the lowest
// feasible norm is theta_lo = max over those bins with s > 0 of -(o + sum_k t_k max_k) / s, -inf
// when every such bin has a template whose nuisance has no max. Below theta_lo every nuisance
// value leaves some Cash bin with counts at a prediction <= 0: the profile is +inf there (gammapy
// would report the truncated statistic of some nuisance values; no convex problem has that
// minimum). Cash bins with counts that no coordinate can make positive (s = 0 and
// o + sum t max <= 0) are constant (truncated), as in the one-dimensional solver.
//
// Device code never throws or allocates: the whole working set is one NuisanceWorkspace
// (about 10 kB, mostly the packed 17x17 matrices) on the stack of the calling thread.

#include "fluxpoints/math/nuisance_problem.hpp"
#include "fluxpoints/math/small_linalg.hpp"
#include "fluxpoints/math/solver.hpp"

namespace fluxpoints::math {

// Extra facts about a nuisance solution (bits of ProblemSolution::notes, above the 1-D ones).
enum NuisanceNote : std::uint32_t {
  note_nuisance_at_bound = 1u << 16,         // a nuisance sits on its min or max at the best fit
                                             // (held fixed in norm_err)
  note_nuisance_not_identified = 1u << 17,   // a nuisance direction without curvature at the best
                                             // fit (zero or duplicate template): its phi_hat is
                                             // one of many equally good values
  note_nuisance_kink = 1u << 18,             // the best fit sits on the kink of a bin without
                                             // counts whose prediction depends on the nuisances
  note_nuisance_profile_inexact = 1u << 19,  // an inner profile fit stopped at its iteration
                                             // limit or could not decrease the statistic further
};

// The coordinates of a problem: 0 is the norm, 1..m-1 the free nuisances (min < max); pinned
// nuisances (min == max) are folded into the constant part of the linear predictor.
struct NuisanceCoords {
  int m;
  int nuisance[kMaxCoords];  // coordinate q >= 1 -> index of the nuisance in the problem
  double lo[kMaxCoords];     // box (-inf / +inf where unbounded); coordinate 0: the norm bounds
  double hi[kMaxCoords];
  int n_pinned;
  int pinned[kMaxNuisances];
  double pinned_value[kMaxNuisances];
};

FLUXPOINTS_HD std::uint32_t coord_mask(int m) { return m >= 32 ? ~0u : (1u << m) - 1u; }

// eta of bin i at coordinates x; a[] receives the coefficients (a[0] = s, a[q] = template).
// The one place eta is computed, so every evaluation of a bin sees the same bits.
FLUXPOINTS_HD double linear_predictor(const NuisanceProblemView& v, const NuisanceCoords& c,
                                      const double* x, std::int64_t i, double* a) {
  double eta = v.bins.npred_other[i];
  for (int q = 0; q < c.n_pinned; ++q) eta += c.pinned_value[q] * v.template_value(c.pinned[q], i);
  a[0] = v.bins.npred_ref[i];
  eta += x[0] * a[0];
  for (int q = 1; q < c.m; ++q) {
    a[q] = v.template_value(c.nuisance[q], i);
    eta += x[q] * a[q];
  }
  return eta;
}

// Size of the terms summed into eta: its rounding error is a few ulps of this.
FLUXPOINTS_HD double predictor_magnitude(const NuisanceProblemView& v, const NuisanceCoords& c,
                                         const double* x, std::int64_t i, const double* a) {
  double mag = dabs(v.bins.npred_other[i]);
  for (int q = 0; q < c.n_pinned; ++q)
    mag += dabs(c.pinned_value[q] * v.template_value(c.pinned[q], i));
  for (int q = 0; q < c.m; ++q) mag += dabs(x[q] * a[q]);
  return mag;
}

// A kink bin is on its kink when |eta| is below this fraction of its terms' size, or below the
// change of eta that coordinates moving by kKinkAbsTol make (the default absolute tolerance of
// the norm, SolveSettings::xtol_abs: values closer to 0 than that are 0 for the solver).
constexpr double kOnKink = 1e-12;
constexpr double kKinkAbsTol = 1e-14;

// The on-kink threshold of a bin with coefficients a at coordinates x.
FLUXPOINTS_HD double on_kink_tolerance(const NuisanceProblemView& v, const NuisanceCoords& c,
                                       const double* x, std::int64_t i, const double* a) {
  double coeffs = 0.0;
  for (int q = 0; q < c.m; ++q) coeffs += dabs(a[q]);
  return kOnKink * predictor_magnitude(v, c, x, i, a) + kKinkAbsTol * coeffs;
}

// Coordinate value q moved onto its bound when within the solver's tolerance of it.
FLUXPOINTS_HD double snap_to_box(const NuisanceCoords& c, int q, double x, const SolveSettings& o) {
  x = dmin(dmax(x, c.lo[q]), c.hi[q]);
  if (is_finite(c.lo[q]) && dabs(x - c.lo[q]) <= o.xtol_abs + o.xtol_rel * dabs(c.lo[q]))
    return c.lo[q];
  if (is_finite(c.hi[q]) && dabs(x - c.hi[q]) <= o.xtol_abs + o.xtol_rel * dabs(c.hi[q]))
    return c.hi[q];
  return x;
}

// Whether a Cash bin with counts can have a positive prediction for some coordinates in the box
// with the norm held at x[0] (norm_free: for some norm as well).
FLUXPOINTS_HD bool can_be_positive(const NuisanceProblemView& v, const NuisanceCoords& c,
                                   std::int64_t i, const double* a, bool norm_free,
                                   const double* x) {
  if (norm_free && a[0] > 0.0) return true;
  double sup = v.bins.npred_other[i] + (norm_free ? 0.0 : x[0] * a[0]);
  for (int q = 0; q < c.n_pinned; ++q) sup += c.pinned_value[q] * v.template_value(c.pinned[q], i);
  for (int q = 1; q < c.m; ++q) {
    if (a[q] > 0.0)
      sup += a[q] * c.hi[q];
    else if (a[q] < 0.0)
      sup += a[q] * c.lo[q];
  }
  return sup > 0.0;
}

// +1 if eta >= 0 for every coordinate value in the box (the norm held at x[0] unless norm_free),
// -1 if eta <= 0 everywhere there, 0 if both signs are possible. A kink bin on its kink with a
// non-zero sign here is on the edge of the box (typically a background-only bin without counts,
// eta = phi t, phi >= 0): inside the box only one side of the kink exists, so it is not a kink
// for the solver, just a linear bin with that side's slope.
FLUXPOINTS_HD int box_sign(const NuisanceProblemView& v, const NuisanceCoords& c, std::int64_t i,
                           const double* a, bool norm_free, const double* x) {
  double inf = v.bins.npred_other[i];
  for (int q = 0; q < c.n_pinned; ++q) inf += c.pinned_value[q] * v.template_value(c.pinned[q], i);
  double sup = inf;
  for (int q = 0; q < c.m; ++q) {
    if (a[q] == 0.0) continue;
    if (q == 0 && !norm_free) {
      inf += x[0] * a[0];
      sup += x[0] * a[0];
    } else if (a[q] > 0.0) {
      inf += a[q] * c.lo[q];
      sup += a[q] * c.hi[q];
    } else {
      inf += a[q] * c.hi[q];
      sup += a[q] * c.lo[q];
    }
  }
  if (inf >= 0.0) return 1;
  if (sup <= 0.0) return -1;
  return 0;
}

// --- one pass over the bins ----------------------------------------------------------------

// S, its gradient and Hessian over the m coordinates at one point, and what a line search needs
// to know about the step that led there from its base point.
struct LinearPass {
  double value;
  double value_abs;  // sum of |per-bin values|: the scale of the rounding of `value`
  double grad[kMaxCoords];
  double grad_abs[kMaxCoords];  // sum of |per-bin terms| of each gradient component
  double hess[kMaxPacked];      // packed lower triangle
  bool feasible;                // every Cash bin with counts that can be positive is
  double feasible_fraction;     // if not: fraction of the step where the first one reached 0
  double kink_fraction;         // fraction of the step where the first kink bin crossed 0 (2:
  std::int64_t kink_bin;        // none), and that bin
};

// Adds the bins first, first + stride, ... of every segment (a single worker uses (0, 1)).
// `step` (nullable) is x minus the base point of a line search. norm_free says whether the norm
// is a coordinate of the solve (it decides which Cash bins can still become positive).
FLUXPOINTS_HD_NOINLINE void linear_pass(const NuisanceProblemView& v, const NuisanceCoords& c,
                                        const double* x, const double* step, bool norm_free,
                                        std::int64_t first, std::int64_t stride, LinearPass& r) {
  const int m = c.m;
  r.value = 0.0;
  r.value_abs = 0.0;
  for (int q = 0; q < m; ++q) {
    r.grad[q] = 0.0;
    r.grad_abs[q] = 0.0;
  }
  for (int q = 0; q < m * (m + 1) / 2; ++q) r.hess[q] = 0.0;
  r.feasible = true;
  r.feasible_fraction = 1.0;
  r.kink_fraction = 2.0;
  r.kink_bin = -1;
  const ProblemView& b = v.bins;
  for (std::int64_t k = b.segment_begin; k < b.segment_end; ++k) {
    const StatKind kind = b.segment_kind[k];
    for (std::int64_t i = b.segment_bins[k] + first; i < b.segment_bins[k + 1]; i += stride) {
      double a[kMaxCoords];
      const double eta = linear_predictor(v, c, x, i, a);
      // Each template covers only its source's footprint: most bins see few nonzero
      // coefficients, and only those enter the gradient and the Hessian (the zero ones would
      // add exact zeros: the sums are the same bits).
      int nz[kMaxCoords];
      int n_nz = 0;
      for (int q = 0; q < m; ++q)
        if (a[q] != 0.0) nz[n_nz++] = q;
      BinTerms t = linear_bin(kind, b, i, eta);
      // Kink bins: the kink matters unless the box keeps eta on one side of it (box_sign).
      bool kink = is_kink_bin(kind, b, i);
      double tiny = 0.0;
      if (kink) {
        tiny = on_kink_tolerance(v, c, x, i, a);
        if (dabs(eta) <= tiny) {
          const int side = box_sign(v, c, i, a, norm_free, x);
          if (side != 0) {
            t.d1 = linear_bin(kind, b, i, side > 0 ? 1.0 : -1.0).d1;
            kink = false;
          }
        }
      }
      r.value += t.value;
      r.value_abs += dabs(t.value);
      if (t.d1 != 0.0) {
        for (int j = 0; j < n_nz; ++j) {
          const int q = nz[j];
          const double g = t.d1 * a[q];
          r.grad[q] += g;
          r.grad_abs[q] += dabs(g);
        }
      }
      if (t.d2 != 0.0) {
        for (int j = 0; j < n_nz; ++j) {
          const int q = nz[j];
          const double w = t.d2 * a[q];
          double* row = r.hess + packed_index(q, 0);
          for (int l = 0; l <= j; ++l) row[nz[l]] += w * a[nz[l]];
        }
      }
      // A Cash bin with counts needs eta > 0, and clearly so: eta within the rounding and the
      // coordinates' tolerance of 0 (the on-kink threshold) counts as 0. A start there (a
      // nuisance on its bound with the norm ~0: eta ~1e-17) has S' ~1e17 and Newton steps of
      // ~1e-17, which snap back onto the bound; make_feasible moves it away instead. (The
      // threshold is only worked out below 1e-6 of the counts: above, it would take terms 1e6
      // times the counts cancelling to eta, whose value is then rounding anyway.)
      bool needs_positive = false;
      if (kind == StatKind::cash && b.counts[i] > 0.0 && !(eta > 1e-6 * b.counts[i])) {
        const double floor = eta > 0.0 ? on_kink_tolerance(v, c, x, i, a) : 0.0;
        needs_positive = !(eta > floor) && can_be_positive(v, c, i, a, norm_free, x);
      }
      kink = kink && step != nullptr;
      if (!needs_positive && !kink) continue;
      double eta_base = eta;
      if (step != nullptr)
        for (int q = 0; q < m; ++q) eta_base -= a[q] * step[q];
      if (needs_positive) {
        r.feasible = false;
        const double f = (step != nullptr && eta_base > 0.0) ? eta_base / (eta_base - eta) : 0.0;
        r.feasible_fraction = dmin(r.feasible_fraction, f);
      } else {
        // A kink crossed (fraction where eta = 0), or left from on top of it (fraction 0;
        // not for a kink on the edge of the box, which cannot be crossed).
        double f = 2.0;
        if (dabs(eta_base) <= tiny) {
          if (dabs(eta) > tiny && box_sign(v, c, i, a, norm_free, x) == 0) f = 0.0;
        } else if ((eta_base > 0.0) != (eta > 0.0)) {
          f = eta_base / (eta_base - eta);
        }
        if (f < r.kink_fraction) {
          r.kink_fraction = f;
          r.kink_bin = i;
        }
      }
    }
  }
}

// Combines two partial passes (strided workers); b's bins come after a's in every tie.
FLUXPOINTS_HD void combine_passes(LinearPass& a, const LinearPass& b, int m) {
  a.value += b.value;
  a.value_abs += b.value_abs;
  for (int q = 0; q < m; ++q) {
    a.grad[q] += b.grad[q];
    a.grad_abs[q] += b.grad_abs[q];
  }
  for (int q = 0; q < m * (m + 1) / 2; ++q) a.hess[q] += b.hess[q];
  a.feasible = a.feasible && b.feasible;
  a.feasible_fraction = dmin(a.feasible_fraction, b.feasible_fraction);
  if (b.kink_fraction < a.kink_fraction ||
      (b.kink_fraction == a.kink_fraction && b.kink_bin >= 0 && b.kink_bin < a.kink_bin)) {
    a.kink_fraction = b.kink_fraction;
    a.kink_bin = b.kink_bin;
  }
}

// The evaluator of a single worker. A block- or warp-per-problem evaluator would run
// linear_pass with (thread, block size) and reduce with combine_passes.
struct SerialNuisanceEvaluator {
  const NuisanceProblemView* view;
  const NuisanceCoords* coords;
  FLUXPOINTS_HD void pass(const double* x, const double* step, bool norm_free,
                          LinearPass& out) const {
    linear_pass(*view, *coords, x, step, norm_free, 0, 1, out);
  }
};

// --- the active set ------------------------------------------------------------------------

// Kink bins held on their kink (eta = 0). Their slope does not enter the gradient; their
// multiplier lambda (the slope of the subgradient they contribute) must lie in [lo, hi].
struct KinkSet {
  int n;
  std::int64_t bin[kMaxCoords];
  StatKind kind[kMaxCoords];
  double lo_slope[kMaxCoords], hi_slope[kMaxCoords];
  double row[kMaxCoords][kMaxCoords];  // eta's coefficients over the coordinates
  double eta[kMaxCoords];              // at the current point
  double pass_slope[kMaxCoords];       // d eta-slope the pass used at the current point
};

FLUXPOINTS_HD StatKind kind_of_bin(const ProblemView& b, std::int64_t i) {
  for (std::int64_t k = b.segment_begin; k < b.segment_end; ++k)
    if (i < b.segment_bins[k + 1]) return b.segment_kind[k];
  return b.segment_kind[b.segment_end - 1];
}

// Recomputes eta, the row and the slope the pass used, for kink j at x.
FLUXPOINTS_HD void refresh_kink(const NuisanceProblemView& v, const NuisanceCoords& c,
                                const double* x, KinkSet& ks, int j) {
  ks.eta[j] = linear_predictor(v, c, x, ks.bin[j], ks.row[j]);
  ks.pass_slope[j] = linear_bin(ks.kind[j], v.bins, ks.bin[j], ks.eta[j]).d1;
}

FLUXPOINTS_HD void remove_kink(KinkSet& ks, int j, int m) {
  for (int k = j; k + 1 < ks.n; ++k) {
    ks.bin[k] = ks.bin[k + 1];
    ks.kind[k] = ks.kind[k + 1];
    ks.lo_slope[k] = ks.lo_slope[k + 1];
    ks.hi_slope[k] = ks.hi_slope[k + 1];
    for (int q = 0; q < m; ++q) ks.row[k][q] = ks.row[k + 1][q];
    ks.eta[k] = ks.eta[k + 1];
    ks.pass_slope[k] = ks.pass_slope[k + 1];
  }
  --ks.n;
}

FLUXPOINTS_HD bool has_kink(const KinkSet& ks, std::int64_t bin) {
  for (int j = 0; j < ks.n; ++j)
    if (ks.bin[j] == bin) return true;
  return false;
}

FLUXPOINTS_HD void add_kink(const NuisanceProblemView& v, const NuisanceCoords& c, const double* x,
                            KinkSet& ks, std::int64_t bin) {
  const int j = ks.n++;
  ks.bin[j] = bin;
  ks.kind[j] = kind_of_bin(v.bins, bin);
  ks.lo_slope[j] = linear_bin(ks.kind[j], v.bins, bin, -1.0).d1;
  ks.hi_slope[j] = linear_bin(ks.kind[j], v.bins, bin, 1.0).d1;
  refresh_kink(v, c, x, ks, j);
}

// Whether kink j's row has a component on the coordinates in `mask`.
FLUXPOINTS_HD bool kink_touches(const KinkSet& ks, int j, std::uint32_t mask, int m) {
  for (int q = 0; q < m; ++q)
    if (((mask >> q) & 1u) && ks.row[j][q] != 0.0) return true;
  return false;
}

// Everything one solve needs besides the bins; one per problem (per thread on a GPU).
struct NuisanceWorkspace {
  NuisanceCoords coords;
  LinearPass pass[2];
  double factor[kMaxPacked];
  double mmat[kMaxPacked];
  double wcol[kMaxCoords][kMaxCoords];
  KinkSet kinks;
  double theta_lo;          // lowest feasible norm (open), -inf if none
  int passes;               // passes over the bins so far
  std::uint32_t notes;      // NuisanceNote bits gathered by profile evaluations
  std::uint32_t last_flat;  // nuisances without curvature at the latest profile evaluation
  // Warm starts of the profile: the best fit and the latest evaluation.
  struct Anchor {
    bool valid;
    double theta;
    double x[kMaxCoords];
    double tangent[kMaxCoords];  // d phi_hat / d theta
  } best, last;
};

// The equality-constrained Newton step: minimise g.d + d'Hd/2 over the coordinates in
// `free_mask` (d = 0 on the others) subject to row_j . d = r_j for the kinks in `kink_mask`.
// Solved through H~ = H_FF + sum_j rho_j a_j a_j' (equal on the constraint set, positive
// definite there when H is positive definite on the constraints' null space) and the small
// system for the multipliers. On return g + H d + sum_j lambda_j row_j = 0 on the free
// coordinates. Returns false with `dependent` = a kink whose row is (numerically) a combination
// of the others' or has no free component.
struct NewtonStep {
  double d[kMaxCoords];
  double lambda[kMaxCoords];
  bool flat_move;      // a capped move along a direction without curvature
  std::uint32_t flat;  // coordinates (as free-list positions mapped back) that were flat pivots
};

FLUXPOINTS_HD_NOINLINE bool newton_eqp(const double* hess, const double* g, int m,
                                       std::uint32_t free_mask, const KinkSet& ks,
                                       std::uint32_t kink_mask, const double* r, const double* cap,
                                       NuisanceWorkspace& ws, NewtonStep& out, int& dependent) {
  int f[kMaxCoords];
  int nf = 0;
  for (int q = 0; q < m; ++q)
    if ((free_mask >> q) & 1u) f[nf++] = q;
  int kj[kMaxCoords];
  int nk = 0;
  for (int j = 0; j < ks.n; ++j)
    if ((kink_mask >> j) & 1u) kj[nk++] = j;
  for (int q = 0; q < m; ++q) out.d[q] = 0.0;
  for (int j = 0; j < ks.n; ++j) out.lambda[j] = 0.0;
  out.flat_move = false;
  out.flat = 0;
  if (nk > nf) {
    dependent = kj[nk - 1];
    return false;
  }
  double hmax = 0.0;
  for (int a = 0; a < nf; ++a) hmax = dmax(hmax, hess[packed_index(f[a], f[a])]);
  for (int a = 0; a < nf; ++a)
    for (int b = 0; b <= a; ++b) ws.factor[packed_index(a, b)] = hess[packed_index(f[a], f[b])];
  double rho[kMaxCoords];
  for (int j = 0; j < nk; ++j) {
    const double* row = ks.row[kj[j]];
    double norm2 = 0.0;
    for (int a = 0; a < nf; ++a) norm2 += row[f[a]] * row[f[a]];
    if (!(norm2 > 0.0)) {
      dependent = kj[j];
      return false;
    }
    rho[j] = (hmax > 0.0 ? hmax : 1.0) / norm2;
    for (int a = 0; a < nf; ++a)
      for (int b = 0; b <= a; ++b) ws.factor[packed_index(a, b)] += rho[j] * row[f[a]] * row[f[b]];
  }
  const std::uint32_t flat = ldlt_factor(ws.factor, nf);
  for (int a = 0; a < nf; ++a)
    if ((flat >> a) & 1u) out.flat |= 1u << f[a];
  double rhs[kMaxCoords], u[kMaxCoords], capf[kMaxCoords];
  for (int a = 0; a < nf; ++a) {
    double v = -g[f[a]];
    for (int j = 0; j < nk; ++j) v += rho[j] * r[kj[j]] * ks.row[kj[j]][f[a]];
    rhs[a] = v;
    capf[a] = cap != nullptr ? cap[f[a]] : 0.0;
  }
  out.flat_move = ldlt_solve(ws.factor, nf, flat, rhs, u, cap != nullptr ? capf : nullptr);
  if (nk > 0) {
    for (int j = 0; j < nk; ++j) {
      double col[kMaxCoords];
      for (int a = 0; a < nf; ++a) col[a] = ks.row[kj[j]][f[a]];
      ldlt_solve(ws.factor, nf, flat, col, ws.wcol[j], nullptr);
    }
    double q[kMaxCoords];
    for (int i = 0; i < nk; ++i) {
      const double* row = ks.row[kj[i]];
      for (int j = 0; j <= i; ++j) {
        double s = 0.0;
        for (int a = 0; a < nf; ++a) s += row[f[a]] * ws.wcol[j][a];
        ws.mmat[packed_index(i, j)] = s;
      }
      double s = -r[kj[i]];
      for (int a = 0; a < nf; ++a) s += row[f[a]] * u[a];
      q[i] = s;
    }
    const std::uint32_t mflat = ldlt_factor(ws.mmat, nk);
    if (mflat != 0) {
      for (int j = 0; j < nk; ++j)
        if ((mflat >> j) & 1u) {
          dependent = kj[j];
          return false;
        }
    }
    double lam[kMaxCoords];
    ldlt_solve(ws.mmat, nk, 0u, q, lam, nullptr);
    for (int a = 0; a < nf; ++a) {
      double v = u[a];
      for (int j = 0; j < nk; ++j) v -= lam[j] * ws.wcol[j][a];
      u[a] = v;
    }
    for (int j = 0; j < nk; ++j) out.lambda[kj[j]] = lam[j];
  }
  for (int a = 0; a < nf; ++a) out.d[f[a]] = u[a];
  return true;
}

// --- the minimiser ---------------------------------------------------------------------------

enum class LinearStatus : std::uint8_t {
  converged = 0,
  max_iterations = 1,
  stalled = 2,     // no decrease found along a descent direction above the rounding level
  infeasible = 3,  // the start point is not feasible
  non_finite = 4,
};

// State of one minimisation: the point, which coordinates are fixed, the active bounds, and at
// the end the gradient (without active kinks' slopes), Newton step and multipliers at x.
struct LinearSolve {
  double x[kMaxCoords];
  std::uint32_t fixed;
  std::uint32_t at_lo, at_hi;
  int current;  // ws.pass[current] is the evaluation at x
  double g[kMaxCoords];
  NewtonStep step;
  LinearStatus status;
  int iterations;
  // Converged, but not on a Newton step below the tolerance: the line search could not move
  // along the step of the final working set (or the working sets cycled at a degenerate
  // vertex), so the multipliers that ended the solve are those of a step not taken. Seen where
  // many kink bins meet at one point (a norm of 0 with bins where only the source predicts):
  // a single held kink cannot carry their joint subgradient. The point may not be a minimum.
  bool unverified;
};

// Newton decrement (-g.d, the statistic's predicted decrease times 2) below which a step within
// the coordinates' tolerance is convergence: far below any difference of the statistic that
// matters (crossings are at differences of 1 to 4 and found to ~1e-10 of the norm).
constexpr double kDecrementTol = 1e-10;
// Armijo's sufficient-decrease constant.
constexpr double kArmijo = 1e-4;
// Backtracking steps of one line search (2^-60 ~ 1e-18 of the Newton step).
constexpr int kMaxBacktracks = 60;

// Minimises S over the coordinates that are not fixed, inside their box, starting from a
// feasible st.x inside the box (snap_to_box'ed: a coordinate on a bound is exactly on it), whose
// pass (with the same fixed coordinates) make_feasible left in ws.pass[0]. ws.kinks
// may hold kinks from a previous solve: those still on their kink at st.x are kept active.
template <class Evaluator>
FLUXPOINTS_HD_NOINLINE void minimise_linear(const Evaluator& eval, const NuisanceProblemView& v,
                                            const SolveSettings& o, NuisanceWorkspace& ws,
                                            LinearSolve& st) {
  const NuisanceCoords& c = ws.coords;
  const int m = c.m;
  const std::uint32_t all = coord_mask(m);
  const std::uint32_t movable = all & ~st.fixed;
  const bool norm_free = !(st.fixed & 1u);
  KinkSet& ks = ws.kinks;
  st.status = LinearStatus::converged;
  st.iterations = 0;
  st.unverified = false;
  int cur = 0;
  st.current = cur;
  // ws.pass[0] already holds the pass at st.x: make_feasible, always called just before, ends
  // with it (a second pass at the same point would cost as much as a Newton iteration).
  if (!ws.pass[cur].feasible) {
    st.status = LinearStatus::infeasible;
    return;
  }
  if (!is_finite(ws.pass[cur].value)) {
    st.status = LinearStatus::non_finite;
    return;
  }
  // Bounds held at the start: coordinates on a bound whose gradient points out of the box.
  st.at_lo = st.at_hi = 0;
  for (int q = 0; q < m; ++q) {
    if (!((movable >> q) & 1u)) continue;
    if (st.x[q] == c.lo[q] && !(ws.pass[cur].grad[q] < 0.0))
      st.at_lo |= 1u << q;
    else if (st.x[q] == c.hi[q] && !(ws.pass[cur].grad[q] > 0.0))
      st.at_hi |= 1u << q;
  }
  // Keep the kinks of a previous solve that are still on their kink and can move.
  for (int j = ks.n - 1; j >= 0; --j) {
    refresh_kink(v, c, st.x, ks, j);
    const double tiny = on_kink_tolerance(v, c, st.x, ks.bin[j], ks.row[j]);
    if (!(dabs(ks.eta[j]) <= tiny) || !kink_touches(ks, j, movable, m)) remove_kink(ks, j, m);
  }

  double flat_scale = 1.0;
  std::int64_t last_crossed = -1;
  bool at_noise = false;  // the last line search found no decrease above the rounding of S
  int stuck = 0;          // iterations in a row that ended without moving (holds, failures)
  for (int it = 0;; ++it) {
    st.iterations = it + 1;
    const LinearPass& p = ws.pass[cur];
    // Rounding level of S: a predicted decrease below it cannot be checked.
    const double resolution = 64.0 * 2.220446049250313e-16 * (p.value_abs + kSmallestPositive);
    double* g = st.g;
    for (int q = 0; q < m; ++q) g[q] = p.grad[q];
    double r[kMaxCoords];
    for (int j = 0; j < ks.n; ++j) {
      for (int q = 0; q < m; ++q) g[q] -= ks.pass_slope[j] * ks.row[j][q];
      r[j] = -ks.eta[j];
    }
    double cap[kMaxCoords];
    for (int q = 0; q < m; ++q) cap[q] = flat_scale * dmax(1.0, dabs(st.x[q]));

    // Newton step of the working set. Constraints are released only where that step vanishes
    // (converged on the working set), one at a time, the one whose multiplier is most wrong
    // (a bound pulling the coordinate back, a kink multiplier outside its slopes): the textbook
    // primal active-set rule, which cannot zigzag.
    NewtonStep& s = st.step;
    std::int64_t released[4];  // kinks released in this iteration (not taken back at once)
    int n_released = 0;
    double tol[kMaxCoords];
    bool small = false;
    for (int round = 0;; ++round) {
      const std::uint32_t free_mask = movable & ~st.at_lo & ~st.at_hi;
      int dependent = -1;
      if (!newton_eqp(p.hess, g, m, free_mask, ks, coord_mask(ks.n), r, cap, ws, s, dependent)) {
        // A kink implied by the others (or stuck on fixed coordinates): not a constraint.
        for (int q = 0; q < m; ++q) g[q] += ks.pass_slope[dependent] * ks.row[dependent][q];
        for (int j = dependent; j + 1 < ks.n; ++j) r[j] = r[j + 1];
        remove_kink(ks, dependent, m);
        continue;
      }
      // Converged on the working set: the step is below the tolerance (or the rounding of the
      // gradient) everywhere, or the previous iteration found no decrease above the rounding
      // of S along it.
      small = !s.flat_move;
      double decrement = 0.0;  // -g.d: twice the decrease the quadratic model predicts
      for (int q = 0; q < m; ++q) {
        if (!((free_mask >> q) & 1u)) continue;
        const double h = p.hess[packed_index(q, q)];
        tol[q] = o.xtol_abs + o.xtol_rel * dabs(st.x[q]);
        if (h > 0.0) tol[q] += 16.0 * 2.220446049250313e-16 * p.grad_abs[q] / h;
        if (dabs(s.d[q]) > tol[q]) small = false;
        decrement -= g[q] * s.d[q];
      }
      // A step below the tolerance is not convergence while it still promises a decrease:
      // next to a Cash bin with counts predicting ~0 (eta ~1e-17: a start on a bound with the
      // norm ~0), S is so curved that every Newton step is tiny, yet each doubles eta and
      // lowers S by ~1.4 n.
      if (decrement > dmax(resolution, kDecrementTol)) small = false;
      st.unverified = at_noise && !small;
      if (at_noise && !s.flat_move) small = true;
      at_noise = false;
      if (!small || round >= 4 * kMaxCoords) break;
      double worst = 0.0;
      int worst_coord = -1, worst_kink = -1;
      for (int q = 0; q < m; ++q) {
        const bool lo = (st.at_lo >> q) & 1u, hi = (st.at_hi >> q) & 1u;
        if (!lo && !hi) continue;
        double mu = g[q];
        for (int w = 0; w < m; ++w)
          if ((free_mask >> w) & 1u)
            mu += p.hess[w >= q ? packed_index(w, q) : packed_index(q, w)] * s.d[w];
        for (int j = 0; j < ks.n; ++j) mu += s.lambda[j] * ks.row[j][q];
        const double scale = p.grad_abs[q] + dabs(g[q]) + kSmallestPositive;
        const double viol = (lo ? -mu : mu) / scale;  // > 0: the bound holds the coordinate back
        if (viol > 1e-11 && viol > worst) {
          worst = viol;
          worst_coord = q;
          worst_kink = -1;
        }
      }
      for (int j = 0; j < ks.n; ++j) {
        const double width = ks.hi_slope[j] - ks.lo_slope[j];
        const double viol =
            dmax(s.lambda[j] - ks.hi_slope[j], ks.lo_slope[j] - s.lambda[j]) / width;
        if (viol > 1e-9 && viol > worst) {
          worst = viol;
          worst_kink = j;
          worst_coord = -1;
        }
      }
      if (worst_coord < 0 && worst_kink < 0) break;  // optimal
      if (worst_coord >= 0) {
        st.at_lo &= ~(1u << worst_coord);
        st.at_hi &= ~(1u << worst_coord);
      } else {
        // Leave the kink to the side the multiplier points to, with that side's slope.
        const int j = worst_kink;
        if (n_released < 4) released[n_released++] = ks.bin[j];
        const double slope = s.lambda[j] > ks.hi_slope[j] ? ks.hi_slope[j] : ks.lo_slope[j];
        for (int q = 0; q < m; ++q) g[q] += slope * ks.row[j][q];
        for (int k = j; k + 1 < ks.n; ++k) r[k] = r[k + 1];
        remove_kink(ks, j, m);
      }
    }
    const std::uint32_t free_mask = movable & ~st.at_lo & ~st.at_hi;
    if (small) return;
    // A coordinate sitting on a bound it is not held at may not step outwards (its multiplier
    // let it go, but the coupled step points out): project that component away and hold it.
    // A component within the tolerance is rounding (e.g. a kink holds the coordinate there).
    bool held_more = false;
    for (int q = 0; q < m; ++q) {
      if (!((free_mask >> q) & 1u)) continue;
      const bool out = (s.d[q] < 0.0 && st.x[q] == c.lo[q]) || (s.d[q] > 0.0 && st.x[q] == c.hi[q]);
      if (!out) continue;
      if (dabs(s.d[q]) > tol[q]) {
        (s.d[q] < 0.0 ? st.at_lo : st.at_hi) |= 1u << q;
        held_more = true;
      }
      s.d[q] = 0.0;
    }
    if (held_more && it + 1 < o.max_iterations) continue;  // same point: the step of the new set
    if (it + 1 >= o.max_iterations) {
      st.status = LinearStatus::max_iterations;
      return;
    }
    double gd = 0.0;
    for (int q = 0; q < m; ++q)
      if ((free_mask >> q) & 1u) gd += g[q] * s.d[q];  // projected components are 0
    if (!(gd < 0.0)) {
      if (-gd > resolution) {
        st.status = LinearStatus::stalled;
        return;
      }
      at_noise = true;  // no descent left above rounding: check the multipliers at this point
      continue;
    }

    // Line search: stop on the first bound, stay feasible, try kinks where S rises across one.
    double alpha_bound = kInf;
    int bound_coord = -1;
    for (int q = 0; q < m; ++q) {
      if (!((free_mask >> q) & 1u) || s.d[q] == 0.0) continue;
      const double limit = s.d[q] < 0.0 ? c.lo[q] : c.hi[q];
      if (!is_finite(limit)) continue;
      const double a = (limit - st.x[q]) / s.d[q];
      if (a < alpha_bound) {
        alpha_bound = a;
        bound_coord = q;
      }
    }
    double alpha = dmin(1.0, alpha_bound);
    bool at_bound = alpha_bound <= 1.0;
    bool tried_kink = false;
    std::int64_t kink_candidate = -1;
    const int next = 1 - cur;
    double xt[kMaxCoords], step[kMaxCoords];
    bool accepted = false;
    bool noise_floor = false;
    std::int64_t hold_kink = -1;  // a kink the step left from on top of it, to hold instead
    for (int ls = 0; ls < kMaxBacktracks; ++ls) {
      for (int q = 0; q < m; ++q) {
        double t = st.x[q];
        if ((free_mask >> q) & 1u) t += alpha * s.d[q];
        if (at_bound && q == bound_coord) t = s.d[q] < 0.0 ? c.lo[q] : c.hi[q];
        if ((free_mask >> q) & 1u) t = snap_to_box(c, q, t, o);
        xt[q] = t;
        step[q] = t - st.x[q];
      }
      LinearPass& trial = ws.pass[next];
      eval.pass(xt, step, norm_free, trial);
      ++ws.passes;
      if (!trial.feasible) {
        alpha *= dmin(0.5, 0.9 * trial.feasible_fraction);
        at_bound = false;
        kink_candidate = -1;
        continue;
      }
      // Armijo; a full step may also pass within the rounding of S (near convergence the
      // predicted decrease is below it), a shortened one may not (it would accept no progress).
      const double slack = 2.0 * 2.220446049250313e-16 * (p.value_abs + trial.value_abs);
      const bool sufficient = is_finite(trial.value) && alpha > 0.0 &&
                              (trial.value <= p.value + kArmijo * alpha * gd ||
                               (alpha == 1.0 && trial.value <= p.value + slack));
      // A kink crossed back and forth: the minimum along d is on it. Try the kink first.
      const bool oscillating = sufficient && kink_candidate < 0 && !tried_kink &&
                               trial.kink_fraction > 0.0 && trial.kink_fraction < 1.0 &&
                               trial.kink_bin == last_crossed;
      if (sufficient && !oscillating) {
        accepted = true;
        break;
      }
      // The full Newton step changed S by more than its whole predicted gain (gd / 2), which is
      // negligible, without meeting a kink or a bound: S is at its rounding floor here (WStat's
      // per-bin values carry the rounding of G, which |value| does not show). Nothing left to
      // gain on this working set.
      if (ls == 0 && alpha == 1.0 && trial.kink_fraction == 2.0 &&
          -gd <= 1e-10 * (1.0 + p.value_abs) &&
          dabs(trial.value - p.value - 0.5 * gd) > -0.5 * gd) {
        noise_floor = true;
        break;
      }
      if (trial.kink_fraction == 0.0) {
        // The step leaves a kink it sits on and S rises: hold the kink (no move). A kink this
        // iteration released is meant to be left: just shorten the step.
        bool just_released = false;
        for (int j = 0; j < n_released; ++j)
          just_released = just_released || released[j] == trial.kink_bin;
        if (!just_released && !has_kink(ks, trial.kink_bin)) {
          hold_kink = trial.kink_bin;
          break;
        }
      } else if (trial.kink_fraction < 1.0 && !tried_kink) {
        alpha *= trial.kink_fraction;
        kink_candidate = trial.kink_bin;
        tried_kink = true;
        at_bound = false;
        continue;
      }
      alpha *= 0.5;
      at_bound = false;
      kink_candidate = -1;
      // A step below the coordinates' tolerance everywhere moves nothing that counts.
      bool below_tolerance = true;
      for (int q = 0; q < m && below_tolerance; ++q)
        if ((free_mask >> q) & 1u) below_tolerance = dabs(alpha * s.d[q]) <= tol[q];
      if (below_tolerance) {
        noise_floor = true;
        break;
      }
    }
    // Iterations that end without moving: past 2 per free coordinate (and 2 more), this is a
    // degenerate vertex - more kinks on than coordinates to hold them, no working set whose
    // Newton direction decreases S: stop, converged but unverified (the joint fit then leaves
    // the decision to the profile; a profile fit keeps the point).
    int n_free = 0;
    for (int q = 0; q < m; ++q) n_free += ((movable & ~st.at_lo & ~st.at_hi) >> q) & 1u;
    if (!accepted && ++stuck > 2 * n_free + 2) {
      st.unverified = true;
      return;
    }
    if (hold_kink >= 0 && ks.n < n_free) {
      add_kink(v, c, st.x, ks, hold_kink);
      continue;  // same point, same pass: a new Newton step with the kink held
    }
    if (!accepted) {
      if (!noise_floor && -gd > 1e6 * resolution) {
        st.status = LinearStatus::stalled;
        return;
      }
      // Nothing to gain above the rounding of S (or the tolerance) on this working set: check
      // its multipliers.
      at_noise = true;
      continue;
    }
    stuck = 0;
    const LinearPass& taken = ws.pass[next];
    last_crossed = (kink_candidate < 0 && taken.kink_fraction < 1.0) ? taken.kink_bin : -1;
    cur = next;
    st.current = cur;
    for (int q = 0; q < m; ++q) st.x[q] = xt[q];
    if (at_bound) {
      if (s.d[bound_coord] < 0.0)
        st.at_lo |= 1u << bound_coord;
      else
        st.at_hi |= 1u << bound_coord;
    }
    for (int j = 0; j < ks.n; ++j) refresh_kink(v, c, st.x, ks, j);
    if (kink_candidate >= 0 && !has_kink(ks, kink_candidate)) {
      int free_now = 0;  // the bounds may have changed since n_free was counted
      for (int q = 0; q < m; ++q) free_now += ((movable & ~st.at_lo & ~st.at_hi) >> q) & 1u;
      if (ks.n < free_now) add_kink(v, c, st.x, ks, kink_candidate);
    }
    flat_scale = (s.flat_move && alpha == 1.0) ? 4.0 * flat_scale : 1.0;
  }
}

// --- feasibility -----------------------------------------------------------------------------

// Moves st.x (inside the box) until every Cash bin with counts that can be positive is: each
// movable coordinate goes towards its max (by 1/16, 1/4, 1, 4, ... of the distance, or of
// max(1, |x|) when there is no max). Raising a coordinate never lowers such a bin's prediction
// (templates and s are >= 0 there). Returns false if even the max does not do it; true with the
// pass at the final st.x in ws.pass[0] (where minimise_linear starts from).
template <class Evaluator>
FLUXPOINTS_HD_NOINLINE bool make_feasible(const Evaluator& eval, NuisanceWorkspace& ws,
                                          LinearSolve& st) {
  const NuisanceCoords& c = ws.coords;
  const bool norm_free = !(st.fixed & 1u);
  LinearPass& p = ws.pass[0];
  eval.pass(st.x, nullptr, norm_free, p);
  ++ws.passes;
  if (p.feasible) return true;
  double base[kMaxCoords], dir[kMaxCoords];
  bool bounded = true;
  for (int q = 0; q < c.m; ++q) {
    base[q] = st.x[q];
    dir[q] = 0.0;
    if ((st.fixed >> q) & 1u) continue;
    if (is_finite(c.hi[q])) {
      dir[q] = c.hi[q] - st.x[q];
    } else {
      dir[q] = dmax(1.0, dabs(st.x[q]));
      bounded = false;
    }
  }
  for (double tau = 1.0 / 16.0; tau < 1e300; tau *= 4.0) {
    const double t = (bounded && tau > 1.0) ? 1.0 : tau;
    for (int q = 0; q < c.m; ++q) st.x[q] = dmin(base[q] + t * dir[q], c.hi[q]);
    eval.pass(st.x, nullptr, norm_free, p);
    ++ws.passes;
    if (p.feasible) return true;
    if (bounded && t == 1.0) break;
  }
  return false;
}

// --- the profile -----------------------------------------------------------------------------

// P(theta), P'(theta), P''(theta) at the end of a solve with the norm fixed (st.fixed has bit
// 0), and d phi_hat / d theta in `tangent` (over the coordinates; 0 on fixed and bound-active
// ones). `release` frees bound-active coordinates for P'' (used to recognise a flat profile).
// Kinks whose rows only involve the norm are left out: P has a kink in theta there, and P'' is
// then the curvature of the smooth bins (as in the one-dimensional solver).
struct ProfileDerivatives {
  ProfilePoint point;
  double tangent[kMaxCoords];
  bool norm_kink;      // an active kink involves only the norm
  std::uint32_t flat;  // nuisance coordinates without curvature
};

FLUXPOINTS_HD_NOINLINE ProfileDerivatives profile_derivatives(NuisanceWorkspace& ws,
                                                              const LinearSolve& st,
                                                              std::uint32_t release) {
  const int m = ws.coords.m;
  const LinearPass& p = ws.pass[st.current];
  const KinkSet& ks = ws.kinks;
  const std::uint32_t phis = coord_mask(m) & ~1u & ~st.fixed;
  const std::uint32_t free_mask = phis & ((~st.at_lo & ~st.at_hi) | release);
  ProfileDerivatives r;
  r.norm_kink = false;
  std::uint32_t kink_mask = 0;
  for (int j = 0; j < ks.n; ++j) {
    if (kink_touches(ks, j, free_mask, m))
      kink_mask |= 1u << j;
    else if (ks.row[j][0] != 0.0)
      r.norm_kink = true;
  }
  // P' = dS/dtheta + sum_j lambda_j a_j0, at the Newton-corrected point (second order in the
  // remaining step: the step's own contribution H_0F d_F is added).
  double d1 = st.g[0];
  for (int q = 1; q < m; ++q)
    if ((phis >> q) & 1u) d1 += p.hess[packed_index(q, 0)] * st.step.d[q];
  for (int j = 0; j < ks.n; ++j) d1 += st.step.lambda[j] * ks.row[j][0];
  // Tangent: minimise [1, d]' H [1, d] over the free nuisances with the kinks kept on.
  double col[kMaxCoords], rr[kMaxCoords];
  for (int q = 0; q < m; ++q) col[q] = p.hess[packed_index(q, 0)];
  for (int j = 0; j < ks.n; ++j) rr[j] = -ks.row[j][0];
  NewtonStep t;
  int dependent = -1;
  std::uint32_t mask = kink_mask;
  while (!newton_eqp(p.hess, col, m, free_mask, ks, mask, rr, nullptr, ws, t, dependent))
    mask &= ~(1u << dependent);
  double d2 = p.hess[0];
  for (int q = 1; q < m; ++q) {
    r.tangent[q] = t.d[q];
    if (t.d[q] == 0.0) continue;
    d2 += 2.0 * p.hess[packed_index(q, 0)] * t.d[q];
    for (int w = 1; w < m; ++w)
      if (t.d[w] != 0.0)
        d2 += t.d[q] * p.hess[w >= q ? packed_index(w, q) : packed_index(q, w)] * t.d[w];
  }
  r.tangent[0] = 0.0;
  r.flat = t.flat & phis;
  r.point = ProfilePoint{p.value, d1, d2};
  return r;
}

// The profile P(theta) for the one-dimensional machinery of solver.hpp. Each evaluation fits the
// free nuisances at the given norm, warm-started from the best fit or the latest evaluation
// (whichever norm is closer), moved along their tangent d phi_hat / d theta.
template <class Evaluator>
struct NuisanceProfile {
  // P is convex (a minimum over phi of a jointly convex S), and an evaluation far from every
  // warm start costs many Newton iterations: crossings skip the bracket's far end.
  static constexpr bool kSearchCrossingInward = true;
  const Evaluator* eval;
  const NuisanceProblemView* view;
  const SolveSettings* settings;
  NuisanceWorkspace* ws;

  FLUXPOINTS_HD_NOINLINE ProfilePoint profile(double theta) const {
    NuisanceWorkspace& w = *ws;
    if (!(theta > w.theta_lo)) return ProfilePoint{kInf, -kInf, kInf};  // no feasible nuisances
    const NuisanceCoords& c = w.coords;
    const NuisanceWorkspace::Anchor* base = nullptr;
    if (w.best.valid) base = &w.best;
    if (w.last.valid && (base == nullptr || dabs(theta - w.last.theta) < dabs(theta - base->theta)))
      base = &w.last;
    LinearSolve st;
    st.fixed = 1u;
    st.x[0] = theta;
    for (int q = 1; q < c.m; ++q) {
      double x0 = base != nullptr ? base->x[q] + base->tangent[q] * (theta - base->theta)
                                  : view->start[c.nuisance[q]];
      if (!is_finite(x0)) x0 = base != nullptr ? base->x[q] : 0.0;
      st.x[q] = snap_to_box(c, q, x0, *settings);
    }
    if (!make_feasible(*eval, w, st)) {
      // The tangent pointed somewhere bad: start from the base's nuisances instead.
      for (int q = 1; q < c.m; ++q)
        st.x[q] =
            base != nullptr ? base->x[q] : dmin(dmax(view->start[c.nuisance[q]], c.lo[q]), c.hi[q]);
      if (!make_feasible(*eval, w, st)) return ProfilePoint{kInf, -kInf, kInf};
    }
    minimise_linear(*eval, *view, *settings, w, st);
    if (st.status == LinearStatus::non_finite || st.status == LinearStatus::infeasible)
      return ProfilePoint{kNaN, kNaN, kNaN};
    if (st.status != LinearStatus::converged) w.notes |= note_nuisance_profile_inexact;
    const ProfileDerivatives d = profile_derivatives(w, st, 0u);
    w.last_flat = d.flat;
    w.last.valid = true;
    w.last.theta = theta;
    for (int q = 0; q < c.m; ++q) {
      w.last.x[q] = st.x[q];
      w.last.tangent[q] = d.tangent[q];
    }
    return d.point;
  }

  FLUXPOINTS_HD double feasible_min() const { return ws->theta_lo; }
};

// --- one problem ---------------------------------------------------------------------------

// Reads the problem's nuisances into ws.coords (pinned ones folded in), checks the input and
// computes the lowest feasible norm. False: the input is unusable (status invalid_nuisance).
FLUXPOINTS_HD_NOINLINE bool setup_nuisances(const NuisanceProblemView& v, const SolveSettings& o,
                                            NuisanceWorkspace& ws) {
  NuisanceCoords& c = ws.coords;
  if (v.n_nuisances < 0 || v.n_nuisances > kMaxNuisances) return false;
  const int K = static_cast<int>(v.n_nuisances);
  c.m = 1;
  c.n_pinned = 0;
  c.lo[0] = is_finite(o.norm_min) ? o.norm_min : -kInf;
  c.hi[0] = is_finite(o.norm_max) ? o.norm_max : kInf;
  for (int k = 0; k < K; ++k) {
    const double lo = is_nan(v.min[k]) ? -kInf : v.min[k];
    const double hi = is_nan(v.max[k]) ? kInf : v.max[k];
    if (!(lo <= hi) || lo == kInf || hi == -kInf || !is_finite(v.start[k])) return false;
    if (lo == hi) {
      c.pinned[c.n_pinned] = k;
      c.pinned_value[c.n_pinned++] = lo;
    } else {
      c.nuisance[c.m] = k;
      c.lo[c.m] = lo;
      c.hi[c.m++] = hi;
    }
  }
  // Templates finite; in Cash bins with counts, s and the templates >= 0 (see the top).
  double theta_lo = -kInf;
  const ProblemView& b = v.bins;
  for (std::int64_t s = b.segment_begin; s < b.segment_end; ++s) {
    const bool cash = b.segment_kind[s] == StatKind::cash;
    for (std::int64_t i = b.segment_bins[s]; i < b.segment_bins[s + 1]; ++i) {
      const bool counts = cash && b.counts[i] > 0.0;
      double sup = b.npred_other[i];
      for (int k = 0; k < K; ++k) {
        const double t = v.template_value(k, i);
        if (!is_finite(t) || (counts && t < 0.0)) return false;
      }
      if (!counts) continue;
      if (b.npred_ref[i] < 0.0) return false;
      for (int q = 0; q < c.n_pinned; ++q)
        sup += c.pinned_value[q] * v.template_value(c.pinned[q], i);
      for (int q = 1; q < c.m; ++q) {
        const double t = v.template_value(c.nuisance[q], i);
        if (t > 0.0) sup += t * c.hi[q];
      }
      if (b.npred_ref[i] > 0.0 && sup < kInf) theta_lo = dmax(theta_lo, -sup / b.npred_ref[i]);
    }
  }
  ws.theta_lo = theta_lo;
  ws.passes = 0;
  ws.notes = 0;
  ws.last_flat = 0;
  ws.kinks.n = 0;
  ws.best.valid = false;
  ws.last.valid = false;
  return true;
}

// A joint minimum seen as a point of the profile: the same point with the norm held, with the
// Newton step and multipliers of the nuisances alone (what profile_derivatives needs). The norm's
// bound and the kinks that involve only the norm do not constrain the nuisances: such a kink's
// slope (the side the pass used) stays in the gradient, and it takes no multiplier.
FLUXPOINTS_HD_NOINLINE LinearSolve hold_norm(NuisanceWorkspace& ws, const LinearSolve& st) {
  const int m = ws.coords.m;
  LinearSolve held = st;
  held.fixed = 1u;
  const LinearPass& p = ws.pass[held.current];
  const KinkSet& ks = ws.kinks;
  const std::uint32_t nuisances = coord_mask(m) & ~1u;
  for (int q = 0; q < m; ++q) held.g[q] = p.grad[q];
  double r[kMaxCoords];
  std::uint32_t kink_mask = 0;
  for (int j = 0; j < ks.n; ++j) {
    r[j] = -ks.eta[j];
    if (kink_touches(ks, j, nuisances, m)) {
      kink_mask |= 1u << j;
      for (int q = 0; q < m; ++q) held.g[q] -= ks.pass_slope[j] * ks.row[j][q];
    }
  }
  const std::uint32_t free_mask = nuisances & ~held.at_lo & ~held.at_hi;
  int dependent = -1;
  while (!newton_eqp(p.hess, held.g, m, free_mask, ks, kink_mask, r, nullptr, ws, held.step,
                     dependent))
    kink_mask &= ~(1u << dependent);
  for (int j = 0; j < ks.n; ++j)
    if (!((kink_mask >> j) & 1u)) held.step.lambda[j] = 0.0;
  return held;
}

// P'' below this fraction of S_tt (the curvature with the nuisances fixed): the norm is not
// identified (a template proportional to s where the statistic is curved); the profile is flat.
// Rounding leaves ~1e-16 S_tt of an exact cancellation; a template that differs from s by 1e-3
// still leaves ~1e-6.
constexpr double kFlatProfile = 1e-10;

// Solves one problem with nuisances: the joint fit, then the 1-D machinery on the profile.
// phi_hat receives the K best-fit nuisances (NaN when there is no fit). The profile adapter
// stays usable afterwards through ws (for the scan).
template <class Evaluator>
FLUXPOINTS_HD ProblemSolution solve_nuisance_problem(const Evaluator& eval,
                                                     const NuisanceProblemView& v,
                                                     const SolveSettings& o, NuisanceWorkspace& ws,
                                                     double* phi_hat) {
  ProblemSolution s;
  for (std::int64_t k = 0; k < v.n_nuisances && k < kMaxNuisances; ++k) phi_hat[k] = kNaN;
  if (!setup_nuisances(v, o, ws)) {
    s.status = SolveStatus::invalid_nuisance;
    return s;
  }
  const NuisanceCoords& c = ws.coords;
  const int m = c.m;
  const NuisanceProfile<Evaluator> profile{&eval, &v, &o, &ws};

  // Joint start: the norm's start value moved into the feasible range (as the 1-D solver does),
  // the nuisances' start values clamped to their bounds.
  LinearSolve st;
  st.fixed = 0u;
  double theta0 = dmin(dmax(o.norm_start, c.lo[0]), c.hi[0]);
  const double feas = ws.theta_lo;
  if (!(theta0 > feas)) {
    theta0 = feas + dmax(1.0, dabs(feas));
    if (theta0 > c.hi[0]) theta0 = 0.5 * (feas + c.hi[0]);
  }
  detail::MinimumResult mr{kNaN, {kNaN, kNaN, kNaN}, SolveStatus::ok, note_none, false, false,
                           0.0, 0.0, 0.0};
  bool joint_ok = false;
  std::uint32_t best_notes = 0;
  if (is_finite(c.hi[0]) && !(c.hi[0] > feas)) {
    mr.status = SolveStatus::no_minimum;  // the whole allowed norm range is infeasible
  } else {
    st.x[0] = theta0;
    for (int q = 1; q < m; ++q) st.x[q] = snap_to_box(c, q, v.start[c.nuisance[q]], o);
    if (make_feasible(eval, ws, st)) {
      minimise_linear(eval, v, o, ws, st);
      if (st.status == LinearStatus::converged && !st.unverified) {
        // The profile at the joint minimum: the same point with the norm held.
        const LinearSolve held = hold_norm(ws, st);
        const ProfileDerivatives pd = profile_derivatives(ws, held, 0u);
        const double s_tt = ws.pass[st.current].hess[0];
        bool flat = s_tt > 0.0 && !pd.norm_kink && !(pd.point.d2 > kFlatProfile * s_tt);
        if (!flat && s_tt > 0.0 && !pd.norm_kink && ((st.at_lo | st.at_hi) & ~1u)) {
          // A nuisance on its bound with the norm proportional to it beyond the bound: P is
          // flat on the other side. Recognised by releasing the bounds for P''.
          const ProfileDerivatives released =
              profile_derivatives(ws, held, (st.at_lo | st.at_hi) & ~1u);
          const LinearPass& p = ws.pass[st.current];
          bool degenerate = true;  // every held bound has a ~0 multiplier
          for (int q = 1; q < m; ++q) {
            if (!(((st.at_lo | st.at_hi) >> q) & 1u)) continue;
            double mu = held.g[q];
            for (int w = 1; w < m; ++w)
              mu += p.hess[w >= q ? packed_index(w, q) : packed_index(q, w)] * held.step.d[w];
            for (int j = 0; j < ws.kinks.n; ++j) mu += held.step.lambda[j] * ws.kinks.row[j][q];
            if (dabs(mu) > 1e-8 * (p.grad_abs[q] + kSmallestPositive)) degenerate = false;
          }
          flat = degenerate && !(released.point.d2 > kFlatProfile * s_tt);
        }
        if (s_tt > 0.0 || pd.norm_kink) {
          if (flat || pd.point.d2 > 0.0) {
            joint_ok = true;
            mr.theta = st.x[0];
            mr.at = ProfilePoint{pd.point.value, pd.point.d1, flat ? 0.0 : pd.point.d2};
            mr.flat = flat;
            if ((st.at_lo >> 0) & 1u) mr.notes |= note_at_min_bound;
            if ((st.at_hi >> 0) & 1u) mr.notes |= note_at_max_bound;
            ws.best.valid = true;
            ws.best.theta = st.x[0];
            for (int q = 0; q < m; ++q) {
              ws.best.x[q] = st.x[q];
              ws.best.tangent[q] = pd.tangent[q];
            }
            if ((st.at_lo | st.at_hi) & ~1u) best_notes |= note_nuisance_at_bound;
            if (pd.flat) best_notes |= note_nuisance_not_identified;
            for (int j = 0; j < ws.kinks.n; ++j)
              if (kink_touches(ws.kinks, j, coord_mask(m) & ~1u, m))
                best_notes |= note_nuisance_kink;
          }
        }
      }
    }
    if (!joint_ok) {
      // No usable joint minimum (no curvature in the norm, a kink in it, or the joint Newton
      // did not converge or stopped unverified): the robust 1-D search on the profile decides,
      // as for K = 0. Each profile value is a fit at a fixed norm, where the many kinks that
      // meet at one norm (bins where only the source predicts) are no longer kinks.
      int evals = 0;
      SolveSettings o1 = o;
      if (st.status == LinearStatus::converged || st.status == LinearStatus::max_iterations)
        o1.norm_start = st.x[0];
      // An unverified stop is nearly always at the minimum's norm, with the nuisances off (the
      // kink case above): try a bracket one tolerance wide around it first.
      const double first_step = st.status == LinearStatus::converged && st.unverified
                                    ? detail::tolerance(o, st.x[0])
                                    : kNaN;
      const std::uint32_t notes_before = ws.notes;
      ws.notes &= ~static_cast<std::uint32_t>(note_nuisance_profile_inexact);
      mr = detail::minimise(profile, o1, evals, first_step);
      if (mr.status != SolveStatus::no_minimum && mr.status != SolveStatus::non_finite) {
        // The nuisances at the minimum (and the anchor for the later evaluations).
        profile.profile(mr.theta);
        ws.best = ws.last;
        // A best fit found on inexact profile values is not a converged fit.
        if ((ws.notes & note_nuisance_profile_inexact) && mr.status == SolveStatus::ok)
          mr.status = SolveStatus::max_iterations;
        for (int q = 1; q < m; ++q) {
          const double x = ws.best.x[q];
          if (x == c.lo[q] || x == c.hi[q]) best_notes |= note_nuisance_at_bound;
        }
        if (ws.last_flat) best_notes |= note_nuisance_not_identified;
        for (int j = 0; j < ws.kinks.n; ++j)
          if (kink_touches(ws.kinks, j, coord_mask(m) & ~1u, m)) best_notes |= note_nuisance_kink;
      }
      ws.notes |= notes_before;
    }
  }
  s = solve_from_minimum(profile, o, mr, 0);
  s.notes |= best_notes | ws.notes;
  s.evaluations = ws.passes;
  if (ws.best.valid && is_finite(s.norm)) {
    for (int k = 0; k < c.n_pinned; ++k) phi_hat[c.pinned[k]] = c.pinned_value[k];
    for (int q = 1; q < m; ++q) phi_hat[c.nuisance[q]] = ws.best.x[q];
  }
  return s;
}

}  // namespace fluxpoints::math
