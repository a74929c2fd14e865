// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Folding many closed-form models through many datasets in one call, on the CPU or on a GPU:
//
//   datasets::FoldArrays arrays;                 // host: the datasets' fold arrays
//   const auto k = arrays.add_dataset(d);         // and prepare_grid(k) where a model needs it
//   std::vector<FoldTask> tasks = {{*model.closed_form(), k, 0}};
//   auto folder = make_fold_backend("device");    // or "host"
//   std::vector<double> npred = folder->fold(arrays.view(), tasks);
//
// Both backends run the same fold code (math/fold.hpp, math::fold_dataset on the CPU, one thread
// per bin on the GPU). The CPU result equals datasets::FoldArrays::npred bit for bit; the GPU's
// differs from it by the rounding of the device's pow/exp/log (an ulp or so per call). Models
// without a closed form (templates, EBL absorption, compound models) cannot be tasks: the caller
// folds those with FoldArrays::npred on the host.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/math/fold.hpp"

namespace fluxpoints {

// One model folded through one dataset of the arrays. Its reco bins go to
// npred[npred_offset, npred_offset + n_reco of the dataset).
struct FoldTask {
  math::ClosedFormSpectrum model;
  std::int32_t dataset = 0;
  std::int64_t npred_offset = 0;
};

class FoldBackend {
 public:
  virtual ~FoldBackend() = default;
  // "cpu" or "cuda (GPU name, device N)".
  virtual std::string name() const = 0;
  // Folds every task (their output ranges must not overlap); returns npred with
  // max(npred_offset + n_reco) entries (entries no task writes are 0). Throws
  // std::invalid_argument when a task names a dataset that is not in the arrays, needs a log-log
  // grid that was not prepared (FoldArrays::prepare_grid) or has a negative offset; the CUDA
  // backend throws std::runtime_error on a CUDA error.
  virtual std::vector<double> fold(const math::FoldArraysView& arrays,
                                   const std::vector<FoldTask>& tasks) const = 0;
};

// Checks every task against the arrays (the errors FoldBackend::fold throws) and returns the
// size of the npred they fill: max(npred_offset + n_reco), 0 without tasks. Both backends call it
// before any work, so a fold never reads outside the arrays.
std::int64_t checked_fold_size(const math::FoldArraysView& arrays,
                               const std::vector<FoldTask>& tasks);

// "host": the CPU (`workers` threads, 0 = every core this process may use). "device": the CUDA
// GPU cuda.device; throws std::runtime_error saying why when there is none that can be used (or
// this build has no CUDA support). `why`, if given, receives one line saying what was chosen.
// Anything else: std::invalid_argument.
std::unique_ptr<FoldBackend> make_fold_backend(const std::string& where,
                                               const CudaConfig& cuda = {}, int workers = 0,
                                               std::string* why = nullptr);

}  // namespace fluxpoints
