// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The host side of forward folding: the arrays math/fold.hpp reads, built from
// SpectrumDatasets once and used for every model folded through them, and the CPU fold itself.
//
//   FoldArrays fold;
//   const auto k = fold.add_dataset(dataset);       // true axis, exposure, sparse dispersion
//   std::vector<double> npred = fold.npred(k, model);  // predicted counts per reco bin
//
// Closed-form models (SpectralModel::closed_form) are folded by math::fold_dataset, the code the
// CUDA fold (kernels/cuda/cuda_fold.hpp) runs too; other models (Template, Compound, EBL, Scale)
// are integrated through their virtual integral() and multiplied through the same dispersion
// code.
// Datasets with the same true edges share one log-log grid (the nodes of gammapy's numeric
// integral), built the first time a model without an analytic integral needs it, and a model
// folded through several datasets with the same true edges in a row is integrated once.

#include <cstdint>
#include <vector>

#include "fluxpoints/datasets/spectrum_dataset.hpp"
#include "fluxpoints/math/fold.hpp"
#include "fluxpoints/models/spectral_model.hpp"

namespace fluxpoints::datasets {

class FoldArrays {
 public:
  // Appends what folding needs from `d`: true edges, exposure and the dispersion as sparse reco
  // columns (or the identity when d.edisp is empty). Returns the dataset's index here. Throws
  // std::invalid_argument naming the dataset when the shapes disagree or a true bin is not
  // 0 < e_lo <= e_hi < inf.
  std::int32_t add_dataset(const SpectrumDataset& d);
  std::int32_t n_datasets() const { return static_cast<std::int32_t>(datasets_.size()); }
  // Removes every dataset, keeping the memory for the next ones.
  void clear();

  // Prepares the log-log grid of dataset k's true axis: reuses a grid of the same edges if one
  // exists, else builds it. Nothing happens when the dataset has one already.
  void prepare_grid(std::int32_t k);
  // Grids for every dataset that some model without an analytic integral is folded through.
  void prepare_grid_if_needed(std::int32_t k, const models::SpectralModel& model);

  // Predicted counts per reco bin of dataset k for `model` at its own parameters (prepares the
  // grid if the model needs it).
  std::vector<double> npred(std::int32_t k, const models::SpectralModel& model);

  // The arrays as math::fold reads them (pointers into this object: valid until it changes).
  math::FoldArraysView view() const;

 private:
  // Whether flux_ holds the fluxes of m over dataset k's true bins.
  bool same_fluxes(std::int32_t k, const math::ClosedFormSpectrum& m) const;

  std::vector<math::FoldDatasetInfo> datasets_;
  std::vector<math::LogLogGridInfo> grids_;
  std::vector<std::int64_t> grid_edges_;  // per grid: offset of the true edges it was built on
  std::vector<double> edges_, exposure_, values_, nodes_, log_ratio_, ratio_;
  std::vector<math::EdispColumn> columns_;
  std::vector<double> scratch_;  // npred per true bin, reused between calls
  // The true bins' fluxes of the last closed-form model folded, and what they depend on: the
  // model and the true edges (the grid follows from the edges).
  std::vector<double> flux_;
  math::ClosedFormSpectrum flux_model_;
  std::int32_t flux_dataset_ = -1;  // the dataset they were computed for; -1: none
};

}  // namespace fluxpoints::datasets
