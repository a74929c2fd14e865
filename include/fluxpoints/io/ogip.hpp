// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// OGIP spectra (PHA + BKG + ARF + RMF) read and written the way gammapy 2.1 does for
// SpectrumDatasetOnOff (see docs/spectrum-datasets.md).

#include <string>
#include <vector>

#include "fluxpoints/datasets/spectrum_dataset.hpp"
#include "fluxpoints/io/output.hpp"

namespace fluxpoints::io {

// Reads an OGIP PHA file and its companions (ANCRFILE required, BACKFILE and RESPFILE optional,
// each taken as given when that path exists, else relative to the PHA's directory).
//  * SPECTRUM: COUNTS -> counts, QUALITY (integer or logical) -> mask_safe = (QUALITY == 0),
//    BACKSCAL column -> acceptance; keywords EXPOSURE -> livetime, OBS_ID -> name (several OBS_ID
//    cards give gammapy's "[a, b, ...]"). `name`, when not empty, replaces OBS_ID.
//  * EBOUNDS: reco edges = E_MIN + last E_MAX, converted from TUNIT (keV when absent) to TeV;
//    the file unit is kept in energy_unit.
//  * BKG: COUNTS -> counts_off, BACKSCAL -> acceptance_off, alpha = BACKSCAL / BACKSCAL_off with
//    NaN or inf -> 0. Without BACKFILE the dataset is a Cash dataset with zero background.
//  * ARF SPECRESP: true edges from ENERG_LO/ENERG_HI, exposure = SPECRESP (TUNIT parsed as a full
//    unit expression, cm2 when absent) x EXPOSURE, in cm2 s.
//  * RMF MATRIX: groups (F_CHAN 0-based, TLMIN ignored; N_CHAN; MATRIX) unpacked into the dense
//    n_true x n_reco matrix. Without RESPFILE the dispersion is the identity.
// Throws std::runtime_error naming the file and the HDU/column/keyword for missing files or
// HDUs, shape mismatches (e.g. PHA vs RMF channels), non-finite or negative values, zero
// EXPOSURE.
datasets::SpectrumDataset read_ogip_dataset(const std::string& pha_path,
                                            const std::string& name = "");

// The companion names gammapy's writer uses for a PHA path "dir/<stem>.fits".
struct OgipFileNames {
  std::string pha, arf, bkg, rmf;  // full paths
};
OgipFileNames ogip_file_names(const std::string& pha_path);

// Writes an On/Off dataset in gammapy's OGIP layout: <stem>.fits (SPECTRUM, EBOUNDS),
// <stem>_arf.fits (SPECRESP in cm2), <stem>_bkg.fits (SPECTRUM, EBOUNDS) and <stem>_rmf.fits
// (MATRIX, EBOUNDS), energies in dataset.energy_unit, QUALITY as a FITS logical (true = bad),
// RMF values as float32 like gammapy (names ending in .gz: gzip-compressed). The output rule
// (fluxpoints/io/output.hpp) applies to each of the four files; all four are checked before
// anything is written, each is written to a temporary and renamed when all four are complete,
// so a failure leaves nothing half-written.
void write_ogip_dataset(const datasets::SpectrumDataset& dataset, const std::string& pha_path,
                        const OutputRule& rule = {});

// The files read_ogip_dataset reads for `pha_path`: the PHA and the companions its keywords
// name (resolved the same way). For the output rule: commands never write over them.
std::vector<std::string> ogip_input_files(const std::string& pha_path);

}  // namespace fluxpoints::io
