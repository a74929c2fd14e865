// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Reading one source of a batch result file (results.h5) as a flux-points table.
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "fluxpoints/catalog/batch_run.hpp"
#include "fluxpoints/catalog/results.hpp"
#include "host/catalog/results_file.hpp"
#include "host/io/hdf5_table.hpp"

namespace fluxpoints::catalog {
namespace {

hdf5::File open_results(const std::string& path) {
  hdf5::File f = hdf5::File::open(path);
  const std::string format = f.has_attr("/", "format") ? f.attr_str("/", "format") : "";
  if (format != kResultsFormat) {
    throw std::runtime_error(path + ": not a fluxpoints result file (attribute format is '" +
                             format + "', expected '" + kResultsFormat + "')");
  }
  const std::int64_t version = f.attr_i64("/", "format_version");
  if (version != kResultsFormatVersion) {
    throw std::runtime_error(path + ": result format_version " + std::to_string(version) +
                             " is not the one this program reads (" +
                             std::to_string(kResultsFormatVersion) + ")");
  }
  return f;
}

std::vector<std::string> names_of(const hdf5::File& f) {
  return f.read_str("sources/name", 0, f.length("sources/name"));
}

}  // namespace

std::vector<std::string> result_source_names(const std::string& path) {
  return names_of(open_results(path));
}

io::FluxPointsTable read_result_source(const std::string& path, const std::string& name) {
  const hdf5::File f = open_results(path);
  const std::vector<std::string> names = names_of(f);
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) {
    std::string shown;
    for (std::size_t k = 0; k < names.size() && k < 10; ++k)
      shown += (k ? ", '" : "'") + names[k] + "'";
    if (names.size() > 10) shown += ", ...";
    throw std::runtime_error(path + ": no source named '" + name + "' (the file has " +
                             std::to_string(names.size()) + " sources: " + shown + ")");
  }
  const std::int64_t row = it - names.begin();
  if (f.read_u8("sources/ok", row, 1)[0] == 0) {
    throw std::runtime_error(path + ": source '" + name + "' failed in the batch run: " +
                             f.read_str("sources/error", row, 1)[0]);
  }
  const std::int64_t n_datasets = f.read_i64("sources/n_datasets", row, 1)[0];

  io::FluxPointsTable t;
  t.origin = path + "[source '" + name + "']";
  t.sed_type = "likelihood";
  t.n_sigma = f.attr_f64("/", "n_sigma");
  t.n_sigma_ul = f.attr_f64("/", "n_sigma_ul");
  t.sqrt_ts_threshold_ul = f.attr_f64("/", "sqrt_ts_threshold_ul");
  t.n_rows = static_cast<std::size_t>(f.attr_i64("/", "n_groups"));
  t.dataset_names = split_list(f.read_str("sources/datasets", row, 1)[0], ',');

  for (const std::string& column : split_list(f.attr_str("fluxpoints", "columns"), ',')) {
    const std::string object = "fluxpoints/" + column;
    io::Column c;
    c.name = column;
    c.unit = f.attr_str(object, "unit");
    c.has_unit = f.attr_i64(object, "has_unit") != 0;
    c.is_vector = f.attr_i64(object, "is_vector") != 0;
    const std::string dtype = f.attr_str(object, "dtype");
    c.type = dtype == "bool"      ? io::ColumnType::boolean
             : dtype == "float32" ? io::ColumnType::float32
                                  : io::ColumnType::float64;
    const std::vector<double> values = f.read_row_f64(object, row);
    const std::size_t stored_width = t.n_rows ? values.size() / t.n_rows : 0;
    c.width = is_per_dataset_column(column)
                  ? std::min(stored_width, static_cast<std::size_t>(n_datasets))
                  : stored_width;
    c.data.reserve(t.n_rows * c.width);
    for (std::size_t r = 0; r < t.n_rows; ++r)
      for (std::size_t j = 0; j < c.width; ++j) c.data.push_back(values[r * stored_width + j]);
    t.add(std::move(c));
  }
  return t;
}

}  // namespace fluxpoints::catalog
