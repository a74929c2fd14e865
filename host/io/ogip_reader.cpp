// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// OGIP reader, following gammapy 2.1's OGIPDatasetReader.
#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "fluxpoints/io/ogip.hpp"
#include "fluxpoints/limits.hpp"
#include "fluxpoints/models/units.hpp"
#include "host/io/fits_file.hpp"
#include "host/io/table_columns.hpp"

namespace fluxpoints::io {
namespace {

namespace fs = std::filesystem;
using datasets::SpectrumDataset;

// A companion file name from a PHA keyword: as given when it exists, else next to the PHA.
std::string resolve_companion(const std::string& given, const std::string& pha_path) {
  if (fs::exists(given)) return given;
  return (fs::path(pha_path).parent_path() / given).string();
}

// An optional file keyword; empty or "none" means absent.
std::string optional_file_key(FitsFile& file, const std::string& key) {
  if (!file.has_key(key)) return "";
  std::string value = file.read_key_string(key);
  std::string lower;
  for (char c : value) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "none") return "";
  return value;
}

// gammapy names the dataset str(OBS_ID); several OBS_ID cards become a Python list.
std::string dataset_name_from_obs_id(FitsFile& file) {
  const std::vector<std::string> ids = file.read_key_all("OBS_ID");
  if (ids.empty()) {
    throw std::runtime_error(file.path() + ": HDU " + file.hdu() + ": missing keyword OBS_ID");
  }
  if (ids.size() == 1) return ids.front();
  std::string name = "[";
  for (std::size_t k = 0; k < ids.size(); ++k) name += (k ? ", " : "") + ids[k];
  return name + "]";
}

struct SpectrumColumns {
  std::vector<double> counts;
  std::vector<double> backscal;
};

SpectrumColumns read_spectrum_columns(FitsFile& file) {
  file.move_to("SPECTRUM");
  SpectrumColumns out;
  if (file.has_column("RATE") && !file.has_column("COUNTS")) {
    throw std::runtime_error(file.path() +
                             ": HDU SPECTRUM: has RATE but no COUNTS column "
                             "(only COUNTS spectra are supported, as in gammapy)");
  }
  out.counts = file.read_doubles("COUNTS");
  require_finite_non_negative(file, "COUNTS", out.counts);
  if (!file.has_column("BACKSCAL")) {
    throw std::runtime_error(file.path() + ": HDU SPECTRUM: missing column BACKSCAL" +
                             std::string(file.has_key("BACKSCAL")
                                             ? " (a BACKSCAL keyword is not enough: gammapy "
                                               "reads BACKSCAL as a column)"
                                             : ""));
  }
  out.backscal = file.read_doubles("BACKSCAL");
  require_finite_non_negative(file, "BACKSCAL", out.backscal);
  if (out.counts.empty() || out.counts.size() != out.backscal.size()) {
    throw std::runtime_error(file.path() +
                             ": HDU SPECTRUM: empty table or columns of different "
                             "lengths");
  }
  return out;
}

void read_arf(const std::string& path, SpectrumDataset& ds) {
  FitsFile file(path, FitsFile::Mode::kRead);
  file.move_to("SPECRESP");
  // Units are required (gammapy fails on an ARF without them); gammapy's own ARFs may say
  // e.g. "h-1 m2 s" for the area.
  ds.true_edges = energy_edges_tev(file, "ENERG_LO", "ENERG_HI", "");
  const double to_cm2 = column_unit_factor(file, "SPECRESP", "cm2", "");
  const std::vector<double> aeff = file.read_doubles("SPECRESP");
  require_finite_non_negative(file, "SPECRESP", aeff);
  ds.exposure.resize(aeff.size());
  for (std::size_t j = 0; j < aeff.size(); ++j) ds.exposure[j] = aeff[j] * to_cm2 * ds.livetime_s;
}

void read_bkg(const std::string& path, SpectrumDataset& ds) {
  FitsFile file(path, FitsFile::Mode::kRead);
  const SpectrumColumns off = read_spectrum_columns(file);
  if (off.counts.size() != ds.counts.size()) {
    throw std::runtime_error(path + ": HDU SPECTRUM: " + std::to_string(off.counts.size()) +
                             " channels, but the PHA " + ds.source_file + " has " +
                             std::to_string(ds.counts.size()));
  }
  ds.counts_off = off.counts;
  ds.acceptance_off = off.backscal;
  ds.set_alpha_from_acceptances();
}

void read_rmf(const std::string& path, SpectrumDataset& ds) {
  FitsFile file(path, FitsFile::Mode::kRead);
  const char* matrix_hdu = file.has_hdu("MATRIX") ? "MATRIX" : "SPECRESP MATRIX";
  file.move_to(matrix_hdu);
  const std::size_t n_reco = ds.counts.size();
  const std::size_t n_true = ds.exposure.size();
  const double detchans = file.read_key_double("DETCHANS");
  if (detchans != static_cast<double>(n_reco)) {
    throw std::runtime_error(path + ": HDU " + file.hdu() +
                             ": keyword DETCHANS = " + fmt::format("{}", detchans) +
                             " channels, but the PHA " + ds.source_file + " has " +
                             std::to_string(n_reco) + " (SPECTRUM rows)");
  }
  const long rows = file.num_rows();
  if (rows != static_cast<long>(n_true)) {
    throw std::runtime_error(path + ": HDU " + file.hdu() + ": " + std::to_string(rows) +
                             " true-energy rows, but the ARF has " + std::to_string(n_true));
  }
  // A few bytes of RMF (rows with N_GRP = 0) can describe a huge dense matrix.
  if (static_cast<double>(n_true) * static_cast<double>(n_reco) >
      static_cast<double>(limits::kMaxEdispEntries)) {
    throw std::runtime_error(path + ": HDU " + file.hdu() + ": " + std::to_string(n_true) +
                             " true x " + std::to_string(n_reco) +
                             " reco bins exceed the maximum of " +
                             std::to_string(limits::kMaxEdispEntries) +
                             " entries of an energy-dispersion matrix");
  }
  const std::vector<long long> n_grp = file.read_integers("N_GRP");
  ds.edisp.assign(n_true * n_reco, 0.0);
  for (long row = 1; row <= rows; ++row) {
    const std::size_t j = static_cast<std::size_t>(row - 1);
    if (n_grp[j] == 0) continue;
    const std::vector<long long> f_chan = file.read_row_integers("F_CHAN", row);
    const std::vector<long long> n_chan = file.read_row_integers("N_CHAN", row);
    const std::vector<double> values = file.read_row_array("MATRIX", row);
    const std::string at = path + ": HDU " + file.hdu() + ": row " + std::to_string(row) + ": ";
    if (n_grp[j] < 0 || static_cast<std::size_t>(n_grp[j]) > f_chan.size() ||
        static_cast<std::size_t>(n_grp[j]) > n_chan.size()) {
      throw std::runtime_error(at + "N_GRP = " + std::to_string(n_grp[j]) +
                               " does not match the F_CHAN/N_CHAN arrays");
    }
    std::size_t m = 0;  // next MATRIX entry
    for (long long k = 0; k < n_grp[j]; ++k) {
      const long long first = f_chan[k];  // 0-based channel index; TLMIN is ignored
      const long long count = n_chan[k];
      if (first < 0 || count < 0 || first + count > static_cast<long long>(n_reco) ||
          m + static_cast<std::size_t>(count) > values.size()) {
        throw std::runtime_error(at + "group " + std::to_string(k) + " (F_CHAN " +
                                 std::to_string(first) + ", N_CHAN " + std::to_string(count) +
                                 ") lies outside the " + std::to_string(n_reco) +
                                 " channels or the MATRIX array");
      }
      for (long long c = 0; c < count; ++c, ++m) {
        const double v = values[m];
        if (!std::isfinite(v)) {
          throw std::runtime_error(at + "column MATRIX holds a non-finite value");
        }
        ds.edisp[j * n_reco + static_cast<std::size_t>(first + c)] = v;
      }
    }
  }
  // gammapy builds the reco axis of the dispersion from the RMF's EBOUNDS and requires it to
  // be the PHA's (MapAxis equality: numpy.allclose, rtol = atol = 1e-6, in the PHA's unit).
  if (!file.has_hdu("EBOUNDS"))
    throw std::runtime_error(path + ": no EBOUNDS HDU (the RMF's reco energy axis is required)");
  file.move_to("EBOUNDS");
  if (file.num_rows() != static_cast<long>(n_reco)) {
    throw std::runtime_error(path + ": HDU EBOUNDS: " + std::to_string(file.num_rows()) +
                             " channels, but the PHA " + ds.source_file + " has " +
                             std::to_string(n_reco));
  }
  const std::vector<double> edges = energy_edges_tev(file, "E_MIN", "E_MAX", "");
  const double tev_to_pha = models::unit_conversion_factor("TeV", ds.energy_unit);
  for (std::size_t i = 0; i < edges.size(); ++i) {
    const double rmf = edges[i] * tev_to_pha, pha = ds.reco_edges[i] * tev_to_pha;
    if (!(std::abs(rmf - pha) <= 1e-6 + 1e-6 * std::abs(pha))) {
      const bool last = i + 1 == edges.size();
      throw std::runtime_error(fmt::format(
          "{}: HDU EBOUNDS: column {} row {} = {} {} differs from the PHA {} ({} {}): the RMF "
          "was made for other reco energy bins",
          path, last ? "E_MAX" : "E_MIN", last ? i : i + 1, rmf, ds.energy_unit, ds.source_file,
          pha, ds.energy_unit));
    }
  }
}

}  // namespace

datasets::SpectrumDataset read_ogip_dataset(const std::string& pha_path, const std::string& name) {
  SpectrumDataset ds;
  ds.source_file = pha_path;
  FitsFile pha(pha_path, FitsFile::Mode::kRead);
  const SpectrumColumns on = read_spectrum_columns(pha);
  ds.counts = on.counts;
  ds.acceptance = on.backscal;
  ds.mask_safe = pha.read_flags("QUALITY");
  for (auto& flag : ds.mask_safe) flag = flag ? 0 : 1;  // QUALITY == 0 is good
  ds.livetime_s = pha.read_key_double("EXPOSURE");
  if (!std::isfinite(ds.livetime_s) || ds.livetime_s <= 0.0) {
    throw std::runtime_error(pha_path + ": HDU SPECTRUM: keyword EXPOSURE = " +
                             fmt::format("{}", ds.livetime_s) + " (the livetime must be > 0 s)");
  }
  ds.name = name.empty() ? dataset_name_from_obs_id(pha) : name;
  const std::string ancrfile = optional_file_key(pha, "ANCRFILE");
  if (ancrfile.empty()) {
    throw std::runtime_error(pha_path +
                             ": HDU SPECTRUM: missing keyword ANCRFILE (the ARF is "
                             "required)");
  }
  const std::string backfile = optional_file_key(pha, "BACKFILE");
  const std::string respfile = optional_file_key(pha, "RESPFILE");

  pha.move_to("EBOUNDS");
  ds.reco_edges = energy_edges_tev(pha, "E_MIN", "E_MAX", "", &ds.energy_unit);
  if (ds.reco_edges.size() != ds.counts.size() + 1) {
    throw std::runtime_error(pha_path +
                             ": HDU EBOUNDS: " + std::to_string(ds.reco_edges.size() - 1) +
                             " channels, but SPECTRUM has " + std::to_string(ds.counts.size()));
  }
  pha.close();

  read_arf(resolve_companion(ancrfile, pha_path), ds);
  if (!backfile.empty()) {
    ds.on_off = true;
    read_bkg(resolve_companion(backfile, pha_path), ds);
  } else {
    ds.on_off = false;
    ds.background.assign(ds.counts.size(), 0.0);
  }
  if (!respfile.empty()) read_rmf(resolve_companion(respfile, pha_path), ds);
  ds.validate();
  return ds;
}

std::vector<std::string> ogip_input_files(const std::string& pha_path) {
  std::vector<std::string> files = {pha_path};
  FitsFile pha(pha_path, FitsFile::Mode::kRead);
  if (!pha.has_hdu("SPECTRUM")) return files;  // gadf layout: one self-contained file
  pha.move_to("SPECTRUM");
  for (const char* key : {"ANCRFILE", "BACKFILE", "RESPFILE"}) {
    const std::string name = optional_file_key(pha, key);
    if (!name.empty()) files.push_back(resolve_companion(name, pha_path));
  }
  return files;
}

}  // namespace fluxpoints::io
