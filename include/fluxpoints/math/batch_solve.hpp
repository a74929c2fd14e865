// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Solve problem p of a flattened batch and store every result where it belongs. The CPU backend
// calls this once per problem inside a Kokkos parallel_for; the CUDA backend calls it from its
// thread-per-problem kernel and builds its block-per-problem path from the same pieces. Keeping
// it here is what makes the backends agree.

#include "fluxpoints/math/schema.hpp"
#include "fluxpoints/math/solver.hpp"

namespace fluxpoints::math {

// Raw views of the batch arrays (see LikelihoodBatch).
struct BatchArrays {
  const double* counts;
  const double* npred_ref;
  const double* npred_other;
  const double* counts_off;
  const double* alpha;
  const std::int64_t* segment_bins;
  const StatKind* segment_kind;
  const std::int64_t* problem_segments;

  FLUXPOINTS_HD ProblemView problem(std::int64_t p) const {
    return ProblemView{counts,       npred_ref,    npred_other,         counts_off,
                       alpha,        segment_bins, segment_kind,        problem_segments[p],
                       problem_segments[p + 1]};
  }
};

// Raw views of the result arrays (math/schema.hpp; stat_scan may be null when n_scan = 0), and
// the profile evaluations per problem.
struct ResultArrays : ResultColumns<Pointer> {
  int* evaluations = nullptr;
};

// Fills row p for a problem with no bins at all.
FLUXPOINTS_HD void store_empty_problem(const ProblemView& v, std::int64_t p, int n_scan,
                                       const ResultArrays& out) {
  const bool no_dataset = v.segment_end == v.segment_begin;
  out.norm[p] = kNaN;
  out.norm_err[p] = kNaN;
  out.ts[p] = kNaN;
  out.sqrt_ts[p] = kNaN;
  // 1.8b: stat and stat_null are sums over an empty set (0); 1.8a: no fit at all (NaN).
  out.stat[p] = no_dataset ? kNaN : 0.0;
  out.stat_null[p] = no_dataset ? kNaN : 0.0;
  out.norm_errn[p] = kNaN;
  out.norm_errp[p] = kNaN;
  out.norm_ul[p] = kNaN;
  out.success[p] = 0;
  out.status[p] = no_dataset ? SolveStatus::no_dataset : SolveStatus::empty_mask;
  out.notes[p] = note_none;
  for (int j = 0; j < n_scan; ++j) out.stat_scan[p * n_scan + j] = kNaN;
  for (std::int64_t k = v.segment_begin; k < v.segment_end; ++k) {
    out.counts[k] = 0.0;
    out.npred[k] = kNaN;
    out.npred_excess[k] = 0.0;
  }
  out.evaluations[p] = 0;
}

// Stores the scalar results of problem p (everything but the scan and the per-dataset sums).
FLUXPOINTS_HD void store_solution(const ProblemSolution& s, std::int64_t p,
                                  const ResultArrays& out) {
  out.norm[p] = s.norm;
  out.norm_err[p] = s.norm_err;
  out.ts[p] = s.ts;
  out.sqrt_ts[p] = s.sqrt_ts;
  out.stat[p] = s.stat;
  out.stat_null[p] = s.stat_null;
  out.norm_errn[p] = s.norm_errn;
  out.norm_errp[p] = s.norm_errp;
  out.norm_ul[p] = s.norm_ul;
  out.success[p] = s.status == SolveStatus::ok ? 1 : 0;
  out.status[p] = s.status;
  out.notes[p] = s.notes;
  out.evaluations[p] = s.evaluations;
}

// Stores the sums of dataset segment k at the best-fit norm.
FLUXPOINTS_HD void store_dataset_sums(const ProblemView::DatasetSums& d, std::int64_t k,
                                      double norm, const ResultArrays& out) {
  out.counts[k] = d.counts;
  // A failed minimisation has no norm: npred is then undefined.
  out.npred[k] = is_finite(norm) ? d.npred : kNaN;
  out.npred_excess[k] = is_finite(norm) ? norm * d.npred_ref : kNaN;
}

// Solves problem p and stores every result. With n_scan = 0 the scan is left to the caller (the
// CUDA backend runs it as a separate kernel, which then counts its one evaluation).
FLUXPOINTS_HD void solve_and_store(const BatchArrays& in, std::int64_t p,
                                   const SolveSettings& settings, const double* scan_values,
                                   int n_scan, const ResultArrays& out) {
  const ProblemView v = in.problem(p);
  if (v.n_bins() == 0) {
    store_empty_problem(v, p, n_scan, out);
    return;
  }
  ProblemSolution s = solve_profile(v, settings);
  if (n_scan > 0) {
    v.values(scan_values, n_scan, out.stat_scan + p * n_scan);
    ++s.evaluations;
  }
  store_solution(s, p, out);
  for (std::int64_t k = v.segment_begin; k < v.segment_end; ++k)
    store_dataset_sums(v.dataset_sums(k, s.norm), k, s.norm, out);
}

}  // namespace fluxpoints::math
