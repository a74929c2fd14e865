// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// `fluxpoints convert --datasets PHA... --models M.yaml [--source NAME] -o CATALOG.h5`: an HDF5
// catalog from OGIP spectra and a gammapy model YAML. Each sky model (or only --source) becomes a
// source; its datasets are those its `datasets_names` lists, or every dataset. The datasets are
// stored once and shared between sources. Estimator options go into the catalog's attributes.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "commands.hpp"
#include "fluxpoints/catalog/catalog.hpp"
#include "fluxpoints/estimator/config.hpp"
#include "fluxpoints/io/dataset_io.hpp"
#include "fluxpoints/io/ogip.hpp"
#include "fluxpoints/models/spectral_model.hpp"
#include "host/cli/console.hpp"

namespace fluxpoints::cli {
namespace {

struct ConvertArgs {
  std::vector<std::string> dataset_files;
  std::string models_file, source, config_file, output, energy_edges, selection;
  bool overwrite = false;
};

void run(const ConvertArgs& a, const CLI::App& cmd) {
  const auto given = [&](const char* name) { return cmd.count(name) > 0; };
  EstimatorOptions options;
  std::string source = "";
  if (given("--config")) apply_estimator_config(a.config_file, options, source);
  if (given("--source")) source = a.source;
  if (given("--energy-edges")) options.energy_edges = parse_energy_edges_tev(a.energy_edges);
  if (given("--selection")) options.set_selection(a.selection);
  options.validate();

  // The output rule: never write over a file this command reads; fail before the work.
  io::OutputRule rule{a.overwrite, {a.models_file}};
  if (given("--config")) rule.inputs.push_back(a.config_file);
  for (std::string& input : io::dataset_input_files(a.dataset_files))
    rule.inputs.push_back(std::move(input));
  io::check_output(a.output, rule);

  const std::vector<io::DatasetIndexEntry> entries = io::expand_dataset_arguments(a.dataset_files);
  std::vector<datasets::SpectrumDataset> datasets = io::read_dataset_entries(entries);
  for (std::size_t k = 0; k < datasets.size(); ++k) {
    datasets[k].validate();
    detail("fluxpoints: dataset '{}' from {}: {} reco bins\n", datasets[k].name, entries[k].path,
           datasets[k].n_reco());
  }
  const std::vector<models::SkyModel> sky = models::read_models_yaml(a.models_file);
  std::vector<const models::SkyModel*> chosen;
  if (!source.empty())
    chosen.push_back(&models::select_source(sky, source, a.models_file));
  else
    for (const auto& m : sky) chosen.push_back(&m);
  if (chosen.empty()) throw std::runtime_error(a.models_file + ": no sky model to convert");

  catalog::CatalogWriter writer(a.output, rule);
  writer.set_options(options);
  std::map<std::string, std::int64_t> row_of;
  for (const auto& d : datasets) {
    if (row_of.count(d.name))
      throw std::runtime_error("--datasets: two datasets are named '" + d.name + "' (names must be unique)");
    row_of[d.name] = writer.add_dataset(d);
  }
  for (const models::SkyModel* m : chosen) {
    if (m->spectral->type() == "TemplateSpectralModel")
      throw std::runtime_error(a.models_file + ": model '" + m->name +
                               "': TemplateSpectralModel cannot be stored in a catalog (format version 1)");
    catalog::Source s;
    s.name = m->name;
    s.model.type = m->spectral->type();
    for (const auto& p : m->spectral->parameters()) {
      s.model.parameter_names.push_back(p.name);
      s.model.parameter_values.push_back(p.value);
    }
    for (const auto& d : datasets) {
      const auto& names = m->datasets_names;
      if (names.empty() || std::find(names.begin(), names.end(), d.name) != names.end())
        s.datasets.push_back(row_of[d.name]);
    }
    if (s.datasets.empty())
      throw std::runtime_error(a.models_file + ": model '" + m->name + "' applies to none of the datasets");
    writer.add_source(s);
  }
  writer.close();
  say("written: {} ({} sources, {} datasets)\n", a.output, writer.n_sources(), writer.n_datasets());
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("convert", "Make an HDF5 catalog from OGIP spectra and a gammapy model YAML");
  static ConvertArgs a;
  cmd->add_option("--datasets", a.dataset_files,
                  "spectrum datasets: OGIP PHA files (with their BKG/ARF/RMF), gadf FITS files, "
                  "or the datasets.yaml of gammapy's Datasets.write")->required()->expected(1, -1);
  cmd->add_option("--models", a.models_file, "gammapy model YAML")->required();
  cmd->add_option("--source", a.source, "only this model (name or index); default: every sky model");
  cmd->add_option("--config", a.config_file, "estimator options YAML (as for estimate), stored in the catalog");
  cmd->add_option("--energy-edges", a.energy_edges, "group edges stored in the catalog, e.g. 0.7,1,2,5,10 (TeV)");
  cmd->add_option("--selection", a.selection, "selection_optional stored in the catalog");
  cmd->add_option("-o,--output", a.output, "catalog file to write")->required();
  add_overwrite_flag(cmd, a.overwrite);
  add_verbosity_flags(cmd);
  cmd->callback([cmd] { run(a, *cmd); });
}

}  // namespace fluxpoints::cli
