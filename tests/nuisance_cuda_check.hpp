// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The nuisance solver run on a CUDA device, one thread per problem (nuisance_cuda_check.cu,
// compiled only when the CUDA backend is built). The CUDA backend's own dispatch of nuisance
// problems comes with the integration into the batch types; this runs the shared math
// (math::solve_and_store_nuisance) inside a __global__ so that it is compiled for the device
// and, where a GPU is present, compared with the host (test_nuisance_solver.cpp).

#include <cstdint>
#include <string>
#include <vector>

#include "fluxpoints/math/nuisance_batch_solve.hpp"

namespace fluxpoints::testing {

struct NuisanceDeviceInput {
  // Host copies of everything BatchArrays / NuisanceArrays point to.
  std::vector<double> counts, npred_ref, npred_other, counts_off, alpha;
  std::vector<std::int64_t> segment_bins;
  std::vector<math::StatKind> segment_kind;
  std::vector<std::int64_t> problem_segments;
  std::vector<std::int64_t> problem_nuisances, template_offset;
  std::vector<double> template_values, start, min, max;
  std::vector<double> scan;
  math::SolveSettings settings;
};

struct NuisanceDeviceOutput {
  std::vector<double> norm, norm_err, ts, sqrt_ts, stat, stat_null, norm_errn, norm_errp, norm_ul;
  std::vector<std::uint8_t> success;
  std::vector<math::SolveStatus> status;
  std::vector<std::uint32_t> notes;
  std::vector<double> stat_scan, npred, npred_excess, counts, phi;
  std::vector<int> evaluations;
};

// Solves every problem on the first CUDA device. False (with the reason) when none is usable.
bool solve_nuisance_on_cuda(const NuisanceDeviceInput& in, NuisanceDeviceOutput& out,
                            std::string* reason);

}  // namespace fluxpoints::testing
