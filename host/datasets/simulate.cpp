// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/datasets/simulate.hpp"

#include <fmt/format.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

namespace fluxpoints::datasets {
namespace {

constexpr double kCm2PerM2 = 1e4;

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("simulation setup: " + what);
}

void require_edges(const std::vector<double>& edges, const char* name) {
  require(edges.size() >= 2, std::string(name) + " needs at least 2 edges");
  for (std::size_t k = 0; k < edges.size(); ++k) {
    require(std::isfinite(edges[k]) && edges[k] > 0.0 && (k == 0 || edges[k] > edges[k - 1]),
            std::string(name) + " must be positive and increasing");
  }
}

// P(Z < z) for a standard normal Z.
double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// Integral of (E / 1 TeV)^-index over [lo, hi] (TeV).
double power_law_integral(double lo, double hi, double index) {
  if (std::abs(1.0 - index) <= 1e-8) return std::log(hi / lo);
  const double g = 1.0 - index;
  return (std::pow(hi, g) - std::pow(lo, g)) / g;
}

}  // namespace

void SimulationSetup::validate() const {
  require_edges(true_edges, "true_edges");
  require_edges(reco_edges, "reco_edges");
  require(std::isfinite(livetime_s) && livetime_s > 0.0, "livetime must be > 0");
  require(std::isfinite(aeff_max_m2) && aeff_max_m2 > 0.0, "aeff_max_m2 must be > 0");
  require(std::isfinite(aeff_threshold_tev) && aeff_threshold_tev > 0.0,
          "aeff_threshold_tev must be > 0");
  require(std::isfinite(edisp_sigma) && edisp_sigma > 0.0, "edisp_sigma must be > 0");
  require(std::isfinite(bkg_rate) && bkg_rate >= 0.0, "bkg_rate must be >= 0");
  require(std::isfinite(bkg_index), "bkg_index must be finite");
  require(std::isfinite(alpha) && alpha > 0.0, "alpha must be > 0");
  require(std::isnan(safe_emin_tev) || safe_emin_tev >= 0.0, "safe_emin_tev must be >= 0");
  require(!name.empty(), "name must not be empty");
}

std::vector<double> log_edges(double emin_tev, double emax_tev, int n) {
  if (!(emin_tev > 0.0 && emax_tev > emin_tev && n >= 1)) {
    throw std::invalid_argument(fmt::format(
        "log_edges: need 0 < emin < emax and n >= 1 (got {}, {}, {})", emin_tev, emax_tev, n));
  }
  std::vector<double> edges(static_cast<std::size_t>(n) + 1);
  const double step = std::log(emax_tev / emin_tev) / n;
  for (int k = 0; k <= n; ++k) edges[k] = emin_tev * std::exp(step * k);
  edges.front() = emin_tev;
  edges.back() = emax_tev;
  return edges;
}

SpectrumDataset make_simulation_template(const SimulationSetup& setup) {
  setup.validate();
  SpectrumDataset ds;
  ds.name = setup.name;
  ds.energy_unit = setup.energy_unit;
  ds.true_edges = setup.true_edges;
  ds.reco_edges = setup.reco_edges;
  ds.livetime_s = setup.livetime_s;
  const std::size_t nt = setup.true_edges.size() - 1;
  const std::size_t nr = setup.reco_edges.size() - 1;

  ds.exposure.resize(nt);
  ds.edisp.assign(nt * nr, 0.0);
  for (std::size_t j = 0; j < nt; ++j) {
    const double e_true = std::sqrt(ds.true_edges[j] * ds.true_edges[j + 1]);
    const double x2 = std::pow(e_true / setup.aeff_threshold_tev, 2);
    ds.exposure[j] = setup.aeff_max_m2 * kCm2PerM2 * x2 / (1.0 + x2) * setup.livetime_s;
    double below = normal_cdf(std::log(ds.reco_edges[0] / e_true) / setup.edisp_sigma);
    for (std::size_t i = 0; i < nr; ++i) {
      const double upto = normal_cdf(std::log(ds.reco_edges[i + 1] / e_true) / setup.edisp_sigma);
      ds.edisp[j * nr + i] = upto - below;
      below = upto;
    }
  }

  // Lower edges a rounding error below the threshold still count as on it.
  constexpr double kEdgeRelTol = 1e-9;
  const double safe_emin =
      std::isnan(setup.safe_emin_tev) ? setup.aeff_threshold_tev / 3.0 : setup.safe_emin_tev;
  ds.counts.assign(nr, 0.0);
  ds.background.resize(nr);
  ds.mask_safe.resize(nr);
  ds.acceptance.assign(nr, 1.0);
  ds.acceptance_off.assign(nr, 1.0 / setup.alpha);
  for (std::size_t i = 0; i < nr; ++i) {
    ds.background[i] = setup.bkg_rate * setup.livetime_s *
                       power_law_integral(ds.reco_edges[i], ds.reco_edges[i + 1], setup.bkg_index);
    ds.mask_safe[i] = ds.reco_edges[i] >= safe_emin * (1.0 - kEdgeRelTol);
  }
  ds.set_alpha_from_acceptances();  // as the OGIP reader forms it from the written BACKSCAL
  ds.validate();
  return ds;
}

SpectrumDataset simulate_on_off(const models::SpectralModel& source, const SimulationSetup& setup,
                                std::uint64_t seed) {
  SpectrumDataset ds = make_simulation_template(setup);
  const std::vector<double> signal = ds.npred_source(source);
  const std::size_t nr = ds.n_reco();
  std::mt19937_64 rng(seed);
  auto draw = [&rng](double mean) {
    if (!(mean > 0.0)) return 0.0;  // std::poisson_distribution needs mean > 0
    return static_cast<double>(std::poisson_distribution<long long>(mean)(rng));
  };
  for (std::size_t i = 0; i < nr; ++i) {
    if (!(std::isfinite(signal[i]) && signal[i] >= 0.0)) {
      throw std::invalid_argument("simulate: source model '" + source.type() +
                                  "' gives a negative or non-finite npred in reco bin " +
                                  std::to_string(i));
    }
    ds.counts[i] = draw(signal[i] + ds.background[i]);
  }
  ds.counts_off.resize(nr);
  for (std::size_t i = 0; i < nr; ++i) ds.counts_off[i] = draw(ds.background[i] / ds.alpha[i]);
  ds.on_off = true;
  ds.background.clear();
  ds.validate();
  return ds;
}

}  // namespace fluxpoints::datasets
