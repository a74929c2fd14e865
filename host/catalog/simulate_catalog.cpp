// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/catalog/simulate.hpp"

#include <cmath>
#include <random>
#include <stdexcept>

#include "fluxpoints/catalog/catalog.hpp"
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

std::vector<double> log_edges(double lo, double hi, int n) {
  std::vector<double> e(n + 1);
  for (int i = 0; i <= n; ++i) e[i] = lo * std::pow(hi / lo, static_cast<double>(i) / n);
  return e;
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}
  double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng_); }
  double log_uniform(double a, double b) { return std::exp(uniform(std::log(a), std::log(b))); }
  double normal(double mean, double sigma) { return std::normal_distribution<double>(mean, sigma)(rng_); }
  int integer(int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng_); }
  double poisson(double mean) {
    if (!(mean > 0.0)) return 0.0;
    return static_cast<double>(std::poisson_distribution<long long>(mean)(rng_));
  }
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

// One On/Off observation of `model`: a Cherenkov-telescope-like effective area with a random
// threshold, log-normal energy dispersion, a power-law background and 1 / n_off regions.
datasets::SpectrumDataset random_observation(Generator& g, const models::SpectralModel& model,
                                             const std::string& name) {
  datasets::SpectrumDataset d;
  d.name = name;
  d.on_off = true;
  d.reco_edges = log_edges(kRecoMin, kRecoMax, kRecoBins);
  d.true_edges = log_edges(kTrueMin, kTrueMax, kTrueBins);
  d.livetime_s = 3600.0 * g.log_uniform(0.5, 50.0);
  const double area_max = g.log_uniform(5e8, 3e9);      // cm2 (5e4 - 3e5 m2)
  const double threshold = g.log_uniform(0.12, 0.6);    // TeV
  const double resolution = g.uniform(0.08, 0.16);      // sigma of ln(E_reco / E_true) at high E
  const double bias = g.normal(0.0, 0.03);
  d.exposure.resize(kTrueBins);
  for (int j = 0; j < kTrueBins; ++j) {
    const double e = std::sqrt(d.true_edges[j] * d.true_edges[j + 1]);
    const double area = area_max * std::pow(e, 2.0) / (std::pow(e, 2.0) + std::pow(threshold, 2.0)) *
                        std::exp(-std::pow(threshold / e, 2.0));
    d.exposure[j] = area * d.livetime_s;
  }
  d.edisp.assign(static_cast<std::size_t>(kTrueBins) * kRecoBins, 0.0);
  for (int j = 0; j < kTrueBins; ++j) {
    const double e = std::sqrt(d.true_edges[j] * d.true_edges[j + 1]);
    const double sigma = resolution * (1.0 + 0.5 * std::max(0.0, std::log(threshold * 2.0 / e)));
    for (int i = 0; i < kRecoBins; ++i) {
      const double lo = (std::log(d.reco_edges[i] / e) - bias) / sigma;
      const double hi = (std::log(d.reco_edges[i + 1] / e) - bias) / sigma;
      d.edisp[static_cast<std::size_t>(j) * kRecoBins + i] = normal_cdf(hi) - normal_cdf(lo);
    }
  }
  const int n_off_regions = g.integer(3, 12);
  const double bkg_norm = g.log_uniform(5.0, 30.0) / 3600.0;  // ON-region counts per s above 1 TeV
  d.counts.resize(kRecoBins);  // sizes the reco axis for npred_source
  const std::vector<double> s = d.npred_source(model);
  d.counts_off.resize(kRecoBins);
  d.acceptance.assign(kRecoBins, 1.0);
  d.acceptance_off.assign(kRecoBins, static_cast<double>(n_off_regions));
  d.alpha.assign(kRecoBins, 1.0 / n_off_regions);
  d.mask_safe.resize(kRecoBins);
  for (int i = 0; i < kRecoBins; ++i) {
    // Integral of a E^-2.7 background spectrum over the bin, normalised above 1 TeV.
    const double b = bkg_norm * d.livetime_s *
                     (std::pow(d.reco_edges[i], -1.7) - std::pow(d.reco_edges[i + 1], -1.7));
    d.counts[i] = g.poisson(s[i] + b);
    d.counts_off[i] = g.poisson(b * n_off_regions);
    // Safe range: above 1.5 x the threshold, where the area is known to better than ~10 %.
    d.mask_safe[i] = d.reco_edges[i] >= 1.5 * threshold ? 1 : 0;
  }
  return d;
}

}  // namespace

void simulate_catalog(const SimulateCatalogOptions& o, const std::string& path) {
  if (o.n_sources < 1) throw std::invalid_argument("simulate --catalog: need at least 1 source");
  if (o.min_datasets < 1 || o.max_datasets < o.min_datasets)
    throw std::invalid_argument("simulate --catalog: datasets per source must be 1 <= min <= max");
  if (o.n_groups < 1 || kRecoBins % o.n_groups != 0)
    throw std::invalid_argument("simulate --catalog: the number of groups must divide " +
                                std::to_string(kRecoBins));
  Generator g(o.seed);
  CatalogWriter writer(path);
  CatalogOptions options;
  options.energy_edges = log_edges(kRecoMin, kRecoMax, o.n_groups);
  options.solve.set_selection(o.selection);
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
