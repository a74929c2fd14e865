// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/backend_support.hpp"

namespace fluxpoints {

void prepare_solve(const LikelihoodBatch& batch, const SolveOptions& options, BatchResult& result) {
  options.validate();
  batch.validate();
  result.norm_scan = options.scan ? options.norm_scan() : std::vector<double>{};
  result.resize(batch.n_problems(), batch.n_segments(), result.n_scan());
}

math::BatchArrays batch_arrays(const LikelihoodBatch& b) {
  return math::BatchArrays{b.counts.data(),       b.npred_ref.data(),    b.npred_other.data(),
                           b.counts_off.data(),   b.alpha.data(),        b.segment_bins.data(),
                           b.segment_kind.data(), b.problem_segments.data()};
}

math::ResultArrays result_arrays(BatchResult& r, std::vector<int>& evaluations) {
  return math::ResultArrays{r.norm.data(),      r.norm_err.data(),  r.ts.data(),
                            r.sqrt_ts.data(),   r.stat.data(),      r.stat_null.data(),
                            r.norm_errn.data(), r.norm_errp.data(), r.norm_ul.data(),
                            r.success.data(),   r.status.data(),    r.notes.data(),
                            r.stat_scan.data(), r.npred.data(),     r.npred_excess.data(),
                            r.counts.data(),    evaluations.data()};
}

}  // namespace fluxpoints
