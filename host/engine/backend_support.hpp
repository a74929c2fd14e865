// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Helpers every backend uses around its solve: input validation, result allocation and the raw
// result arrays the shared math (math/batch_solve.hpp) writes.

#include <vector>

#include "fluxpoints/batch.hpp"
#include "fluxpoints/batch_result.hpp"
#include "fluxpoints/math/batch_solve.hpp"
#include "fluxpoints/solve_options.hpp"

namespace fluxpoints {

// Validates options and batch (structure before values), sizes `result` and fills its norm_scan.
void prepare_solve(const BatchView& batch, const SolveOptions& options, BatchResult& result);

// `evaluations` must have one entry per problem; the backend sums it into result.evaluations.
math::ResultArrays result_arrays(BatchResult& result, std::vector<int>& evaluations);

}  // namespace fluxpoints
