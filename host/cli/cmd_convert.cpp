// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// `fluxpoints convert --datasets PHA... --models M.yaml [--source NAME] -o CATALOG.h5`: an HDF5
// catalog from OGIP spectra and a gammapy model YAML. Each sky model (or only --source) becomes a
// source; its datasets are those its `datasets_names` lists, or every dataset. The datasets are
// stored once and shared between sources. Estimator options go into the catalog's attributes.
// Every sky model of the YAML (also those not chosen by --source) becomes a component in each
// dataset it applies to (its folded predicted counts), so that `batch` estimates each source
// next to the others, as gammapy does; its amplitude is free there when it is free in the YAML.
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

// The parameter that scales a spectral model linearly (its predicted counts are proportional
// to it), or "" when it has none.
std::string linear_parameter(const models::SpectralModel& m) {
  for (const char* name : {"amplitude", "norm", "const"})
    for (const auto& p : m.parameters())
      if (p.name == name) return name;
  return "";
}

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
  // Components: every sky model in every dataset it applies to, model by model (a dataset's
  // components are then in the YAML's order, the order the one-source estimator sums them in).
  std::map<std::string, std::vector<std::int64_t>> components_of;
  for (const auto& m : sky) {
    if (!m.spectral) continue;
    const std::string parameter = linear_parameter(*m.spectral);
    if (parameter.empty())
      throw std::runtime_error(a.models_file + ": model '" + m.name + "' (" + m.spectral->type() +
                               ") has no amplitude or norm parameter: it cannot be stored as a "
                               "component of a catalog");
    const models::Parameter* linear = nullptr;
    for (const auto& p : m.spectral->parameters()) {
      if (p.name == parameter) linear = &p;
      else if (!p.frozen)
        note("fluxpoints convert: model '{}': parameter '{}' is free in the YAML; catalogs re-fit "
             "only amplitudes and norms (batch --reoptimize keeps it at {})\n",
             m.name, p.name, p.value);
    }
    std::vector<models::SkyModel> one;
    one.push_back(m.clone());
    const std::vector<DatasetPrediction> folded = predict_counts_all_sources(datasets, one).at(0);
    for (std::size_t k = 0; k < datasets.size(); ++k) {
      const auto& names = m.datasets_names;
      if (!names.empty() && std::find(names.begin(), names.end(), datasets[k].name) == names.end())
        continue;
      const std::vector<double>& npred = folded[k].source;
      catalog::Component c;
      c.dataset = row_of[datasets[k].name];
      c.model = m.name;
      c.parameter = parameter;
      c.value = linear->value;
      c.min = linear->min;
      c.max = linear->max;
      c.free = !linear->frozen;
      for (std::size_t i = 0; i < npred.size(); ++i)
        if (npred[i] != 0.0) {
          c.bin_index.push_back(static_cast<std::int64_t>(i));
          c.bin_value.push_back(npred[i]);
        }
      components_of[m.name].push_back(writer.add_component(c));
    }
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
    s.components = components_of[m->name];
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
