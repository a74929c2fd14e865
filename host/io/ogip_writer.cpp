// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// OGIP writer with gammapy 2.1's layout (OGIPDatasetWriter, format "ogip"; see
// docs/spectrum-datasets.md). Each file is built in memory and stored through io::OutputFile.
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "fluxpoints/io/ogip.hpp"
#include "fluxpoints/models/units.hpp"
#include "host/io/fits_file.hpp"
#include "host/io/output_file.hpp"

namespace fluxpoints::io {
namespace {

namespace fs = std::filesystem;
using datasets::SpectrumDataset;
using models::unit_conversion_factor;

constexpr const char* kCreator = "fluxpoints 0.1.0";

std::vector<long long> channel_numbers(std::size_t n) {
  std::vector<long long> channels(n);
  for (std::size_t i = 0; i < n; ++i) channels[i] = static_cast<long long>(i);
  return channels;
}

std::vector<long long> integer_counts(const std::vector<double>& counts, const char* field,
                                      const SpectrumDataset& ds) {
  std::vector<long long> out(counts.size());
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] != std::floor(counts[i])) {
      throw std::invalid_argument("dataset '" + ds.name + "': " + field + "[" + std::to_string(i) +
                                  "] = " + std::to_string(counts[i]) +
                                  " is not an integer (OGIP COUNTS are integers)");
    }
    out[i] = static_cast<long long>(counts[i]);
  }
  return out;
}

void write_ebounds(FitsFile& file, const SpectrumDataset& ds, double tev_to_unit) {
  const std::size_t n = ds.n_reco();
  file.create_table(
      "EBOUNDS",
      {{"CHANNEL", "I", ""}, {"E_MIN", "D", ds.energy_unit}, {"E_MAX", "D", ds.energy_unit}},
      static_cast<long>(n));
  std::vector<double> e_min(n);
  std::vector<double> e_max(n);
  for (std::size_t i = 0; i < n; ++i) {
    e_min[i] = ds.reco_edges[i] * tev_to_unit;
    e_max[i] = ds.reco_edges[i + 1] * tev_to_unit;
  }
  file.write_column("CHANNEL", channel_numbers(n));
  file.write_column("E_MIN", e_min);
  file.write_column("E_MAX", e_max);
  file.write_key("TELESCOP", std::string("DUMMY"), "Mission/satellite name");
  file.write_key("INSTRUME", std::string("DUMMY"), "Instrument/detector");
  file.write_key("FILTER", std::string("None"), "Filter information");
  file.write_key("CHANTYPE", std::string("PHA"), "Type of channels (PHA, PI etc)");
  file.write_key("DETCHANS", static_cast<long long>(n), "Total number of detector PHA channels");
  file.write_key("HDUCLASS", std::string("OGIP"), "Organisation devising file format");
  file.write_key("HDUCLAS1", std::string("RESPONSE"), "File relates to response of instrument");
  file.write_key("HDUCLAS2", std::string("EBOUNDS"), "This is an EBOUNDS extension");
  file.write_key("HDUVERS", std::string("1.2.0"), "Version of file format");
  file.write_key("CREATOR", std::string(kCreator));
}

struct SpectrumContent {
  const std::vector<double>* counts;
  std::vector<double> backscal;
  bool is_bkg;
};

std::string spectrum_file(const std::string& path, const SpectrumDataset& ds,
                          const SpectrumContent& content, const OgipFileNames& names,
                          double tev_to_unit) {
  const std::size_t n = ds.n_reco();
  FitsFile file(path, FitsFile::Mode::kCreate);
  file.create_table(
      "SPECTRUM",
      {{"CHANNEL", "I", ""}, {"COUNTS", "J", ""}, {"QUALITY", "L", ""}, {"BACKSCAL", "D", ""}},
      static_cast<long>(n));
  file.write_column("CHANNEL", channel_numbers(n));
  file.write_column("COUNTS",
                    integer_counts(*content.counts, content.is_bkg ? "counts_off" : "counts", ds));
  std::vector<std::uint8_t> bad(n, 0);  // gammapy writes QUALITY as a logical, true = bad
  for (std::size_t i = 0; i < n; ++i) bad[i] = ds.mask_safe.empty() ? 0 : !ds.mask_safe[i];
  file.write_logical_column("QUALITY", bad);
  file.write_column("BACKSCAL", content.backscal);
  const std::string telescope = ds.telescope.empty() ? "unknown" : ds.telescope;
  file.write_key("TELESCOP", telescope);
  file.write_key("INSTRUME", std::string("unknown"));
  file.write_key("FILTER", std::string("None"));
  file.write_key("EXPOSURE", ds.livetime_s);
  file.write_key("CORRFILE", std::string(""));
  file.write_key("CORRSCAL", std::string(""));
  file.write_key("ANCRFILE", fs::path(names.arf).filename().string());
  file.write_key("HDUCLASS", std::string("OGIP"));
  file.write_key("HDUCLAS1", std::string("SPECTRUM"));
  file.write_key("HDUVERS", std::string("1.2.1"));
  file.write_key_logical("POISSERR", true);
  file.write_key("CHANTYPE", std::string("PHA"));
  file.write_key("DETCHANS", static_cast<long long>(n));
  file.write_key("GROUPING", 0LL);
  file.write_key("AREASCAL", 1LL);
  file.write_key("HDUCLAS2", std::string(content.is_bkg ? "BKG" : "TOTAL"));
  file.write_key("HDUCLAS3", std::string("COUNT"));
  file.write_key("HDUCLAS4", std::string("TYPE:1"));
  file.write_key("OBS_ID", ds.name);
  file.write_key("BACKFILE", fs::path(names.bkg).filename().string());
  file.write_key("RESPFILE", fs::path(names.rmf).filename().string());
  file.write_key("CREATOR", std::string(kCreator));
  write_ebounds(file, ds, tev_to_unit);
  return file.finish();
}

std::string arf_file(const std::string& path, const SpectrumDataset& ds, double tev_to_unit) {
  const std::size_t n = ds.n_true();
  FitsFile file(path, FitsFile::Mode::kCreate);
  file.create_table("SPECRESP",
                    {{"ENERG_LO", "D", ds.energy_unit},
                     {"ENERG_HI", "D", ds.energy_unit},
                     {"SPECRESP", "D", "cm2"}},
                    static_cast<long>(n));
  std::vector<double> lo(n);
  std::vector<double> hi(n);
  std::vector<double> aeff(n);
  for (std::size_t j = 0; j < n; ++j) {
    lo[j] = ds.true_edges[j] * tev_to_unit;
    hi[j] = ds.true_edges[j + 1] * tev_to_unit;
    aeff[j] = ds.exposure[j] / ds.livetime_s;  // the ARF is exposure / livetime
  }
  file.write_column("ENERG_LO", lo);
  file.write_column("ENERG_HI", hi);
  file.write_column("SPECRESP", aeff);
  file.write_key("TELESCOP", std::string("unknown"));
  file.write_key("INSTRUME", std::string("unknown"));
  file.write_key("FILTER", std::string("None"));
  file.write_key("HDUCLASS", std::string("OGIP"));
  file.write_key("HDUCLAS1", std::string("RESPONSE"));
  file.write_key("HDUCLAS2", std::string("SPECRESP"));
  file.write_key("HDUVERS", std::string("1.1.0"));
  file.write_key("CREATOR", std::string(kCreator));
  return file.finish();
}

std::string rmf_file(const std::string& path, const SpectrumDataset& ds, double tev_to_unit) {
  const std::size_t nt = ds.n_true();
  const std::size_t nr = ds.n_reco();
  FitsFile file(path, FitsFile::Mode::kCreate);
  file.create_table("MATRIX",
                    {{"ENERG_LO", "E", ds.energy_unit},
                     {"ENERG_HI", "E", ds.energy_unit},
                     {"N_GRP", "I", ""},
                     {"F_CHAN", "1PI", ""},
                     {"N_CHAN", "1PI", ""},
                     {"MATRIX", "1PE", ""}},
                    static_cast<long>(nt));
  std::vector<double> lo(nt);
  std::vector<double> hi(nt);
  std::vector<long long> n_grp(nt);
  long long num_groups = 0;
  long long num_elements = 0;
  for (std::size_t j = 0; j < nt; ++j) {
    lo[j] = ds.true_edges[j] * tev_to_unit;
    hi[j] = ds.true_edges[j + 1] * tev_to_unit;
    auto value = [&](std::size_t i) {
      // The file stores float32; a value that rounds to 0 there is no entry.
      const double v = ds.edisp.empty() ? (i == j ? 1.0 : 0.0) : ds.edisp[j * nr + i];
      return static_cast<double>(static_cast<float>(v));
    };
    // One group per run of consecutive non-zero channels; an empty row is one empty group,
    // as gammapy writes it.
    std::vector<long long> f_chan;
    std::vector<long long> n_chan;
    std::vector<double> matrix;
    for (std::size_t i = 0; i < nr;) {
      if (value(i) == 0.0) {
        ++i;
        continue;
      }
      const std::size_t first = i;
      while (i < nr && value(i) != 0.0) matrix.push_back(value(i++));
      f_chan.push_back(static_cast<long long>(first));
      n_chan.push_back(static_cast<long long>(i - first));
    }
    if (f_chan.empty()) {
      f_chan.push_back(0);
      n_chan.push_back(0);
    }
    n_grp[j] = static_cast<long long>(f_chan.size());
    num_groups += n_grp[j];
    num_elements += static_cast<long long>(matrix.size());
    const long row = static_cast<long>(j + 1);
    file.write_row_integers("F_CHAN", row, f_chan);
    file.write_row_integers("N_CHAN", row, n_chan);
    file.write_row_array("MATRIX", row, matrix);
  }
  file.write_column("ENERG_LO", lo);
  file.write_column("ENERG_HI", hi);
  file.write_column("N_GRP", n_grp);
  file.write_key("CHANTYPE", std::string("PHA"));
  file.write_key("HDUCLASS", std::string("OGIP"));
  file.write_key("HDUCLAS1", std::string("RESPONSE"));
  file.write_key("HDUCLAS2", std::string("RSP_MATRIX"));
  file.write_key("DETCHANS", static_cast<long long>(nr));
  file.write_key("NUMGRP", num_groups);
  file.write_key("NUMELT", num_elements);
  file.write_key("TLMIN4", 0LL);  // F_CHAN counts from 0, as gammapy reads it
  file.write_key("CREATOR", std::string(kCreator));
  write_ebounds(file, ds, tev_to_unit);
  return file.finish();
}

}  // namespace

OgipFileNames ogip_file_names(const std::string& pha_path) {
  // Like gammapy: the suffix is everything from the first '.' of the file name (".fits",
  // ".fits.gz"), and the companions are <stem>_arf<suffix> etc. in the same directory.
  const fs::path path(pha_path);
  const std::string file = path.filename().string();
  const std::size_t dot = file.find('.', 1);
  const std::string stem = dot == std::string::npos ? file : file.substr(0, dot);
  const std::string suffix = dot == std::string::npos ? "" : file.substr(dot);
  const fs::path dir = path.parent_path();
  return {pha_path, (dir / (stem + "_arf" + suffix)).string(),
          (dir / (stem + "_bkg" + suffix)).string(), (dir / (stem + "_rmf" + suffix)).string()};
}

void write_ogip_dataset(const SpectrumDataset& ds, const std::string& pha_path,
                        const OutputRule& rule) {
  if (!ds.on_off) {
    throw std::invalid_argument("dataset '" + ds.name +
                                "': only On/Off datasets can be written as OGIP (the BKG file "
                                "holds OFF counts)");
  }
  ds.validate();
  if (!(ds.livetime_s > 0.0)) {
    throw std::invalid_argument("dataset '" + ds.name + "': OGIP needs a livetime > 0 s");
  }
  const double tev_to_unit = unit_conversion_factor("TeV", ds.energy_unit);
  const OgipFileNames names = ogip_file_names(pha_path);
  if (!names.pha.empty() && fs::path(names.pha).has_parent_path()) {
    fs::create_directories(fs::path(names.pha).parent_path());
  }
  // All four files are checked (and their temporaries made) before anything is written.
  OutputFile pha(names.pha, rule), arf(names.arf, rule), bkg(names.bkg, rule), rmf(names.rmf, rule);

  // BACKSCAL: the stored acceptances, or 1 and 1/alpha when only alpha is known.
  std::vector<double> acceptance = ds.acceptance;
  std::vector<double> acceptance_off = ds.acceptance_off;
  if (acceptance.empty() || acceptance_off.empty()) {
    acceptance.assign(ds.n_reco(), 1.0);
    acceptance_off.resize(ds.n_reco());
    for (std::size_t i = 0; i < ds.n_reco(); ++i) {
      acceptance_off[i] = ds.alpha[i] > 0.0 ? 1.0 / ds.alpha[i] : 0.0;
    }
  }

  const auto store = [](OutputFile& out, const std::string& bytes) {
    out.write(has_gz_suffix(out.path()) ? gzip_compress(bytes) : bytes);
  };
  store(pha, spectrum_file(names.pha, ds, {&ds.counts, acceptance, false}, names, tev_to_unit));
  store(arf, arf_file(names.arf, ds, tev_to_unit));
  store(bkg,
        spectrum_file(names.bkg, ds, {&ds.counts_off, acceptance_off, true}, names, tev_to_unit));
  store(rmf, rmf_file(names.rmf, ds, tev_to_unit));
  // Companions first, the PHA (which names them) last.
  for (OutputFile* out : {&arf, &bkg, &rmf, &pha}) out->commit();
}

}  // namespace fluxpoints::io
