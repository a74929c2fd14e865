// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The HDF5 catalog: many sources, each with its reference spectral model and the spectral
// datasets it is estimated from (datasets may be shared between sources), plus estimator options
// in the file's attributes. The layout (version 2; version 1 files are still read) is described
// in docs/catalog-format.md.
//
// Version 2 adds fields: datasets may be flattened maps (n_pixels > 1), and the table of
// components holds every model's predicted counts in each dataset it touches, so that a source
// is always estimated next to the other sources and backgrounds of its datasets.
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
inline constexpr std::int64_t kCatalogFormatVersion = 2;

// One model's contribution to one dataset (a row of the component table): the predicted counts
// of the model with its linear parameter at `value`, in the listed flat bins of the dataset
// (flat bin = reco bin x n_pixels + pixel; bins not listed: 0).
struct Component {
  std::int64_t dataset = -1;  // row of the dataset table
  std::string model;          // a source name, or e.g. "bkg-obs1" for a background model
  std::string parameter;      // the linear parameter scaling it ("amplitude", "norm")
  double value = 1.0;
  double min = __builtin_nan(""), max = __builtin_nan("");  // NaN: no bound
  bool free = false;  // a nuisance parameter when reoptimize is on
  std::vector<std::int64_t> bin_index;
  std::vector<double> bin_value;
  // The nuisance name: components of one model and parameter in several datasets share it.
  std::string nuisance_name() const { return model + "." + parameter; }
};

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
  // Version 2: the source's own components (rows of the component table), at most one per
  // dataset of the source. In a dataset without one, the model is folded through the IRFs.
  std::vector<std::int64_t> components;
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
// A flattened map dataset (n_pixels > 1) keeps its per-reco columns (counts, masks, ...)
// energy-major with n_reco x n_pixels entries; its reco_edges still have n_reco + 1.
struct DatasetRead {
  std::optional<datasets::SpectrumDataset> dataset;
  std::string error;
  std::int64_t n_pixels = 1;
};

// A component row as read, or why it cannot be used (the sources using it fail).
struct ComponentRead {
  std::optional<Component> component;
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

  // Version 2: the number of component rows (0 for version 1 or a file without components).
  std::int64_t n_components() const { return n_components_; }
  // The catalog's `reoptimize` attribute (false when absent).
  bool reoptimize() const;
  // The component rows of the given datasets (every model present in them), sorted.
  std::vector<std::int64_t> components_of_datasets(const std::vector<std::int64_t>& rows) const;
  // The given component rows, one entry each, with the reading checks applied (bins inside the
  // dataset, offsets, a dataset row that exists); a row that fails carries the reason.
  std::map<std::int64_t, ComponentRead> read_components(const std::vector<std::int64_t>& rows) const;

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
  // Version 2: component rows, source component references, length of the bin columns, and
  // whether /datasets/n_pixels exists. The dataset row of each component (read on first use).
  std::int64_t n_components_ = 0, n_component_refs_ = 0, n_component_bins_ = 0;
  bool has_n_pixels_ = false;
  mutable std::vector<std::int64_t> component_dataset_;
  mutable std::multimap<std::int64_t, std::int64_t> components_by_dataset_;
  mutable bool components_indexed_ = false;
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
  // n_pixels > 1: a flattened map dataset (per-reco columns n_reco x n_pixels, energy-major;
  // exposure and edisp may be empty).
  std::int64_t add_dataset(const datasets::SpectrumDataset& dataset, std::int64_t n_pixels = 1);
  // A component (version 2); returns its row. Checks the dataset row exists and the bins.
  std::int64_t add_component(const Component& component);
  // The catalog's `reoptimize` attribute.
  void set_reoptimize(bool reoptimize);
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
  std::int64_t n_sources_ = 0, n_datasets_ = 0, n_components_ = 0;
  std::vector<std::int64_t> dataset_flat_bins_;  // n_reco x n_pixels of each dataset row
  bool closed_ = false;
};

}  // namespace fluxpoints::catalog
