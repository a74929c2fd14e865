// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The HDF5 likelihood-SED cube written by `fluxpoints batch` (docs/catalog-format.md, "Results"):
// chunk files with the rows of a range of sources, and the merge of all chunk files into the
// final file. Both have the same layout; a chunk file covers rows [chunk_begin, chunk_end).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fluxpoints/catalog/catalog.hpp"
#include "fluxpoints/io/flux_points.hpp"
#include "fluxpoints/io/output.hpp"

namespace fluxpoints::catalog {

// The results of sources [begin, end) of the catalog.
struct ChunkResults {
  std::int64_t begin = 0, end = 0;
  std::int64_t n_groups = 0;
  std::vector<std::string> names, errors, model_types, dataset_names, warnings;
  std::vector<std::uint8_t> ok;
  std::vector<std::int64_t> n_datasets;
  // Each source's reference model as the catalog stores it (type, parameters in internal units),
  // so that a result file alone rebuilds it.
  std::vector<ModelSpec> models;
  std::vector<std::optional<io::FluxPointsTable>> tables;  // empty where ok is 0

  void resize(std::int64_t n);
};

// Writes a temporary, flushes and closes it, then renames it to PATH (io::OutputFile): PATH exists
// only complete.
// `fingerprint` identifies the job (catalog and options); --resume accepts only matching files.
void write_chunk_file(const ChunkResults& chunk, const std::string& path, const std::string& fingerprint);

// The fingerprint and row range of a chunk file; throws std::runtime_error for an unreadable one.
struct ChunkFileInfo {
  std::string fingerprint;
  std::int64_t begin = 0, end = 0;
};
ChunkFileInfo read_chunk_info(const std::string& path);

// Merges chunk files (in order, covering [0, n_sources) without gaps, every one with this job's
// `fingerprint`) into `output` (through io::OutputFile under `rule`). Per-dataset columns
// (counts, npred, npred_excess) get `max_datasets` values per row, NaN-padded beyond a source's
// own datasets. `root_attributes` are written on "/" (numbers and strings).
struct ResultAttributes {
  std::map<std::string, std::string> strings;
  std::map<std::string, double> numbers;
  std::map<std::string, std::vector<double>> arrays;
};
// Returns the number of sources with results (ok), also written as n_ok and n_errors on "/".
inline constexpr std::size_t kFailuresShown = 5;
struct MergeResult {
  std::int64_t n_ok = 0;
  std::vector<std::string> first_failures;  // "'NAME' (row R): ERROR" of the first failed sources
};
MergeResult merge_chunk_files(const std::vector<std::string>& chunk_files,
                              const std::string& output, std::int64_t n_sources,
                              std::int64_t n_groups, std::int64_t max_datasets,
                              const ResultAttributes& root_attributes,
                              const std::string& fingerprint, const io::OutputRule& rule);

// The columns of a table that hold one value per dataset.
bool is_per_dataset_column(const std::string& name);

// The parts of a `sep`-separated list as the result files store them ("" -> none).
std::vector<std::string> split_list(const std::string& s, char sep);

}  // namespace fluxpoints::catalog
