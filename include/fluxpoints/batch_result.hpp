// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// What a backend returns for a LikelihoodBatch: per problem every quantity of a flux point that
// needs no spectral model. The arrays are the fields of math/schema.hpp, one std::vector each:
// indexed by problem; per dataset like the batch's segments (problem p owns
// [problem_segments[p], problem_segments[p+1])); stat_scan problem-major (n_problems x n_scan).

#include <cstdint>
#include <string>
#include <vector>

#include "fluxpoints/math/schema.hpp"
#include "fluxpoints/math/solver.hpp"

namespace fluxpoints {

using math::SolveStatus;

template <class T>
using HostVector = std::vector<T>;

// norm, norm_err, ts, sqrt_ts, stat, stat_null, norm_errn, norm_errp, norm_ul, success, status,
// notes, stat_scan, npred, npred_excess, counts: see math/schema.hpp. `norm` and `norm_err` are
// the raw solution; gammapy's FluxPoints shows them as NaN where success is false (use
// filtered_norm / filtered_norm_err for that view).
struct BatchResult : math::ResultColumns<HostVector> {
  // The scan grid (the same for every problem).
  std::vector<double> norm_scan;
  // Per nuisance parameter (indexed like the batch's nuisances), when the batch has some: the
  // fitted values at the best-fit norm (NaN where the problem has no fit). Empty otherwise. Not
  // in the schema table: its extent is the batch's nuisance count, not problems or segments.
  std::vector<double> nuisance;
  // Total profile evaluations (passes over a problem's bins), for throughput reporting.
  std::int64_t evaluations = 0;

  std::int64_t n_problems() const { return static_cast<std::int64_t>(norm.size()); }
  std::int64_t n_scan() const { return static_cast<std::int64_t>(norm_scan.size()); }
  double filtered_norm(std::int64_t p) const;
  double filtered_norm_err(std::int64_t p) const;
  // Human-readable reason for problem p's status and notes ("ok", "flat minimum: ...").
  std::string reason(std::int64_t p) const;

  void resize(std::int64_t n_problems, std::int64_t n_segments, std::int64_t n_scan);
};

// Text for a status and the note bits.
std::string describe_status(SolveStatus status);
std::string describe_notes(std::uint32_t notes);

class LikelihoodBatch;
// r.reason(p), plus what in the problem's bins caused it where the status alone cannot say:
// for a plateau, whether the source predicts no counts, alpha is 0 everywhere (an acceptance
// such as BACKSCAL of 0) or every Cash count is 0.
std::string explain(const LikelihoodBatch& batch, const BatchResult& r, std::int64_t p);

}  // namespace fluxpoints
