// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Reader and writer of the HDF5 catalog format (docs/catalog-format.md).
#include <algorithm>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <utility>

#include "fluxpoints/catalog/catalog.hpp"
#include "fluxpoints/limits.hpp"
#include "fluxpoints/models/spectral_models.hpp"
#include "host/io/hdf5_table.hpp"
#include "host/io/output_file.hpp"

namespace fluxpoints::catalog {
namespace {

using hdf5::Type;

// Columns of the dataset table. Each *_offsets column has n_datasets + 1 entries (first 0);
// dataset d owns entries [offsets[d], offsets[d+1]) of the columns it indexes.
constexpr const char* kDatasetScalarColumns[] = {"name", "on_off", "livetime", "file", "file_row"};
constexpr const char* kOffsetColumns[] = {"reco_offsets", "reco_edge_offsets", "true_offsets",
                                          "true_edge_offsets", "edisp_offsets"};
enum Offsets { kReco = 0, kRecoEdge, kTrue, kTrueEdge, kEdisp, kNumOffsets };
// Per-reco-bin columns (indexed by reco_offsets).
constexpr const char* kRecoF64Columns[] = {"counts", "counts_off", "acceptance", "acceptance_off", "background"};
constexpr const char* kRecoU8Columns[] = {"mask_safe", "mask_fit"};
constexpr const char* kSourceColumns[] = {"name", "model_type", "parameter_offsets", "parameter_name",
                                          "parameter_value", "dataset_offsets", "dataset_index"};

std::string ds(const std::string& c) { return "/datasets/" + c; }
std::string src(const std::string& c) { return "/sources/" + c; }
std::string comp(const std::string& c) { return "/components/" + c; }

// Columns of the component table (version 2), one entry per component, and the bin columns
// that bin_offsets (n_components + 1 entries) index.
constexpr const char* kComponentRowColumns[] = {"dataset", "model", "parameter", "value",
                                                "min",     "max",   "free"};
constexpr const char* kComponentBinColumns[] = {"bin_index", "bin_value"};

// Rows closer than this are read together (the rows between are read and dropped).
constexpr std::int64_t kMaxRowGap = 16;

// The runs of nearby rows of a sorted row list, as index ranges [first, last] into it: each run is
// read with one hyperslab per column.
std::vector<std::pair<std::size_t, std::size_t>> runs_of_nearby_rows(
    const std::vector<std::int64_t>& sorted_rows) {
  std::vector<std::pair<std::size_t, std::size_t>> runs;
  for (std::size_t i = 0; i < sorted_rows.size();) {
    std::size_t j = i;
    while (j + 1 < sorted_rows.size() && sorted_rows[j + 1] - sorted_rows[j] <= kMaxRowGap) ++j;
    runs.emplace_back(i, j);
    i = j + 1;
  }
  return runs;
}

}  // namespace

std::string selection_text(const EstimatorOptions& o) {
  const std::string solve = o.solve.selection();
  if (!o.sensitivity) return solve;
  return solve == "none" ? "sensitivity" : solve + ",sensitivity";
}

// ------------------------------------------------------------------------------------------------
// Reader

CatalogReader::~CatalogReader() = default;
CatalogReader::CatalogReader(CatalogReader&&) noexcept = default;

namespace {

// The path that identifies a file on a chain of external catalogs (symlinks and ".." resolved
// where the file exists).
std::string canonical_name(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::weakly_canonical(path, ec);
  return ec ? std::filesystem::path(path).lexically_normal().string() : p.string();
}

}  // namespace

CatalogReader::CatalogReader(const std::string& path) : CatalogReader(path, {}) {}

CatalogReader::CatalogReader(const std::string& path, std::vector<std::string> chain)
    : path_(path), chain_(std::move(chain)) {
  chain_.push_back(canonical_name(path));
  file_ = std::make_unique<hdf5::File>(hdf5::File::open(path));
  const auto bad = [&](const std::string& what) {
    return std::runtime_error(path + ": not a fluxpoints catalog: " + what);
  };
  if (!file_->has_attr("/", "format") || file_->attr_str("/", "format") != kCatalogFormat)
    throw bad(std::string("root attribute 'format' is not '") + kCatalogFormat + "'");
  if (!file_->has_attr("/", "format_version")) throw bad("no root attribute 'format_version'");
  version_ = file_->attr_i64("/", "format_version");
  if (version_ < 1 || version_ > kCatalogFormatVersion)
    throw std::runtime_error(path + ": catalog format_version " + std::to_string(version_) +
                             " is not supported by this fluxpoints (reads 1.." +
                             std::to_string(kCatalogFormatVersion) + ")");
  for (const char* attr : {"n_sources", "n_datasets"})
    if (!file_->has_attr("/", attr))
      throw bad(std::string("no root attribute '") + attr + "' (was the writer interrupted?)");
  n_sources_ = file_->attr_i64("/", "n_sources");
  n_datasets_ = file_->attr_i64("/", "n_datasets");
  // Every column must exist and have the length the counts promise: a file cut short by a crash
  // or a copy fails here, not halfway through a run.
  const auto check_length = [&](const std::string& column, std::int64_t expected) {
    if (!file_->exists(column)) throw bad("missing column '" + column + "'");
    const std::int64_t n = file_->length(column);
    if (n != expected)
      throw bad("column '" + column + "' has " + std::to_string(n) + " entries, expected " +
                std::to_string(expected));
    file_->check_stored(column);  // nothing is sized from an extent the file does not hold
  };
  for (const char* c : kDatasetScalarColumns) check_length(ds(c), n_datasets_);
  for (const char* c : kOffsetColumns) check_length(ds(c), n_datasets_ + 1);
  for (const char* c : {"name", "model_type"}) check_length(src(c), n_sources_);
  for (const char* c : {"parameter_offsets", "dataset_offsets"}) check_length(src(c), n_sources_ + 1);
  const auto last_offset = [&](const std::string& column, std::int64_t rows) {
    return file_->read_i64(column, rows, 1).at(0);
  };
  const std::int64_t n_reco = last_offset(ds("reco_offsets"), n_datasets_);
  for (const char* c : kRecoF64Columns) check_length(ds(c), n_reco);
  for (const char* c : kRecoU8Columns) check_length(ds(c), n_reco);
  dataset_column_length_[kReco] = n_reco;
  const char* indexed[kNumOffsets] = {"counts", "reco_edges", "exposure", "true_edges", "edisp"};
  for (int k = kRecoEdge; k < kNumOffsets; ++k) {
    dataset_column_length_[k] = last_offset(ds(kOffsetColumns[k]), n_datasets_);
    check_length(ds(indexed[k]), dataset_column_length_[k]);
  }
  n_parameters_ = last_offset(src("parameter_offsets"), n_sources_);
  check_length(src("parameter_name"), n_parameters_);
  check_length(src("parameter_value"), n_parameters_);
  n_dataset_refs_ = last_offset(src("dataset_offsets"), n_sources_);
  check_length(src("dataset_index"), n_dataset_refs_);

  // Version 2 (each part optional: a version 2 file without fields reads as version 1).
  has_n_pixels_ = file_->exists(ds("n_pixels"));
  if (has_n_pixels_) check_length(ds("n_pixels"), n_datasets_);
  if (file_->exists(comp("dataset"))) {
    n_components_ = file_->length(comp("dataset"));
    for (const char* c : kComponentRowColumns) check_length(comp(c), n_components_);
    check_length(comp("bin_offsets"), n_components_ + 1);
    n_component_bins_ = last_offset(comp("bin_offsets"), n_components_);
    for (const char* c : kComponentBinColumns) check_length(comp(c), n_component_bins_);
  }
  if (file_->exists(src("component_offsets"))) {
    check_length(src("component_offsets"), n_sources_ + 1);
    n_component_refs_ = last_offset(src("component_offsets"), n_sources_);
    check_length(src("component_index"), n_component_refs_);
  }
}

bool CatalogReader::reoptimize() const {
  return file_->has_attr("/", "reoptimize") && file_->attr_i64("/", "reoptimize") != 0;
}

std::vector<std::int64_t> CatalogReader::components_of_datasets(
    const std::vector<std::int64_t>& rows) const {
  if (n_components_ == 0) return {};
  if (!components_indexed_) {
    component_dataset_ = file_->read_i64(comp("dataset"), 0, n_components_);
    for (std::int64_t c = 0; c < n_components_; ++c)
      components_by_dataset_.emplace(component_dataset_[c], c);
    components_indexed_ = true;
  }
  std::set<std::int64_t> out;
  for (std::int64_t d : rows) {
    const auto [a, b] = components_by_dataset_.equal_range(d);
    for (auto it = a; it != b; ++it) out.insert(it->second);
  }
  return {out.begin(), out.end()};
}

std::map<std::int64_t, ComponentRead> CatalogReader::read_components(
    const std::vector<std::int64_t>& wanted) const {
  std::map<std::int64_t, ComponentRead> out;
  std::vector<std::int64_t> rows;
  for (std::int64_t r : wanted) {
    if (r >= 0 && r < n_components_) {
      rows.push_back(r);
    } else {
      out[r] = {std::nullopt, path_ + ": /sources/component_index refers to component row " +
                                  std::to_string(r) + ", which does not exist (the catalog has " +
                                  std::to_string(n_components_) + ")"};
    }
  }
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  for (const auto& [i, j] : runs_of_nearby_rows(rows)) {
    const std::int64_t a = rows[i], n = rows[j] - a + 1;
    try {
      const auto dataset = file_->read_i64(comp("dataset"), a, n);
      const auto model = file_->read_str(comp("model"), a, n);
      const auto parameter = file_->read_str(comp("parameter"), a, n);
      const auto value = file_->read_f64(comp("value"), a, n);
      const auto min = file_->read_f64(comp("min"), a, n);
      const auto max = file_->read_f64(comp("max"), a, n);
      const auto free = file_->read_u8(comp("free"), a, n);
      const auto off = file_->read_i64(comp("bin_offsets"), a, n + 1);
      check_offsets(comp("bin_offsets"), a, off, n_component_bins_);
      const auto index = file_->read_i64(comp("bin_index"), off[0], off[n] - off[0]);
      const auto values = file_->read_f64(comp("bin_value"), off[0], off[n] - off[0]);
      for (std::size_t q = i; q <= j; ++q) {
        const std::int64_t r = rows[q] - a;
        const std::string where = path_ + ": /components row " + std::to_string(rows[q]) +
                                  " (model '" + model[r] + "')";
        Component c;
        c.dataset = dataset[r];
        c.model = model[r];
        c.parameter = parameter[r];
        c.value = value[r];
        c.min = min[r];
        c.max = max[r];
        c.free = free[r] != 0;
        c.bin_index.assign(index.begin() + (off[r] - off[0]), index.begin() + (off[r + 1] - off[0]));
        c.bin_value.assign(values.begin() + (off[r] - off[0]), values.begin() + (off[r + 1] - off[0]));
        std::string error;
        if (c.dataset < 0 || c.dataset >= n_datasets_)
          error = where + ": column 'dataset' = " + std::to_string(c.dataset) +
                  " is not a dataset row (the catalog has " + std::to_string(n_datasets_) + ")";
        for (std::size_t k = 0; error.empty() && k < c.bin_index.size(); ++k) {
          if (c.bin_index[k] < 0 || (k > 0 && c.bin_index[k] <= c.bin_index[k - 1]))
            error = where + ": column 'bin_index' entry " + std::to_string(off[r] + k) + " = " +
                    std::to_string(c.bin_index[k]) +
                    (c.bin_index[k] < 0 ? " is negative" : " does not increase");
        }
        if (error.empty()) {
          out[rows[q]] = {std::move(c), ""};
        } else {
          out[rows[q]] = {std::nullopt, error};
        }
      }
    } catch (const std::exception& e) {
      if (i == j) {
        out[rows[i]] = {std::nullopt, e.what()};
      } else {
        for (std::size_t q = i; q <= j; ++q) out[rows[q]] = read_components({rows[q]}).at(rows[q]);
      }
    }
  }
  return out;
}

void CatalogReader::check_offsets(const std::string& column, std::int64_t first,
                                  const std::vector<std::int64_t>& offsets, std::int64_t end) const {
  for (std::size_t r = 0; r < offsets.size(); ++r) {
    const std::int64_t v = offsets[r];
    const std::string at = path_ + ": " + column + "[" + std::to_string(first + static_cast<std::int64_t>(r)) +
                           "] = " + std::to_string(v);
    if (v < 0 || v > end)
      throw std::runtime_error(at + " is outside [0, " + std::to_string(end) +
                               "], the length of the columns it indexes");
    if (r > 0 && v < offsets[r - 1])
      throw std::runtime_error(at + " is below the previous offset " + std::to_string(offsets[r - 1]) +
                               " (offsets must not decrease)");
  }
}

void CatalogReader::apply_options(CatalogOptions& o) const {
  const auto has = [&](const char* a) { return file_->has_attr("/", a); };
  if (has("energy_edges")) o.energy_edges = file_->attr_f64_array("/", "energy_edges");
  if (has("selection_optional")) o.set_selection(file_->attr_str("/", "selection_optional"));
  if (has("n_sigma_sensitivity")) o.n_sigma_sensitivity = file_->attr_f64("/", "n_sigma_sensitivity");
  if (has("n_sigma")) o.solve.n_sigma = file_->attr_f64("/", "n_sigma");
  if (has("n_sigma_ul")) o.solve.n_sigma_ul = file_->attr_f64("/", "n_sigma_ul");
  if (has("norm_value")) o.solve.norm_value = file_->attr_f64("/", "norm_value");
  if (has("norm_min")) o.solve.norm_min = file_->attr_f64("/", "norm_min");
  if (has("norm_max")) o.solve.norm_max = file_->attr_f64("/", "norm_max");
  if (has("scan_min")) o.solve.scan_min = file_->attr_f64("/", "scan_min");
  if (has("scan_max")) o.solve.scan_max = file_->attr_f64("/", "scan_max");
  if (has("scan_n_values")) {
    // Checked before the cast (and before anything is sized from it).
    const std::int64_t n = file_->attr_i64("/", "scan_n_values");
    if (n < 1 || n > limits::kMaxScanValues)
      throw std::runtime_error(path_ + ": root attribute 'scan_n_values' = " + std::to_string(n) +
                               " is outside [1, " + std::to_string(limits::kMaxScanValues) + "]");
    o.solve.scan_n_values = static_cast<int>(n);
  }
  if (has("scan_interp")) o.solve.scan_interp = file_->attr_str("/", "scan_interp");
  if (has("scan_values")) o.solve.scan_values = file_->attr_f64_array("/", "scan_values");
  if (has("sum_over_energy_groups")) o.sum_over_energy_groups = file_->attr_i64("/", "sum_over_energy_groups") != 0;
  if (has("allow_multiple_telescopes"))
    o.allow_multiple_telescopes = file_->attr_i64("/", "allow_multiple_telescopes") != 0;
  if (has("sqrt_ts_threshold_ul")) o.sqrt_ts_threshold_ul = file_->attr_f64("/", "sqrt_ts_threshold_ul");
}

std::int64_t CatalogReader::max_datasets_per_source() const {
  const std::vector<std::int64_t> off = file_->read_i64(src("dataset_offsets"), 0, n_sources_ + 1);
  check_offsets(src("dataset_offsets"), 0, off, n_dataset_refs_);  // the width sizes the results
  std::int64_t m = 0;
  for (std::int64_t s = 0; s < n_sources_; ++s) m = std::max(m, off[s + 1] - off[s]);
  return m;
}

std::vector<Source> CatalogReader::read_sources(std::int64_t begin, std::int64_t end) const {
  if (begin < 0 || end > n_sources_ || begin > end)
    throw std::out_of_range(path_ + ": sources [" + std::to_string(begin) + ", " + std::to_string(end) +
                            ") outside the catalog's " + std::to_string(n_sources_));
  const std::int64_t n = end - begin;
  std::vector<Source> out(n);
  if (n == 0) return out;
  const auto names = file_->read_str(src("name"), begin, n);
  const auto types = file_->read_str(src("model_type"), begin, n);
  const auto poff = file_->read_i64(src("parameter_offsets"), begin, n + 1);
  const auto doff = file_->read_i64(src("dataset_offsets"), begin, n + 1);
  // Checked before anything is read (and allocated) from them.
  check_offsets(src("parameter_offsets"), begin, poff, n_parameters_);
  check_offsets(src("dataset_offsets"), begin, doff, n_dataset_refs_);
  const auto pnames = file_->read_str(src("parameter_name"), poff[0], poff[n] - poff[0]);
  const auto pvalues = file_->read_f64(src("parameter_value"), poff[0], poff[n] - poff[0]);
  const auto dindex = file_->read_i64(src("dataset_index"), doff[0], doff[n] - doff[0]);
  std::vector<std::int64_t> coff, cindex;
  if (n_component_refs_ > 0) {
    coff = file_->read_i64(src("component_offsets"), begin, n + 1);
    check_offsets(src("component_offsets"), begin, coff, n_component_refs_);
    cindex = file_->read_i64(src("component_index"), coff[0], coff[n] - coff[0]);
  }
  for (std::int64_t i = 0; i < n; ++i) {
    Source& s = out[i];
    s.name = names[i];
    s.model.type = types[i];
    for (std::int64_t k = poff[i]; k < poff[i + 1]; ++k) {
      s.model.parameter_names.push_back(pnames[k - poff[0]]);
      s.model.parameter_values.push_back(pvalues[k - poff[0]]);
    }
    s.datasets.assign(dindex.begin() + (doff[i] - doff[0]), dindex.begin() + (doff[i + 1] - doff[0]));
    if (!coff.empty())
      s.components.assign(cindex.begin() + (coff[i] - coff[0]),
                          cindex.begin() + (coff[i + 1] - coff[0]));
  }
  return out;
}

std::vector<DatasetRead> CatalogReader::read_datasets(const std::vector<std::int64_t>& rows) const {
  std::vector<std::int64_t> sorted;
  for (std::int64_t r : rows)
    if (r >= 0 && r < n_datasets_) sorted.push_back(r);
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  const std::map<std::int64_t, DatasetRead> by_row = read_local_rows(sorted);
  std::vector<DatasetRead> out;
  out.reserve(rows.size());
  for (std::int64_t r : rows) {
    if (r < 0 || r >= n_datasets_) {
      out.push_back({std::nullopt, "dataset row " + std::to_string(r) + " does not exist (the catalog has " +
                                       std::to_string(n_datasets_) + ")"});
      continue;
    }
    out.push_back(by_row.at(r));
  }
  return out;
}

std::map<std::int64_t, DatasetRead> CatalogReader::read_local_rows(const std::vector<std::int64_t>& rows) const {
  std::map<std::int64_t, DatasetRead> out;
  for (const auto& [i, j] : runs_of_nearby_rows(rows)) {
    // One run of nearby rows [a, b], read with one hyperslab per column.
    const std::int64_t a = rows[i], b = rows[j], n = b - a + 1;
    try {
      const auto names = file_->read_str(ds("name"), a, n);
      const auto on_off = file_->read_u8(ds("on_off"), a, n);
      const auto livetime = file_->read_f64(ds("livetime"), a, n);
      const auto files = file_->read_str(ds("file"), a, n);
      const auto file_rows = file_->read_i64(ds("file_row"), a, n);
      const auto n_pixels = has_n_pixels_ ? file_->read_i64(ds("n_pixels"), a, n)
                                          : std::vector<std::int64_t>(n, 1);
      std::vector<std::int64_t> off[kNumOffsets];
      for (int k = 0; k < kNumOffsets; ++k) off[k] = file_->read_i64(ds(kOffsetColumns[k]), a, n + 1);
      // Checked before anything is read (and allocated) from them.
      for (int k = 0; k < kNumOffsets; ++k)
        check_offsets(ds(kOffsetColumns[k]), a, off[k], dataset_column_length_[k]);
      const auto span = [&](int k) { return off[k][n] - off[k][0]; };
      std::vector<double> reco_f64[5];
      for (int c = 0; c < 5; ++c) reco_f64[c] = file_->read_f64(ds(kRecoF64Columns[c]), off[kReco][0], span(kReco));
      std::vector<std::uint8_t> reco_u8[2];
      for (int c = 0; c < 2; ++c) reco_u8[c] = file_->read_u8(ds(kRecoU8Columns[c]), off[kReco][0], span(kReco));
      const auto reco_edges = file_->read_f64(ds("reco_edges"), off[kRecoEdge][0], span(kRecoEdge));
      const auto exposure = file_->read_f64(ds("exposure"), off[kTrue][0], span(kTrue));
      const auto true_edges = file_->read_f64(ds("true_edges"), off[kTrueEdge][0], span(kTrueEdge));
      const auto edisp = file_->read_f64(ds("edisp"), off[kEdisp][0], span(kEdisp));

      for (std::size_t q = i; q <= j; ++q) {
        const std::int64_t r = rows[q] - a;
        const std::string where = path_ + " dataset row " + std::to_string(rows[q]) + " ('" + names[r] + "')";
        if (!files[r].empty()) {
          DatasetRead ext = read_external(files[r], file_rows[r]);
          if (!ext.dataset) ext.error = where + ": " + ext.error;
          out[rows[q]] = std::move(ext);
          continue;
        }
        const auto slice = [&](const auto& column, int k) {
          using V = std::decay_t<decltype(column)>;
          return V(column.begin() + (off[k][r] - off[k][0]), column.begin() + (off[k][r + 1] - off[k][0]));
        };
        const std::int64_t n_flat = off[kReco][r + 1] - off[kReco][r];
        const std::int64_t pixels = n_pixels[r];
        const std::int64_t n_reco = pixels >= 1 ? n_flat / pixels : 0;
        const std::int64_t n_true = off[kTrue][r + 1] - off[kTrue][r];
        std::string shape_error;
        if (pixels < 1)
          shape_error = "column 'n_pixels' = " + std::to_string(pixels) + " is below 1";
        else if (pixels > 1 && n_flat % pixels != 0)
          shape_error = "column 'n_pixels' = " + std::to_string(pixels) + " does not divide the " +
                        std::to_string(n_flat) + " entries of the per-reco columns";
        else if (pixels > 1 && n_reco < 1)
          shape_error = "no reco energy bins";
        else if (pixels > 1 && off[kRecoEdge][r + 1] - off[kRecoEdge][r] != n_reco + 1)
          shape_error = "reco_edges has " + std::to_string(off[kRecoEdge][r + 1] - off[kRecoEdge][r]) +
                        " entries for " + std::to_string(n_reco) + " reco bins (n_pixels " +
                        std::to_string(pixels) + ")";
        else if (pixels > 1)
          ;  // a flattened map: exposure and edisp are not used
        else if (n_reco < 1 || n_true < 1)
          shape_error = "no reco or no true energy bins";
        else if (off[kRecoEdge][r + 1] - off[kRecoEdge][r] != n_reco + 1)
          shape_error = "reco_edges has " + std::to_string(off[kRecoEdge][r + 1] - off[kRecoEdge][r]) +
                        " entries for " + std::to_string(n_reco) + " reco bins";
        else if (off[kTrueEdge][r + 1] - off[kTrueEdge][r] != n_true + 1)
          shape_error = "true_edges has " + std::to_string(off[kTrueEdge][r + 1] - off[kTrueEdge][r]) +
                        " entries for " + std::to_string(n_true) + " true bins";
        else if (off[kEdisp][r + 1] - off[kEdisp][r] != n_true * n_reco &&
                 !(off[kEdisp][r + 1] == off[kEdisp][r] && n_true == n_reco))  // empty = identity
          shape_error = "edisp has " + std::to_string(off[kEdisp][r + 1] - off[kEdisp][r]) +
                        " entries, expected n_true x n_reco = " + std::to_string(n_true) + " x " +
                        std::to_string(n_reco);
        if (!shape_error.empty()) {
          out[rows[q]] = {std::nullopt, where + ": " + shape_error};
          continue;
        }
        datasets::SpectrumDataset d;
        d.name = names[r];
        d.source_file = path_ + " (dataset row " + std::to_string(rows[q]) + ")";
        d.on_off = on_off[r] != 0;
        d.livetime_s = livetime[r];
        d.reco_edges = slice(reco_edges, kRecoEdge);
        d.true_edges = slice(true_edges, kTrueEdge);
        d.counts = slice(reco_f64[0], kReco);
        if (d.on_off) {
          d.counts_off = slice(reco_f64[1], kReco);
          d.acceptance = slice(reco_f64[2], kReco);
          d.acceptance_off = slice(reco_f64[3], kReco);
          d.set_alpha_from_acceptances();
        } else {
          d.background = slice(reco_f64[4], kReco);
        }
        d.mask_safe = slice(reco_u8[0], kReco);
        d.mask_fit = slice(reco_u8[1], kReco);
        d.exposure = slice(exposure, kTrue);
        d.edisp = slice(edisp, kEdisp);
        out[rows[q]] = {std::move(d), "", pixels};
      }
    } catch (const std::exception& e) {
      if (i == j) {
        out[rows[i]] = {std::nullopt, e.what()};
      } else {
        // Part of the run is unreadable: read its rows one by one so only the bad ones fail.
        for (std::size_t q = i; q <= j; ++q) {
          auto one = read_local_rows({rows[q]});
          out[rows[q]] = std::move(one.at(rows[q]));
        }
      }
    }
  }
  return out;
}

std::vector<std::string> CatalogReader::external_files() const {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const std::string& file : file_->read_str(ds("file"), 0, n_datasets_)) {
    if (file.empty()) continue;
    const fs::path p =
        fs::path(file).is_absolute() ? fs::path(file) : fs::path(path_).parent_path() / file;
    if (seen.insert(p.string()).second) out.push_back(p.string());
  }
  return out;
}

DatasetRead CatalogReader::read_external(const std::string& file, std::int64_t row) const {
  namespace fs = std::filesystem;
  const fs::path p = fs::path(file).is_absolute() ? fs::path(file) : fs::path(path_).parent_path() / file;
  const std::string key = canonical_name(p.string());
  if (auto e = external_errors_.find(key); e != external_errors_.end()) return {std::nullopt, e->second};
  auto it = external_.find(key);
  if (it == external_.end()) {
    // A file already on the chain (this catalog itself, or one that led here) would be read
    // again and again without end; a chain longer than the limit is refused too.
    const auto chain_text = [&] {
      std::string t;
      for (const std::string& c : chain_) t += c + " -> ";
      return t + key;
    };
    if (std::find(chain_.begin(), chain_.end(), key) != chain_.end()) {
      external_errors_[key] = "external dataset file '" + file + "' (row " + std::to_string(row) +
                              ") is a catalog already being read: cycle " + chain_text();
      return {std::nullopt, external_errors_[key]};
    }
    if (static_cast<int>(chain_.size()) >= limits::kMaxExternalDepth) {
      external_errors_[key] = "external dataset file '" + file + "': more than " +
                              std::to_string(limits::kMaxExternalDepth) +
                              " catalogs chained through their 'file' column: " + chain_text();
      return {std::nullopt, external_errors_[key]};
    }
    try {
      it = external_.emplace(key, std::unique_ptr<CatalogReader>(new CatalogReader(p.string(), chain_))).first;
    } catch (const std::exception& e) {
      external_errors_[key] = std::string("external dataset file: ") + e.what();
      return {std::nullopt, external_errors_[key]};
    }
  }
  return it->second->read_datasets({row}).at(0);
}

// ------------------------------------------------------------------------------------------------
// Writer

struct CatalogWriter::Buffers {
  // Dataset table.
  std::vector<std::string> name, file;
  std::vector<std::uint8_t> on_off;
  std::vector<double> livetime;
  std::vector<std::int64_t> file_row, n_pixels;
  std::vector<std::int64_t> offsets[kNumOffsets];
  std::int64_t offset_end[kNumOffsets] = {0, 0, 0, 0, 0};
  std::vector<double> reco_f64[5];
  std::vector<std::uint8_t> reco_u8[2];
  std::vector<double> reco_edges, exposure, true_edges, edisp;
  // Source table.
  std::vector<std::string> src_name, model_type, parameter_name;
  std::vector<double> parameter_value;
  std::vector<std::int64_t> parameter_offsets, dataset_offsets, dataset_index;
  std::int64_t parameter_end = 0, dataset_end = 0;
  std::vector<std::int64_t> component_offsets, component_index;
  std::int64_t component_end = 0;
  // Component table.
  std::vector<std::int64_t> c_dataset, c_bin_offsets, c_bin_index;
  std::vector<std::string> c_model, c_parameter;
  std::vector<double> c_value, c_min, c_max, c_bin_value;
  std::vector<std::uint8_t> c_free;
  std::int64_t c_bin_end = 0;

  std::size_t size() const {
    return reco_f64[0].size() * 7 + reco_edges.size() + exposure.size() + true_edges.size() +
           edisp.size() + name.size() + src_name.size() + parameter_name.size() +
           c_bin_index.size() * 2 + c_model.size() * 4;
  }
};

CatalogWriter::CatalogWriter(const std::string& path, const io::OutputRule& rule)
    : path_(path),
      out_(std::make_unique<io::OutputFile>(path, rule)),
      buf_(std::make_unique<Buffers>()) {
  file_ = std::make_unique<hdf5::File>(hdf5::File::create(out_->temp_path(), path_));
  file_->set_attr("/", "format", std::string(kCatalogFormat));
  file_->set_attr("/", "format_version", kCatalogFormatVersion);
  file_->create_group("/datasets");
  file_->create_group("/sources");
  file_->create_column(ds("name"), Type::str, 1024);
  file_->create_column(ds("file"), Type::str, 1024);
  file_->create_column(ds("on_off"), Type::u8);
  file_->create_column(ds("livetime"), Type::f64);
  file_->create_column(ds("file_row"), Type::i64);
  file_->create_column(ds("n_pixels"), Type::i64);
  for (const char* c : kOffsetColumns) file_->create_column(ds(c), Type::i64);
  for (const char* c : kRecoF64Columns) file_->create_column(ds(c), Type::f64, 16384);
  for (const char* c : kRecoU8Columns) file_->create_column(ds(c), Type::u8, 16384);
  for (const char* c : {"reco_edges", "exposure", "true_edges"}) file_->create_column(ds(c), Type::f64, 16384);
  file_->create_column(ds("edisp"), Type::f64, 65536);
  for (const char* c : {"name", "model_type", "parameter_name"}) file_->create_column(src(c), Type::str, 1024);
  file_->create_column(src("parameter_value"), Type::f64);
  for (const char* c : {"parameter_offsets", "dataset_offsets", "dataset_index",
                        "component_offsets", "component_index"})
    file_->create_column(src(c), Type::i64);
  file_->create_group("/components");
  for (const char* c : {"dataset", "bin_offsets"}) file_->create_column(comp(c), Type::i64);
  for (const char* c : {"model", "parameter"}) file_->create_column(comp(c), Type::str, 1024);
  for (const char* c : {"value", "min", "max"}) file_->create_column(comp(c), Type::f64);
  file_->create_column(comp("free"), Type::u8);
  file_->create_column(comp("bin_index"), Type::i64, 16384);
  file_->create_column(comp("bin_value"), Type::f64, 16384);
  // Offsets start with 0.
  for (auto& o : buf_->offsets) o.push_back(0);
  buf_->parameter_offsets.push_back(0);
  buf_->dataset_offsets.push_back(0);
  buf_->component_offsets.push_back(0);
  buf_->c_bin_offsets.push_back(0);
}

CatalogWriter::~CatalogWriter() {
  // Unfinished: close the HDF5 file (quietly: it may fail, e.g. on a full disk), then the
  // OutputFile removes the temporary.
  file_.reset();
  out_.reset();
}

void CatalogWriter::set_options(const CatalogOptions& o) {
  if (!o.energy_edges.empty()) file_->set_attr("/", "energy_edges", o.energy_edges);
  const SolveOptions& s = o.solve;
  file_->set_attr("/", "selection_optional", selection_text(o));
  file_->set_attr("/", "n_sigma_sensitivity", o.n_sigma_sensitivity);
  file_->set_attr("/", "n_sigma", s.n_sigma);
  file_->set_attr("/", "n_sigma_ul", s.n_sigma_ul);
  file_->set_attr("/", "norm_value", s.norm_value);
  file_->set_attr("/", "norm_min", s.norm_min);
  file_->set_attr("/", "norm_max", s.norm_max);
  file_->set_attr("/", "scan_min", s.scan_min);
  file_->set_attr("/", "scan_max", s.scan_max);
  file_->set_attr("/", "scan_n_values", static_cast<std::int64_t>(s.scan_n_values));
  file_->set_attr("/", "scan_interp", s.scan_interp);
  if (!s.scan_values.empty()) file_->set_attr("/", "scan_values", s.scan_values);
  file_->set_attr("/", "sum_over_energy_groups", std::int64_t{o.sum_over_energy_groups ? 1 : 0});
  file_->set_attr("/", "allow_multiple_telescopes", std::int64_t{o.allow_multiple_telescopes ? 1 : 0});
  file_->set_attr("/", "sqrt_ts_threshold_ul", o.sqrt_ts_threshold_ul);
}

void CatalogWriter::set_reoptimize(bool reoptimize) {
  file_->set_attr("/", "reoptimize", std::int64_t{reoptimize ? 1 : 0});
}

std::int64_t CatalogWriter::add_dataset(const datasets::SpectrumDataset& d, std::int64_t n_pixels) {
  Buffers& b = *buf_;
  const std::size_t n_reco = d.counts.size();  // n_reco x n_pixels for a flattened map
  if (n_pixels < 1)
    throw std::invalid_argument(path_ + ": dataset '" + d.name + "': n_pixels = " +
                                std::to_string(n_pixels) + " is below 1");
  const auto reco_column = [&](const std::vector<double>& v, const char* field) {
    if (v.empty()) return std::vector<double>(n_reco, 0.0);
    if (v.size() != n_reco)
      throw std::invalid_argument(path_ + ": dataset '" + d.name + "': " + field + " has " +
                                  std::to_string(v.size()) + " entries, counts has " + std::to_string(n_reco));
    return v;
  };
  const auto mask_column = [&](const std::vector<std::uint8_t>& v, const char* field) {
    if (v.empty()) return std::vector<std::uint8_t>(n_reco, 1);
    if (v.size() != n_reco)
      throw std::invalid_argument(path_ + ": dataset '" + d.name + "': " + field + " has " +
                                  std::to_string(v.size()) + " entries, counts has " + std::to_string(n_reco));
    return v;
  };
  const std::vector<double>* columns[5] = {&d.counts, &d.counts_off, &d.acceptance, &d.acceptance_off,
                                           &d.background};
  const char* fields[5] = {"counts", "counts_off", "acceptance", "acceptance_off", "background"};
  for (int c = 0; c < 5; ++c) {
    const auto v = reco_column(*columns[c], fields[c]);
    b.reco_f64[c].insert(b.reco_f64[c].end(), v.begin(), v.end());
  }
  const auto ms = mask_column(d.mask_safe, "mask_safe");
  const auto mf = mask_column(d.mask_fit, "mask_fit");
  b.reco_u8[0].insert(b.reco_u8[0].end(), ms.begin(), ms.end());
  b.reco_u8[1].insert(b.reco_u8[1].end(), mf.begin(), mf.end());
  b.reco_edges.insert(b.reco_edges.end(), d.reco_edges.begin(), d.reco_edges.end());
  b.exposure.insert(b.exposure.end(), d.exposure.begin(), d.exposure.end());
  b.true_edges.insert(b.true_edges.end(), d.true_edges.begin(), d.true_edges.end());
  b.edisp.insert(b.edisp.end(), d.edisp.begin(), d.edisp.end());
  const std::size_t sizes[kNumOffsets] = {n_reco, d.reco_edges.size(), d.exposure.size(), d.true_edges.size(),
                                          d.edisp.size()};
  for (int k = 0; k < kNumOffsets; ++k) {
    b.offset_end[k] += static_cast<std::int64_t>(sizes[k]);
    b.offsets[k].push_back(b.offset_end[k]);
  }
  b.name.push_back(d.name);
  b.file.emplace_back();
  b.file_row.push_back(-1);
  b.on_off.push_back(d.on_off ? 1 : 0);
  b.livetime.push_back(d.livetime_s);
  b.n_pixels.push_back(n_pixels);
  dataset_flat_bins_.push_back(static_cast<std::int64_t>(n_reco));
  if (b.size() > (std::size_t{1} << 20)) flush_buffers();
  return n_datasets_++;
}

std::int64_t CatalogWriter::add_external_dataset(const std::string& file, std::int64_t row,
                                                 const std::string& name) {
  Buffers& b = *buf_;
  for (int k = 0; k < kNumOffsets; ++k) b.offsets[k].push_back(b.offset_end[k]);
  b.name.push_back(name);
  b.file.push_back(file);
  b.file_row.push_back(row);
  b.on_off.push_back(0);
  b.livetime.push_back(0.0);
  b.n_pixels.push_back(1);
  dataset_flat_bins_.push_back(-1);  // not known here: the reader checks
  return n_datasets_++;
}

std::int64_t CatalogWriter::add_component(const Component& c) {
  Buffers& b = *buf_;
  const std::string where = path_ + ": component of model '" + c.model + "'";
  if (c.dataset < 0 || c.dataset >= n_datasets_)
    throw std::invalid_argument(where + " refers to dataset row " + std::to_string(c.dataset) +
                                ", which has not been added");
  if (c.bin_index.size() != c.bin_value.size())
    throw std::invalid_argument(where + ": bin_index and bin_value differ in length");
  const std::int64_t n_bins = dataset_flat_bins_[c.dataset];
  for (std::size_t k = 0; k < c.bin_index.size(); ++k)
    if (c.bin_index[k] < 0 || (n_bins >= 0 && c.bin_index[k] >= n_bins) ||
        (k > 0 && c.bin_index[k] <= c.bin_index[k - 1]))
      throw std::invalid_argument(where + ": bin_index[" + std::to_string(k) + "] = " +
                                  std::to_string(c.bin_index[k]) +
                                  " is not increasing inside the dataset's " +
                                  std::to_string(n_bins) + " bins");
  b.c_dataset.push_back(c.dataset);
  b.c_model.push_back(c.model);
  b.c_parameter.push_back(c.parameter);
  b.c_value.push_back(c.value);
  b.c_min.push_back(c.min);
  b.c_max.push_back(c.max);
  b.c_free.push_back(c.free ? 1 : 0);
  b.c_bin_index.insert(b.c_bin_index.end(), c.bin_index.begin(), c.bin_index.end());
  b.c_bin_value.insert(b.c_bin_value.end(), c.bin_value.begin(), c.bin_value.end());
  b.c_bin_end += static_cast<std::int64_t>(c.bin_index.size());
  b.c_bin_offsets.push_back(b.c_bin_end);
  if (b.size() > (std::size_t{1} << 20)) flush_buffers();
  return n_components_++;
}

void CatalogWriter::add_source(const Source& s) {
  Buffers& b = *buf_;
  if (s.model.parameter_names.size() != s.model.parameter_values.size())
    throw std::invalid_argument(path_ + ": source '" + s.name + "': parameter names and values differ in number");
  for (std::int64_t d : s.datasets)
    if (d < 0 || d >= n_datasets_)
      throw std::invalid_argument(path_ + ": source '" + s.name + "' refers to dataset row " + std::to_string(d) +
                                  ", which has not been added");
  b.src_name.push_back(s.name);
  b.model_type.push_back(s.model.type);
  b.parameter_name.insert(b.parameter_name.end(), s.model.parameter_names.begin(), s.model.parameter_names.end());
  b.parameter_value.insert(b.parameter_value.end(), s.model.parameter_values.begin(), s.model.parameter_values.end());
  b.parameter_end += static_cast<std::int64_t>(s.model.parameter_names.size());
  b.parameter_offsets.push_back(b.parameter_end);
  b.dataset_index.insert(b.dataset_index.end(), s.datasets.begin(), s.datasets.end());
  b.dataset_end += static_cast<std::int64_t>(s.datasets.size());
  b.dataset_offsets.push_back(b.dataset_end);
  for (std::int64_t c : s.components)
    if (c < 0 || c >= n_components_)
      throw std::invalid_argument(path_ + ": source '" + s.name + "' refers to component row " +
                                  std::to_string(c) + ", which has not been added");
  b.component_index.insert(b.component_index.end(), s.components.begin(), s.components.end());
  b.component_end += static_cast<std::int64_t>(s.components.size());
  b.component_offsets.push_back(b.component_end);
  ++n_sources_;
  if (b.size() > (std::size_t{1} << 20)) flush_buffers();
}

void CatalogWriter::flush_buffers() {
  Buffers& b = *buf_;
  const auto put = [&](const std::string& column, auto& v) {
    if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::vector<std::string>>)
      file_->append(column, v);
    else
      file_->append(column, v.data(), v.size());
    v.clear();
  };
  put(ds("name"), b.name);
  put(ds("file"), b.file);
  put(ds("file_row"), b.file_row);
  put(ds("on_off"), b.on_off);
  put(ds("livetime"), b.livetime);
  put(ds("n_pixels"), b.n_pixels);
  for (int k = 0; k < kNumOffsets; ++k) put(ds(kOffsetColumns[k]), b.offsets[k]);
  for (int c = 0; c < 5; ++c) put(ds(kRecoF64Columns[c]), b.reco_f64[c]);
  for (int c = 0; c < 2; ++c) put(ds(kRecoU8Columns[c]), b.reco_u8[c]);
  put(ds("reco_edges"), b.reco_edges);
  put(ds("exposure"), b.exposure);
  put(ds("true_edges"), b.true_edges);
  put(ds("edisp"), b.edisp);
  put(src("name"), b.src_name);
  put(src("model_type"), b.model_type);
  put(src("parameter_name"), b.parameter_name);
  put(src("parameter_value"), b.parameter_value);
  put(src("parameter_offsets"), b.parameter_offsets);
  put(src("dataset_offsets"), b.dataset_offsets);
  put(src("dataset_index"), b.dataset_index);
  put(src("component_offsets"), b.component_offsets);
  put(src("component_index"), b.component_index);
  put(comp("dataset"), b.c_dataset);
  put(comp("model"), b.c_model);
  put(comp("parameter"), b.c_parameter);
  put(comp("value"), b.c_value);
  put(comp("min"), b.c_min);
  put(comp("max"), b.c_max);
  put(comp("free"), b.c_free);
  put(comp("bin_offsets"), b.c_bin_offsets);
  put(comp("bin_index"), b.c_bin_index);
  put(comp("bin_value"), b.c_bin_value);
}

void CatalogWriter::close() {
  if (closed_) return;
  flush_buffers();
  file_->set_attr("/", "n_sources", n_sources_);
  file_->set_attr("/", "n_datasets", n_datasets_);
  file_->close();
  out_->commit();
  closed_ = true;
}

models::SkyModel make_sky_model(const Source& s) {
  models::SkyModel m;
  m.name = s.name;
  m.spectral = models::make_default_spectral_model(s.model.type);
  for (std::size_t k = 0; k < s.model.parameter_names.size(); ++k)
    m.spectral->parameter(s.model.parameter_names[k]).value = s.model.parameter_values[k];
  return m;
}

}  // namespace fluxpoints::catalog
