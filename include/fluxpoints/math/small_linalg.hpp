// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Dense linear algebra for the small symmetric systems of the nuisance solver (at most
// kMaxCoords = 17 unknowns): packed lower-triangular storage and an in-place LDL' factorisation.
// Fixed-size, no allocation, no exceptions: usable inside one CUDA thread.
//
// The matrices are Hessians of a convex statistic, so they are positive semi-definite. A pivot
// that vanishes (relative to its diagonal entry) marks a "flat" direction: a nuisance whose
// template is zero where the statistic is curved, two identical templates, a template that only
// touches bins where the statistic is linear. The factorisation records those directions instead
// of dividing by zero, and each solve says what to do along them.

#include "fluxpoints/math/hd.hpp"

namespace fluxpoints::math {

// Index of entry (i, j), j <= i, of a packed lower triangle.
FLUXPOINTS_HD int packed_index(int i, int j) { return i * (i + 1) / 2 + j; }

// A pivot at or below this fraction of its diagonal entry is flat. Rounding leaves a few 1e-16
// of the diagonal where two templates are identical; weakly constrained directions above it
// (nearly collinear templates, condition up to ~1e13) keep a Newton step, which rounding makes
// inexact by at most a few percent there: the iteration still converges on them.
constexpr double kFlatPivot = 1e-14;

// In place: the packed n x n matrix `a` becomes L (strictly lower part, unit diagonal implied)
// and D (on the diagonal) with A = L D L'. Flat pivots get D = 0 and a zero column below them.
// Returns the flat pivots as a bit mask.
FLUXPOINTS_HD std::uint32_t ldlt_factor(double* a, int n) {
  std::uint32_t flat = 0;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < i; ++j) {
      double v = a[packed_index(i, j)];
      for (int k = 0; k < j; ++k)
        v -= a[packed_index(i, k)] * a[packed_index(j, k)] * a[packed_index(k, k)];
      const double d = a[packed_index(j, j)];
      a[packed_index(i, j)] = (flat >> j) & 1u ? 0.0 : v / d;
    }
    const double diag = a[packed_index(i, i)];
    double d = diag;
    for (int k = 0; k < i; ++k)
      d -= a[packed_index(i, k)] * a[packed_index(i, k)] * a[packed_index(k, k)];
    if (!(d > kFlatPivot * diag)) {
      flat |= 1u << i;
      d = 0.0;
    }
    a[packed_index(i, i)] = d;
  }
  return flat;
}

// Solves L D L' x = b. Along a flat pivot i the system says nothing:
//  * cap == nullptr: x gets no component there (right for any b in the range of A);
//  * otherwise, if b has a component there (more than rounding), x moves by cap[i] in that
//    coordinate along the flat direction, with the sign that makes b.x > 0 (a descent step for
//    b = -gradient). Returns true when such a move was made.
FLUXPOINTS_HD bool ldlt_solve(const double* f, int n, std::uint32_t flat, const double* b,
                              double* x, const double* cap) {
  bool moved = false;
  // Forward: L y = b (y kept in x), with the size of the terms that cancel in each y_i.
  for (int i = 0; i < n; ++i) {
    double y = b[i], scale = dabs(b[i]);
    for (int k = 0; k < i; ++k) {
      const double t = f[packed_index(i, k)] * x[k];
      y -= t;
      scale += dabs(t);
    }
    if ((flat >> i) & 1u) {
      // x_i holds z_i = D^-1 y directly for flat pivots (they take no part in later rows,
      // whose L entries in column i are 0).
      const bool has_component = dabs(y) > 1e-10 * scale && y != 0.0;
      x[i] = (cap != nullptr && has_component) ? (y > 0 ? cap[i] : -cap[i]) : 0.0;
      moved = moved || (cap != nullptr && has_component);
      // Mark as already divided: store z directly and skip the division below.
      continue;
    }
    x[i] = y;
  }
  // Diagonal: z = D^-1 y (flat entries already hold z).
  for (int i = 0; i < n; ++i)
    if (!((flat >> i) & 1u)) x[i] /= f[packed_index(i, i)];
  // Backward: L' x = z.
  for (int i = n - 1; i >= 0; --i) {
    double v = x[i];
    for (int k = i + 1; k < n; ++k) v -= f[packed_index(k, i)] * x[k];
    x[i] = v;
  }
  return moved;
}

}  // namespace fluxpoints::math
