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
#include <memory>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/fold_backend.hpp"
#include "fluxpoints/math/fold.hpp"

namespace fluxpoints::cuda_backend {

// The tasks are the public FoldTask (fluxpoints/fold_backend.hpp).
using fluxpoints::FoldTask;

// Folds every task on the calling thread's current GPU; returns the concatenated npred (the sum
// of the tasks' n_reco entries when their outputs tile it). Throws std::invalid_argument for a
// bad task (checked_fold_size), std::runtime_error on a CUDA error (the message names the call)
// or when there is no usable device.
std::vector<double> fold(const math::FoldArraysView& arrays, const std::vector<FoldTask>& tasks);

// The fold as a FoldBackend on GPU config.device (every fold() call runs there, whatever thread
// calls it). Throws std::runtime_error with the reason when there is no usable device, the index
// is out of range or the binary's kernels cannot run on it (as cuda_backend::make).
std::unique_ptr<FoldBackend> make_fold(const CudaConfig& config);

}  // namespace fluxpoints::cuda_backend
