// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// `fluxpoints simulate`: writes Poisson-sampled On/Off spectra in gammapy's OGIP layout, from a
// model YAML source (or a built-in PowerLaw) folded through simple analytic IRFs
// (datasets/simulate.hpp). Deterministic for a given --seed.
// With --catalog N it writes instead an HDF5 catalog of N random sources (catalog/simulate.hpp):
// `fluxpoints simulate --catalog N --seed S -o CATALOG.h5`.
#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "commands.hpp"
#include "fluxpoints/catalog/simulate.hpp"
#include "fluxpoints/datasets/simulate.hpp"
#include "fluxpoints/io/ogip.hpp"
#include "fluxpoints/models/spectral_model.hpp"
#include "fluxpoints/models/spectral_models.hpp"
#include "host/cli/console.hpp"

namespace fluxpoints::cli {
namespace {

struct SimulateOptions {
  std::string out_dir;
  std::string models_path;
  std::string source;
  double amplitude = 1e-11;  // cm-2 s-1 TeV-1
  double index = 2.5;
  double reference = 1.0;  // TeV
  double livetime_h = 0.5;
  std::vector<double> true_bins = {0.01, 100.0, 80};  // emin, emax (TeV), number of log bins
  std::vector<double> reco_bins = {0.05, 50.0, 30};
  datasets::SimulationSetup setup;
  std::uint64_t seed = 42;
  int n_obs = 1;
  bool overwrite = false;
};

std::vector<double> edges_from_option(const std::vector<double>& spec, const char* option) {
  const double n = spec.at(2);
  if (n < 1 || n != static_cast<int>(n)) {
    throw std::invalid_argument(std::string(option) + ": the number of bins must be a positive " +
                                "integer (got " + fmt::format("{}", n) + ")");
  }
  try {
    return datasets::log_edges(spec.at(0), spec.at(1), static_cast<int>(n));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(option) + ": " + e.what());
  }
}

// Observation k of n: its name and its own random stream, derived from (seed, k).
std::string observation_name(const std::string& base, int k, int n) {
  return n == 1 ? base : fmt::format("{}_{:04d}", base, k + 1);
}
std::uint64_t observation_seed(std::uint64_t seed, int k) {
  if (k == 0) return seed;
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(k)};
  std::uint64_t out = 0;
  std::uint32_t words[2];
  seq.generate(words, words + 2);
  out = (static_cast<std::uint64_t>(words[0]) << 32) | words[1];
  return out;
}

void run_simulate(SimulateOptions& o) {
  std::unique_ptr<models::SpectralModel> source;
  std::string source_label;
  if (!o.models_path.empty()) {
    const std::vector<models::SkyModel> sky = models::read_models_yaml(o.models_path);
    if (o.source.empty() && sky.size() != 1) {
      throw std::invalid_argument(o.models_path + " holds " + std::to_string(sky.size()) +
                                  " models: choose one with --source NAME");
    }
    const models::SkyModel& chosen =
        models::select_source(sky, o.source.empty() ? "0" : o.source, o.models_path);
    if (!chosen.spectral) {
      throw std::invalid_argument(o.models_path + ": model '" + chosen.name +
                                  "' has no spectral model");
    }
    source = chosen.spectral->clone();
    if (source->is_norm()) {
      throw std::invalid_argument(o.models_path + ": model '" + chosen.name + "' is a " +
                                  source->type() + ", a dimensionless norm, not a source spectrum");
    }
    source_label = fmt::format("'{}' ({}) from {}", chosen.name, source->type(), o.models_path);
  } else {
    source = models::make_power_law(o.amplitude, o.index, o.reference);
    source_label = fmt::format(
        "built-in PowerLaw (amplitude {} cm-2 s-1 TeV-1, index {}, "
        "reference {} TeV)",
        o.amplitude, o.index, o.reference);
  }
  if (!(o.livetime_h > 0.0)) throw std::invalid_argument("--livetime must be > 0 hours");
  if (o.n_obs < 1) throw std::invalid_argument("--n-obs must be >= 1");
  o.setup.livetime_s = o.livetime_h * 3600.0;
  o.setup.true_edges = edges_from_option(o.true_bins, "--true-edges");
  o.setup.reco_edges = edges_from_option(o.reco_bins, "--reco-edges");
  o.setup.validate();

  // Check every target first, so that a refusal writes nothing.
  namespace fs = std::filesystem;
  io::OutputRule rule{o.overwrite, {}};
  if (!o.models_path.empty()) rule.inputs.push_back(o.models_path);
  if (!o.out_dir.empty()) fs::create_directories(o.out_dir);
  std::vector<std::string> phas;
  for (int k = 0; k < o.n_obs; ++k) {
    const std::string pha =
        (fs::path(o.out_dir) / (observation_name(o.setup.name, k, o.n_obs) + ".fits")).string();
    const io::OgipFileNames names = io::ogip_file_names(pha);
    for (const std::string& f : {names.pha, names.arf, names.bkg, names.rmf})
      io::check_output(f, rule);
    phas.push_back(pha);
  }
  say("source: {}\n", source_label);
  for (int k = 0; k < o.n_obs; ++k) {
    datasets::SimulationSetup setup = o.setup;
    setup.name = observation_name(o.setup.name, k, o.n_obs);
    const datasets::SpectrumDataset ds =
        datasets::simulate_on_off(*source, setup, observation_seed(o.seed, k));
    io::write_ogip_dataset(ds, phas[k], rule);
    double on = 0.0;
    double off = 0.0;
    std::size_t safe = 0;
    for (std::size_t i = 0; i < ds.n_reco(); ++i) {
      if (!ds.mask(i)) continue;
      on += ds.counts[i];
      off += ds.counts_off[i];
      ++safe;
    }
    say("{}: {} safe of {} channels, ON {} OFF {} (alpha {}) in the safe range\n", phas[k], safe,
        ds.n_reco(), on, off, setup.alpha);
    detail("fluxpoints: seed of {}: {}\n", setup.name, observation_seed(o.seed, k));
  }
}

}  // namespace

void add_simulate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "simulate",
      "Write Poisson-sampled On/Off spectra (OGIP PHA/BKG/ARF/RMF, as gammapy writes them) for a "
      "source folded through analytic IRFs");
  static SimulateOptions o;
  static catalog::SimulateCatalogOptions catalog_options;
  cmd->add_option("-o,--out", o.out_dir, "Output directory (with --catalog: the catalog file)")->required();
  cmd->add_option("--catalog", catalog_options.n_sources,
                  "Write an HDF5 catalog of this many random sources to -o instead (PowerLaw, "
                  "LogParabola, ExpCutoffPowerLaw; 1-4 On/Off datasets each; see "
                  "docs/catalog-format.md)");
  cmd->add_option("--min-datasets", catalog_options.min_datasets, "--catalog: fewest datasets per source")
      ->capture_default_str();
  cmd->add_option("--max-datasets", catalog_options.max_datasets, "--catalog: most datasets per source")
      ->capture_default_str();
  cmd->add_option("--groups", catalog_options.n_groups, "--catalog: energy groups, 0.1-100 TeV (divides 30; with --field 10)")
      ->capture_default_str();
  cmd->add_option("--selection", catalog_options.selection, "--catalog: selection_optional stored in the catalog")
      ->capture_default_str();
  cmd->add_flag("--field", catalog_options.field,
                "--catalog: crowded fields instead (flattened-map datasets shared by sources, "
                "Gaussian PSF templates, a background with a free norm; catalog format 2)");
  cmd->add_option("--field-side", catalog_options.field_side, "--field: pixels per side of a field")
      ->capture_default_str();
  cmd->add_option("--field-sources", catalog_options.sources_per_field, "--field: sources per field")
      ->capture_default_str();
  cmd->add_flag("--reoptimize", catalog_options.reoptimize,
                "--field: store reoptimize = 1 in the catalog (batch re-fits the free components)");
  cmd->add_option("--models", o.models_path, "gammapy model YAML; default: built-in PowerLaw");
  cmd->add_option("--source", o.source, "Source name (or index) in --models");
  cmd->add_option("--amplitude", o.amplitude, "Built-in PowerLaw amplitude, cm-2 s-1 TeV-1")
      ->capture_default_str();
  cmd->add_option("--index", o.index, "Built-in PowerLaw index")->capture_default_str();
  cmd->add_option("--reference", o.reference, "Built-in PowerLaw reference energy, TeV")
      ->capture_default_str();
  cmd->add_option("--livetime", o.livetime_h, "Livetime per observation, hours")
      ->capture_default_str();
  cmd->add_option("--true-edges", o.true_bins, "True energy axis: EMIN EMAX NBINS (TeV, log bins)")
      ->expected(3)
      ->capture_default_str();
  cmd->add_option("--reco-edges", o.reco_bins, "Reco energy axis: EMIN EMAX NBINS (TeV, log bins)")
      ->expected(3)
      ->capture_default_str();
  cmd->add_option("--aeff-max", o.setup.aeff_max_m2, "Effective-area plateau, m2")
      ->capture_default_str();
  cmd->add_option("--aeff-threshold", o.setup.aeff_threshold_tev,
                  "Energy where A_eff is half its plateau, TeV (A ~ x^2/(1+x^2))")
      ->capture_default_str();
  cmd->add_option("--edisp-sigma", o.setup.edisp_sigma,
                  "Energy resolution: sigma of ln(E_reco/E_true) (fractional)")
      ->capture_default_str();
  cmd->add_option("--bkg-rate", o.setup.bkg_rate,
                  "ON-region background rate at 1 TeV, s-1 TeV-1 (power law)")
      ->capture_default_str();
  cmd->add_option("--bkg-index", o.setup.bkg_index, "Background power-law index")
      ->capture_default_str();
  cmd->add_option("--alpha", o.setup.alpha, "ON/OFF exposure ratio (expected OFF = bkg / alpha)")
      ->capture_default_str();
  cmd->add_option("--safe-emin", o.setup.safe_emin_tev,
                  "Safe threshold, TeV: reco bins starting below it get QUALITY bad "
                  "(default: aeff-threshold / 3, where A_eff is 10% of its plateau)");
  cmd->add_option("--energy-unit", o.setup.energy_unit, "Energy unit written to the files")
      ->capture_default_str();
  cmd->add_option("--name", o.setup.name, "Dataset name (OBS_ID) and file stem")
      ->capture_default_str();
  cmd->add_option("--n-obs", o.n_obs, "Number of observations (<name>_0001.fits, ...)")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "Random seed (std::mt19937_64)")->capture_default_str();
  add_overwrite_flag(cmd, o.overwrite);
  add_verbosity_flags(cmd);
  cmd->callback([cmd] {
    if (cmd->count("--catalog") > 0) {
      catalog_options.seed = o.seed;
      catalog::simulate_catalog(catalog_options, o.out_dir, io::OutputRule{o.overwrite, {}});
      say("written: {} ({} sources, seed {})\n", o.out_dir, catalog_options.n_sources, o.seed);
      return;
    }
    run_simulate(o);
  });
}

}  // namespace fluxpoints::cli
