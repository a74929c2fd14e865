// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// sum_over_energy_groups: a group's reco bins of a dataset collapsed into one bin per pixel, as
// gammapy's to_image does after slicing. One rule for spectra (one pixel) and flattened maps
// (bin e * n_pixels + px, energy-major), used by the estimator and by field catalogs:
//  * counts, OFF counts, background and every prediction are summed over the SAFE bins only;
//  * the masks are OR-ed over the bins: a pixel is safe, or fitted, when any of its bins is, so
//    mask_fit selects pixels but does not weight the sums;
//  * alpha becomes the OFF-count-weighted mean over the safe bins (0 without OFF counts, as
//    gammapy's nan_to_num makes of 0 / 0).

#include <cstddef>
#include <vector>

#include "fluxpoints/datasets/spectrum_dataset.hpp"
#include "fluxpoints/estimator/estimator.hpp"

namespace fluxpoints {

// `values` (one per flat bin of `d`) summed over the safe bins of the reco bins `r`, per pixel.
// Empty stays empty (an absent column, e.g. no other models).
std::vector<double> sum_safe_bins(const std::vector<double>& values,
                                  const datasets::SpectrumDataset& d, BinRange r,
                                  std::size_t n_pixels);

// The dataset's reco bins `r` as one reco bin per pixel: name, on_off, counts, background,
// counts_off, alpha and the masks (the columns a likelihood problem reads; no response).
datasets::SpectrumDataset sum_energy_group(const datasets::SpectrumDataset& d, BinRange r,
                                           std::size_t n_pixels);

}  // namespace fluxpoints
