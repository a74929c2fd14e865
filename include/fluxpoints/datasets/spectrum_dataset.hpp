// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// One-dimensional spectral datasets as gammapy's SpectrumDataset (Cash, known background) and
// SpectrumDatasetOnOff (WStat), with the forward folding (integral over each true-energy bin, times
// the exposure, through the energy dispersion). Energies in TeV, exposure in cm2 s (internal
// units, see models/spectral_model.hpp).

#include <cstdint>
#include <string>
#include <vector>

#include "fluxpoints/models/spectral_model.hpp"

namespace fluxpoints::datasets {

struct SpectrumDataset {
  std::string name;         // OBS_ID for OGIP input
  std::string telescope;    // TELESCOP if known (empty for OGIP: gammapy never checks those)
  std::string source_file;  // for error messages
  bool on_off = false;      // true: WStat with counts_off/alpha; false: Cash with background
  std::string energy_unit = "TeV";  // unit of the reco axis in the input (outputs report it)

  std::vector<double> reco_edges;  // TeV, ascending, n_reco + 1
  std::vector<double> true_edges;  // TeV, ascending, n_true + 1

  std::vector<double> counts;      // n_reco
  std::vector<double> counts_off;  // n_reco, on_off only
  std::vector<double> alpha;       // n_reco, on_off only: acceptance/acceptance_off, NaN/inf -> 0
  std::vector<double> acceptance;  // n_reco, on_off only (BACKSCAL of the PHA)
  std::vector<double> acceptance_off;   // n_reco, on_off only (BACKSCAL of the BKG)
  std::vector<double> background;       // n_reco, Cash only
  std::vector<std::uint8_t> mask_safe;  // n_reco (empty = all true)
  std::vector<std::uint8_t> mask_fit;   // n_reco (empty = none)

  double livetime_s = 0.0;
  std::vector<double> exposure;  // n_true, cm2 s (ARF x livetime)
  std::vector<double> edisp;     // n_true x n_reco, row-major: P(reco i | true j)

  std::size_t n_reco() const { return counts.size(); }
  std::size_t n_true() const { return exposure.size(); }
  // mask_safe AND mask_fit for reco bin i.
  bool mask(std::size_t i) const;
  // Predicted source counts per reco bin at norm 1: sum_j F_j eps_j M[j,i].
  std::vector<double> npred_source(const models::SpectralModel& model) const;
  // Throws std::runtime_error naming source_file and the field for inconsistent shapes,
  // non-finite or negative values.
  void validate() const;
  // alpha = acceptance / acceptance_off per bin, NaN or inf -> 0 (as gammapy, e.g. for an OFF
  // BACKSCAL of 0).
  void set_alpha_from_acceptances();
};

}  // namespace fluxpoints::datasets
