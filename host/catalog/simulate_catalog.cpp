// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/catalog/simulate.hpp"

#include <cmath>
#include <random>
#include <stdexcept>

#include "fluxpoints/catalog/catalog.hpp"
#include "fluxpoints/datasets/simulate.hpp"
#include "fluxpoints/models/spectral_models.hpp"

namespace fluxpoints::catalog {
namespace {

// Reco axis: 0.1 - 100 TeV, 10 bins per decade (3 decades); groups join 3 reco bins each.
constexpr double kRecoMin = 0.1, kRecoMax = 100.0;
constexpr int kRecoBins = 30;
// True axis: wider than the reco axis so that migration into it from outside is modelled.
constexpr double kTrueMin = 0.04, kTrueMax = 250.0;
constexpr int kTrueBins = 46;
// Source amplitudes at 1 TeV (cm-2 s-1 TeV-1): N(>F) ~ F^-1 (the slope of the H.E.S.S. Galactic
// plane survey) between 0.3 % and 3 Crab (Crab: about 3.8e-11 at 1 TeV), so most sources are
// faint: half below 0.5 % Crab, one in ten above 2.6 %, one in a hundred above 26 %.
constexpr double kFluxMin = 1e-13, kFluxMax = 1e-10;
constexpr double kLogNLogSSlope = 1.0;

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}
  double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng_); }
  double log_uniform(double a, double b) { return std::exp(uniform(std::log(a), std::log(b))); }
  double normal(double mean, double sigma) { return std::normal_distribution<double>(mean, sigma)(rng_); }
  int integer(int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng_); }
  std::uint64_t seed() { return rng_(); }
  // Amplitude from N(>F) ~ F^-slope on [kFluxMin, kFluxMax] (inverse transform).
  double amplitude() {
    const double u = uniform(0.0, 1.0);
    const double a = std::pow(kFluxMin, -kLogNLogSSlope), b = std::pow(kFluxMax, -kLogNLogSSlope);
    return std::pow(a - u * (a - b), -1.0 / kLogNLogSSlope);
  }

 private:
  std::mt19937_64 rng_;
};

std::unique_ptr<models::SpectralModel> random_model(Generator& g) {
  const double amplitude = g.amplitude();
  const double kind = g.uniform(0.0, 1.0);
  if (kind < 0.4) return models::make_power_law(amplitude, g.normal(2.5, 0.3), 1.0);
  if (kind < 0.7) {
    // LogParabola at 1 TeV (natural log, as gammapy's LogParabolaSpectralModel).
    return models::make_log_parabola(amplitude, g.normal(2.3, 0.3), g.uniform(0.02, 0.25), 1.0);
  }
  const double ecut = g.log_uniform(2.0, 60.0);
  return models::make_exp_cutoff_power_law(amplitude, g.normal(2.0, 0.3), 1.0 / ecut, 1.0);
}

// One On/Off observation of `model` with random instrument and observing conditions, simulated
// by datasets::simulate_on_off (analytic IRFs: effective area with a threshold, log-normal energy
// dispersion, power-law background, Poisson counts; safe mask where the area exceeds 10 % of its
// plateau).
datasets::SpectrumDataset random_observation(Generator& g, const models::SpectralModel& model,
                                             const std::string& name) {
  datasets::SimulationSetup setup;
  setup.name = name;
  setup.reco_edges = datasets::log_edges(kRecoMin, kRecoMax, kRecoBins);
  setup.true_edges = datasets::log_edges(kTrueMin, kTrueMax, kTrueBins);
  setup.livetime_s = 3600.0 * g.log_uniform(0.5, 50.0);
  setup.aeff_max_m2 = g.log_uniform(5e4, 3e5);
  setup.aeff_threshold_tev = g.log_uniform(0.12, 0.6);
  setup.edisp_sigma = g.uniform(0.08, 0.16);
  // 5 - 30 background counts per hour above 1 TeV in the ON region.
  setup.bkg_index = g.normal(2.7, 0.1);
  setup.bkg_rate = g.log_uniform(5.0, 30.0) / 3600.0 * (setup.bkg_index - 1.0);
  setup.alpha = 1.0 / g.integer(3, 12);
  return datasets::simulate_on_off(model, setup, g.seed());
}

}  // namespace

void simulate_catalog(const SimulateCatalogOptions& o, const std::string& path,
                      const io::OutputRule& rule) {
  if (o.n_sources < 1) throw std::invalid_argument("simulate --catalog: need at least 1 source");
  if (o.min_datasets < 1 || o.max_datasets < o.min_datasets)
    throw std::invalid_argument("simulate --catalog: datasets per source must be 1 <= min <= max");
  if (o.n_groups < 1 || kRecoBins % o.n_groups != 0)
    throw std::invalid_argument("simulate --catalog: the number of groups must divide " +
                                std::to_string(kRecoBins));
  Generator g(o.seed);
  CatalogWriter writer(path, rule);
  CatalogOptions options;
  options.energy_edges = datasets::log_edges(kRecoMin, kRecoMax, o.n_groups);
  options.set_selection(o.selection);
  writer.set_options(options);
  for (std::int64_t k = 0; k < o.n_sources; ++k) {
    Source source;
    source.name = "src" + std::to_string(k);
    const auto model = random_model(g);
    source.model.type = model->type();
    for (const auto& p : model->parameters()) {
      source.model.parameter_names.push_back(p.name);
      source.model.parameter_values.push_back(p.value);
    }
    const int n_datasets = g.integer(o.min_datasets, o.max_datasets);
    for (int d = 0; d < n_datasets; ++d)
      source.datasets.push_back(writer.add_dataset(
          random_observation(g, *model, source.name + "_obs" + std::to_string(d))));
    writer.add_source(source);
  }
  writer.close();
}

}  // namespace fluxpoints::catalog
