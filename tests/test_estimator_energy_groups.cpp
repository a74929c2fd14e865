// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Energy-edge snapping (each requested edge moves to the nearest reco edge, nearest in log
// energy), axis alignment and dataset checks (unique names, aligned axes, one telescope), options.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "fluxpoints/estimator/config.hpp"
#include "fluxpoints/estimator/estimator.hpp"

namespace fp = fluxpoints;

namespace {

// Reco axis of the synthetic example (test_spec_examples.cpp): 0.5 to 50 TeV, 8 log bins.
std::vector<double> spec_axis() {
  std::vector<double> e(9);
  for (int i = 0; i <= 8; ++i) e[i] = 0.5 * std::pow(100.0, i / 8.0);
  return e;
}

// The relative accuracy of log-spaced edges built with pow (a few ulp).
constexpr double kEdgeRelTol = 1e-12;

fp::datasets::SpectrumDataset make_dataset(const std::string& name, std::vector<double> edges) {
  fp::datasets::SpectrumDataset d;
  d.name = name;
  d.source_file = name + ".fits";
  d.reco_edges = edges;
  d.true_edges = edges;
  d.counts.assign(edges.size() - 1, 0.0);
  d.background.assign(edges.size() - 1, 0.0);
  return d;
}

}  // namespace

TEST(EnergyGroups, PixelCoordinatesAreLinearInLogEnergy) {
  const auto e = spec_axis();
  EXPECT_NEAR(fp::energy_pixel(e, e[0]), -0.5, 1e-12);
  EXPECT_NEAR(fp::energy_pixel(e, e[8]), 7.5, 1e-12);
  EXPECT_NEAR(fp::energy_pixel(e, std::sqrt(e[2] * e[3])), 2.0, 1e-12);  // bin centre
  // Extrapolation beyond the axis with the first / last segment: one decade = 4 bins.
  EXPECT_NEAR(fp::energy_pixel(e, e[0] / 10.0), -4.5, 1e-12);
  EXPECT_NEAR(fp::energy_pixel(e, e[8] * 10.0), 11.5, 1e-12);
}

TEST(EnergyGroups, SpecExampleSnapping) {
  // Snapping: requested [0.6, 2, 5, 20, 50] -> [0.5, 1.58114], [1.58114, 5], [5, 15.8114],
  // [15.8114, 50]; [50, 100] clips both ends to the last edge -> no contribution.
  const auto e = spec_axis();
  const std::vector<double> req{0.6, 2, 5, 20, 50};
  const std::vector<std::pair<std::size_t, std::size_t>> expected{{0, 2}, {2, 4}, {4, 6}, {6, 8}};
  for (std::size_t g = 0; g < expected.size(); ++g) {
    const fp::BinRange r = fp::snap_energy_range(e, req[g], req[g + 1]);
    EXPECT_EQ(r.begin, expected[g].first) << "group " << g;
    EXPECT_EQ(r.end, expected[g].second) << "group " << g;
  }
  EXPECT_NEAR(e[2], 1.58114, 1e-5);
  EXPECT_NEAR(e[6], 15.8114, 1e-4);
  EXPECT_TRUE(fp::snap_energy_range(e, 50, 100).empty());
  // Below the axis both ends clip to the first edge.
  EXPECT_TRUE(fp::snap_energy_range(e, 0.01, 0.1).empty());
  // 2 < sqrt(1.58114 * 2.81171) = 2.108 snaps down, 2.2 snaps up.
  EXPECT_EQ(fp::snap_energy_range(e, 0.6, 2.2).end, 3u);
}

TEST(EnergyGroups, TiesRoundToTheEvenEdge) {
  // A requested edge exactly at the log centre of a bin is a tie: numpy rounds half to even.
  // Use an axis with exactly representable log steps (powers of 2) so the tie is exact.
  const std::vector<double> e{1, 4, 16, 64, 256};
  EXPECT_EQ(fp::snap_energy_range(e, 2.0, 256).begin, 0u);  // tie between edges 0 and 1 -> 0
  EXPECT_EQ(fp::snap_energy_range(e, 8.0, 256).begin, 2u);  // tie between edges 1 and 2 -> 2
  EXPECT_EQ(fp::snap_energy_range(e, 1.0, 32.0).end, 2u);   // tie between edges 2 and 3 -> 2
  EXPECT_EQ(fp::snap_energy_range(e, 1.0, 128.0).end, 4u);  // tie between edges 3 and 4 -> 4
}

TEST(EnergyGroups, AlignedAxes) {
  const auto e = spec_axis();
  // A sub-range of the same bins is aligned (different extents are allowed).
  EXPECT_TRUE(fp::energy_axes_aligned(e, std::vector<double>(e.begin() + 2, e.end() - 1)));
  // Shifted by 0.01 bin: still within 0.02; by 0.1 bin: not aligned.
  auto shifted = e;
  const double bin = std::log(e[1] / e[0]);
  for (double& x : shifted) x *= std::exp(0.01 * bin);
  EXPECT_TRUE(fp::energy_axes_aligned(e, shifted));
  for (double& x : shifted) x *= std::exp(0.09 * bin);
  EXPECT_FALSE(fp::energy_axes_aligned(e, shifted));
}

TEST(EnergyGroups, DatasetChecks) {
  const auto e = spec_axis();
  std::vector<fp::datasets::SpectrumDataset> ds{make_dataset("a", e), make_dataset("b", e)};
  EXPECT_NO_THROW(fp::check_datasets(ds, false));

  ds[1].name = "a";
  EXPECT_THROW(fp::check_datasets(ds, false), std::invalid_argument);
  ds[1].name = "b";

  auto misaligned = e;
  for (double& x : misaligned) x *= 1.2;
  ds[1] = make_dataset("b", misaligned);
  try {
    fp::check_datasets(ds, false);
    FAIL() << "misaligned axes accepted";
  } catch (const std::invalid_argument& err) {
    EXPECT_NE(std::string(err.what()).find("aligned energy axes"), std::string::npos) << err.what();
  }

  ds[1] = make_dataset("b", e);
  ds[0].telescope = "HESS";
  ds[1].telescope = "MAGIC";
  EXPECT_THROW(fp::check_datasets(ds, false), std::invalid_argument);
  EXPECT_NO_THROW(fp::check_datasets(ds, true));
}

TEST(EnergyGroups, OptionsValidation) {
  fp::EstimatorOptions o;
  EXPECT_NO_THROW(o.validate());
  o.energy_edges = {1.0};
  EXPECT_THROW(o.validate(), std::invalid_argument);
  o.energy_edges = {1.0, 1.0};
  EXPECT_THROW(o.validate(), std::invalid_argument);
  o.energy_edges = {-1.0, 1.0};
  EXPECT_THROW(o.validate(), std::invalid_argument);
}

TEST(EnergyGroups, ParseEnergyEdges) {
  const auto tev = fp::parse_energy_edges_tev("0.7,1,2,5,10");
  ASSERT_EQ(tev.size(), 5u);
  EXPECT_DOUBLE_EQ(tev[0], 0.7);
  const auto gev = fp::parse_energy_edges_tev("700,1000 GeV");
  ASSERT_EQ(gev.size(), 2u);
  EXPECT_NEAR(gev[0], 0.7, 1e-15);
  EXPECT_NEAR(fp::parse_energy_tev("1e3 GeV"), 1.0, 1e-15);
  EXPECT_NEAR(fp::parse_energy_tev("5 keV"), 5e-9, 1e-24);
  EXPECT_THROW(fp::parse_energy_edges_tev("1,,2"), std::invalid_argument);
  EXPECT_THROW(fp::parse_energy_edges_tev("1,2 cm"), std::invalid_argument);
  EXPECT_THROW(fp::parse_energy_edges_tev("1,x"), std::invalid_argument);
}
