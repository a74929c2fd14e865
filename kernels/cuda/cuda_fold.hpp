// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Forward folding on the GPU: many closed-form models through many datasets in one call, by the
// code the CPU fold runs (math/fold.hpp). Plain C++: no CUDA types leak out of kernels/cuda.
//
//   datasets::FoldArrays arrays;               // host: true axes, exposure, sparse dispersion
//   ... arrays.add_dataset(d); arrays.prepare_grid(k) for tasks whose model needs it ...
//   std::vector<double> npred = cuda_backend::fold(arrays.view(), tasks);
//
// The arrays are uploaded once per call; one thread computes one true bin of one task (its
// integral times exposure), then one thread one reco bin (its dispersion column, rows in the
// host's order). Device pow/exp/log differ from the host's libm by an ulp or so, so the results
// agree with the CPU fold to rounding, not bit for bit.
#include <cstdint>
#include <vector>

#include "fluxpoints/math/fold.hpp"

namespace fluxpoints::cuda_backend {

// One model folded through one dataset of the arrays. Its reco bins go to
// npred[npred_offset, npred_offset + n_reco of the dataset).
struct FoldTask {
  math::ClosedFormSpectrum model;
  std::int32_t dataset = 0;
  std::int64_t npred_offset = 0;
};

// Folds every task; returns the concatenated npred (the sum of the tasks' n_reco entries when
// their outputs tile it). Throws std::invalid_argument when a task names a dataset that is not
// in the arrays or needs a log-log grid that was not prepared, std::runtime_error on a CUDA
// error (the message names the call) or when there is no usable device.
std::vector<double> fold(const math::FoldArraysView& arrays, const std::vector<FoldTask>& tasks);

}  // namespace fluxpoints::cuda_backend
