// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Solve problem p of a flattened batch whose problems may carry linear nuisance parameters, and
// store every result where math::solve_and_store stores it, plus the best-fit nuisances. The
// counterpart of batch_solve.hpp for reoptimize=True; a backend calls it once per problem
// (a Kokkos parallel_for, a CUDA thread).

#include "fluxpoints/math/nuisance_solver.hpp"

namespace fluxpoints::math {

// Per-dataset sums of segment k at the norm x[0] and nuisances x[1..]:
// counts, total predicted counts (clipped per bin, as npred() reports them) and sum(s), whose
// product with the norm is npred_excess (the source alone).
FLUXPOINTS_HD ProblemView::DatasetSums nuisance_dataset_sums(const NuisanceProblemView& v,
                                                             const NuisanceCoords& c,
                                                             const double* x, std::int64_t k) {
  ProblemView::DatasetSums d{0.0, 0.0, 0.0};
  const ProblemView& b = v.bins;
  const StatKind kind = b.segment_kind[k];
  for (std::int64_t i = b.segment_bins[k]; i < b.segment_bins[k + 1]; ++i) {
    double a[kMaxCoords];
    const double eta = linear_predictor(v, c, x, i, a);
    d.counts += b.counts[i];
    d.npred_ref += b.npred_ref[i];
    d.npred += linear_bin(kind, b, i, eta).npred;
  }
  return d;
}

// Solves problem p and stores its row, its per-dataset sums at (norm, phi_hat) and phi_hat
// (phi_out is indexed like the nuisances: problem p's at nu.problem_nuisances[p]...). Problems
// without nuisances go through math::solve_and_store unchanged (same bits, same speed). The scan
// is computed here when n_scan > 0: every scan norm re-fits the nuisances (+inf below the lowest
// feasible norm, see nuisance_solver.hpp).
FLUXPOINTS_HD void solve_and_store_nuisance(const BatchArrays& in, const NuisanceArrays& nu,
                                            std::int64_t p, const SolveSettings& settings,
                                            const double* scan_values, int n_scan,
                                            const ResultArrays& out, double* phi_out) {
  const NuisanceProblemView v = nuisance_problem(in, nu, p);
  if (v.n_nuisances == 0) {
    solve_and_store(in, p, settings, scan_values, n_scan, out);
    return;
  }
  double* phi = phi_out + nu.problem_nuisances[p];
  if (v.n_bins == 0) {
    store_empty_problem(v.bins, p, n_scan, out);
    for (std::int64_t k = 0; k < v.n_nuisances; ++k) phi[k] = kNaN;
    return;
  }
  NuisanceWorkspace ws;
  const SerialNuisanceEvaluator eval{&v, &ws.coords};
  double phi_hat[kMaxNuisances];
  ProblemSolution s = solve_nuisance_problem(eval, v, settings, ws, phi_hat);
  if (s.status == SolveStatus::invalid_nuisance) {
    for (int j = 0; j < n_scan; ++j) out.stat_scan[p * n_scan + j] = kNaN;
    for (std::int64_t k = 0; k < v.n_nuisances; ++k) phi[k] = kNaN;
    store_solution(s, p, out);
    for (std::int64_t k = v.bins.segment_begin; k < v.bins.segment_end; ++k)
      store_dataset_sums(v.bins.dataset_sums(k, kNaN), k, kNaN, out);
    return;
  }
  if (n_scan > 0) {
    const NuisanceProfile<SerialNuisanceEvaluator> profile{&eval, &v, &settings, &ws};
    for (int j = 0; j < n_scan; ++j)
      out.stat_scan[p * n_scan + j] = profile.profile(scan_values[j]).value;
    s.evaluations = ws.passes;
  }
  store_solution(s, p, out);
  for (std::int64_t k = 0; k < v.n_nuisances; ++k) phi[k] = phi_hat[k];
  // The sums at the best fit: the anchor's coordinates (pinned nuisances are in ws.coords).
  double x[kMaxCoords];
  x[0] = s.norm;
  for (int q = 1; q < ws.coords.m; ++q) x[q] = ws.best.valid ? ws.best.x[q] : kNaN;
  for (std::int64_t k = v.bins.segment_begin; k < v.bins.segment_end; ++k)
    store_dataset_sums(nuisance_dataset_sums(v, ws.coords, x, k), k, s.norm, out);
}

}  // namespace fluxpoints::math
