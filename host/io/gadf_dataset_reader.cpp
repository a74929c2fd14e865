// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// gadf (DL4) region-map layout of SpectrumDataset / SpectrumDatasetOnOff (spec 7c).
#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "fluxpoints/io/dataset_io.hpp"
#include "fluxpoints/io/ogip.hpp"
#include "fluxpoints/models/units.hpp"
#include "host/io/fits_file.hpp"

namespace fluxpoints::io {
namespace {

using datasets::SpectrumDataset;

[[noreturn]] void fail(FitsFile& file, const std::string& what) {
  throw std::runtime_error(file.path() + ": HDU " + file.hdu() + ": " + what);
}

double unit_factor(FitsFile& file, const std::string& column, const std::string& target,
                   const std::string& fallback, std::string* unit_out = nullptr) {
  std::string unit = file.column_unit(column);
  if (unit.empty()) unit = fallback;
  if (unit_out != nullptr) *unit_out = unit;
  try {
    return models::unit_conversion_factor(unit, target);
  } catch (const std::invalid_argument& e) {
    fail(file, "column " + column + ": " + e.what());
  }
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

std::vector<double> band_edges(FitsFile& file, const std::string& hdu, const std::string& lo,
                               const std::string& hi, std::string* unit) {
  file.move_to(hdu);
  const double to_tev = unit_factor(file, lo, "TeV", "TeV", unit);
  const std::vector<double> e_lo = file.read_doubles(lo);
  const std::vector<double> e_hi = file.read_doubles(hi);
  if (e_lo.empty() || e_lo.size() != e_hi.size()) fail(file, lo + "/" + hi + " empty or unequal");
  std::vector<double> edges;
  for (double v : e_lo) edges.push_back(v * to_tev);
  edges.push_back(e_hi.back() * to_tev);
  for (std::size_t k = 0; k < edges.size(); ++k) {
    if (!std::isfinite(edges[k]) || edges[k] <= 0.0 || (k > 0 && edges[k] <= edges[k - 1])) {
      fail(file, "column " + lo + "/" + hi + ": energies must be positive and increasing");
    }
  }
  return edges;
}

}  // namespace

datasets::SpectrumDataset read_gadf_spectrum_dataset(const std::string& path) {
  FitsFile file(path, FitsFile::Mode::kRead);
  SpectrumDataset ds;
  ds.source_file = path;
  file.move_to_primary();
  ds.name = file.find_key_string("NAME").value_or("");

  ds.reco_edges = band_edges(file, "COUNTS_BANDS", "E_MIN", "E_MAX", &ds.energy_unit);
  std::string true_unit;
  ds.true_edges =
      band_edges(file, "EXPOSURE_BANDS", "ENERGY_TRUE_MIN", "ENERGY_TRUE_MAX", &true_unit);
  const std::size_t nr = ds.reco_edges.size() - 1;
  const std::size_t nt = ds.true_edges.size() - 1;

  ds.counts = read_map(file, "COUNTS", nr, 1);
  file.move_to("EXPOSURE");
  const double to_cm2s = unit_factor(file, "DATA", "cm2 s", "cm2 s");
  ds.exposure = read_map(file, "EXPOSURE", nt, 1, to_cm2s);

  if (file.has_hdu("EDISP")) {
    file.move_to("EDISP");
    const std::string axes = file.find_key_string("AXCOLS1").value_or("") + " / " +
                             file.find_key_string("AXCOLS2").value_or("");
    if (axes != "E_MIN,E_MAX / ENERGY_TRUE_MIN,ENERGY_TRUE_MAX") {
      fail(file, "only energy-dispersion kernel maps (AXCOLS1 = 'E_MIN,E_MAX', AXCOLS2 = "
                 "'ENERGY_TRUE_MIN,ENERGY_TRUE_MAX') are supported, found " + axes);
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
    ds.alpha.resize(nr);
    for (std::size_t i = 0; i < nr; ++i) {
      const double a = ds.acceptance[i] / ds.acceptance_off[i];
      ds.alpha[i] = std::isfinite(a) ? a : 0.0;
    }
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
  throw std::runtime_error(path + ": not a spectrum dataset: neither OGIP (a SPECTRUM HDU with "
                           "HDUCLASS 'OGIP') nor gadf (COUNTS and COUNTS_BANDS HDUs)");
}

}  // namespace fluxpoints::io
