// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Reading 1-D spectral datasets from the files gammapy writes: OGIP (io/ogip.hpp) and the gadf
// region-map layout that SpectrumDataset.write / SpectrumDatasetOnOff.write use by default (see
// docs/spectrum-datasets.md).

#include <string>
#include <vector>

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

// Detects the layout: a SPECTRUM HDU whose HDUCLASS contains "OGIP" -> OGIP, a
// COUNTS HDU with COUNTS_BANDS -> gadf. Throws std::runtime_error naming the file otherwise.
datasets::SpectrumDataset read_spectrum_dataset(const std::string& path);

// One entry of the index file that gammapy's Datasets.write makes (datasets.yaml): the
// dataset's name, its gammapy type and its file (made absolute or relative to the working
// folder: gammapy resolves a relative filename against the index file's folder).
struct DatasetIndexEntry {
  std::string name;
  std::string type;
  std::string path;
};

// True when `path` names a datasets index (extension .yaml or .yml) rather than a FITS file.
bool is_datasets_index(const std::string& path);

// Reads a datasets index: a top-level sequence `datasets` of maps with `name`, `type` and
// `filename`. Only the 1-D types SpectrumDataset and SpectrumDatasetOnOff are accepted; any
// other type (MapDataset, MapDatasetOnOff, FluxPointsDataset, ...) is refused naming the
// dataset and its type. Throws std::runtime_error naming the file, the entry and the field.
std::vector<DatasetIndexEntry> read_datasets_index(const std::string& path);

// Expands the dataset arguments of a command, in order: a datasets index gives its entries, a
// FITS file (OGIP or gadf) one entry whose name and type are left empty (taken from the file).
std::vector<DatasetIndexEntry> expand_dataset_arguments(const std::vector<std::string>& args);

// Every file that reading `args` opens (indexes, dataset files, OGIP companion files): the
// inputs that an output must never overwrite.
std::vector<std::string> dataset_input_files(const std::vector<std::string>& args);

// Reads the datasets of `entries` with read_spectrum_dataset. An entry with a name renames the
// dataset (models' datasets_names refer to the index's names); an entry with a type must match
// the file (OFF counts exactly for SpectrumDatasetOnOff).
std::vector<datasets::SpectrumDataset> read_dataset_entries(
    const std::vector<DatasetIndexEntry>& entries);

}  // namespace fluxpoints::io
