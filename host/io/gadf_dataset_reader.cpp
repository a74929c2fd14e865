// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// gadf (DL4) region-map layout of SpectrumDataset / SpectrumDatasetOnOff
// (see docs/spectrum-datasets.md).
#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "fluxpoints/io/dataset_io.hpp"
#include "fluxpoints/io/ogip.hpp"
#include "host/io/fits_file.hpp"
#include "host/io/table_columns.hpp"

namespace fluxpoints::io {
namespace {

using datasets::SpectrumDataset;

[[noreturn]] void fail(FitsFile& file, const std::string& what) {
  throw std::runtime_error(file.path() + ": HDU " + file.hdu() + ": " + what);
}

// The DATA column of region map `hdu`: one value per row (per energy bin), `per_row` values
// for a 2-D map. Values must be finite and >= 0.
std::vector<double> read_map(FitsFile& file, const std::string& hdu, std::size_t rows,
                             std::size_t per_row, double factor = 1.0) {
  file.move_to(hdu);
  if (file.num_rows() != static_cast<long>(rows)) {
    fail(file, fmt::format("{} rows, expected {}", file.num_rows(), rows));
  }
  std::vector<double> values = file.read_doubles("DATA");
  if (values.size() != rows * per_row) {
    fail(file, fmt::format("column DATA holds {} values, expected {} x {} (maps with more than "
                           "one spatial bin are not supported)",
                           values.size(), rows, per_row));
  }
  for (std::size_t k = 0; k < values.size(); ++k) {
    values[k] *= factor;
    if (!std::isfinite(values[k]) || values[k] < 0.0) {
      fail(file, fmt::format("column DATA value {} (row {}) is {} (must be finite and >= 0)", k,
                             k / per_row + 1, values[k]));
    }
  }
  return values;
}

std::vector<std::uint8_t> read_mask(FitsFile& file, const std::string& hdu, std::size_t rows) {
  file.move_to(hdu);
  if (file.num_rows() != static_cast<long>(rows)) {
    fail(file, fmt::format("{} rows, expected {}", file.num_rows(), rows));
  }
  return file.read_flags("DATA");
}

}  // namespace

datasets::SpectrumDataset read_gadf_spectrum_dataset(const std::string& path) {
  FitsFile file(path, FitsFile::Mode::kRead);
  SpectrumDataset ds;
  ds.source_file = path;
  file.move_to_primary();
  ds.name = file.find_key_string("NAME").value_or("");

  file.move_to("COUNTS_BANDS");
  ds.reco_edges = energy_edges_tev(file, "E_MIN", "E_MAX", "TeV", &ds.energy_unit);
  file.move_to("EXPOSURE_BANDS");
  ds.true_edges = energy_edges_tev(file, "ENERGY_TRUE_MIN", "ENERGY_TRUE_MAX", "TeV");
  const std::size_t nr = ds.reco_edges.size() - 1;
  const std::size_t nt = ds.true_edges.size() - 1;

  ds.counts = read_map(file, "COUNTS", nr, 1);
  file.move_to("EXPOSURE");
  const double to_cm2s = column_unit_factor(file, "DATA", "cm2 s", "cm2 s");
  ds.exposure = read_map(file, "EXPOSURE", nt, 1, to_cm2s);

  if (file.has_hdu("EDISP")) {
    file.move_to("EDISP");
    const std::string axes = file.find_key_string("AXCOLS1").value_or("") + " / " +
                             file.find_key_string("AXCOLS2").value_or("");
    if (axes != "E_MIN,E_MAX / ENERGY_TRUE_MIN,ENERGY_TRUE_MAX") {
      fail(file,
           "only energy-dispersion kernel maps (AXCOLS1 = 'E_MIN,E_MAX', AXCOLS2 = "
           "'ENERGY_TRUE_MIN,ENERGY_TRUE_MAX') are supported, found " +
               axes);
    }
    ds.edisp = read_map(file, "EDISP", nt, nr);
  }
  if (file.has_hdu("MASK_SAFE")) ds.mask_safe = read_mask(file, "MASK_SAFE", nr);
  if (file.has_hdu("MASK_FIT")) ds.mask_fit = read_mask(file, "MASK_FIT", nr);

  if (file.has_hdu("COUNTS_OFF")) {
    ds.on_off = true;
    ds.counts_off = read_map(file, "COUNTS_OFF", nr, 1);
    ds.acceptance = read_map(file, "ACCEPTANCE", nr, 1);
    ds.acceptance_off = read_map(file, "ACCEPTANCE_OFF", nr, 1);
    ds.set_alpha_from_acceptances();
  } else if (file.has_hdu("BACKGROUND")) {
    ds.background = read_map(file, "BACKGROUND", nr, 1);
  } else {
    ds.background.assign(nr, 0.0);
  }
  ds.validate();
  return ds;
}

datasets::SpectrumDataset read_spectrum_dataset(const std::string& path) {
  bool ogip = false;
  bool gadf = false;
  {
    FitsFile file(path, FitsFile::Mode::kRead);
    if (file.has_hdu("SPECTRUM")) {
      file.move_to("SPECTRUM");
      ogip = file.find_key_string("HDUCLASS").value_or("").find("OGIP") != std::string::npos;
    }
    gadf = !ogip && file.has_hdu("COUNTS") && file.has_hdu("COUNTS_BANDS");
  }
  if (ogip) return read_ogip_dataset(path);
  if (gadf) return read_gadf_spectrum_dataset(path);
  throw std::runtime_error(path +
                           ": not a spectrum dataset: neither OGIP (a SPECTRUM HDU with "
                           "HDUCLASS 'OGIP') nor gadf (COUNTS and COUNTS_BANDS HDUs)");
}

}  // namespace fluxpoints::io
