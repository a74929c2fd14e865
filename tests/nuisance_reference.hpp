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
//  * the profile P(theta) = min_phi S is found by an active-set Levenberg-Marquardt iteration
//    (bounds it meets are held until the reduced fit stops moving), and near a kink of a bin
//    that depends on the nuisances by a continuation on a smoothed statistic (every kink a
//    softplus of width mu, mu -> 1e-18) - not the engine's active set of kinks. Compared points
//    are fitted from two starts, probed along the coordinates and random directions, polished by
//    golden section along each coordinate if the probe finds a lower point, and reported
//    unverified if it still does;
//  * the best fit is a grid, golden section and a root of the secant slope P(t + h) - P(t - h)
//    (Illinois-bracketed); crossings are bracketed roots of P - target; the curvature is a
//    Richardson finite difference of P (no Schur complement).
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
          if (std::isinf(hi[k]))
            unbounded = true;
          else
            sup += b.t[k] * hi[k];
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

// Solves A x = b (n x n, row-major) by Gaussian elimination with partial pivoting and back
// substitution; a pivot below 1e-14 of the largest entry leaves that unknown at 0.
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
    for (int r = c + 1; r < n; ++r) {
      const ld f = a[r * n + c] / a[c * n + c];
      if (f == 0) continue;
      for (int k = c; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
      b[r] -= f * b[c];
    }
  }
  std::vector<ld> x(n, 0);
  for (int c = n - 1; c >= 0; --c) {
    if (dead[c]) continue;
    ld v = b[c];
    for (int k = c + 1; k < n; ++k) v -= a[c * n + k] * x[k];
    x[c] = v / a[c * n + c];
  }
  return x;
}

inline ld clamp(ld v, ld lo, ld hi) { return std::min(std::max(v, lo), hi); }

}  // namespace nuref

namespace nuref {

// The kink bins' two slopes, from their values (piecewise linear on each side of 0).
inline void kink_slopes(const NuRefBin& b, ld& lo, ld& hi) {
  hi = b.value(1) - b.value(0);
  lo = b.value(0) - b.value(-1);
}

// The statistic with every kink bin smoothed: L eta + (R - L) mu ln(1 + e^(eta/mu)) (exact as
// mu -> 0; off by at most (R - L) mu ln 2), +inf where the exact one is.
inline ld smoothed_stat(const NuRefProblem& p, ld theta, const std::vector<ld>& phi, ld mu) {
  ld sum = 0;
  for (const NuRefBin& b : p.bins) {
    const ld e = p.eta(b, theta, phi);
    if (p.must_be_positive(b) && !(e > 0)) return kLdInf;
    if (mu > 0 && b.kink()) {
      ld lo, hi;
      kink_slopes(b, lo, hi);
      const ld z = e / mu;
      const ld softplus = z > 40 ? z : std::log1p(std::exp(z));
      sum += b.value(0) + lo * e + (hi - lo) * mu * softplus;
    } else {
      sum += b.value(e);
    }
  }
  return sum;
}

// Gradient and Hessian of the (smoothed, mu > 0) statistic over the nuisances; finite
// differences for the smooth bins.
inline void derivatives(const NuRefProblem& p, ld theta, const std::vector<ld>& phi, ld mu,
                        std::vector<ld>& g, std::vector<ld>& h) {
  const int K = p.K;
  g.assign(K, 0);
  h.assign(K * K, 0);
  for (const NuRefBin& b : p.bins) {
    const ld e = p.eta(b, theta, phi);
    ld d1, d2;
    if (mu > 0 && b.kink()) {
      ld lo, hi;
      kink_slopes(b, lo, hi);
      const ld sig = 1 / (1 + std::exp(-e / mu));
      d1 = lo + (hi - lo) * sig;
      d2 = (hi - lo) * sig * (1 - sig) / mu;
    } else {
      bin_derivatives(b, e, d1, d2);
    }
    for (int k = 0; k < K; ++k) {
      g[k] += d1 * b.t[k];
      for (int l = 0; l < K; ++l) h[k * K + l] += d2 * b.t[k] * b.t[l];
    }
  }
}

// Active-set Levenberg-Marquardt on the (smoothed) statistic over the nuisances. Nuisances held
// on a bound stay held while the others are fitted by (H_FF + lambda D) d = -g_F (D the floored
// diagonal of H; lambda raised tenfold until the value decreases, lowered after a success; a
// free nuisance that the step would carry past a bound is put on it and held); when that fit
// stops moving, the held nuisances whose gradient points into the box are released.
inline void newton(const NuRefProblem& p, ld theta, std::vector<ld>& phi, ld mu, int max_it) {
  const int K = p.K;
  const auto S = [&](const std::vector<ld>& x) { return smoothed_stat(p, theta, x, mu); };
  ld f = S(phi);
  std::vector<ld> g, h;
  derivatives(p, theta, phi, mu, g, h);
  std::vector<int> held(K, 0);
  for (int k = 0; k < K; ++k)
    held[k] = (phi[k] <= p.lo[k] && g[k] >= 0) || (phi[k] >= p.hi[k] && g[k] <= 0);
  ld lambda = 1e-6L;
  int it = 0;
  for (int round = 0; round < 50 && it < max_it; ++round) {
    for (; it < max_it; ++it) {
      std::vector<int> fr;
      for (int k = 0; k < K; ++k)
        if (!held[k]) fr.push_back(k);
      const int nf = static_cast<int>(fr.size());
      if (nf == 0) break;
      ld hmax = 0;
      for (int i = 0; i < nf; ++i) hmax = std::max(hmax, h[fr[i] * K + fr[i]]);
      if (!(hmax > 0)) hmax = 1;
      bool moved = false;
      for (int tries = 0; tries < 80 && !moved; ++tries) {
        std::vector<ld> a(nf * nf), rhs(nf);
        for (int i = 0; i < nf; ++i) {
          rhs[i] = -g[fr[i]];
          for (int j = 0; j < nf; ++j) a[i * nf + j] = h[fr[i] * K + fr[j]];
          a[i * nf + i] += lambda * std::max(h[fr[i] * K + fr[i]], 1e-12L * hmax);
        }
        const std::vector<ld> d = gauss(a, rhs, nf);
        std::vector<ld> trial = phi;
        std::vector<int> hits;
        for (int i = 0; i < nf; ++i) {
          const int k = fr[i];
          trial[k] = phi[k] + d[i];
          if (trial[k] <= p.lo[k]) {
            trial[k] = p.lo[k];
            hits.push_back(k);
          }
          if (trial[k] >= p.hi[k]) {
            trial[k] = p.hi[k];
            hits.push_back(k);
          }
        }
        const ld ft = S(trial);
        if (ft < f) {
          // A step below 1e-17 of the nuisances' size is the end of the fit (long double).
          bool changed = false;
          for (int k = 0; k < K; ++k)
            changed = changed || std::fabs(trial[k] - phi[k]) > 1e-17L * (1 + std::fabs(phi[k]));
          phi = trial;
          f = ft;
          moved = changed;
          for (int k : hits) {
            held[k] = 1;
            moved = true;
          }
          lambda = std::max(lambda * 0.1L, 1e-10L);
          if (!changed) break;
        } else {
          // No decrease even with a heavily damped (gradient-like) step: the end of the fit.
          lambda *= 10;
          if (lambda > 1e16L) break;
        }
      }
      if (!moved) break;
      derivatives(p, theta, phi, mu, g, h);
    }
    derivatives(p, theta, phi, mu, g, h);
    bool released = false;
    for (int k = 0; k < K; ++k) {
      if (!held[k]) continue;
      const bool inward = (phi[k] <= p.lo[k] && g[k] < 0) || (phi[k] >= p.hi[k] && g[k] > 0);
      if (inward) {
        held[k] = 0;
        released = true;
      }
    }
    if (!released) break;
    lambda = 1e-6L;
  }
}

// Whether a kink bin that depends on the nuisances sits near its kink.
inline bool near_kink(const NuRefProblem& p, ld theta, const std::vector<ld>& phi, ld rel) {
  for (const NuRefBin& b : p.bins) {
    if (!b.kink()) continue;
    bool depends = false;
    for (int k = 0; k < p.K; ++k) depends = depends || b.t[k] != 0;
    if (!depends) continue;
    ld mag = std::fabs(b.other) + std::fabs(theta * b.s);
    for (int k = 0; k < p.K; ++k) mag += std::fabs(phi[k] * b.t[k]);
    if (std::fabs(p.eta(b, theta, phi)) <= rel * mag) return true;
  }
  return false;
}

}  // namespace nuref

// Minimises S(theta, .) over the nuisances from `phi0` (clamped; pushed up until feasible).
// Near a kink of a bin that depends on the nuisances (where an iteration on the exact statistic
// can stall) it also follows the smoothed statistic down to mu = 1e-18 and keeps the lower exact
// value. `check` (slow; for the points that are compared): then polish along the coordinates and
// probe the result.
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
      phi[k] = std::isinf(p.hi[k]) ? phi[k] + std::max<ld>(1, std::fabs(phi[k]))
                                   : 0.5L * (phi[k] + p.hi[k]);
    f = p.stat(theta, phi);
  }
  if (std::isinf(f)) {
    r.value = kLdInf;
    r.phi = phi;
    return r;
  }
  const auto S = [&](const std::vector<ld>& x) { return p.stat(theta, x); };
  nuref::newton(p, theta, phi, 0, 300);
  f = S(phi);
  if (nuref::near_kink(p, theta, phi, 1e-5L)) {
    std::vector<ld> smooth = phi;
    for (ld mu = 1e-2L; mu >= 1e-18L; mu *= 0.01L) nuref::newton(p, theta, smooth, mu, 40);
    nuref::newton(p, theta, smooth, 0, 50);
    const ld fs = S(smooth);
    if (fs < f) {
      phi = smooth;
      f = fs;
    }
  }
  r.value = f;
  r.phi = phi;
  if (!check) return r;
  // Probe: no lower value along coordinates and random directions at a few step sizes.
  const auto probe = [&]() {
    const ld tol = 1e-15L * p.stat_magnitude(theta, phi) + 1e-15L;
    std::mt19937_64 rng(12345);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (int dir = 0; dir < 3 * K; ++dir) {
      std::vector<ld> u(K, 0);
      if (dir < K)
        u[dir] = 1;
      else
        for (int k = 0; k < K; ++k) u[k] = normal(rng);
      for (ld hs : {1e-3L, 1e-6L})
        for (int sign = -1; sign <= 1; sign += 2) {
          std::vector<ld> x = phi;
          for (int k = 0; k < K; ++k)
            x[k] = nuref::clamp(phi[k] + sign * hs * std::max<ld>(1, std::fabs(phi[k])) * u[k],
                                p.lo[k], p.hi[k]);
          if (S(x) < f - tol) return false;
        }
    }
    return true;
  };
  r.verified = probe();
  if (!r.verified) {
    // Polish: exact golden-section minimisation along each coordinate, a few sweeps.
    for (int sweep = 0; sweep < 3; ++sweep) {
      bool improved = false;
      for (int k = 0; k < K; ++k) {
        const ld scale = std::max<ld>(1e-3L, std::fabs(phi[k]));
        ld a = std::max(p.lo[k], phi[k] - 1e-2L * scale),
           c = std::min(p.hi[k], phi[k] + 1e-2L * scale);
        const auto along = [&](ld v) {
          std::vector<ld> x = phi;
          x[k] = v;
          return S(x);
        };
        const ld gr = (std::sqrt(5.0L) - 1) / 2;
        ld x1 = c - gr * (c - a), x2 = a + gr * (c - a), f1 = along(x1), f2 = along(x2);
        for (int i = 0; i < 120 && c - a > 1e-18L * scale; ++i) {
          if (f1 <= f2) {
            c = x2;
            x2 = x1;
            f2 = f1;
            x1 = c - gr * (c - a);
            f1 = along(x1);
          } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + gr * (c - a);
            f2 = along(x2);
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
    r.verified = probe();
  }
  for (const NuRefBin& b : p.bins) {
    if (!b.kink()) continue;
    bool depends = false;
    ld mag = std::fabs(b.other) + std::fabs(theta * b.s), coeffs = 0;
    for (int k = 0; k < K; ++k) {
      depends = depends || b.t[k] != 0;
      mag += std::fabs(phi[k] * b.t[k]);
      coeffs += std::fabs(b.t[k]);
    }
    if (depends && std::fabs(p.eta(b, theta, phi)) <= 1e-7L * (mag + coeffs)) r.on_kink = true;
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
  // From the start values (for points far from the previous one).
  ld cold(ld theta) {
    if (!(theta > p_.feasible_min())) return kLdInf;
    NuRefInner r = reference_inner(p_, theta, p_.start, false);
    if (!std::isinf(r.value)) warm_ = r.phi;
    return r.value;
  }
  // Polished and probed (for the points that are compared), from the warm start and from the
  // problem's start values (a far warm start can leave the Newton iteration stuck); the lower.
  NuRefInner inner(ld theta) {
    NuRefInner r = reference_inner(p_, theta, warm_, true);
    const NuRefInner fresh = reference_inner(p_, theta, p_.start, true);
    if (fresh.value < r.value) r = fresh;
    if (!std::isinf(r.value)) warm_ = r.phi;
    return r;
  }

 private:
  const NuRefProblem& p_;
  std::vector<ld> warm_;
};

namespace nuref {

// A root of f in [a, b] where f(a) < 0 <= f(b) (either order), by the Illinois variant of regula
// falsi: bracketing like bisection, a few steps on the smooth monotone functions used here.
// Stops when the bracket is below `tol`.
template <class F>
ld illinois(const F& f, ld a, ld b, ld fa, ld fb, ld tol) {
  int side = 0;
  for (int it = 0; it < 200 && std::fabs(b - a) > tol; ++it) {
    ld c = (a * fb - b * fa) / (fb - fa);
    if (!(c > std::min(a, b) && c < std::max(a, b))) c = 0.5L * (a + b);
    const ld fc = f(c);
    if (fc < 0) {
      a = c;
      fa = fc;
      if (side == -1) fb *= 0.5L;
      side = -1;
    } else {
      b = c;
      fb = fc;
      if (side == +1) fa *= 0.5L;
      side = +1;
    }
    if (fc == 0) return c;
  }
  return 0.5L * (a + b);
}

}  // namespace nuref

struct NuRefSolution {
  ld theta = kLdNaN, stat = kLdNaN, stat_null = kLdNaN, sigma = kLdNaN;
  bool sigma_stable = false;   // the finite-difference curvature agrees at two step sizes
  bool kink = false;           // a kink bin (any) sits at eta ~ 0 at the best fit
  bool nuisance_kink = false;  // ... one that depends on the nuisances
  bool null_on_kink = false;   // the fit at theta = 0 ends on a kink that depends on the nuisances
  bool null_verified = false;  // the fit at theta = 0 passed the probe
  bool verified = false;       // the inner fits at the best fit passed the probe
  bool at_bound = false;       // a nuisance on its min or max at the best fit
  std::vector<ld> phi;
};

// Best fit, stat_null and curvature of the profile, all from values of P.
inline NuRefSolution reference_solve(const NuRefProblem& p, RefProfile& P) {
  NuRefSolution r;
  const ld feas = p.feasible_min();
  // 1. Grid: asinh-spaced over [-1e2, 1e2] (the random problems' norms lie within a few units;
  // P is convex, so the grid only has to bracket its minimum), each point fitted from the start
  // values.
  std::vector<ld> x, y;
  const ld umax = std::asinh(1e2L / 1e-2L);
  for (int k = 0; k < 31; ++k) {
    const ld t = 1e-2L * std::sinh(-umax + 2 * umax * k / 30);
    if (!(t > feas)) continue;
    x.push_back(t);
    y.push_back(P.cold(t));
  }
  std::size_t km = 0;
  for (std::size_t k = 1; k < x.size(); ++k)
    if (y[k] < y[km]) km = k;
  // 2. Golden section between the grid neighbours.
  ld a = km > 0 ? x[km - 1] : (std::isinf(feas) ? x[0] : feas + 1e-12L * (1 + std::fabs(feas)));
  ld c = km + 1 < x.size() ? x[km + 1] : x.back();
  const ld gr = (std::sqrt(5.0L) - 1) / 2;
  ld x1 = c - gr * (c - a), x2 = a + gr * (c - a), f1 = P(x1), f2 = P(x2);
  for (int it = 0; it < 200 && c - a > 1e-7L * (1 + std::fabs(a)); ++it) {
    if (f1 <= f2) {
      c = x2;
      x2 = x1;
      f2 = f1;
      x1 = c - gr * (c - a);
      f1 = P(x1);
    } else {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + gr * (c - a);
      f2 = P(x2);
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
  theta = nuref::illinois(secant, lo, hi, secant(lo), secant(hi), 1e-13L * sig);
  r.theta = theta;
  const NuRefInner at = P.inner(theta);
  r.stat = at.value;
  r.phi = at.phi;
  r.verified = at.verified;
  r.nuisance_kink = at.on_kink;
  for (int k = 0; k < p.K; ++k)
    if (at.phi[k] <= p.lo[k] || at.phi[k] >= p.hi[k]) r.at_bound = true;
  // A kink bin within 1e-7 of its kink, relative to the size of its terms or (where they are
  // all tiny, e.g. the norm ~ 0 with no background) to its coefficients.
  for (const NuRefBin& b : p.bins) {
    if (!b.kink()) continue;
    ld mag = std::fabs(b.other) + std::fabs(theta * b.s), coeffs = std::fabs(b.s);
    for (int k = 0; k < p.K; ++k) {
      mag += std::fabs(at.phi[k] * b.t[k]);
      coeffs += std::fabs(b.t[k]);
    }
    if (std::fabs(p.eta(b, theta, at.phi)) <= 1e-7L * (mag + coeffs)) r.kink = true;
  }
  if (0 > feas) {
    const NuRefInner null_fit = P.inner(0);
    r.stat_null = null_fit.value;
    r.null_on_kink = null_fit.on_kink;
    r.null_verified = null_fit.verified;
  } else {
    r.stat_null = kLdInf;
  }
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
  P.cold(from);  // warm starts from here on (the previous evaluation may be far away)
  ld inside = from, step = 0.1L * scale, outside = kLdNaN;
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
  if (!std::isnan(outside)) {
    const auto f = [&](ld t) { return P(t) - target; };
    c.root = nuref::illinois(f, inside, outside, f(inside), f(outside),
                             1e-15L * (std::fabs(outside) + scale));
  }
  // Last, and from the start values: the bracket end is far from every point above.
  c.in_bracket = P.cold(bracket_end) - target > 0;
  return c;
}

}  // namespace fluxpoints::testing
