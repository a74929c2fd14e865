// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// An independent long-double reference for the tests: the Cash and WStat statistics written
// straight from their defining formulas (as gammapy writes them), and a brute-force 1-D solver
// (dense grid, golden section, bisection) for the flux-point quantities: best fit, errors, TS and
// the profile crossings errn, errp, ul.
//
// Nothing here calls fluxpoints::math: the point is to check the engine against code that shares
// no logic with it. Where the engine has a convention that the formulas leave open (the error at a
// kink), the brute force does not guess: it classifies the problem and says so.

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace fluxpoints::testing {

using ld = long double;

constexpr ld kLdNaN = std::numeric_limits<ld>::quiet_NaN();
constexpr ld kLdInf = std::numeric_limits<ld>::infinity();

// gammapy's Cash truncation value and the log it uses for it: the compiled sum takes the log of a
// single-precision copy of 1e-25.
inline ld cash_truncation() { return static_cast<ld>(1e-25); }
inline ld cash_log_truncation() { return std::log(static_cast<ld>(static_cast<float>(1e-25))); }

// Cash: mu = max(theta*s + b, 0), truncated at 1e-25, 2 (mu - n ln mu), no log term for
// n = 0.
inline ld ref_cash(ld n, ld s, ld b, ld theta) {
  ld mu = theta * s + b;
  if (mu < 0) mu = 0;
  if (mu > cash_truncation()) return 2 * (mu - (n > 0 ? n * std::log(mu) : 0));
  return 2 * (cash_truncation() - (n > 0 ? n * cash_log_truncation() : 0));
}

// The profiled WStat background: the b >= 0 minimising
//   W(b) = 2 [mu_s + (1+alpha) b - n_on ln(mu_s + alpha b) - n_off ln b]
// over the region where the ON expectation mu_s + alpha b is not negative. Written per case from
// the stationarity condition, not from gammapy's single closed form (test_statistic.cpp checks that
// the two agree, and both against a numerical minimisation over b).
inline ld ref_wstat_background(ld n_on, ld n_off, ld alpha, ld mu_s) {
  const ld b_feasible = mu_s < 0 ? -mu_s / alpha : 0;  // keeps mu_s + alpha b >= 0
  if (n_on == 0 && n_off == 0) return b_feasible;      // W increases with b
  if (n_on == 0) {                                     // dW/db = 0 at n_off / (1 + alpha)
    const ld b = n_off / (1 + alpha);
    return b > b_feasible ? b : b_feasible;
  }
  if (n_off == 0) {  // dW/db = 0 where mu_s + alpha b = alpha n_on / (1 + alpha)
    const ld b = n_on / (1 + alpha) - mu_s / alpha;
    return b > 0 ? b : 0;
  }
  // Both counts positive: dW/db = 0 <=> alpha (1+alpha) b^2 - c b - n_off mu_s = 0, with
  // c = alpha (n_on + n_off) - (1 + alpha) mu_s; the positive root, in a form without cancellation.
  const ld c = alpha * (n_on + n_off) - (1 + alpha) * mu_s;
  const ld d = std::sqrt(c * c + 4 * alpha * (1 + alpha) * n_off * mu_s);
  return c >= 0 ? (c + d) / (2 * alpha * (1 + alpha)) : 2 * n_off * mu_s / (d - c);
}

// gammapy's constant G = 2 [n_on (ln n_on - 1) + n_off (ln n_off - 1)], zero terms for zero counts.
inline ld ref_wstat_constant(ld n_on, ld n_off) {
  ld g = 0;
  if (n_on > 0) g += n_on * (std::log(n_on) - 1);
  if (n_off > 0) g += n_off * (std::log(n_off) - 1);
  return 2 * g;
}

// WStat of one bin at mu_s = theta*s + o, background profiled. alpha = 0 bins contribute 0
// (gammapy's 0/0 goes through nan_to_num).
inline ld ref_wstat(ld n_on, ld n_off, ld alpha, ld s, ld o, ld theta) {
  if (!(alpha > 0)) return 0;
  const ld mu_s = theta * s + o;
  const ld b = ref_wstat_background(n_on, n_off, alpha, mu_s);
  ld w = mu_s + (1 + alpha) * b;
  if (n_on > 0) w -= n_on * std::log(mu_s + alpha * b);
  if (n_off > 0) w -= n_off * std::log(b);
  return 2 * w + ref_wstat_constant(n_on, n_off);
}

// One bin of a reference problem.
struct RefBin {
  bool wstat = false;
  ld n = 0;      // counts (ON counts for WStat)
  ld s = 0;      // source counts at norm 1
  ld other = 0;  // Cash: background; WStat: other models' signal
  ld n_off = 0;
  ld alpha = 0;

  ld stat(ld theta) const {
    return wstat ? ref_wstat(n, n_off, alpha, s, other, theta) : ref_cash(n, s, other, theta);
  }
  // Total predicted counts as npred() reports them (clipped at 0).
  ld npred(ld theta) const {
    ld mu = theta * s + other;
    if (wstat && alpha > 0) mu += alpha * ref_wstat_background(n, n_off, alpha, theta * s + other);
    return mu > 0 ? mu : 0;
  }
};

struct RefProblem {
  std::vector<std::vector<RefBin>> datasets;

  ld stat(ld theta) const {
    ld sum = 0;
    for (const auto& d : datasets)
      for (const auto& b : d) sum += b.stat(theta);
    return sum;
  }
  // Sum of |per-bin stat| at theta: the scale of the rounding error of a double-precision sum.
  ld stat_magnitude(ld theta) const {
    ld sum = 0;
    for (const auto& d : datasets)
      for (const auto& b : d) sum += std::fabs(b.stat(theta));
    return sum;
  }
  // Lowest norm where every Cash bin with counts keeps a positive prediction: below it
  // the statistic saturates and is no longer convex.
  ld feasible_min() const {
    ld lo = -kLdInf;
    for (const auto& d : datasets)
      for (const auto& b : d)
        if (!b.wstat && b.n > 0 && b.s > 0 && -b.other / b.s > lo) lo = -b.other / b.s;
    return lo;
  }
  // The length in norm over which S'' may change near theta: the distance to the nearest zero of
  // a curved bin's prediction, and to the nearest kink or S'' jump. Finite-difference steps must
  // be well below it.
  ld local_scale(ld theta) const {
    ld scale = kLdInf;
    for (const auto& d : datasets)
      for (const auto& b : d) {
        if (!(b.s > 0)) continue;
        const ld mu_s = theta * b.s + b.other;
        ld mu = kLdInf;  // bins without curvature at theta keep +inf
        if (!b.wstat && b.n > 0) mu = mu_s;
        if (b.wstat && b.n > 0) mu = mu_s + b.alpha * ref_wstat_background(b.n, b.n_off, b.alpha, mu_s);
        if (b.wstat && b.n == 0 && b.n_off > 0 && mu_s < -b.alpha * b.n_off / (1 + b.alpha)) mu = mu_s;
        scale = std::fmin(scale, std::fabs(mu) / b.s);
      }
    for (ld k : kinks()) scale = std::fmin(scale, std::fabs(theta - k));
    for (ld k : curvature_jumps()) scale = std::fmin(scale, std::fabs(theta - k));
    return scale;
  }
  // Size of the terms summed in S at theta (|mu|, n |ln mu|, G, ...): the scale of its rounding.
  ld term_scale(ld theta) const {
    ld sum = 0;
    for (const auto& d : datasets)
      for (const RefBin& b : d) {
        const ld mu = std::fabs(theta * b.s) + std::fabs(b.other);
        ld bkg = 0;
        if (b.wstat && b.alpha > 0) bkg = ref_wstat_background(b.n, b.n_off, b.alpha, theta * b.s + b.other);
        const ld lmu = std::fabs(std::log(std::fmax(mu + (b.wstat ? b.alpha * bkg : 0), 1e-25L)));
        const ld lb = std::fabs(std::log(std::fmax(bkg, 1e-25L)));
        sum += 2 * mu + 2 * (1 + b.alpha) * bkg + 2 * b.n * (1 + lmu) + 2 * b.n_off * (1 + lb) +
               std::fabs(b.wstat ? ref_wstat_constant(b.n, b.n_off) : 0);
      }
    return sum + std::fabs(stat(theta));
  }
  // Norms where the statistic has a kink (a jump of S'): Cash bins with n = 0 at mu = 0, WStat bins
  // with n_on = n_off = 0 at mu_s = 0.
  std::vector<ld> kinks() const {
    std::vector<ld> k;
    for (const auto& d : datasets)
      for (const auto& b : d)
        if (b.s > 0 && ((!b.wstat && b.n == 0) || (b.wstat && b.alpha > 0 && b.n == 0 && b.n_off == 0)))
          k.push_back(-b.other / b.s);
    return k;
  }
  // Norms where S is C1 but S'' jumps: the WStat branch points with one count zero.
  std::vector<ld> curvature_jumps() const {
    std::vector<ld> k;
    for (const auto& d : datasets)
      for (const auto& b : d) {
        if (!b.wstat || !(b.alpha > 0) || !(b.s > 0)) continue;
        if (b.n == 0 && b.n_off > 0) k.push_back((-b.alpha * b.n_off / (1 + b.alpha) - b.other) / b.s);
        if (b.n > 0 && b.n_off == 0) k.push_back((b.alpha * b.n / (1 + b.alpha) - b.other) / b.s);
      }
    return k;
  }
};

// --- brute-force solution -----------------------------------------------------------------------

enum class RefShape {
  smooth,   // the minimum is a stationary point of a twice-differentiable S
  kink,     // the minimum sits on a kink of S (see RefProblem::kinks): S'' is undefined there
  plateau,  // S is constant on (-inf, edge]: the minimum is not unique (Cash, all counts 0)
};

struct RefCrossing {
  ld root = kLdNaN;       // nearest crossing of S = S_min + delta on that side (NaN if none)
  bool in_bracket = false;  // S - S_min - delta > 0 at gammapy's bracket end (else NaN there)
};

struct RefSolution {
  RefShape shape = RefShape::smooth;
  ld theta = kLdNaN;  // best fit; for a plateau its right edge
  ld stat = kLdNaN;
  ld stat_null = kLdNaN;
  ld sigma = kLdNaN;      // sqrt(2 / S'') by finite differences (smooth minima only)
  ld sigma_noise = kLdNaN;  // relative rounding noise of that finite difference (estimate)
  ld bracket_step = kLdNaN;  // the `step` of gammapy's confidence bracket (see ref_bracket_end)
};

namespace detail {

// Second derivative with Richardson extrapolation of the three-point stencil (error O(h^4)).
template <class F>
ld curvature(const F& f, ld x, ld h) {
  const ld f0 = f(x);
  const ld d_h = (f(x + h) - 2 * f0 + f(x - h)) / (h * h);
  const ld d_2h = (f(x + 2 * h) - 2 * f0 + f(x - 2 * h)) / (4 * h * h);
  return (4 * d_h - d_2h) / 3;
}

}  // namespace detail

// Settings of the brute-force search.
struct BruteForceSettings {
  int grid_points = 321;     // asinh-spaced grid over [-grid_max, grid_max]
  ld grid_max = 1e7L;
  ld grid_linear_scale = 1e-2L;  // the grid is linear (step ~ scale * du) within |theta| < scale
  ld scan_n_sigma = 3;       // gammapy's norm.scan_n_sigma (used by the bracket rule)
};

// Brute-force minimum of a reference problem: dense grid, then golden section, then bisection on
// the sign of a finite-difference slope; plateaus and kinks classified.
inline RefSolution brute_force_minimum(const RefProblem& p, const BruteForceSettings& cfg = {}) {
  RefSolution r;
  const auto S = [&](ld x) { return p.stat(x); };
  const ld feas = p.feasible_min();

  // 1. Dense grid (points at or below the Cash feasibility limit are skipped).
  const ld u_max = std::asinh(cfg.grid_max / cfg.grid_linear_scale);
  std::vector<ld> x, y;
  for (int k = 0; k < cfg.grid_points; ++k) {
    const ld u = -u_max + 2 * u_max * k / (cfg.grid_points - 1);
    const ld t = cfg.grid_linear_scale * std::sinh(u);
    if (t <= feas) continue;
    x.push_back(t);
    y.push_back(S(t));
  }
  std::size_t k_min = 0;
  for (std::size_t k = 1; k < x.size(); ++k)
    if (y[k] < y[k_min]) k_min = k;
  r.stat_null = S(0);

  // 2. A plateau: S at the far left end already equals the minimum.
  if (feas == -kLdInf && y.front() <= y[k_min]) {
    const ld level = y.front();
    const ld tiny = 1e-12L * (1 + std::fabs(level));
    // Right edge of the plateau: S(lo) == level < S(hi) - tiny.
    std::size_t k = 0;
    while (k + 1 < x.size() && y[k + 1] <= level + tiny) ++k;
    ld lo = x[k], hi = x[k + 1];
    for (int it = 0; it < 200 && hi - lo > 0; ++it) {
      const ld mid = 0.5L * (lo + hi);
      if (mid == lo || mid == hi) break;
      (S(mid) <= level + tiny ? lo : hi) = mid;
    }
    r.shape = RefShape::plateau;
    r.theta = lo;
    r.stat = level;
    r.bracket_step = std::fabs(lo);
    return r;
  }

  // 3. Golden section inside the grid neighbours of the discrete minimum (S is unimodal on the
  // feasible region: a sum of convex per-bin terms).
  ld a = k_min > 0 ? x[k_min - 1] : (feas > -kLdInf ? feas : x[0]);
  ld c = k_min + 1 < x.size() ? x[k_min + 1] : x.back();
  if (a <= feas) a = feas + 1e-15L * (1 + std::fabs(feas));
  const ld g = (std::sqrt(5.0L) - 1) / 2;
  ld x1 = c - g * (c - a), x2 = a + g * (c - a);
  ld f1 = S(x1), f2 = S(x2);
  // Golden section resolves a smooth minimum only to ~sqrt(eps_ld); a kink much better.
  for (int it = 0; it < 200 && c - a > 1e-12L * (1 + std::fabs(a)); ++it) {
    if (f1 <= f2) {
      c = x2; x2 = x1; f2 = f1; x1 = c - g * (c - a); f1 = S(x1);
    } else {
      a = x1; x1 = x2; f1 = f2; x2 = a + g * (c - a); f2 = S(x2);
    }
  }
  ld theta = f1 <= f2 ? x1 : x2;

  // 4. Is it a kink? A kink location close by where S is not above the golden-section value and
  // rises on both sides.
  for (const ld k : p.kinks()) {
    if (std::fabs(k - theta) > 1e-5L * (1 + std::fabs(theta))) continue;
    const ld e = 1e-9L * (1 + std::fabs(k));
    const ld sk = S(k);
    if (S(k - e) > sk && S(k + e) > sk) {
      r.shape = RefShape::kink;
      r.theta = k;
      r.stat = sk;
      return r;  // sigma and bracket_step are set by the caller's convention (see below)
    }
  }

  // 5. Smooth: curvature first (it sets the scale), then bisection on the sign of the secant
  // slope S(x + h) - S(x - h). For a convex S that secant is non-decreasing in x even across a
  // kink, so the bisection cannot be fooled; its root is within O(h^2) of the minimum.
  // Curvature steps are 1e-3 of the smaller of sigma and the distance to the nearest bin's zero
  // prediction, the length over which S'' changes.
  const ld local = p.local_scale(theta);
  ld h = 1e-4L * std::fmin(1 + std::fabs(theta), local);
  ld d2 = detail::curvature(S, theta, h);
  for (int pass = 0; pass < 2 && d2 > 0; ++pass) {
    h = 1e-3L * std::fmin(std::sqrt(2 / d2), local);
    d2 = detail::curvature(S, theta, h);
  }
  const ld sigma_est = d2 > 0 ? std::sqrt(2 / d2) : 1e-3L * (1 + std::fabs(theta));
  const ld hs = 1e-5L * sigma_est;
  const auto secant = [&](ld t) { return S(t + hs) - S(t - hs); };
  ld lo = theta - 1e-3L * sigma_est, hi = theta + 1e-3L * sigma_est;
  for (int widen = 0; widen < 60 && secant(lo) > 0; ++widen) lo -= 2 * (hi - lo);
  for (int widen = 0; widen < 60 && secant(hi) < 0; ++widen) hi += 2 * (hi - lo);
  while (hi - lo > 1e-13L * sigma_est) {
    const ld mid = 0.5L * (lo + hi);
    if (mid == lo || mid == hi) break;
    (secant(mid) < 0 ? lo : hi) = mid;
  }
  theta = 0.5L * (lo + hi);
  r.theta = theta;
  r.stat = S(theta);
  h = 1e-3L * std::fmin(sigma_est, p.local_scale(theta));
  d2 = detail::curvature(S, theta, h);
  r.sigma = d2 > 0 ? std::sqrt(2 / d2) : kLdNaN;
  // The stencil's weights sum to ~6/h^2; each value carries a few ulps of the terms summed.
  r.sigma_noise = 0.5L * 6 * 16 * std::numeric_limits<ld>::epsilon() * p.term_scale(theta) / (h * h * d2);
  r.bracket_step = r.sigma > 0 ? r.sigma : std::fabs(theta);
  return r;
}

// gammapy's confidence bracket end on the upper (+1) or lower (-1) side:
// theta +- max(step * scan_n_sigma, 1e5 * max(step, |theta|)).
inline ld ref_bracket_end(int side, ld theta, ld step, ld scan_n_sigma) {
  const ld big = 1e5L * (step > std::fabs(theta) ? step : std::fabs(theta));
  if (side > 0) return theta + step * scan_n_sigma > big ? theta + step * scan_n_sigma : big;
  return theta - step * scan_n_sigma < -big ? theta - step * scan_n_sigma : -big;
}

// The crossing of S = S_min + delta nearest to `from` on one side, found by marching outwards with
// growing steps and bisecting; `in_bracket` applies gammapy's rule (a sign change between the best
// fit and the bracket end).
inline RefCrossing brute_force_crossing(const RefProblem& p, ld from, ld stat_min, ld delta,
                                        int side, ld bracket_end, ld scale) {
  RefCrossing c;
  const ld target = stat_min + delta;
  const auto f = [&](ld x) { return p.stat(x) - target; };
  c.in_bracket = f(bracket_end) > 0;
  ld inside = from, step = scale > 0 ? 1e-3L * scale : 1e-6L * (1 + std::fabs(from));
  ld outside = kLdNaN;
  for (int it = 0; it < 4000; ++it) {
    const ld t = from + side * step;
    if (f(t) >= 0) {
      outside = t;
      break;
    }
    inside = t;
    step *= 1.5L;
    if (step > 1e12L * (1 + std::fabs(from))) break;
  }
  if (std::isnan(outside)) return c;
  while (std::fabs(outside - inside) > 1e-15L * (std::fabs(outside) + scale)) {
    const ld mid = 0.5L * (inside + outside);
    if (mid == inside || mid == outside) break;
    (f(mid) < 0 ? inside : outside) = mid;
  }
  c.root = 0.5L * (inside + outside);
  return c;
}

}  // namespace fluxpoints::testing
