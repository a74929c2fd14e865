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
  math::ResultArrays out;
  math::for_each_result_field(
      [](const math::FieldInfo&, auto*& pointer, auto& column) { pointer = column.data(); }, out,
      r);
  out.evaluations = evaluations.data();
  return out;
}

}  // namespace fluxpoints
