// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Compares a SpectrumDataset with gammapy's view of the same file (OGIP or gadf), as written by
// data/golden/make_npred_golden.py (one "datasets" record), including the folded npred of the
// reference PowerLaw (3e-11 cm-2 s-1 TeV-1, index 2.7, 1 TeV).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fluxpoints/datasets/spectrum_dataset.hpp"
#include "fluxpoints/models/spectral_models.hpp"

namespace fluxpoints::testing {

// gammapy sums the same double products in another order and converts keV <-> TeV with astropy:
// both only move the last bits, far below this.
constexpr double kGammapyNpredRelTol = 1e-10;
// Edges and exposures are one or two unit conversions away from gammapy's (a few ulp).
constexpr double kUnitConversionRelTol = 1e-13;

inline bool near_rel(double a, double b, double rel) {
  return a == b || std::abs(a - b) <= rel * std::max(std::abs(a), std::abs(b));
}

inline void expect_matches_gammapy(const datasets::SpectrumDataset& ds, const nlohmann::json& rec) {
  EXPECT_EQ(ds.name, rec.at("name").get<std::string>());
  EXPECT_EQ(ds.energy_unit, rec.at("energy_unit").get<std::string>());
  if (rec.contains("livetime_s")) {  // not stored in gammapy's gadf files
    EXPECT_DOUBLE_EQ(ds.livetime_s, rec.at("livetime_s").get<double>());
  }
  const auto reco = rec.at("reco_edges_tev").get<std::vector<double>>();
  const auto true_edges = rec.at("true_edges_tev").get<std::vector<double>>();
  ASSERT_EQ(ds.reco_edges.size(), reco.size());
  ASSERT_EQ(ds.true_edges.size(), true_edges.size());
  for (std::size_t k = 0; k < reco.size(); ++k) {
    EXPECT_TRUE(near_rel(ds.reco_edges[k], reco[k], kUnitConversionRelTol)) << k;
  }
  for (std::size_t k = 0; k < true_edges.size(); ++k) {
    EXPECT_TRUE(near_rel(ds.true_edges[k], true_edges[k], kUnitConversionRelTol)) << k;
  }
  const auto mask = rec.at("mask_safe").get<std::vector<int>>();
  const auto exposure = rec.at("exposure_cm2s").get<std::vector<double>>();
  const auto npred_gp = rec.at("npred_signal").get<std::vector<double>>();
  EXPECT_EQ(ds.counts, rec.at("counts").get<std::vector<double>>());
  if (rec.contains("counts_off")) {  // On/Off (WStat)
    EXPECT_TRUE(ds.on_off);
    EXPECT_EQ(ds.counts_off, rec.at("counts_off").get<std::vector<double>>());
    const auto alpha = rec.at("alpha").get<std::vector<double>>();
    ASSERT_EQ(ds.alpha.size(), alpha.size());
    for (std::size_t i = 0; i < alpha.size(); ++i) EXPECT_DOUBLE_EQ(ds.alpha[i], alpha[i]) << i;
  } else {  // Cash with a known background
    EXPECT_FALSE(ds.on_off);
    const auto background = rec.at("background").get<std::vector<double>>();
    ASSERT_EQ(ds.background.size(), background.size());
    for (std::size_t i = 0; i < background.size(); ++i) {
      EXPECT_DOUBLE_EQ(ds.background[i], background[i]) << i;
    }
  }
  ASSERT_EQ(ds.mask_safe.size(), mask.size());
  for (std::size_t i = 0; i < mask.size(); ++i) EXPECT_EQ(ds.mask(i), mask[i] != 0) << i;
  ASSERT_EQ(ds.exposure.size(), exposure.size());
  for (std::size_t j = 0; j < exposure.size(); ++j) {
    EXPECT_TRUE(near_rel(ds.exposure[j], exposure[j], kUnitConversionRelTol))
        << j << ": " << ds.exposure[j] << " vs " << exposure[j];
  }
  const auto crab = models::make_power_law(3e-11, 2.7, 1.0);
  const std::vector<double> npred = ds.npred_source(*crab);
  ASSERT_EQ(npred.size(), npred_gp.size());
  for (std::size_t i = 0; i < npred.size(); ++i) {
    EXPECT_TRUE(near_rel(npred[i], npred_gp[i], kGammapyNpredRelTol))
        << "channel " << i << ": " << npred[i] << " vs gammapy " << npred_gp[i];
  }
}

}  // namespace fluxpoints::testing
