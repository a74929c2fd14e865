// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Simulated On/Off spectra (datasets/simulate.hpp) and `fluxpoints simulate`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "fluxpoints/datasets/simulate.hpp"
#include "fluxpoints/io/ogip.hpp"
#include "fluxpoints/models/spectral_models.hpp"
#include "scratch_files.hpp"

namespace {

namespace fs = std::filesystem;
using fluxpoints::datasets::SimulationSetup;
using fluxpoints::datasets::SpectrumDataset;

SimulationSetup small_setup() {
  SimulationSetup s;
  s.name = "simtest";
  s.true_edges = fluxpoints::datasets::log_edges(0.03, 100.0, 35);
  s.reco_edges = fluxpoints::datasets::log_edges(0.05, 50.0, 15);
  s.livetime_s = 7200.0;
  return s;
}

using ::fluxpoints::testing::TempDir;

TEST(Simulate, TemplateFollowsTheDocumentedIrfs) {
  SimulationSetup setup = small_setup();
  const SpectrumDataset t = fluxpoints::datasets::make_simulation_template(setup);
  constexpr double kRel = 1e-12;  // closed forms evaluated in double
  for (std::size_t j = 0; j < t.n_true(); ++j) {
    const double e = std::sqrt(t.true_edges[j] * t.true_edges[j + 1]);
    const double x2 = std::pow(e / setup.aeff_threshold_tev, 2);
    const double want = setup.aeff_max_m2 * 1e4 * x2 / (1 + x2) * setup.livetime_s;
    EXPECT_NEAR(t.exposure[j], want, want * kRel) << j;
  }
  // A true bin well inside the reco range keeps all its events (Gaussian tails ~1e-20 outside).
  const std::size_t nr = t.n_reco();
  double row_sum = 0.0;
  const std::size_t j_mid = 17;  // ~ 1 TeV
  for (std::size_t i = 0; i < nr; ++i) row_sum += t.edisp[j_mid * nr + i];
  EXPECT_NEAR(row_sum, 1.0, 1e-12);
  for (std::size_t i = 0; i < nr; ++i) {
    EXPECT_DOUBLE_EQ(t.alpha[i], 0.2);
    EXPECT_EQ(t.mask(i), t.reco_edges[i] >= 0.1 * (1 - 1e-9)) << i;  // threshold 0.3 / 3
    EXPECT_GT(t.background[i], 0.0);
  }
  EXPECT_FALSE(t.mask(0));
  EXPECT_TRUE(t.mask(nr - 1));
}

TEST(Simulate, SameSeedSameCountsOtherSeedOtherCounts) {
  const auto pl = fluxpoints::models::make_power_law(1e-11, 2.5, 1.0);
  const SpectrumDataset a = fluxpoints::datasets::simulate_on_off(*pl, small_setup(), 7);
  const SpectrumDataset b = fluxpoints::datasets::simulate_on_off(*pl, small_setup(), 7);
  const SpectrumDataset c = fluxpoints::datasets::simulate_on_off(*pl, small_setup(), 8);
  EXPECT_EQ(a.counts, b.counts);
  EXPECT_EQ(a.counts_off, b.counts_off);
  EXPECT_NE(a.counts, c.counts);
  EXPECT_TRUE(a.on_off);
  EXPECT_TRUE(a.background.empty());
}

TEST(Simulate, CountsScatterAroundTheirExpectation) {
  const auto pl = fluxpoints::models::make_power_law(1e-11, 2.5, 1.0);
  const SimulationSetup setup = small_setup();
  const SpectrumDataset t = fluxpoints::datasets::make_simulation_template(setup);
  const std::vector<double> signal = t.npred_source(*pl);
  double mu_on = 0.0;
  double mu_off = 0.0;
  double n_on = 0.0;
  double n_off = 0.0;
  constexpr int kRuns = 20;
  for (int seed = 0; seed < kRuns; ++seed) {
    const SpectrumDataset d = fluxpoints::datasets::simulate_on_off(*pl, setup, seed);
    for (std::size_t i = 0; i < d.n_reco(); ++i) {
      mu_on += signal[i] + t.background[i];
      mu_off += t.background[i] / t.alpha[i];
      n_on += d.counts[i];
      n_off += d.counts_off[i];
    }
  }
  constexpr double kSigmas = 5.0;  // a false alarm once in ~2 million runs
  EXPECT_NEAR(n_on, mu_on, kSigmas * std::sqrt(mu_on));
  EXPECT_NEAR(n_off, mu_off, kSigmas * std::sqrt(mu_off));
}

TEST(Simulate, WrittenFilesReadBackUnchanged) {
  TempDir dir;
  const auto pl = fluxpoints::models::make_power_law(1e-11, 2.5, 1.0);
  SimulationSetup setup = small_setup();
  setup.energy_unit = "keV";
  const SpectrumDataset d = fluxpoints::datasets::simulate_on_off(*pl, setup, 3);
  fluxpoints::io::write_ogip_dataset(d, dir.file("s.fits"));
  const SpectrumDataset r = fluxpoints::io::read_ogip_dataset(dir.file("s.fits"));
  EXPECT_EQ(r.name, "simtest");
  EXPECT_EQ(r.energy_unit, "keV");
  EXPECT_EQ(r.counts, d.counts);
  EXPECT_EQ(r.counts_off, d.counts_off);
  EXPECT_EQ(r.alpha, d.alpha);
  EXPECT_EQ(r.mask_safe, d.mask_safe);
  EXPECT_EQ(r.livetime_s, d.livetime_s);
  constexpr double kUnitRoundTripRelTol = 1e-14;  // TeV -> keV -> TeV; ARF = exposure / t * t
  constexpr double kFloat32RelTol = 6e-8;         // the RMF is stored as float32
  for (std::size_t j = 0; j < d.n_true(); ++j) {
    EXPECT_NEAR(r.exposure[j], d.exposure[j], d.exposure[j] * kUnitRoundTripRelTol);
    EXPECT_NEAR(r.true_edges[j], d.true_edges[j], d.true_edges[j] * kUnitRoundTripRelTol);
  }
  for (std::size_t k = 0; k < d.edisp.size(); ++k) {
    // Entries below float32's smallest normal may flush; compare relative to the row scale.
    EXPECT_NEAR(r.edisp[k], d.edisp[k], std::max(d.edisp[k] * kFloat32RelTol, 1e-37)) << k;
  }
  const std::vector<double> s_mem = d.npred_source(*pl);
  const std::vector<double> s_file = r.npred_source(*pl);
  for (std::size_t i = 0; i < s_mem.size(); ++i) {
    EXPECT_NEAR(s_file[i], s_mem[i], s_mem[i] * kFloat32RelTol) << i;
  }
}

TEST(Simulate, RejectsBadSetup) {
  SimulationSetup s = small_setup();
  s.alpha = 0.0;
  EXPECT_THROW(fluxpoints::datasets::make_simulation_template(s), std::invalid_argument);
  s = small_setup();
  s.reco_edges = {1.0, 0.5};
  EXPECT_THROW(fluxpoints::datasets::make_simulation_template(s), std::invalid_argument);
}

// ---- the CLI ----

int run_cli(const std::string& args) {
  const std::string command = std::string(FLUXPOINTS_BINARY) + " " + args + " > /dev/null 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SimulateCli, DeterministicForASeed) {
  TempDir dir;
  const std::string common =
      " --reco-edges 0.1 100 12 --true-edges 0.05 200 30 --livetime 1 --seed 11 --n-obs 2";
  ASSERT_EQ(run_cli("simulate -o " + dir.file("a") + common), 0);
  ASSERT_EQ(run_cli("simulate -o " + dir.file("b") + common), 0);
  for (const char* name : {"sim_0001.fits", "sim_0002.fits"}) {
    const SpectrumDataset a = fluxpoints::io::read_ogip_dataset(dir.file("a/") + name);
    const SpectrumDataset b = fluxpoints::io::read_ogip_dataset(dir.file("b/") + name);
    EXPECT_EQ(a.counts, b.counts) << name;
    EXPECT_EQ(a.counts_off, b.counts_off) << name;
    EXPECT_EQ(a.n_reco(), 12u);
    EXPECT_EQ(a.n_true(), 30u);
    EXPECT_DOUBLE_EQ(a.livetime_s, 3600.0);
  }
  const SpectrumDataset first = fluxpoints::io::read_ogip_dataset(dir.file("a/sim_0001.fits"));
  const SpectrumDataset second = fluxpoints::io::read_ogip_dataset(dir.file("a/sim_0002.fits"));
  EXPECT_NE(first.counts, second.counts) << "observations must get their own random streams";
  EXPECT_EQ(first.name, "sim_0001");
}

TEST(SimulateCli, ModelFromYaml) {
  TempDir dir;
  const std::string yaml = dir.file("m.yaml");
  {
    std::FILE* f = std::fopen(yaml.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(
        "components:\n"
        "- name: src\n"
        "  type: SkyModel\n"
        "  spectral:\n"
        "    type: PowerLawSpectralModel\n"
        "    parameters:\n"
        "    - {name: index, value: 2.0}\n"
        "    - {name: amplitude, value: 1.0e-11, unit: cm-2 s-1 TeV-1}\n"
        "    - {name: reference, value: 1.0, unit: TeV}\n",
        f);
    std::fclose(f);
  }
  ASSERT_EQ(run_cli("simulate -o " + dir.file("y") + " --models " + yaml + " --source src"), 0);
  EXPECT_TRUE(fs::exists(dir.file("y/sim_rmf.fits")));
  EXPECT_NE(run_cli("simulate -o " + dir.file("z") + " --models " + yaml + " --source nope"), 0);
  EXPECT_FALSE(fs::exists(dir.file("z/sim.fits")));
}

TEST(SimulateCli, BadInputFailsAndWritesNothing) {
  TempDir dir;
  EXPECT_NE(run_cli("simulate -o " + dir.file("x") + " --reco-edges 10 1 5"), 0);
  EXPECT_NE(run_cli("simulate -o " + dir.file("x") + " --alpha 0"), 0);
  EXPECT_NE(run_cli("simulate -o " + dir.file("x") + " --livetime -1"), 0);
  EXPECT_FALSE(fs::exists(dir.file("x/sim.fits")));
  ASSERT_EQ(run_cli("simulate -o " + dir.file("x")), 0);
  EXPECT_NE(run_cli("simulate -o " + dir.file("x")), 0) << "must refuse to overwrite";
  EXPECT_EQ(run_cli("simulate -o " + dir.file("x") + " --overwrite"), 0);
}

}  // namespace
