// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "host/catalog/results_file.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "fluxpoints/catalog/batch_run.hpp"
#include "host/io/hdf5_table.hpp"
#include "host/io/output_file.hpp"

namespace fluxpoints::catalog {
namespace {

using hdf5::Type;

constexpr const char* kSourceStringColumns[] = {"name", "error", "model_type", "datasets", "warnings"};

const char* dtype_name(io::ColumnType t) {
  switch (t) {
    case io::ColumnType::float64: return "float64";
    case io::ColumnType::float32: return "float32";
    case io::ColumnType::boolean: return "bool";
  }
  return "float64";
}

// What a column looks like in a results file.
struct ColumnInfo {
  std::string name, unit, dtype;
  bool has_unit = true, is_vector = false;
  std::int64_t width = 1;
};

std::vector<hsize_t> column_dims(std::int64_t rows, std::int64_t n_groups, const ColumnInfo& c) {
  if (c.is_vector) return {static_cast<hsize_t>(rows), static_cast<hsize_t>(n_groups), static_cast<hsize_t>(c.width)};
  return {static_cast<hsize_t>(rows), static_cast<hsize_t>(n_groups)};
}

void create_column(hdf5::File& f, std::int64_t rows, std::int64_t n_groups, const ColumnInfo& c) {
  const std::string path = "/fluxpoints/" + c.name;
  f.create_array(path, c.dtype == "bool" ? Type::u8 : Type::f64, column_dims(rows, n_groups, c));
  f.set_attr(path, "unit", c.unit);
  f.set_attr(path, "has_unit", std::int64_t{c.has_unit ? 1 : 0});
  f.set_attr(path, "dtype", c.dtype);
  f.set_attr(path, "is_vector", std::int64_t{c.is_vector ? 1 : 0});
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

// Reference-model parameters: /sources/parameter_names (comma-separated per source) and
// /sources/parameter_values [n_sources, width] (NaN beyond a source's own parameters).
std::int64_t parameter_width(const std::vector<ModelSpec>& models) {
  std::size_t width = 1;  // never a zero-sized dimension
  for (const ModelSpec& m : models) width = std::max(width, m.parameter_values.size());
  return static_cast<std::int64_t>(width);
}

void write_parameters(hdf5::File& f, std::int64_t first_row, const std::vector<ModelSpec>& models,
                      std::int64_t width) {
  std::vector<std::string> names;
  std::vector<double> values(models.size() * width, std::nan(""));
  for (std::size_t i = 0; i < models.size(); ++i) {
    names.push_back(join(models[i].parameter_names, ","));
    std::copy(models[i].parameter_values.begin(), models[i].parameter_values.end(),
              values.begin() + i * width);
  }
  const auto n = static_cast<std::int64_t>(models.size());
  f.write_rows("/sources/parameter_names", first_row, n, names);
  f.write_rows("/sources/parameter_values", first_row, n, values.data());
}

// The parameters of a chunk file's sources (none in a chunk file written before results stored
// them: such sources get no parameters, and readers fall back to the catalog).
std::vector<ModelSpec> read_parameters(const hdf5::File& f, std::int64_t n) {
  std::vector<ModelSpec> models(n);
  if (!f.exists("/sources/parameter_values")) return models;
  const auto names = f.read_str("/sources/parameter_names", 0, n);
  const auto values = f.read_all_f64("/sources/parameter_values");
  const std::size_t width = f.dims("/sources/parameter_values").at(1);
  for (std::int64_t i = 0; i < n; ++i) {
    models[i].parameter_names = split_list(names[i], ',');
    for (std::size_t k = 0; k < std::min(models[i].parameter_names.size(), width); ++k)
      models[i].parameter_values.push_back(values[i * width + k]);
  }
  return models;
}

void write_sources(hdf5::File& f, std::int64_t first_row, const ChunkResults& c,
                   std::int64_t width) {
  const std::int64_t n = c.end - c.begin;
  f.write_rows("/sources/name", first_row, n, c.names);
  f.write_rows("/sources/error", first_row, n, c.errors);
  f.write_rows("/sources/model_type", first_row, n, c.model_types);
  f.write_rows("/sources/datasets", first_row, n, c.dataset_names);
  f.write_rows("/sources/warnings", first_row, n, c.warnings);
  f.write_rows("/sources/ok", first_row, n, c.ok.data());
  f.write_rows("/sources/n_datasets", first_row, n, c.n_datasets.data());
  write_parameters(f, first_row, c.models, width);
}

void create_sources(hdf5::File& f, std::int64_t rows, std::int64_t width) {
  f.create_group("/sources");
  for (const char* s : kSourceStringColumns) f.create_array(std::string("/sources/") + s, Type::str, {static_cast<hsize_t>(rows)});
  f.create_array("/sources/ok", Type::u8, {static_cast<hsize_t>(rows)});
  f.create_array("/sources/n_datasets", Type::i64, {static_cast<hsize_t>(rows)});
  f.create_array("/sources/parameter_names", Type::str, {static_cast<hsize_t>(rows)});
  f.create_array("/sources/parameter_values", Type::f64,
                 {static_cast<hsize_t>(rows), static_cast<hsize_t>(width)});
}

// Column layout of a file: order from the /fluxpoints "columns" attribute.
std::vector<ColumnInfo> read_columns(const hdf5::File& f) {
  std::vector<ColumnInfo> out;
  for (const std::string& name : split_list(f.attr_str("/fluxpoints", "columns"), ',')) {
    const std::string path = "/fluxpoints/" + name;
    ColumnInfo c;
    c.name = name;
    c.unit = f.attr_str(path, "unit");
    c.has_unit = f.attr_i64(path, "has_unit") != 0;
    c.dtype = f.attr_str(path, "dtype");
    c.is_vector = f.attr_i64(path, "is_vector") != 0;
    const auto dims = f.dims(path);
    c.width = c.is_vector ? static_cast<std::int64_t>(dims.at(2)) : 1;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::vector<std::string> split_list(const std::string& s, char sep) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t next = s.find(sep, pos);
    out.push_back(s.substr(pos, next - pos));
    if (next == std::string::npos) return out;
    pos = next + 1;
  }
}

bool is_per_dataset_column(const std::string& name) {
  return name == "counts" || name == "npred" || name == "npred_excess";
}

void ChunkResults::resize(std::int64_t n) {
  for (auto* v : {&names, &errors, &model_types, &dataset_names, &warnings}) v->assign(n, "");
  ok.assign(n, 0);
  n_datasets.assign(n, 0);
  models.assign(n, ModelSpec{});
  tables.assign(n, std::nullopt);
}

void write_chunk_file(const ChunkResults& c, const std::string& path, const std::string& fingerprint) {
  const std::int64_t n = c.end - c.begin;
  // Columns: those of the tables, in table order, each as wide as its widest table.
  std::vector<ColumnInfo> columns;
  for (const auto& t : c.tables) {
    if (!t) continue;
    for (const io::Column& col : t->columns) {
      auto it = std::find_if(columns.begin(), columns.end(), [&](const ColumnInfo& x) { return x.name == col.name; });
      if (it == columns.end()) {
        columns.push_back({col.name, col.unit, dtype_name(col.type), col.has_unit, col.is_vector, 0});
        it = columns.end() - 1;
      }
      it->width = std::max<std::int64_t>(it->width, static_cast<std::int64_t>(col.width));
    }
  }
  // A chunk file of the same job may be replaced (a chunk recomputed after an interruption).
  io::OutputFile out(path, io::OutputRule{true, {}});
  {
    hdf5::File f = hdf5::File::create(out.temp_path(), path);
    f.set_attr("/", "format", std::string(kResultsFormat) + "-chunk");
    f.set_attr("/", "format_version", kResultsFormatVersion);
    f.set_attr("/", "fingerprint", fingerprint);
    f.set_attr("/", "chunk_begin", c.begin);
    f.set_attr("/", "chunk_end", c.end);
    const std::int64_t width = parameter_width(c.models);
    create_sources(f, n, width);
    write_sources(f, 0, c, width);
    f.create_group("/fluxpoints");
    std::vector<std::string> names;
    for (const auto& col : columns) names.push_back(col.name);
    f.set_attr("/fluxpoints", "columns", join(names, ","));
    for (const ColumnInfo& info : columns) {
      create_column(f, n, c.n_groups, info);
      const std::size_t row_size = static_cast<std::size_t>(c.n_groups * info.width);
      std::vector<double> values(n * row_size, info.dtype == "bool" ? 0.0 : std::nan(""));
      for (std::int64_t s = 0; s < n; ++s) {
        if (!c.tables[s]) continue;
        const io::Column* col = c.tables[s]->find(info.name);
        if (!col) continue;
        const std::int64_t rows = std::min<std::int64_t>(c.n_groups, static_cast<std::int64_t>(c.tables[s]->n_rows));
        for (std::int64_t g = 0; g < rows; ++g)
          for (std::size_t j = 0; j < col->width; ++j)
            values[s * row_size + g * info.width + j] = col->at(g, j);
      }
      if (info.dtype == "bool") {
        std::vector<std::uint8_t> flags(values.size());
        for (std::size_t i = 0; i < values.size(); ++i) flags[i] = values[i] != 0.0 ? 1 : 0;
        f.write_rows("/fluxpoints/" + info.name, 0, n, flags.data());
      } else {
        f.write_rows("/fluxpoints/" + info.name, 0, n, values.data());
      }
    }
    f.flush();
    f.close();
  }
  out.commit();
}

ChunkFileInfo read_chunk_info(const std::string& path) {
  hdf5::File f = hdf5::File::open(path);
  ChunkFileInfo info;
  info.fingerprint = f.attr_str("/", "fingerprint");
  info.begin = f.attr_i64("/", "chunk_begin");
  info.end = f.attr_i64("/", "chunk_end");
  return info;
}

MergeResult merge_chunk_files(const std::vector<std::string>& chunk_files,
                              const std::string& output, std::int64_t n_sources,
                              std::int64_t n_groups, std::int64_t max_datasets,
                              const ResultAttributes& attrs, const std::string& fingerprint,
                              const io::OutputRule& rule) {
  // Pass 1: the union of the columns, each as wide as needed.
  std::vector<ColumnInfo> columns;
  std::int64_t expected_begin = 0;
  std::int64_t width = 1;  // of /sources/parameter_values
  for (const std::string& path : chunk_files) {
    hdf5::File f = hdf5::File::open(path);
    if (f.exists("/sources/parameter_values"))
      width = std::max(width, static_cast<std::int64_t>(f.dims("/sources/parameter_values").at(1)));
    if (f.attr_str("/", "fingerprint") != fingerprint)
      throw std::runtime_error(
          path +
          ": this chunk file belongs to another job (other catalog, options or "
          "--chunk-sources); nothing was merged");
    if (f.attr_i64("/", "chunk_begin") != expected_begin)
      throw std::runtime_error(path + ": chunk starts at source " + std::to_string(f.attr_i64("/", "chunk_begin")) +
                               ", expected " + std::to_string(expected_begin));
    expected_begin = f.attr_i64("/", "chunk_end");
    for (const ColumnInfo& c : read_columns(f)) {
      auto it = std::find_if(columns.begin(), columns.end(), [&](const ColumnInfo& x) { return x.name == c.name; });
      if (it == columns.end()) {
        columns.push_back(c);
        it = columns.end() - 1;
      }
      it->width = std::max(it->width, c.width);
    }
  }
  if (expected_begin != n_sources)
    throw std::runtime_error(output + ": chunk files cover " + std::to_string(expected_begin) + " of " +
                             std::to_string(n_sources) + " sources");
  for (ColumnInfo& c : columns)
    if (is_per_dataset_column(c.name)) c.width = std::max(c.width, max_datasets);

  // Pass 2: copy each chunk's rows into place.
  io::OutputFile file(output, rule);
  MergeResult result;
  std::int64_t& n_ok = result.n_ok;
  {
    hdf5::File out = hdf5::File::create(file.temp_path(), output);
    out.set_attr("/", "format", std::string(kResultsFormat));
    out.set_attr("/", "format_version", kResultsFormatVersion);
    out.set_attr("/", "n_sources", n_sources);
    out.set_attr("/", "n_groups", n_groups);
    for (const auto& [k, v] : attrs.strings) out.set_attr("/", k, v);
    for (const auto& [k, v] : attrs.numbers) out.set_attr("/", k, v);
    for (const auto& [k, v] : attrs.arrays) out.set_attr("/", k, v);
    create_sources(out, n_sources, width);
    out.create_group("/fluxpoints");
    std::vector<std::string> names;
    for (const auto& c : columns) names.push_back(c.name);
    out.set_attr("/fluxpoints", "columns", join(names, ","));
    for (const ColumnInfo& c : columns) create_column(out, n_sources, n_groups, c);

    for (const std::string& path : chunk_files) {
      hdf5::File f = hdf5::File::open(path);
      ChunkResults c;
      c.begin = f.attr_i64("/", "chunk_begin");
      c.end = f.attr_i64("/", "chunk_end");
      const std::int64_t n = c.end - c.begin;
      c.names = f.read_str("/sources/name", 0, n);
      c.errors = f.read_str("/sources/error", 0, n);
      c.model_types = f.read_str("/sources/model_type", 0, n);
      c.dataset_names = f.read_str("/sources/datasets", 0, n);
      c.warnings = f.read_str("/sources/warnings", 0, n);
      c.ok = f.read_u8("/sources/ok", 0, n);
      c.n_datasets = f.read_i64("/sources/n_datasets", 0, n);
      c.models = read_parameters(f, n);
      write_sources(out, c.begin, c, width);
      for (std::int64_t i = 0; i < n; ++i) {
        if (c.ok[i]) {
          ++n_ok;
        } else if (result.first_failures.size() < kFailuresShown) {
          result.first_failures.push_back("'" + c.names[i] + "' (row " +
                                          std::to_string(c.begin + i) + "): " + c.errors[i]);
        }
      }
      const std::vector<ColumnInfo> present = read_columns(f);
      for (const ColumnInfo& info : columns) {
        const auto it = std::find_if(present.begin(), present.end(), [&](const ColumnInfo& x) { return x.name == info.name; });
        const std::int64_t w_in = it == present.end() ? 0 : it->width;
        const std::size_t row_out = static_cast<std::size_t>(n_groups * info.width);
        const std::string name = "/fluxpoints/" + info.name;
        if (info.dtype == "bool") {
          std::vector<std::uint8_t> v(n * row_out, 0);
          if (w_in) {
            const auto in = f.read_all_u8(name);
            for (std::int64_t i = 0; i < n * n_groups; ++i)
              std::copy_n(in.begin() + i * w_in, w_in, v.begin() + i * info.width);
          }
          out.write_rows(name, c.begin, n, v.data());
        } else {
          std::vector<double> v(n * row_out, std::nan(""));
          if (w_in) {
            const auto in = f.read_all_f64(name);
            for (std::int64_t i = 0; i < n * n_groups; ++i)
              std::copy_n(in.begin() + i * w_in, w_in, v.begin() + i * info.width);
          }
          out.write_rows(name, c.begin, n, v.data());
        }
      }
    }
    out.set_attr("/", "n_ok", n_ok);
    out.set_attr("/", "n_errors", n_sources - n_ok);
    out.flush();
    out.close();
  }
  file.commit();
  return result;
}

}  // namespace fluxpoints::catalog
