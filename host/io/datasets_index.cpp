// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The datasets index that gammapy's Datasets.write makes (datasets.yaml): which files hold
// which datasets. The files themselves are read by read_spectrum_dataset (OGIP or gadf).
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "fluxpoints/io/dataset_io.hpp"
#include "fluxpoints/io/ogip.hpp"

namespace fluxpoints::io {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// A scalar string field of entry `k`; `field` must be present and non-empty.
std::string text_field(const YAML::Node& entry, const std::string& path, std::size_t k,
                       const std::string& field) {
  const YAML::Node node = entry[field];
  const std::string at = "datasets[" + std::to_string(k) + "]";
  if (!node) fail(path, at + ": field '" + field + "' is missing");
  if (!node.IsScalar()) fail(path, at + ": field '" + field + "' is not a text value");
  const std::string value = node.Scalar();
  if (value.empty()) fail(path, at + ": field '" + field + "' is empty");
  return value;
}

}  // namespace

bool is_datasets_index(const std::string& path) {
  const std::string ext = lower_extension(path);
  return ext == ".yaml" || ext == ".yml";
}

std::vector<DatasetIndexEntry> read_datasets_index(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    fail(path, "cannot open the datasets index");
  } catch (const YAML::Exception& e) {
    fail(path, std::string("not valid YAML: ") + e.what());
  }
  const YAML::Node list = root.IsMap() ? root["datasets"] : YAML::Node();
  if (!list || !list.IsSequence()) {
    fail(path,
         "not a datasets index: expected a top-level list 'datasets' of entries with name, "
         "type and filename (the file gammapy's Datasets.write makes)");
  }
  if (list.size() == 0) fail(path, "the list 'datasets' is empty");

  const fs::path folder = fs::path(path).parent_path();
  std::vector<DatasetIndexEntry> entries;
  std::set<std::string> names;
  for (std::size_t k = 0; k < list.size(); ++k) {
    const YAML::Node entry = list[k];
    const std::string at = "datasets[" + std::to_string(k) + "]";
    if (!entry.IsMap()) fail(path, at + " is not a map with name, type and filename");
    DatasetIndexEntry e;
    e.name = text_field(entry, path, k, "name");
    e.type = text_field(entry, path, k, "type");
    if (e.type != "SpectrumDataset" && e.type != "SpectrumDatasetOnOff") {
      fail(path, at + " ('" + e.name + "'): type '" + e.type +
                     "' is not supported by the command line, which reads 1-D spectrum datasets "
                     "(SpectrumDataset, SpectrumDatasetOnOff); for 3-D map datasets use the "
                     "Python package (fluxpoints.FluxPointsEstimator)");
    }
    if (!names.insert(e.name).second) {
      fail(path, at + ": dataset name '" + e.name + "' appears twice (names must be unique)");
    }
    // gammapy resolves a relative filename against the index file's folder.
    const fs::path file(text_field(entry, path, k, "filename"));
    e.path = (file.is_absolute() ? file : folder / file).lexically_normal().string();
    entries.push_back(std::move(e));
  }
  return entries;
}

std::vector<DatasetIndexEntry> expand_dataset_arguments(const std::vector<std::string>& args) {
  std::vector<DatasetIndexEntry> entries;
  for (const std::string& arg : args) {
    if (!is_datasets_index(arg)) {
      entries.push_back({"", "", arg});
      continue;
    }
    for (DatasetIndexEntry& e : read_datasets_index(arg)) entries.push_back(std::move(e));
  }
  return entries;
}

std::vector<std::string> dataset_input_files(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const std::string& arg : args) {
    if (is_datasets_index(arg)) files.push_back(arg);
  }
  for (const DatasetIndexEntry& e : expand_dataset_arguments(args)) {
    for (std::string& f : ogip_input_files(e.path)) files.push_back(std::move(f));
  }
  return files;
}

std::vector<datasets::SpectrumDataset> read_dataset_entries(
    const std::vector<DatasetIndexEntry>& entries) {
  std::vector<datasets::SpectrumDataset> out;
  out.reserve(entries.size());
  for (const DatasetIndexEntry& e : entries) {
    datasets::SpectrumDataset ds = read_spectrum_dataset(e.path);
    if (!e.type.empty() && ds.on_off != (e.type == "SpectrumDatasetOnOff")) {
      throw std::runtime_error(e.path + ": dataset '" + e.name + "' is listed as " + e.type +
                               " in its datasets index, but the file " +
                               (ds.on_off ? "has OFF counts" : "has no OFF counts"));
    }
    if (!e.name.empty()) ds.name = e.name;
    out.push_back(std::move(ds));
  }
  return out;
}

}  // namespace fluxpoints::io
