// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Reading 1-D spectral datasets from the files gammapy writes: OGIP (io/ogip.hpp) and the gadf
// region-map layout that SpectrumDataset.write / SpectrumDatasetOnOff.write use by default
// (spec 7c).

#include <string>

#include "fluxpoints/datasets/spectrum_dataset.hpp"

namespace fluxpoints::io {

// gadf layout, one binary table per map with CHANNEL and DATA columns plus <NAME>_BANDS axis
// tables: PRIMARY keyword NAME -> name; COUNTS (+ COUNTS_BANDS E_MIN/E_MAX -> reco edges, unit
// kept in energy_unit); EXPOSURE (TUNIT, e.g. "cm2 s" or "m2 s"; + EXPOSURE_BANDS
// ENERGY_TRUE_MIN/MAX -> true edges); optional BACKGROUND (Cash), EDISP (kernel map, one row
// per true bin holding the reco probabilities), MASK_SAFE, MASK_FIT (logical, true = use), and
// for On/Off: COUNTS_OFF, ACCEPTANCE, ACCEPTANCE_OFF (alpha = ACCEPTANCE/ACCEPTANCE_OFF, NaN or
// inf -> 0). Without BACKGROUND and COUNTS_OFF the background is zero. gammapy does not store the
// livetime in this layout: livetime_s is 0. Not supported (clear error): migration-map EDISP
// (MIGRA axis) and maps with more than one spatial bin.
datasets::SpectrumDataset read_gadf_spectrum_dataset(const std::string& path);

// Detects the layout (spec 7a): a SPECTRUM HDU whose HDUCLASS contains "OGIP" -> OGIP, a
// COUNTS HDU with COUNTS_BANDS -> gadf. Throws std::runtime_error naming the file otherwise.
datasets::SpectrumDataset read_spectrum_dataset(const std::string& path);

}  // namespace fluxpoints::io
