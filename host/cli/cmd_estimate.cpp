// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// `fluxpoints estimate`: flux points of one source from OGIP spectra and a gammapy model YAML,
// like gammapy's FluxPointsEstimator(...).run(datasets). Options take gammapy's names; a YAML
// config (--config) may set them and the command line overrides it.
#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>

#include "commands.hpp"
#include "fluxpoints/backend.hpp"
#include "fluxpoints/estimator/config.hpp"
#include "fluxpoints/estimator/estimator.hpp"
#include "fluxpoints/io/dataset_io.hpp"
#include "fluxpoints/io/flux_points.hpp"
#include "fluxpoints/io/ogip.hpp"
#include "host/cli/console.hpp"
#include "host/cli/estimator_option_args.hpp"

namespace fluxpoints::cli {

namespace {

struct EstimateArgs {
  std::vector<std::string> dataset_files;
  std::string models_file, source, config_file, output;
  std::string energy_unit, backend = "auto", sed_type = "likelihood";
  int device = 0;  // CUDA device index
  EstimatorOptionArgs estimator;
  double n_sigma_sensitivity = 5;
  bool sum_over_energy_groups = false, allow_multiple_telescopes = false, overwrite = false;
};

void require_file(const std::string& path, const std::string& what) {
  if (std::filesystem::is_directory(path))
    throw std::runtime_error(what + ": " + path + " is a folder, not a file");
  if (!std::filesystem::exists(path)) throw std::runtime_error(what + ": file not found: " + path);
  if (!std::filesystem::is_regular_file(path))
    throw std::runtime_error(what + ": " + path + " is not a regular file");
}

// Datasets' reco ranges, for the "outside every dataset" error.
std::string coverage(const std::vector<datasets::SpectrumDataset>& ds) {
  std::string s;
  for (const auto& d : ds)
    s += fmt::format("{}'{}' {:g}-{:g} TeV", s.empty() ? "" : ", ", d.name, d.reco_edges.front(),
                     d.reco_edges.back());
  return s;
}

void run_estimate(const EstimateArgs& a, const CLI::App& cmd) {
  const auto given = [&](const char* name) { return cmd.count(name) > 0; };

  // Options: defaults, then the config file, then the command line.
  EstimatorOptions options;
  std::string source = "0";  // gammapy's default: the first model
  if (given("--config")) {
    require_file(a.config_file, "--config");
    apply_estimator_config(a.config_file, options, source);
  }
  if (given("--source")) source = a.source;
  a.estimator.apply(options, cmd);
  if (given("--n-sigma-sensitivity")) options.n_sigma_sensitivity = a.n_sigma_sensitivity;
  if (given("--sum-over-energy-groups")) options.sum_over_energy_groups = true;
  if (given("--allow-multiple-telescopes")) options.allow_multiple_telescopes = true;
  options.validate();
  io::sed_type_unit(a.sed_type);  // rejects an unknown --sed-type before any work
  if (!a.energy_unit.empty()) io::energy_unit_in_tev(a.energy_unit);

  require_file(a.models_file, "--models");
  for (const auto& f : a.dataset_files) require_file(f, "--datasets");
  // The output rule: never write over a file this command reads; fail before the work.
  io::OutputRule rule{a.overwrite, {a.models_file}};
  if (given("--config")) rule.inputs.push_back(a.config_file);
  if (!a.output.empty()) {
    for (std::string& input : io::dataset_input_files(a.dataset_files))
      rule.inputs.push_back(std::move(input));
    io::check_flux_points_output(a.output, rule);
  }

  const std::vector<io::DatasetIndexEntry> entries = io::expand_dataset_arguments(a.dataset_files);
  const std::vector<datasets::SpectrumDataset> datasets = io::read_dataset_entries(entries);
  const std::vector<models::SkyModel> models = models::read_models_yaml(a.models_file);
  const models::SkyModel& src = models::select_source(models, source, a.models_file);
  const std::size_t source_index = static_cast<std::size_t>(&src - models.data());

  std::string why;
  BackendOptions choice;
  choice.device = a.backend;
  choice.cuda.device = a.device;
  const auto backend = make_backend(choice, &why);

  const auto t0 = std::chrono::steady_clock::now();
  LikelihoodBatch batch;
  const SourceProblems problems =
      append_source_problems(batch, datasets, models, source_index, options);
  for (const auto& w : problems.warnings) note("fluxpoints: warning: {}\n", w);
  if (!problems.any_dataset()) {
    std::string edges;
    for (double e : options.energy_edges)
      edges += fmt::format("{}{:g}", edges.empty() ? "" : ", ", e);
    const auto& e = options.energy_edges;
    const bool outside = e.back() <= datasets.front().reco_edges.front() ||
                         e.front() >= datasets.front().reco_edges.back();
    if (outside)  // the datasets' axes are aligned (check_datasets): one axis says it
      throw std::runtime_error("energy edges [" + edges + "] TeV are outside every dataset (" +
                               coverage(datasets) + "): no energy group has data");
    throw std::runtime_error(fmt::format(
        "no energy group has data; the first one, [{:g}, {:g}] TeV (of {}): {}", e[0], e[1],
        e.size() - 1, why_no_dataset_contributes(datasets, e[0], e[1])));
  }
  for (std::size_t k = 0; k < datasets.size(); ++k)
    detail("fluxpoints: dataset '{}' from {}: {} reco bins, {:g}-{:g} TeV, livetime {:g} s{}\n",
           datasets[k].name, entries[k].path, datasets[k].n_reco(),
           datasets[k].reco_edges.front(), datasets[k].reco_edges.back(), datasets[k].livetime_s,
           datasets[k].on_off ? ", On/Off (WStat)" : ", Cash");
  note("fluxpoints: {}; solving {} problems ({} bins, {} datasets) on {}\n", why,
       batch.n_problems(), batch.n_bins(), datasets.size(), backend->name());
  const BatchResult result = backend->solve(batch, options.solve);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const io::FluxPointsTable table = make_flux_points(result, problems, options, a.energy_unit);
  for (std::size_t r = 0; r < problems.groups.size(); ++r) {
    const auto p = problems.groups[r].problem;
    if (!result.success[p] || result.notes[p] != 0)
      note("fluxpoints: row {} ({}): {}{}\n", r, batch.label(p),
           result.success[p] ? "" : "success False: ", explain(batch, result, p));
  }
  const io::FluxPointsTable out = io::to_sed_type(table, a.sed_type);
  if (!a.output.empty()) io::write_flux_points(out, a.output, rule);

  say("source '{}', {} datasets, backend {} ({:.3f} s), sed type {}\n\n", problems.source_name,
      datasets.size(), backend->name(), seconds, a.sed_type);
  say("{}", io::format_flux_points(out, 0, {"stat_scan", "norm_scan"}));
  if (!a.output.empty()) {
    say("\nwritten: {} (sed type {})\n", a.output, a.sed_type);
    detail("fluxpoints: {}: {} bytes, synced to disk{}\n", a.output,
           std::filesystem::file_size(a.output),
           a.overwrite ? " (replacing any earlier file)" : "");
  }
}

}  // namespace

void add_estimate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "estimate", "Flux points of one source from OGIP spectra (gammapy's FluxPointsEstimator)");
  static EstimateArgs a;
  cmd->add_option("--datasets", a.dataset_files,
                  "spectrum datasets: OGIP PHA files (with their BKG/ARF/RMF), gadf FITS files "
                  "(SpectrumDataset[OnOff].write), or the datasets.yaml of gammapy's "
                  "Datasets.write")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--models", a.models_file, "gammapy model YAML")->required();
  cmd->add_option("--source", a.source, "source model name or index (default: the first)");
  a.estimator.add_to(cmd, EstimatorOptionArgs::kEstimateHelp);
  cmd->add_option("--energy-unit", a.energy_unit,
                  "unit of the output energies (default: the datasets' axis unit, keV for OGIP)");
  cmd->add_option("--n-sigma-sensitivity", a.n_sigma_sensitivity,
                  "n_sigma_sensitivity for norm_sensitivity")
      ->capture_default_str();
  cmd->add_flag("--sum-over-energy-groups", a.sum_over_energy_groups,
                "collapse each group to one bin before fitting");
  cmd->add_flag("--allow-multiple-telescopes", a.allow_multiple_telescopes,
                "allow datasets from several telescopes");
  add_backend_options(cmd, a.backend, a.device);
  cmd->add_option("--config", a.config_file, "YAML options with gammapy's names");
  cmd->add_option("--sed-type", a.sed_type,
                  "written SED type: likelihood, dnde, e2dnde, flux, eflux")
      ->capture_default_str();
  cmd->add_option("-o,--output", a.output, "output file (.fits, .fits.gz or .ecsv)");
  add_overwrite_flag(cmd, a.overwrite);
  add_verbosity_flags(cmd);
  cmd->callback([cmd] { run_estimate(a, *cmd); });
}

}  // namespace fluxpoints::cli
