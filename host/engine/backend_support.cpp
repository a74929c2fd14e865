// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "host/engine/backend_support.hpp"

namespace fluxpoints {

void prepare_solve(const BatchView& batch, const SolveOptions& options, BatchResult& result) {
  options.validate();
  batch.validate();
  result.norm_scan = options.scan ? options.norm_scan() : std::vector<double>{};
  result.resize(batch.n_problems, batch.n_segments, result.n_scan());
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
