// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Forward folding of SpectrumDataset (docs/spectrum-datasets.md) and the OGIP reader against
// gammapy 2.1 on the joint-crab spectra of five instruments (golden values:
// data/golden/make_npred_golden.py).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fluxpoints/datasets/spectrum_dataset.hpp"
#include "fluxpoints/io/ogip.hpp"
#include "fluxpoints/models/spectral_models.hpp"
#include "gammapy_compare.hpp"
#include "test_environment.hpp"

namespace {

namespace fs = std::filesystem;
using fluxpoints::datasets::SpectrumDataset;

// Forwards to a model and counts integral() calls.
class CountingModel : public fluxpoints::models::SpectralModel {
 public:
  explicit CountingModel(std::unique_ptr<SpectralModel> inner) : inner_(std::move(inner)) {
    parameters_ = inner_->parameters();  // evaluate() gets blocks laid out like the inner model's
  }
  std::string type() const override { return inner_->type(); }
  std::unique_ptr<SpectralModel> clone() const override {
    return std::make_unique<CountingModel>(inner_->clone());
  }
  double evaluate(double e, const fluxpoints::models::Parameter* params) const override {
    return inner_->evaluate(e, params);
  }
  std::vector<double> integral(const std::vector<double>& lo,
                               const std::vector<double>& hi) const override {
    ++calls;
    return inner_->integral(lo, hi);
  }
  mutable int calls = 0;

 private:
  std::unique_ptr<SpectralModel> inner_;
};

const std::string kJointCrab = fluxpoints::testing::shared_data_path("joint-crab/spectra");
const std::string kGolden = fluxpoints::testing::repo_path("data/golden/npred_joint_crab.json");

TEST(DatasetFolding, NpredMatchesGammapyForAllJointCrabInstruments) {
  FLUXPOINTS_NEEDS_SHARED_DATA(kJointCrab);
  ASSERT_TRUE(fs::exists(kGolden)) << kGolden;
  std::ifstream in(kGolden);
  const nlohmann::json golden = nlohmann::json::parse(in);
  EXPECT_EQ(golden.at("datasets").size(), 10u);  // hess 4, magic 2, veritas 2, fact, fermi
  std::set<std::string> instruments;
  for (const auto& rec : golden.at("datasets")) {
    // Paths in the golden file are relative to the repository root.
    const std::string pha = fluxpoints::testing::repo_path(rec.at("pha"));
    SCOPED_TRACE(pha);
    instruments.insert(rec.at("instrument").get<std::string>());
    fluxpoints::testing::expect_matches_gammapy(fluxpoints::io::read_ogip_dataset(pha), rec);
  }
  EXPECT_EQ(instruments, (std::set<std::string>{"fact", "fermi", "hess", "magic", "veritas"}));
}

// The H.E.S.S. run 23523 (joint-crab) as gammapy sees it.
TEST(DatasetFolding, HessObs23523Contents) {
  const std::string pha = kJointCrab + "/hess/pha_obs23523.fits";
  FLUXPOINTS_NEEDS_SHARED_DATA(pha);
  const SpectrumDataset ds = fluxpoints::io::read_ogip_dataset(pha);
  EXPECT_EQ(ds.name, "23523");
  EXPECT_EQ(ds.n_reco(), 80u);
  EXPECT_EQ(ds.n_true(), 80u);
  constexpr double kEdgeRelTol = 1e-12;  // keV -> TeV conversion of the file's edges
  EXPECT_NEAR(ds.reco_edges.front(), 0.01, 0.01 * kEdgeRelTol);
  EXPECT_NEAR(ds.reco_edges.back(), 100.0, 100.0 * kEdgeRelTol);
  EXPECT_NEAR(ds.true_edges.front(), 0.01, 0.01 * kEdgeRelTol);
  EXPECT_NEAR(ds.true_edges.back(), 100.0, 100.0 * kEdgeRelTol);
  EXPECT_NEAR(ds.livetime_s, 1581.7368, 1e-4);  // reference value to 8 significant digits
  EXPECT_EQ(ds.energy_unit, "keV");
  double on = 0.0;
  double off = 0.0;
  for (std::size_t i = 0; i < ds.n_reco(); ++i) {
    EXPECT_EQ(ds.mask(i), i >= 39) << "channel " << i;
    EXPECT_DOUBLE_EQ(ds.alpha[i], 1.0 / 12.0);
    if (ds.mask(i)) {
      on += ds.counts[i];
      off += ds.counts_off[i];
    }
  }
  EXPECT_EQ(on, 124.0);
  EXPECT_EQ(off, 92.0);
  // The RMF rows are probabilities: none above 1 (rows lose what migrates out of range).
  for (std::size_t j = 0; j < ds.n_true(); ++j) {
    double row = 0.0;
    for (std::size_t i = 0; i < ds.n_reco(); ++i) row += ds.edisp[j * ds.n_reco() + i];
    EXPECT_LE(row, 1.0 + 1e-6) << "true bin " << j;  // float32 matrix entries
  }
}

// The synthetic example 9.1 of test_spec_examples.cpp: identity dispersion, flat exposure;
// s_i = F_i * 5e13 with gammapy's numbers.
SpectrumDataset synthetic_identity_dataset() {
  SpectrumDataset ds;
  ds.name = "synthetic";
  for (int k = 0; k <= 8; ++k) ds.reco_edges.push_back(0.5 * std::pow(100.0, k / 8.0));
  ds.true_edges = ds.reco_edges;
  ds.exposure.assign(8, 5e13);
  ds.counts = {95, 60, 33, 17, 6, 3, 0, 1};
  ds.background = {20, 10, 5, 2, 1, 0.5, 0.2, 0.1};
  ds.livetime_s = 1.0;
  return ds;
}

TEST(DatasetFolding, IdentityDispersionReproducesSpecExample) {
  const SpectrumDataset ds = synthetic_identity_dataset();
  ds.validate();
  const auto pl = fluxpoints::models::make_power_law(1e-12, 2.5, 1.0);
  const std::vector<double> s = ds.npred_source(*pl);
  const double expected[] = {54.52297653, 22.99214856, 9.69570865, 4.08864644,
                             1.72416791,  0.72707558,  0.30660523, 0.12929435};
  constexpr double kPrintedDecimalsAbsTol = 5e-9;  // reference values carry 8 decimals
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(s[i], expected[i], kPrintedDecimalsAbsTol);
}

TEST(DatasetFolding, DenseDispersionFoldsEveryTrueBinInOneIntegralCall) {
  SpectrumDataset ds = synthetic_identity_dataset();
  // Move half of each true bin's events one channel up (the last bin loses that half).
  ds.edisp.assign(64, 0.0);
  for (int j = 0; j < 8; ++j) {
    ds.edisp[j * 8 + j] = 0.5;
    if (j + 1 < 8) ds.edisp[j * 8 + j + 1] = 0.5;
  }
  ds.validate();
  // A curved model: gammapy's numeric rule shares its sampling across one call
  // (docs/models.md).
  const CountingModel model(fluxpoints::models::make_log_parabola(1e-12, 2.3, 0.3, 1.0));
  const std::vector<double> s = ds.npred_source(model);
  EXPECT_EQ(model.calls, 1);
  const std::vector<double> f = model.integral({ds.true_edges.begin(), ds.true_edges.end() - 1},
                                               {ds.true_edges.begin() + 1, ds.true_edges.end()});
  constexpr double kRoundingRelTol = 1e-14;
  for (int i = 0; i < 8; ++i) {
    const double want = 0.5 * 5e13 * (f[i] + (i > 0 ? f[i - 1] : 0.0));
    EXPECT_NEAR(s[i], want, want * kRoundingRelTol) << i;
  }
}

TEST(DatasetFolding, MaskCombinesSafeAndFit) {
  SpectrumDataset ds = synthetic_identity_dataset();
  EXPECT_TRUE(ds.mask(3));  // empty masks: everything counts
  ds.mask_safe = {0, 1, 1, 1, 1, 1, 1, 1};
  ds.mask_fit = {1, 1, 0, 1, 1, 1, 1, 1};
  EXPECT_FALSE(ds.mask(0));
  EXPECT_TRUE(ds.mask(1));
  EXPECT_FALSE(ds.mask(2));
}

TEST(DatasetFolding, ValidateNamesTheBadField) {
  auto expect_error = [](const SpectrumDataset& ds, const std::string& needle) {
    try {
      ds.validate();
      ADD_FAILURE() << "no error, expected one naming " << needle;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  SpectrumDataset ds = synthetic_identity_dataset();
  ds.source_file = "mem.fits";
  ds.counts[2] = -1.0;
  expect_error(ds, "counts[2]");
  ds = synthetic_identity_dataset();
  ds.exposure[4] = std::nan("");
  expect_error(ds, "exposure[4]");
  ds = synthetic_identity_dataset();
  ds.reco_edges.pop_back();
  expect_error(ds, "reco_edges");
  ds = synthetic_identity_dataset();
  ds.edisp.assign(10, 0.0);
  expect_error(ds, "edisp");
  ds = synthetic_identity_dataset();
  ds.on_off = true;  // On/Off without counts_off
  expect_error(ds, "counts_off");
  ds = synthetic_identity_dataset();
  ds.exposure.push_back(1.0);  // 9 true bins, no dispersion matrix
  ds.true_edges.push_back(100.0);
  expect_error(ds, "no energy dispersion");
}

}  // namespace
