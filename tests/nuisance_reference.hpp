// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// An independent long-double reference for problems with linear nuisance parameters:
//
//  * the statistic is the per-bin reference of reference_likelihood.hpp (Cash and WStat written
//    from their defining formulas) at eta = theta s + sum_k phi_k t_k + o, with the engine's
//    documented convention that the profile is +inf where a Cash bin with counts that some
//    nuisance values could make positive is not;
//  * its derivatives are finite differences of those per-bin values (no derivative formula is
//    shared with the engine);
//  * the profile P(theta) = min_phi S is found by a projected Newton iteration with bound
//    clamping and step halving on the value, polished by exact golden-section minimisation
//    along each coordinate, and checked by probing S along the coordinates and random
//    directions (a point that fails the probe is reported unverified);
//  * the best fit is a dense grid, golden section and a bisection on the sign of the secant
//    slope of P; crossings are bisections of P; the curvature is a Richardson finite difference
//    of P (no Schur complement).
// Nothing here calls fluxpoints::math.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "reference_likelihood.hpp"

namespace fluxpoints::testing {

struct NuRefBin {
  bool wstat = false;
  int dataset = 0;
  ld n = 0, s = 0, other = 0, n_off = 0, alpha = 0;
  std::vector<ld> t;  // one value per nuisance

  ld value(ld eta) const {
    return wstat ? ref_wstat(n, n_off, alpha, 1, 0, eta) : ref_cash(n, 1, 0, eta);
  }
  ld npred(ld eta) const {
    ld mu = eta;
    if (wstat && alpha > 0) mu += alpha * ref_wstat_background(n, n_off, alpha, eta);
    return mu > 0 ? mu : 0;
  }
  // Cash with no counts or WStat with no counts at all: piecewise linear with a kink at 0.
  bool kink() const { return wstat ? (n == 0 && n_off == 0 && alpha > 0) : n == 0; }
};

struct NuRefProblem {
  std::vector<NuRefBin> bins;
  int n_datasets = 0;
  int K = 0;
  std::vector<ld> start, lo, hi;  // lo/hi: -inf/+inf when unbounded

  ld eta(const NuRefBin& b, ld theta, const std::vector<ld>& phi) const {
    ld e = b.other + theta * b.s;
    for (int k = 0; k < K; ++k) e += phi[k] * b.t[k];
    return e;
  }
  // A Cash bin with counts that the nuisances (inside their bounds) and the norm can make
  // positive; it must be.
  bool must_be_positive(const NuRefBin& b) const {
    if (b.wstat || !(b.n > 0)) return false;
    if (b.s > 0) return true;
    ld sup = b.other;
    for (int k = 0; k < K; ++k) {
      if (b.t[k] > 0) sup += b.t[k] * hi[k];
      if (b.t[k] < 0) sup += b.t[k] * lo[k];
    }
    return sup > 0;
  }
  ld stat(ld theta, const std::vector<ld>& phi) const {
    ld sum = 0;
    for (const NuRefBin& b : bins) {
      const ld e = eta(b, theta, phi);
      if (must_be_positive(b) && !(e > 0)) return kLdInf;
      sum += b.value(e);
    }
    return sum;
  }
  ld stat_magnitude(ld theta, const std::vector<ld>& phi) const {
    ld sum = 0;
    for (const NuRefBin& b : bins) sum += std::fabs(b.value(eta(b, theta, phi)));
    return sum;
  }
  // Lowest norm with feasible nuisances (templates and s are >= 0 in Cash bins with counts).
  ld feasible_min() const {
    ld lo_theta = -kLdInf;
    for (const NuRefBin& b : bins) {
      if (b.wstat || !(b.n > 0) || !(b.s > 0)) continue;
      ld sup = b.other;
      bool unbounded = false;
      for (int k = 0; k < K; ++k)
        if (b.t[k] > 0) {
          if (std::isinf(hi[k])) unbounded = true;
          else sup += b.t[k] * hi[k];
        }
      if (!unbounded) lo_theta = std::max(lo_theta, -sup / b.s);
    }
    return lo_theta;
  }
};

struct NuRefInner {
  ld value = kLdNaN;
  std::vector<ld> phi;
  bool verified = false;  // the probe found no lower point nearby
  bool on_kink = false;   // a kink bin depending on the nuisances is at eta ~ 0
};

namespace nuref {

// d/d eta and d2/d eta2 of one bin by central differences of its value. The step is relative to
// the bin's scale; near a kink the one-sided slope of the side eta is on is used.
inline void bin_derivatives(const NuRefBin& b, ld e, ld& d1, ld& d2) {
  const ld scale = std::fabs(e) + (b.n + b.n_off) * 1e-3L + 1e-6L;
  if (b.kink()) {
    const ld h = 1e-3L * scale;
    d1 = e >= 0 ? (b.value(e + h) - b.value(e)) / h : (b.value(e) - b.value(e - h)) / h;
    d2 = 0;
    return;
  }
  const ld h1 = 1e-7L * scale, h2 = 1e-4L * scale;
  d1 = (b.value(e + h1) - b.value(e - h1)) / (2 * h1);
  ld f0 = b.value(e), fp = b.value(e + h2), fm = b.value(e - h2);
  // Stay inside the Cash domain for the curvature stencil.
  if (!b.wstat && b.n > 0 && e - h2 <= 0) {
    const ld h = 0.25L * e;
    fp = b.value(e + h);
    fm = b.value(e - h);
    d2 = (fp - 2 * f0 + fm) / (h * h);
    return;
  }
  d2 = (fp - 2 * f0 + fm) / (h2 * h2);
}

// Solves A x = b (n x n, row-major) by Gaussian elimination with partial pivoting; a pivot below
// 1e-14 of the largest entry leaves that unknown at 0.
inline std::vector<ld> gauss(std::vector<ld> a, std::vector<ld> b, int n) {
  ld amax = 0;
  for (ld v : a) amax = std::max(amax, std::fabs(v));
  std::vector<int> dead(n, 0);
  for (int c = 0; c < n; ++c) {
    int piv = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[piv * n + c])) piv = r;
    if (!(std::fabs(a[piv * n + c]) > 1e-14L * amax)) {
      dead[c] = 1;
      continue;
    }
    if (piv != c) {
      for (int k = 0; k < n; ++k) std::swap(a[c * n + k], a[piv * n + k]);
      std::swap(b[c], b[piv]);
    }
    for (int r = 0; r < n; ++r) {
      if (r == c) continue;
      const ld f = a[r * n + c] / a[c * n + c];
      if (f == 0) continue;
      for (int k = c; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
      b[r] -= f * b[c];
    }
  }
  std::vector<ld> x(n, 0);
  for (int c = 0; c < n; ++c) x[c] = dead[c] ? 0 : b[c] / a[c * n + c];
  return x;
}

inline ld clamp(ld v, ld lo, ld hi) { return std::min(std::max(v, lo), hi); }

}  // namespace nuref

// Minimises S(theta, .) over the nuisances from `phi0` (clamped; pushed up until feasible).
// `check`: polish along the coordinates and probe the result (slow; for reported points).
inline NuRefInner reference_inner(const NuRefProblem& p, ld theta, std::vector<ld> phi0,
                                  bool check) {
  using nuref::clamp;
  const int K = p.K;
  NuRefInner r;
  std::vector<ld> phi(K);
  for (int k = 0; k < K; ++k) phi[k] = clamp(phi0[k], p.lo[k], p.hi[k]);
  ld f = p.stat(theta, phi);
  for (int it = 0; it < 400 && std::isinf(f); ++it) {  // make feasible: raise the nuisances
    for (int k = 0; k < K; ++k)
      phi[k] = std::isinf(p.hi[k]) ? phi[k] + std::max<ld>(1, std::fabs(phi[k])) : 0.5L * (phi[k] + p.hi[k]);
    f = p.stat(theta, phi);
  }
  if (std::isinf(f)) {
    r.value = kLdInf;
    r.phi = phi;
    return r;
  }
  const auto S = [&](const std::vector<ld>& x) { return p.stat(theta, x); };
  // Projected Newton with finite-difference derivatives, step halving on the value.
  for (int it = 0; it < 300; ++it) {
    std::vector<ld> g(K, 0), h(K * K, 0);
    for (const NuRefBin& b : p.bins) {
      ld d1, d2;
      nuref::bin_derivatives(b, p.eta(b, theta, phi), d1, d2);
      for (int k = 0; k < K; ++k) {
        g[k] += d1 * b.t[k];
        for (int l = 0; l < K; ++l) h[k * K + l] += d2 * b.t[k] * b.t[l];
      }
    }
    std::vector<int> fr;
    for (int k = 0; k < K; ++k) {
      const bool held = (phi[k] <= p.lo[k] && g[k] > 0) || (phi[k] >= p.hi[k] && g[k] < 0);
      if (!held) fr.push_back(k);
    }
    const int nf = static_cast<int>(fr.size());
    if (nf == 0) break;
    std::vector<ld> a(nf * nf), rhs(nf);
    ld hmax = 0;
    for (int i = 0; i < nf; ++i) hmax = std::max(hmax, h[fr[i] * K + fr[i]]);
    for (int i = 0; i < nf; ++i) {
      rhs[i] = -g[fr[i]];
      for (int j = 0; j < nf; ++j) a[i * nf + j] = h[fr[i] * K + fr[j]];
      a[i * nf + i] += 1e-13L * (hmax > 0 ? hmax : 1);  // a floor for directions without curvature
    }
    const std::vector<ld> d = nuref::gauss(a, rhs, nf);
    ld alpha = 1;
    bool moved = false;
    for (int ls = 0; ls < 80; ++ls) {
      std::vector<ld> trial = phi;
      for (int i = 0; i < nf; ++i) trial[fr[i]] = clamp(phi[fr[i]] + alpha * d[i], p.lo[fr[i]], p.hi[fr[i]]);
      const ld ft = S(trial);
      if (ft < f) {
        bool changed = false;
        for (int k = 0; k < K; ++k) changed = changed || trial[k] != phi[k];
        phi = trial;
        f = ft;
        moved = changed;
        break;
      }
      alpha *= 0.5L;
    }
    if (!moved) break;
  }
  r.value = f;
  r.phi = phi;
  if (!check) return r;
  // Polish: exact golden-section minimisation along each coordinate, a few sweeps (robust on
  // kinks where a Newton step stalls).
  for (int sweep = 0; sweep < 3; ++sweep) {
    bool improved = false;
    for (int k = 0; k < K; ++k) {
      const ld scale = std::max<ld>(1e-3L, std::fabs(phi[k]));
      ld a = std::max(p.lo[k], phi[k] - 1e-2L * scale), c = std::min(p.hi[k], phi[k] + 1e-2L * scale);
      const auto along = [&](ld v) {
        std::vector<ld> x = phi;
        x[k] = v;
        return S(x);
      };
      const ld gr = (std::sqrt(5.0L) - 1) / 2;
      ld x1 = c - gr * (c - a), x2 = a + gr * (c - a), f1 = along(x1), f2 = along(x2);
      for (int i = 0; i < 120 && c - a > 1e-18L * scale; ++i) {
        if (f1 <= f2) {
          c = x2; x2 = x1; f2 = f1; x1 = c - gr * (c - a); f1 = along(x1);
        } else {
          a = x1; x1 = x2; f1 = f2; x2 = a + gr * (c - a); f2 = along(x2);
        }
      }
      const ld best = f1 <= f2 ? x1 : x2;
      const ld fb = along(best);
      if (fb < f) {
        improved = improved || fb < f - 1e-16L * (1 + std::fabs(f));
        phi[k] = best;
        f = fb;
      }
    }
    if (!improved) break;
  }
  r.value = f;
  r.phi = phi;
  // Probe: no lower value along coordinates and random directions at a few step sizes.
  const ld tol = 1e-15L * p.stat_magnitude(theta, phi) + 1e-15L;
  std::mt19937_64 rng(12345);
  std::normal_distribution<double> normal(0.0, 1.0);
  r.verified = true;
  for (int dir = 0; dir < 3 * K && r.verified; ++dir) {
    std::vector<ld> u(K, 0);
    if (dir < K) u[dir] = 1;
    else for (int k = 0; k < K; ++k) u[k] = normal(rng);
    for (ld hs : {1e-3L, 1e-6L}) {
      for (int sign = -1; sign <= 1; sign += 2) {
        std::vector<ld> x = phi;
        for (int k = 0; k < K; ++k)
          x[k] = nuref::clamp(phi[k] + sign * hs * std::max<ld>(1, std::fabs(phi[k])) * u[k], p.lo[k], p.hi[k]);
        if (S(x) < f - tol) r.verified = false;
      }
    }
  }
  for (const NuRefBin& b : p.bins) {
    if (!b.kink()) continue;
    bool depends = false;
    for (int k = 0; k < K; ++k) depends = depends || b.t[k] != 0;
    ld mag = std::fabs(b.other) + std::fabs(theta * b.s);
    for (int k = 0; k < K; ++k) mag += std::fabs(phi[k] * b.t[k]);
    if (depends && std::fabs(p.eta(b, theta, phi)) <= 1e-7L * mag) r.on_kink = true;
  }
  return r;
}

// The profile with a warm start (the last solution).
class RefProfile {
 public:
  explicit RefProfile(const NuRefProblem& p) : p_(p), warm_(p.start) {}
  ld operator()(ld theta) {
    if (!(theta > p_.feasible_min())) return kLdInf;
    NuRefInner r = reference_inner(p_, theta, warm_, false);
    if (!std::isinf(r.value)) warm_ = r.phi;
    return r.value;
  }
  // Polished and probed (for the points that are compared).
  NuRefInner inner(ld theta) {
    NuRefInner r = reference_inner(p_, theta, warm_, true);
    if (!std::isinf(r.value)) warm_ = r.phi;
    return r;
  }

 private:
  const NuRefProblem& p_;
  std::vector<ld> warm_;
};

struct NuRefSolution {
  ld theta = kLdNaN, stat = kLdNaN, stat_null = kLdNaN, sigma = kLdNaN;
  bool sigma_stable = false;  // the finite-difference curvature agrees at two step sizes
  bool kink = false;          // a kink bin (any) sits at eta ~ 0 at the best fit
  bool nuisance_kink = false; // ... one that depends on the nuisances
  bool verified = false;      // the inner fits at the best fit passed the probe
  bool at_bound = false;      // a nuisance on its min or max at the best fit
  std::vector<ld> phi;
};

// Best fit, stat_null and curvature of the profile, all from values of P.
inline NuRefSolution reference_solve(const NuRefProblem& p, RefProfile& P) {
  NuRefSolution r;
  const ld feas = p.feasible_min();
  // 1. Grid: asinh-spaced over [-1e4, 1e4].
  std::vector<ld> x, y;
  const ld umax = std::asinh(1e4L / 1e-2L);
  for (int k = 0; k < 121; ++k) {
    const ld t = 1e-2L * std::sinh(-umax + 2 * umax * k / 120);
    if (!(t > feas)) continue;
    x.push_back(t);
    y.push_back(P(t));
  }
  std::size_t km = 0;
  for (std::size_t k = 1; k < x.size(); ++k)
    if (y[k] < y[km]) km = k;
  // 2. Golden section between the grid neighbours.
  ld a = km > 0 ? x[km - 1] : (std::isinf(feas) ? x[0] : feas + 1e-12L * (1 + std::fabs(feas)));
  ld c = km + 1 < x.size() ? x[km + 1] : x.back();
  const ld gr = (std::sqrt(5.0L) - 1) / 2;
  ld x1 = c - gr * (c - a), x2 = a + gr * (c - a), f1 = P(x1), f2 = P(x2);
  for (int it = 0; it < 200 && c - a > 1e-11L * (1 + std::fabs(a)); ++it) {
    if (f1 <= f2) {
      c = x2; x2 = x1; f2 = f1; x1 = c - gr * (c - a); f1 = P(x1);
    } else {
      a = x1; x1 = x2; f1 = f2; x2 = a + gr * (c - a); f2 = P(x2);
    }
  }
  ld theta = f1 <= f2 ? x1 : x2;
  // 3. Curvature, then the secant-sign bisection for the minimum (robust for a convex P).
  const auto curvature = [&](ld t, ld h) {
    const ld f0 = P(t);
    const ld dh = (P(t + h) - 2 * f0 + P(t - h)) / (h * h);
    const ld d2h = (P(t + 2 * h) - 2 * f0 + P(t - 2 * h)) / (4 * h * h);
    return (4 * dh - d2h) / 3;
  };
  ld h = 1e-4L * (1 + std::fabs(theta));
  ld d2 = curvature(theta, h);
  if (d2 > 0) d2 = curvature(theta, 1e-3L * std::sqrt(2 / d2));
  const ld sig = d2 > 0 ? std::sqrt(2 / d2) : 1e-3L * (1 + std::fabs(theta));
  const ld hs = 1e-5L * sig;
  const auto secant = [&](ld t) { return P(t + hs) - P(t - hs); };
  ld lo = theta - 1e-3L * sig, hi = theta + 1e-3L * sig;
  for (int w = 0; w < 60 && secant(lo) > 0; ++w) lo -= 2 * (hi - lo);
  for (int w = 0; w < 60 && secant(hi) < 0; ++w) hi += 2 * (hi - lo);
  while (hi - lo > 1e-13L * sig) {
    const ld mid = 0.5L * (lo + hi);
    if (mid == lo || mid == hi) break;
    (secant(mid) < 0 ? lo : hi) = mid;
  }
  theta = 0.5L * (lo + hi);
  r.theta = theta;
  const NuRefInner at = P.inner(theta);
  r.stat = at.value;
  r.phi = at.phi;
  r.verified = at.verified;
  r.nuisance_kink = at.on_kink;
  for (int k = 0; k < p.K; ++k)
    if (at.phi[k] <= p.lo[k] || at.phi[k] >= p.hi[k]) r.at_bound = true;
  for (const NuRefBin& b : p.bins) {
    if (!b.kink()) continue;
    ld mag = std::fabs(b.other) + std::fabs(theta * b.s);
    for (int k = 0; k < p.K; ++k) mag += std::fabs(at.phi[k] * b.t[k]);
    if (std::fabs(p.eta(b, theta, at.phi)) <= 1e-7L * mag) r.kink = true;
  }
  r.stat_null = P(0);
  // 4. Curvature at two steps; stable when they agree to 1e-7.
  const ld c1 = curvature(theta, 1e-3L * sig), c2 = curvature(theta, 2.5e-4L * sig);
  r.sigma = c1 > 0 ? std::sqrt(2 / c1) : kLdNaN;
  r.sigma_stable = c1 > 0 && c2 > 0 && std::fabs(c1 - c2) <= 1e-7L * c1;
  return r;
}

// The crossing of P = target nearest to `from` on one side, by outward steps and bisection;
// `in_bracket`: P is above the target at gammapy's bracket end.
inline RefCrossing reference_crossing(RefProfile& P, ld from, ld target, int side, ld bracket_end,
                                      ld scale) {
  RefCrossing c;
  c.in_bracket = P(bracket_end) - target > 0;
  ld inside = from, step = 1e-3L * scale, outside = kLdNaN;
  for (int it = 0; it < 4000; ++it) {
    const ld t = from + side * step;
    if (P(t) >= target) {
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
    (P(mid) < target ? inside : outside) = mid;
  }
  c.root = 0.5L * (inside + outside);
  return c;
}

}  // namespace fluxpoints::testing
