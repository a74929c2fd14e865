// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The one-dimensional flux-point solve, shared by every backend: best-fit norm, its error,
// TS, and the profile crossings as gammapy's FluxPointsEstimator defines them: errn / errp are
// the distances from the best fit to where S rises by n_sigma^2 below / above it, ul is the norm
// where it rises by n_sigma_ul^2 above it.
//
// The profile S(theta) is convex on its feasible region, so every search here is a
// safeguarded Newton iteration inside a maintained bracket: a Newton step that leaves the bracket
// (or meets zero curvature) is replaced by bisection. That converges in a handful of evaluations
// for smooth profiles and still terminates on kinks and plateaus.
//
// `Profile` is any type with `ProfilePoint profile(double theta) const` and
// `double feasible_min() const` (see ProblemView; the CUDA block-per-problem path supplies one
// whose evaluation is a block reduction). Device code never throws: problems report a status.

#include "fluxpoints/math/problem_view.hpp"

namespace fluxpoints::math {

// Why a problem's best fit is (or is not) usable. gammapy's `success` is `status == ok`.
enum class SolveStatus : std::uint8_t {
  ok = 0,
  no_dataset = 1,     // no dataset overlaps the group
  empty_mask = 2,     // datasets overlap but no bin is inside the mask
  flat_minimum = 3,   // the minimum is a plateau (e.g. Cash with all counts 0)
  no_minimum = 4,     // the statistic decreases without bound inside the norm limits
  max_iterations = 5, // the iteration limit was reached
  non_finite = 6,     // the statistic became NaN/inf during the solve
  invalid_nuisance = 7,  // unusable nuisance input (more than kMaxNuisances, min > max, a
                         // non-finite value, a negative template in a Cash bin with counts;
                         // see nuisance_solver.hpp)
};

// Extra facts about a solution, as bits. They never change `status`.
enum SolveNote : std::uint32_t {
  note_none = 0,
  note_at_min_bound = 1u << 0,      // best fit sits on the user's norm min
  note_at_max_bound = 1u << 1,      // best fit sits on the user's norm max
  note_kink = 1u << 2,              // the minimum sits on a kink (S' jumps there): the error is
                                    // the half-width of the Delta-stat = 1 interval
  note_errn_no_crossing = 1u << 3,  // stat never rises by n_sigma^2 below the best fit
  note_errp_no_crossing = 1u << 4,  // ... above the best fit
  note_ul_no_crossing = 1u << 5,    // stat never rises by n_sigma_ul^2 above the best fit
  note_unit_bracket = 1u << 6,      // sigma and the norm were both 0: the crossing bracket used a
                                    // step of 1 (gammapy's bracket collapses to a point there)
};

// Solver settings for one batch, plain data so it can be copied to a device.
struct SolveSettings {
  double n_sigma = 1.0;
  double n_sigma_ul = 2.0;
  double scan_n_sigma = 3.0;   // gammapy's norm.scan_n_sigma: max(n_sigma_ul, n_sigma_sens) + 1
  double norm_start = 1.0;     // gammapy's norm.value
  double norm_min = kNaN;      // NaN = unbounded
  double norm_max = kNaN;
  bool errn_errp = false;
  bool ul = false;
  double xtol_rel = 1e-12;     // relative tolerance on every norm we solve for
  double xtol_abs = 1e-14;     // absolute floor of it (norms near 0, kinks)
  int max_iterations = 200;    // per search (bisection over 1e5 bracket to 1e-14 needs ~70)
};

// Scalar results of one problem (per-dataset sums and the scan are filled by the backends).
struct ProblemSolution {
  double norm = kNaN;        // raw best fit (gammapy shows NaN where success is false)
  double norm_err = kNaN;    // n_sigma * sigma
  double stat = kNaN;
  double stat_null = kNaN;
  double ts = kNaN;
  double sqrt_ts = kNaN;
  double norm_errn = kNaN;
  double norm_errp = kNaN;
  double norm_ul = kNaN;
  SolveStatus status = SolveStatus::ok;
  std::uint32_t notes = note_none;
  int evaluations = 0;       // profile evaluations used (each one is a pass over the bins)
};

namespace detail {

FLUXPOINTS_HD double tolerance(const SolveSettings& o, double x) {
  return o.xtol_abs + o.xtol_rel * dabs(x);
}

struct MinimumResult {
  double theta;
  ProfilePoint at;
  SolveStatus status;
  std::uint32_t notes;
  bool flat;
  bool kink;        // S' jumps at theta (see slope_jumps)
  double feasible;  // the profile's feasible_min()
  double slope_lo;  // S' at the final bracket's ends: the one-sided slopes at a kink
  double slope_hi;
};

// A kink at the minimum: the final bracket [lo, hi] is at most a few tolerances wide, yet S'
// rises across it by more than twice what the curvature at its ends allows (where S is twice
// differentiable, S'(hi) - S'(lo) <= max S'' (hi - lo)). The jump must also matter: at least
// kKinkMinJump times the slope change over one curvature sigma, sqrt(2 S''), which keeps the
// rounding noise of S' (many orders smaller) from ever looking like a kink. S'' says nothing
// about the width at a kink, however large or small it is: bins with a kink (Cash n = 0 at
// mu = 0, WStat n_on = n_off = 0 at mu_s = 0) add no curvature, the others may add some.
constexpr double kKinkMinJump = 1e-9;
FLUXPOINTS_HD bool slope_jumps(double lo, const ProfilePoint& at_lo, double hi,
                               const ProfilePoint& at_hi, double tol) {
  if (!(hi - lo <= 4.0 * tol)) return false;
  const double jump = at_hi.d1 - at_lo.d1;
  const double d2 = dmax(at_lo.d2, at_hi.d2);
  return jump > 2.0 * d2 * (hi - lo) && jump > kKinkMinJump * sqrt(2.0 * d2) && is_finite(jump);
}

// Minimise S on [lower, upper] (either may be infinite). `lower_open` says the lower end is the
// Cash feasibility limit, where S' -> -inf and S itself is not to be evaluated.
// The bracket is searched from o.norm_start in steps of max(1, |start|), growing 4x. A caller
// whose start is likely the minimum itself (within the tolerance) passes first_step: one step of
// that size is tried first, then the usual ones.
template <class Profile>
FLUXPOINTS_HD MinimumResult minimise(const Profile& f, const SolveSettings& o, int& evals,
                                     double first_step = kNaN) {
  MinimumResult r{kNaN, {kNaN, kNaN, kNaN}, SolveStatus::ok, note_none, false, false, kNaN,
                  kNaN, kNaN};
  const double feas = f.feasible_min();
  r.feasible = feas;
  const bool has_min = is_finite(o.norm_min);
  const bool has_max = is_finite(o.norm_max);
  // Lower limit of the search and whether it can be evaluated (a user bound) or not (feasibility).
  double lower = has_min ? o.norm_min : -kInf;
  bool lower_open = false;
  if (feas > lower || (feas == lower && is_finite(feas))) {
    lower = feas;
    lower_open = true;
  }
  const double upper = has_max ? o.norm_max : kInf;
  if (has_max && lower_open && !(upper > lower)) {
    r.status = SolveStatus::no_minimum;  // the whole allowed range is infeasible
    return r;
  }

  double x = o.norm_start;
  if (x > upper) x = upper;
  if (x < lower || (lower_open && x <= lower)) {
    x = lower_open ? lower + dmax(1.0, dabs(lower)) : lower;
    if (x > upper) x = 0.5 * (lower + upper);
  }
  ProfilePoint p = f.profile(x);
  ++evals;
  if (!is_finite(p.value) || !is_finite(p.d1)) {
    r.status = SolveStatus::non_finite;
    return r;
  }
  const double x_start = x;
  const ProfilePoint p_start = p;

  // Bracket [lo, hi] with S'(lo) <= 0 < S'(hi). at_lo remembers S at lo to recognise plateaus
  // (and to report a point on one); at_lo and at_hi together recognise kinks.
  double lo = kNaN, hi = kNaN;
  ProfilePoint at_lo{kNaN, kNaN, kNaN}, at_hi{kNaN, kNaN, kNaN};
  bool lo_known = false, hi_known = false;
  const double usual_step = dmax(1.0, dabs(x));
  double step = first_step > 0.0 && first_step < usual_step ? first_step : usual_step;
  if (p.d1 > 0.0) {
    hi = x;
    at_hi = p;
    hi_known = true;
    for (int it = 0; it < 1100 && !lo_known; ++it) {
      double cand = hi - step;
      if (cand <= lower) {
        if (lower_open) {
          lo = lower;
          at_lo = ProfilePoint{kNaN, -kInf, kNaN};
          lo_known = true;
          break;
        }
        cand = lower;
      }
      const ProfilePoint q = f.profile(cand);
      ++evals;
      if (q.d1 <= 0.0) {
        lo = cand;
        at_lo = q;
        lo_known = true;
        x = cand;
        p = q;
      } else if (cand == lower) {  // S' > 0 at the user's min: the best fit is the bound
        r.theta = cand;
        r.at = q;
        r.notes |= note_at_min_bound;
        return r;
      } else {
        hi = cand;
        at_hi = q;
        x = cand;
        p = q;
        step = step < usual_step ? usual_step : 4.0 * step;
        if (!is_finite(step)) break;
      }
    }
  } else {
    lo = x;
    at_lo = p;
    lo_known = true;
    for (int it = 0; it < 1100 && !hi_known; ++it) {
      double cand = lo + step;
      if (cand >= upper) cand = upper;
      const ProfilePoint q = f.profile(cand);
      ++evals;
      if (q.d1 > 0.0) {
        hi = cand;
        at_hi = q;
        hi_known = true;
        x = cand;
        p = q;
      } else if (cand == upper) {  // still descending at the user's max
        r.theta = cand;
        r.at = q;
        r.notes |= note_at_max_bound;
        return r;
      } else {
        lo = cand;
        at_lo = q;
        x = cand;
        p = q;
        step = step < usual_step ? usual_step : 4.0 * step;
        if (!is_finite(step)) break;
      }
    }
  }
  if (lo_known && !hi_known && at_lo.d1 == 0.0 && p_start.d1 == 0.0) {
    // S' = 0 from the start upwards (and the start is not past a minimum): S is constant, e.g.
    // no source counts in any bin. A plateau; report the start.
    r.theta = x_start;
    r.at = p_start;
    r.flat = true;
    return r;
  }
  if (!lo_known || !hi_known) {
    r.status = SolveStatus::no_minimum;
    return r;
  }

  // Safeguarded Newton on S' inside [lo, hi]; x is an evaluated point (a bracket end).
  for (int it = 0; it < o.max_iterations; ++it) {
    if (p.d1 == 0.0 && p.d2 > 0.0) break;  // exact stationary point
    double next = (p.d2 > 0.0) ? x - p.d1 / p.d2 : kNaN;
    const bool newton = next > lo && next < hi;
    if (!newton) next = 0.5 * (lo + hi);
    if (!(next > lo && next < hi)) break;  // bracket exhausted at double resolution
    const double moved = dabs(next - x);
    const ProfilePoint q = f.profile(next);
    ++evals;
    if (!is_finite(q.value) || !is_finite(q.d1)) {
      r.status = SolveStatus::non_finite;
      return r;
    }
    x = next;
    p = q;
    if (q.d1 <= 0.0) {
      lo = x;
      at_lo = q;
    } else {
      hi = x;
      at_hi = q;
    }
    if ((newton && moved <= tolerance(o, x)) || hi - lo <= tolerance(o, x)) break;
    if (it + 1 == o.max_iterations) r.status = SolveStatus::max_iterations;
  }
  r.theta = x;
  r.at = p;
  // A plateau: the derivative is exactly 0 on the whole left part of the bracket. Report its
  // evaluated point lo, which lies on the plateau (x may sit just past its edge, where the
  // statistic already rises and predictions are not yet all clipped).
  r.flat = (at_lo.d1 == 0.0 && p.d2 == 0.0);
  if (r.flat) {
    r.theta = lo;
    r.at = at_lo;
  } else {
    r.kink = slope_jumps(lo, at_lo, hi, at_hi, tolerance(o, x));
    r.slope_lo = at_lo.d1;
    r.slope_hi = at_hi.d1;
  }
  return r;
}

template <class Profile>
FLUXPOINTS_HD double crossing_iterate(const Profile& f, const SolveSettings& o, double target,
                                      double inside, double outside, double x, ProfilePoint p,
                                      int& evals);

// Root of S(theta) = target between `inside` (S < target) and `outside` (S >= target expected).
// Returns NaN if S at `outside` does not reach the target (gammapy's brentq then fails).
template <class Profile>
FLUXPOINTS_HD double crossing(const Profile& f, const SolveSettings& o, double target,
                              double inside, double outside, double guess, int& evals) {
  const ProfilePoint end = f.profile(outside);
  ++evals;
  const double f_out = end.value - target;
  if (f_out == 0.0) return outside;
  if (!(f_out > 0.0)) return kNaN;  // same sign at both ends: gammapy's brentq fails -> NaN
  const bool up = outside > inside;
  double x = guess;
  if (!((up && x > inside && x < outside) || (!up && x < inside && x > outside))) {
    x = 0.5 * (inside + outside);
  }
  ProfilePoint p = f.profile(x);
  ++evals;
  return crossing_iterate(f, o, target, inside, outside, x, p, evals);
}

// The safeguarded Newton iteration of crossing() once the bracket [inside, outside] is known
// (S(outside) >= target), from x (in the bracket) where S is p.
template <class Profile>
FLUXPOINTS_HD double crossing_iterate(const Profile& f, const SolveSettings& o, double target,
                                      double inside, double outside, double x, ProfilePoint p,
                                      int& evals) {
  const bool up = outside > inside;
  bool force_bisection = false;
  for (int it = 0; it < o.max_iterations; ++it) {
    const double fx = p.value - target;
    if (fx == 0.0) return x;
    if (fx < 0.0) inside = x; else outside = x;
    double next = (!force_bisection && p.d1 != 0.0 && is_finite(p.d1)) ? x - fx / p.d1 : kNaN;
    force_bisection = false;
    const bool newton = up ? (next > inside && next < outside) : (next < inside && next > outside);
    if (!newton) next = 0.5 * (inside + outside);
    const double tol = tolerance(o, next);
    if (dabs(outside - inside) <= tol) return next;
    if (newton && dabs(next - x) <= tol) {
      // A tiny Newton step is convergence when the local quadratic model holds over it: the
      // root then lies within |S'' step / (2 S')| |step| <= step / 8 of `next`. Where it does not
      // (Cash near its feasible limit, is steep but far from the target, and every
      // step there is tiny), probe one tolerance further and bisect unless the sign changes.
      if (dabs(p.d2 * (next - x)) <= 0.25 * dabs(p.d1)) return next;
      const double toward = fx > 0.0 ? inside : outside;
      const double toward_root = toward > x ? 1.0 : -1.0;
      const double probe = next + toward_root * tol;
      const bool probe_inside = up ? (probe > inside && probe < outside)
                                   : (probe < inside && probe > outside);
      if (!probe_inside) return next;  // the bracket end on that side is within tolerance
      const ProfilePoint q = f.profile(probe);
      ++evals;
      if ((q.value - target < 0.0) != (fx < 0.0)) return next;
      x = probe;
      p = q;
      force_bisection = true;
      continue;
    }
    if (next == x) return x;
    x = next;
    p = f.profile(x);
    ++evals;
  }
  return x;
}

// crossing() for a profile that is convex with its minimum at `inside`, without evaluating S at
// the far end of the bracket unless the search gets there: S rises monotonically from `inside`
// towards `end`, so S(end) >= target whenever S reaches the target at some point before it.
// From a point below the target, the tangent meets the target at or beyond the crossing (S lies
// above its tangents), so a Newton step from there brackets the root at once. Same root and the
// same NaN (no crossing before `end`) as crossing(); for profiles whose evaluations are costly
// fits far from the best fit (nuisance parameters re-fitted at a norm 1e5 sigma away).
template <class Profile>
FLUXPOINTS_HD double crossing_inward(const Profile& f, const SolveSettings& o, double target,
                                     double inside, double end, double guess, int& evals) {
  const bool up = end > inside;
  double x = guess;
  if (!((up && x > inside && x < end) || (!up && x < inside && x > end))) {
    x = 0.5 * (inside + end);
  }
  ProfilePoint p = f.profile(x);
  ++evals;
  for (int it = 0; p.value - target < 0.0 && it < o.max_iterations; ++it) {
    if (x == end) return kNaN;  // S stays below the target up to the bracket's end
    // A tangent that did not bracket the root (a kink with a steep slope on the near side,
    // which can give tiny steps) or no usable slope: at least double the last step instead.
    const double grown = x + 2.0 * (x - inside);
    inside = x;
    double next = (p.d1 != 0.0 && is_finite(p.d1)) ? x + (target - p.value) / p.d1 : kNaN;
    if (!(up ? next > x : next < x) || (it > 0 && !(up ? next > grown : next < grown)))
      next = grown;
    if (!(up ? next < end : next > end)) next = end;
    x = next;
    p = f.profile(x);
    ++evals;
  }
  if (p.value - target < 0.0) return kNaN;  // the iteration limit, still below the target
  return crossing_iterate(f, o, target, inside, x, x, p, evals);
}

// Profiles may declare `static constexpr bool kSearchCrossingInward = true` to have their
// crossings found by crossing_inward (convex, costly evaluations); the others use crossing().
template <class Profile, class = void>
struct searches_crossing_inward {
  static constexpr bool value = false;
};
template <class Profile>
struct searches_crossing_inward<Profile, decltype(void(Profile::kSearchCrossingInward))> {
  static constexpr bool value = Profile::kSearchCrossingInward;
};

// The crossing of S = target nearest to `from` on one side (+1 up, -1 down) with no prescribed
// bracket: steps outwards, growing 4x from `first_step`, until S reaches the target. NaN if it
// never does before the steps overflow.
template <class Profile>
FLUXPOINTS_HD double open_crossing(const Profile& f, const SolveSettings& o, double target,
                                   double from, int side, double first_step, int& evals) {
  double inside = from;
  double step = first_step;
  for (int it = 0; it < 1100; ++it) {
    const double cand = from + side * step;
    if (!is_finite(cand)) break;
    const ProfilePoint q = f.profile(cand);
    ++evals;
    if (q.value >= target) return crossing(f, o, target, inside, cand, 0.5 * (inside + cand), evals);
    inside = cand;
    step *= 4.0;
  }
  return kNaN;
}

// The crossing of S = stat + delta on one side of the best fit `theta` (side +1: above, searched
// up to `end`; -1: below, down to `end`), first guessed sqrt(delta) steps away; NaN where the
// bracket is empty.
template <class Profile>
FLUXPOINTS_HD_FORCEINLINE double side_crossing(const Profile& f, const SolveSettings& o,
                                               double stat, double delta, double theta,
                                               double end, double step, int side, int& evals) {
  const bool open = side > 0 ? end > theta : end < theta;
  if (!open) return kNaN;
  const double guess = side > 0 ? theta + sqrt(delta) * step : theta - sqrt(delta) * step;
  if constexpr (searches_crossing_inward<Profile>::value)
    return crossing_inward(f, o, stat + delta, theta, end, guess, evals);
  else
    return crossing(f, o, stat + delta, theta, end, guess, evals);
}

}  // namespace detail

// gammapy's confidence bracket (dev rule): [conf_min, conf_max] around the best fit v
// with step = sigma (or |v| when sigma is not positive) and N = scan_n_sigma.
FLUXPOINTS_HD double conf_max(const SolveSettings& o, double v, double step) {
  if (is_finite(o.norm_max)) return o.norm_max;
  return dmax(v + step * o.scan_n_sigma, 1e5 * dmax(step, dabs(v)));
}
FLUXPOINTS_HD double conf_min(const SolveSettings& o, double v, double step) {
  if (is_finite(o.norm_min)) return o.norm_min;
  return dmin(v - step * o.scan_n_sigma, -1e5 * dmax(step, dabs(v)));
}

// Everything after the best fit: error, TS and the selected crossings, from a minimum `m` found
// with `evals` profile evaluations. solve_profile() finds m with detail::minimise; the nuisance
// solver (nuisance_solver.hpp) finds it with a joint Newton over the norm and the nuisances.
template <class Profile>
FLUXPOINTS_HD_FORCEINLINE ProblemSolution solve_from_minimum(const Profile& f,
                                                             const SolveSettings& o,
                                                             const detail::MinimumResult& m,
                                                             int evals) {
  ProblemSolution s;
  s.status = m.status;
  s.notes = m.notes;
  if (m.status == SolveStatus::no_minimum || m.status == SolveStatus::non_finite) {
    s.stat_null = f.profile(0.0).value;
    s.evaluations = evals + 1;
    return s;
  }
  if (!is_finite(m.at.value) || !is_finite(m.at.d1) || !is_finite(m.at.d2)) {
    // The statistic or its derivatives overflow at the best fit (inputs near the limits of
    // double precision): nothing below would mean anything.
    s.status = SolveStatus::non_finite;
    s.stat_null = f.profile(0.0).value;
    s.evaluations = evals + 1;
    return s;
  }
  if (m.flat) s.status = SolveStatus::flat_minimum;
  const double theta = m.theta;
  s.norm = theta;
  s.stat = m.at.value;
  s.stat_null = f.profile(0.0).value;
  ++evals;
  s.ts = s.stat_null - s.stat;
  // HESSE with errordef 1 on -2 ln L: sigma = sqrt(2 / S'').
  double sigma = (m.at.d2 > 0.0) ? sqrt(2.0 / m.at.d2) : kNaN;
  // A kink: S' jumps at the minimum (detected from the final bracket), or S'' is 0 there.
  const bool kink = !m.flat && (m.kink || !(sigma > 0.0 && is_finite(sigma)));
  double kink_up = kNaN, kink_lo = kNaN;  // the Delta-stat = 1 crossings at a kink

  if (kink) {
    // At a kink the curvature says nothing about the width of the minimum (gammapy's HESSE
    // returns a step-size artefact, and the curvature of the bins around the kink
    // can be anything); use the half-width of the Delta-stat = 1 interval. It is searched
    // without gammapy's bracket, which needs this very sigma: with the best fit at 0 the
    // bracket would collapse. Where only one side crosses, that side's distance is used.
    s.notes |= note_kink;
    // First steps: 1 / |one-sided slope| reaches Delta-stat = 1 at once where S is linear and
    // overshoots it where S curves up (convexity), so the crossing is bracketed in one step.
    const double fallback = dmax(1e-3 * dabs(theta), 1e3 * o.xtol_abs);
    const double up_step = m.slope_hi > 0.0 ? 1.0 / m.slope_hi : kNaN;
    const double lo_step = m.slope_lo < 0.0 ? -1.0 / m.slope_lo : kNaN;
    kink_up = detail::open_crossing(f, o, s.stat + 1.0, theta, +1,
                                    is_finite(up_step) ? up_step : fallback, evals);
    kink_lo = detail::open_crossing(f, o, s.stat + 1.0, theta, -1,
                                    is_finite(lo_step) ? lo_step : fallback, evals);
    if (is_finite(kink_up) && is_finite(kink_lo)) sigma = 0.5 * (kink_up - kink_lo);
    else sigma = is_finite(kink_up) ? kink_up - theta : theta - kink_lo;
  }
  double step = (sigma > 0.0 && is_finite(sigma)) ? sigma : dabs(theta);
  if (!(step > 0.0)) {
    step = 1.0;
    s.notes |= note_unit_bracket;
  }
  const double hi_end = conf_max(o, theta, step);
  const double lo_end = conf_min(o, theta, step);

  s.norm_err = o.n_sigma * sigma;

  if (o.errn_errp) {
    const double delta = o.n_sigma * o.n_sigma;
    // At a kink with n_sigma = 1 these are the crossings already found, where gammapy's bracket
    // holds exactly one: S is convex above the best fit, and below it down to the bracket's end
    // when that end is feasible (Cash is not convex below its feasible limit).
    const bool reuse = kink && delta == 1.0;
    // (side_crossing, not a lambda: a device compiler may call a lambda out of line, spilling
    // registers around each call.)
    const double up =
        reuse && kink_up <= hi_end
            ? kink_up
            : detail::side_crossing(f, o, s.stat, delta, theta, hi_end, step, +1, evals);
    const double lo =
        reuse && kink_lo >= lo_end && !(lo_end <= m.feasible)
            ? kink_lo
            : detail::side_crossing(f, o, s.stat, delta, theta, lo_end, step, -1, evals);
    s.norm_errp = dabs(up - theta);
    s.norm_errn = dabs(theta - lo);
    if (is_nan(up)) s.notes |= note_errp_no_crossing;
    if (is_nan(lo)) s.notes |= note_errn_no_crossing;
  }
  if (o.ul) {
    const double up = detail::side_crossing(f, o, s.stat, o.n_sigma_ul * o.n_sigma_ul, theta,
                                            hi_end, step, +1, evals);
    s.norm_ul = up;
    if (is_nan(up)) s.notes |= note_ul_no_crossing;
  }
  const bool success = s.status == SolveStatus::ok;
  const double ts_clipped = s.ts > 0.0 ? s.ts : 0.0;
  if (is_nan(s.ts)) s.sqrt_ts = kNaN;
  else s.sqrt_ts = (success && theta > 0.0) ? sqrt(ts_clipped) : -sqrt(ts_clipped);
  s.evaluations = evals;
  return s;
}

// Solve one problem: best fit, error, TS and the selected crossings.
template <class Profile>
FLUXPOINTS_HD ProblemSolution solve_profile(const Profile& f, const SolveSettings& o) {
  int evals = 0;
  const detail::MinimumResult m = detail::minimise(f, o, evals);
  return solve_from_minimum(f, o, m, evals);
}

}  // namespace fluxpoints::math
