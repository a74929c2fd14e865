// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The HDF5 catalog: many sources, each with its reference spectral model and the spectral
// datasets it is estimated from (datasets may be shared between sources), plus estimator options
// in the file's attributes. The layout, version 1, is described in docs/catalog-format.md.
//
// Everything is stored as flat growable columns: the rows of a chunk of sources, and the
// datasets they use, are read with a few contiguous reads whatever the catalog's size.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fluxpoints/datasets/spectrum_dataset.hpp"
#include "fluxpoints/estimator/estimator.hpp"
#include "fluxpoints/io/output.hpp"

namespace fluxpoints::hdf5 {
class File;
}
namespace fluxpoints::io {
class OutputFile;
}

namespace fluxpoints::catalog {

inline constexpr const char* kCatalogFormat = "fluxpoints-catalog";
inline constexpr std::int64_t kCatalogFormatVersion = 1;

// A reference spectral model as stored: gammapy type tag and parameter values in internal units
// (TeV, cm-2 s-1 TeV-1, cm-2 s-1, TeV-1).
struct ModelSpec {
  std::string type;
  std::vector<std::string> parameter_names;
  std::vector<double> parameter_values;
};

struct Source {
  std::string name;
  ModelSpec model;
  std::vector<std::int64_t> datasets;  // rows of the catalog's dataset table
};

// The source's reference model as a SkyModel: the model type's defaults with the stored
// parameter values applied.
models::SkyModel make_sky_model(const Source& source);

// Estimator options are stored in the root attributes (energy_edges in TeV, selection_optional,
// n_sigma, ...). Each attribute is optional in the file.
using CatalogOptions = EstimatorOptions;

// gammapy's selection_optional of the options as text ("errn-errp,ul,scan,sensitivity", "none").
std::string selection_text(const EstimatorOptions& options);

// Reading one dataset row can fail on its own (shapes that do not match, an unreadable
// external file): such rows come back with `error` set instead of a dataset.
struct DatasetRead {
  std::optional<datasets::SpectrumDataset> dataset;
  std::string error;
};

class CatalogReader {
 public:
  // Opens and checks the file: format tag, version, the presence and lengths of every column
  // (and that the file stores what those lengths claim). Throws std::runtime_error naming the
  // file and the problem (missing, not HDF5, truncated, wrong format or version, missing column).
  explicit CatalogReader(const std::string& path);
  ~CatalogReader();
  CatalogReader(CatalogReader&&) noexcept;

  const std::string& path() const { return path_; }
  std::int64_t format_version() const { return version_; }
  std::int64_t n_sources() const { return n_sources_; }
  std::int64_t n_datasets() const { return n_datasets_; }
  // Overrides the fields of `options` that the file's attributes set (what is absent keeps the
  // value the caller passed in: defaults; the command line overrides afterwards).
  void apply_options(CatalogOptions& options) const;
  // Sources [begin, end): names, models and dataset rows. Throws for an unreadable table.
  std::vector<Source> read_sources(std::int64_t begin, std::int64_t end) const;
  // The largest number of datasets of one source (result cube width).
  std::int64_t max_datasets_per_source() const;
  // The given dataset rows (any order, duplicates allowed), one entry per row, each with either a
  // validated-for-shape dataset or the reason it could not be read.
  std::vector<DatasetRead> read_datasets(const std::vector<std::int64_t>& rows) const;
  // The distinct external dataset files this catalog's rows name (resolved against the
  // catalog's folder), in first-use order: inputs that an output must never overwrite.
  std::vector<std::string> external_files() const;

 private:
  // A reader of an external file, opened from the readers in `chain` (outermost first).
  CatalogReader(const std::string& path, std::vector<std::string> chain);
  std::map<std::int64_t, DatasetRead> read_local_rows(const std::vector<std::int64_t>& sorted_rows) const;
  DatasetRead read_external(const std::string& file, std::int64_t row) const;
  // Throws unless offsets[0..n] (a slice of `column`, starting at row `first`) never decrease
  // and stay inside [0, end], end being the length of the columns they index.
  void check_offsets(const std::string& column, std::int64_t first,
                     const std::vector<std::int64_t>& offsets, std::int64_t end) const;

  std::string path_;
  // Canonical paths of the catalog files from the outermost down to this one: an external
  // file already on it would be a cycle.
  std::vector<std::string> chain_;
  std::unique_ptr<hdf5::File> file_;
  std::int64_t version_ = 0, n_sources_ = 0, n_datasets_ = 0;
  // Lengths of the columns the dataset offsets index (reco, reco_edge, true, true_edge, edisp)
  // and of those the source offsets index (parameters, dataset_index).
  std::int64_t dataset_column_length_[5] = {0, 0, 0, 0, 0};
  std::int64_t n_parameters_ = 0, n_dataset_refs_ = 0;
  bool has_external_ = false;
  mutable std::map<std::string, std::unique_ptr<CatalogReader>> external_;
  mutable std::map<std::string, std::string> external_errors_;
};

// Writes a catalog. Rows are buffered and appended in blocks, so memory stays bounded for any
// number of sources. The file is written as PATH.tmp and renamed by close(): an exception or a
// crash never leaves a half-written catalog under PATH.
class CatalogWriter {
 public:
  // Follows the output rule (fluxpoints/io/output.hpp): an existing PATH only with
  // rule.overwrite, an input never; written to a temporary until close().
  explicit CatalogWriter(const std::string& path, const io::OutputRule& rule = {});
  ~CatalogWriter();
  void set_options(const CatalogOptions& options);
  // Stores the dataset as given (no validation: the reader checks each row) and returns its row.
  // Per-reco columns that the dataset kind does not use (background for On/Off, counts_off,
  // acceptance(_off) for Cash) may be empty and are stored as zeros; masks may be empty (all
  // true). Other sizes are stored as given, so a reader can report the mismatch.
  std::int64_t add_dataset(const datasets::SpectrumDataset& dataset);
  // A dataset kept in another catalog-format file (path relative to this catalog's folder, or
  // absolute), row `row` of its dataset table. Returns its row here.
  std::int64_t add_external_dataset(const std::string& file, std::int64_t row, const std::string& name);
  void add_source(const Source& source);
  std::int64_t n_sources() const { return n_sources_; }
  std::int64_t n_datasets() const { return n_datasets_; }
  // Flushes, writes the counts, syncs the temporary to disk and renames it to PATH. Without
  // close() (an exception, a failed write) PATH is left as it was and the temporary removed.
  void close();

 private:
  struct Buffers;
  void flush_buffers();

  std::string path_;
  std::unique_ptr<io::OutputFile> out_;  // declared first: the HDF5 file closes before it
  std::unique_ptr<hdf5::File> file_;
  std::unique_ptr<Buffers> buf_;
  std::int64_t n_sources_ = 0, n_datasets_ = 0;
  bool closed_ = false;
};

}  // namespace fluxpoints::catalog
