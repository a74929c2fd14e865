// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/catalog/simulate.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
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

// --- Crowded fields --------------------------------------------------------------------------

// Exposure of a field dataset (cm2 s): a source of 1e-12 cm-2 s-1 TeV-1 at 1 TeV gives ~60
// counts above 0.1 TeV.
constexpr double kFieldExposure = 1e13;
// PSF widths (sigma, pixels at 1 TeV; narrower at higher energies): a few sources per width.
constexpr double kPsfSigmaPx[] = {0.8, 1.2, 1.8};
// A template ends where the Gaussian has fallen below this fraction of its peak pixel.
constexpr double kTemplateCut = 1e-6;
// Background counts per pixel in the lowest reco bin (power law E^-2.7).
constexpr double kBackgroundPerPixel = 2.0;
constexpr double kBackgroundIndex = 2.7;

// Fraction of a 2-D Gaussian (centre cx, cy, width sigma, in pixels) inside pixel (ix, iy).
double pixel_fraction(double cx, double cy, double sigma, int ix, int iy) {
  const double k = 1.0 / (std::sqrt(2.0) * sigma);
  const auto along = [&](double c, int i) {
    return 0.5 * (std::erf((i + 1 - c) * k) - std::erf((i - c) * k));
  };
  return along(cx, ix) * along(cy, iy);
}

// The PSF width at energy e (TeV): sigma0 (E / 1 TeV)^-0.2, at least half of sigma0.
double psf_sigma(double sigma0, double e) { return sigma0 * std::max(0.5, std::pow(e, -0.2)); }

struct FieldSource {
  std::unique_ptr<models::SpectralModel> truth, reference;
  double x = 0, y = 0, sigma0 = 1;
};

// The predicted counts of `model` seen through a field dataset's PSF at (x, y): flat bins
// (reco bin x pixels + pixel) where it predicts more than kTemplateCut of its peak pixel.
void field_template(const models::SpectralModel& model, const FieldSource& s,
                    const std::vector<double>& reco_edges, int side,
                    std::vector<std::int64_t>& index, std::vector<double>& value) {
  const std::int64_t P = static_cast<std::int64_t>(side) * side;
  for (std::size_t e = 0; e + 1 < reco_edges.size(); ++e) {
    const double counts = model.integral({reco_edges[e]}, {reco_edges[e + 1]}).at(0) * kFieldExposure;
    const double sigma = psf_sigma(s.sigma0, std::sqrt(reco_edges[e] * reco_edges[e + 1]));
    const double peak = pixel_fraction(s.x, s.y, sigma, static_cast<int>(std::floor(s.x)),
                                       static_cast<int>(std::floor(s.y)));
    for (int iy = 0; iy < side; ++iy)
      for (int ix = 0; ix < side; ++ix) {
        const double f = pixel_fraction(s.x, s.y, sigma, ix, iy);
        if (f <= kTemplateCut * peak || counts * f == 0.0) continue;
        index.push_back(static_cast<std::int64_t>(e) * P + iy * side + ix);
        value.push_back(counts * f);
      }
  }
}

void simulate_fields(const SimulateCatalogOptions& o, Generator& g, CatalogWriter& writer) {
  if (o.field_side < 2 || o.sources_per_field < 1)
    throw std::invalid_argument("simulate --catalog --field: need --field-side >= 2 and "
                                "--field-sources >= 1");
  const int side = o.field_side;
  const std::int64_t P = static_cast<std::int64_t>(side) * side;
  const std::vector<double> reco_edges = datasets::log_edges(kRecoMin, kRecoMax, kFieldRecoBins);
  const std::int64_t n_flat = P * kFieldRecoBins;
  std::int64_t next_source = 0;
  for (std::int64_t field = 0; next_source < o.n_sources; ++field) {
    const std::int64_t n = std::min<std::int64_t>(o.sources_per_field, o.n_sources - next_source);
    std::vector<FieldSource> sources(n);
    for (std::int64_t k = 0; k < n; ++k) {
      FieldSource& s = sources[k];
      // Amplitudes 5x the survey catalog's: a field source has a whole PSF of background.
      const double amplitude = 5.0 * g.amplitude();
      const double index = g.normal(2.3, 0.2);
      s.truth = models::make_power_law(amplitude, index, 1.0);
      s.reference = models::make_power_law(amplitude * g.uniform(0.8, 1.2), index, 1.0);
      s.x = g.uniform(1.0, side - 1.0);
      s.y = g.uniform(1.0, side - 1.0);
      s.sigma0 = kPsfSigmaPx[k % 3];
    }
    // Background: a power law per pixel; the truth is the stored template times norm_true.
    std::vector<double> background(n_flat);
    for (int e = 0; e < kFieldRecoBins; ++e) {
      const double scale = std::pow(reco_edges[e] / reco_edges[0], 1.0 - kBackgroundIndex);
      for (std::int64_t p = 0; p < P; ++p) background[e * P + p] = kBackgroundPerPixel * scale;
    }
    const double norm_true = g.uniform(0.9, 1.1);
    std::vector<double> expected(n_flat);
    for (std::int64_t i = 0; i < n_flat; ++i) expected[i] = norm_true * background[i];
    std::vector<std::vector<std::int64_t>> index(n);
    std::vector<std::vector<double>> value(n);
    for (std::int64_t k = 0; k < n; ++k) {
      std::vector<std::int64_t> ti;
      std::vector<double> tv;
      field_template(*sources[k].truth, sources[k], reco_edges, side, ti, tv);
      for (std::size_t j = 0; j < ti.size(); ++j) expected[ti[j]] += tv[j];
      field_template(*sources[k].reference, sources[k], reco_edges, side, index[k], value[k]);
    }
    datasets::SpectrumDataset d;
    d.name = "field" + std::to_string(field);
    d.reco_edges = reco_edges;
    d.livetime_s = 3600.0;
    std::mt19937_64 counts_rng(g.seed());
    d.counts.resize(n_flat);
    for (std::int64_t i = 0; i < n_flat; ++i)
      d.counts[i] = std::poisson_distribution<long>(expected[i])(counts_rng);
    d.background.assign(n_flat, 0.0);  // it is the background component's
    const std::int64_t row = writer.add_dataset(d, P);

    Component bkg;
    bkg.dataset = row;
    bkg.model = "bkg-" + d.name;
    bkg.parameter = "norm";
    bkg.value = 1.0;
    bkg.min = 0.0;
    bkg.free = true;
    for (std::int64_t i = 0; i < n_flat; ++i) {
      bkg.bin_index.push_back(i);
      bkg.bin_value.push_back(background[i]);
    }
    writer.add_component(bkg);
    for (std::int64_t k = 0; k < n; ++k) {
      Source source;
      source.name = "src" + std::to_string(next_source + k);
      source.model.type = sources[k].reference->type();
      for (const auto& p : sources[k].reference->parameters()) {
        source.model.parameter_names.push_back(p.name);
        source.model.parameter_values.push_back(p.value);
      }
      Component c;
      c.dataset = row;
      c.model = source.name;
      c.parameter = "amplitude";
      c.value = sources[k].reference->parameter("amplitude").value;
      c.min = 0.0;
      c.free = true;
      c.bin_index = std::move(index[k]);
      c.bin_value = std::move(value[k]);
      source.datasets = {row};
      source.components = {writer.add_component(c)};
      writer.add_source(source);
    }
    next_source += n;
  }
}

}  // namespace

void simulate_catalog(const SimulateCatalogOptions& o, const std::string& path,
                      const io::OutputRule& rule) {
  if (o.n_sources < 1) throw std::invalid_argument("simulate --catalog: need at least 1 source");
  if (o.min_datasets < 1 || o.max_datasets < o.min_datasets)
    throw std::invalid_argument("simulate --catalog: datasets per source must be 1 <= min <= max");
  const int reco_bins = o.field ? kFieldRecoBins : kRecoBins;
  if (o.n_groups < 1 || reco_bins % o.n_groups != 0)
    throw std::invalid_argument("simulate --catalog: the number of groups must divide " +
                                std::to_string(reco_bins));
  Generator g(o.seed);
  CatalogWriter writer(path, rule);
  CatalogOptions options;
  options.energy_edges = datasets::log_edges(kRecoMin, kRecoMax, o.n_groups);
  options.set_selection(o.selection);
  writer.set_options(options);
  writer.set_reoptimize(o.reoptimize);
  if (o.field) {
    simulate_fields(o, g, writer);
    writer.close();
    return;
  }
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
