// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Simulated On/Off spectra from simple analytic IRFs, for tests, examples and benchmarks.
//
//  * Effective area at the log centre E of each true bin:
//      A(E) = aeff_max_m2 * x^2 / (1 + x^2), x = E / aeff_threshold_tev
//    (rises as E^2 below the threshold, where it is half the plateau, then flattens).
//  * Energy dispersion: log-normal, ln(E_reco / E_true) ~ Normal(0, edisp_sigma), integrated over
//    each reco bin from the true bin's log centre (rows lose what falls outside the reco range).
//  * Background in the ON region: a power law of bkg_rate counts s-1 TeV-1 at 1 TeV and index
//    bkg_index, integrated over each reco bin and multiplied by the livetime: b_i.
//  * Expected ON counts: npred_source_i + b_i; expected OFF counts: b_i / alpha
//    (acceptance = 1, acceptance_off = 1 / alpha).
//  * Counts: Poisson draws with std::mt19937_64 and std::poisson_distribution, all ON channels
//    in order, then all OFF channels. The same seed gives the same counts with the same C++
//    standard library (the distribution's algorithm is library-specific).
//  * mask_safe: reco bins whose lower edge is >= safe_emin_tev.

#include <cstdint>
#include <string>
#include <vector>

#include "fluxpoints/datasets/spectrum_dataset.hpp"
#include "fluxpoints/models/spectral_model.hpp"

namespace fluxpoints::datasets {

struct SimulationSetup {
  std::string name = "sim";
  std::vector<double> true_edges;  // TeV, increasing
  std::vector<double> reco_edges;  // TeV, increasing
  double livetime_s = 3600.0;
  double aeff_max_m2 = 1e5;
  double aeff_threshold_tev = 0.3;
  double edisp_sigma = 0.1;
  double bkg_rate = 1e-3;  // s-1 TeV-1 at 1 TeV, ON region
  double bkg_index = 3.0;
  double alpha = 0.2;
  // Reco bins starting below this are unsafe. NaN: where A(E) reaches 10% of its plateau,
  // i.e. aeff_threshold_tev / 3.
  double safe_emin_tev = __builtin_nan("");
  std::string energy_unit = "TeV";  // unit written to files

  // Throws std::invalid_argument naming the bad setting.
  void validate() const;
};

// `n` log-spaced bins from emin to emax (TeV): n + 1 edges, ends exact.
std::vector<double> log_edges(double emin_tev, double emax_tev, int n);

// The expected (noise-free) dataset: exposure, edisp, mask_safe, acceptances and alpha, with
// the expected ON-region background in `background` and zero counts. on_off is false: it is
// a valid Cash dataset whose counts are to be filled.
SpectrumDataset make_simulation_template(const SimulationSetup& setup);

// Poisson-samples an On/Off dataset for `source` (folded through the template).
SpectrumDataset simulate_on_off(const models::SpectralModel& source, const SimulationSetup& setup,
                                std::uint64_t seed);

}  // namespace fluxpoints::datasets
