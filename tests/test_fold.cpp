// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The shared fold (math/fold.hpp, datasets/fold.hpp) against a brute-force dense fold written
// here the plain way (every node from loglog_node, the model through its virtual dnde, the full
// true x reco product), bit for bit (to rounding for the log-slope types), for every closed-form
// model type and for dispersions with empty columns, bands and non-finite rows; and the CUDA
// fold (kernels/cuda/cuda_fold.hpp) against the CPU fold, which skips, saying why, without a
// usable GPU.
#include <gtest/gtest.h>

#include "fluxpoints/config.hpp"

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fluxpoints/datasets/fold.hpp"
#include "fluxpoints/math/closed_form_spectrum.hpp"
#include "fluxpoints/math/spectral_integration.hpp"
#include "fluxpoints/models/spectral_models.hpp"
#if FLUXPOINTS_WITH_CUDA
#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/cuda/cuda_fold.hpp"
#endif

namespace fluxpoints {
namespace {

using datasets::FoldArrays;
using datasets::SpectrumDataset;
using models::SpectralModel;

// Every closed-form type with non-default parameters (so that no term is a trivial 1 or 0).
std::vector<std::unique_ptr<SpectralModel>> closed_form_models() {
  std::vector<std::unique_ptr<SpectralModel>> m;
  m.push_back(models::make_power_law(3e-11, 2.4, 1.3));
  m.push_back(models::make_power_law(3e-11, 1.0, 1.0));  // index 1: the logarithmic case
  m.push_back(models::make_power_law2(2e-12, 2.1, 0.2, 50.0));
  m.push_back(models::make_log_parabola(4e-11, 2.2, 0.15, 1.0));
  m.push_back(models::make_exp_cutoff_power_law(3e-11, 2.0, 0.08, 1.0, 1.0));
  m.push_back(models::make_exp_cutoff_power_law(3e-11, 2.0, 0.08, 1.0, 1.5));
  // A cutoff at 0.1 TeV: dnde underflows to 0 above ~70 TeV (gammapy's 0/0 pieces).
  m.push_back(models::make_exp_cutoff_power_law(3e-11, 2.0, 10.0, 1.0, 1.0));
  m.push_back(models::make_super_exp_cutoff_4fgl(1e-11, 1.8, 0.7, 0.01, 1.0));
  m.push_back(models::make_super_exp_cutoff_4fgl_dr3(1e-11, 1.8, 0.7, 0.02, 1.0));
  m.push_back(models::make_broken_power_law(2e-11, 2.0, 3.0, 2.5));
  m.push_back(models::make_constant(1e-12));
  m.push_back(models::make_power_law_norm(1.3, 0.2, 1.0));
  for (const char* type :
       {"ExpCutoffPowerLaw3FGLSpectralModel", "SuperExpCutoffPowerLaw3FGLSpectralModel",
        "SmoothBrokenPowerLawSpectralModel"})
    m.push_back(models::make_default_spectral_model(type));
  return m;
}

// A dataset with n_true log-spaced true bins from 0.05 to 80 TeV and a dispersion that is a band
// of width `band` around the diagonal (rows mapped onto n_reco columns), with a few empty
// columns; identity when `identity` (then n_reco = n_true).
SpectrumDataset make_dataset(int n_true, int n_reco, int band, bool identity, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  SpectrumDataset d;
  d.name = "fold_test_" + std::to_string(seed);
  for (int j = 0; j <= n_true; ++j)
    d.true_edges.push_back(0.05 * std::pow(1600.0, static_cast<double>(j) / n_true));
  if (identity) n_reco = n_true;
  for (int i = 0; i <= n_reco; ++i)
    d.reco_edges.push_back(0.05 * std::pow(1600.0, static_cast<double>(i) / n_reco));
  for (int j = 0; j < n_true; ++j) d.exposure.push_back(1e9 * (0.5 + u(rng)));
  d.counts.assign(n_reco, 1.0);
  d.background.assign(n_reco, 0.5);
  if (!identity) {
    d.edisp.assign(static_cast<std::size_t>(n_true) * n_reco, 0.0);
    for (int j = 0; j < n_true; ++j) {
      const int centre = j * n_reco / n_true;
      for (int i = centre - band; i <= centre + band; ++i) {
        if (i < 0 || i >= n_reco || i % 7 == 3) continue;  // every 7th column stays empty
        d.edisp[static_cast<std::size_t>(j) * n_reco + i] = u(rng) / (2 * band + 1);
      }
    }
  }
  return d;
}

// The fold written out plainly, as it was before the shared fold: the integral of every true bin
// by the model's own rule, computed node by node through the virtual dnde for the numeric types,
// then the full dense product (every j for every i, in increasing j).
std::vector<double> brute_force_npred(const SpectrumDataset& d, const SpectralModel& model) {
  const std::size_t nt = d.n_true(), nr = d.n_reco();
  std::vector<double> flux(nt);
  const auto closed = model.closed_form();
  if (closed && math::has_analytic_integral(closed->kind)) {
    for (std::size_t j = 0; j < nt; ++j)
      flux[j] = math::closed_form_analytic_integral(*closed, d.true_edges[j], d.true_edges[j + 1]);
  } else {
    double max_ratio = -math::kInf;
    for (std::size_t j = 0; j < nt; ++j)
      max_ratio = std::max(max_ratio,
                           math::loglog_ndecade_log10_ratio(d.true_edges[j], d.true_edges[j + 1]));
    const int npts = math::loglog_npts(max_ratio);
    for (std::size_t j = 0; j < nt; ++j) {
      double sum = 0.0;
      for (int k = 0; k + 1 < npts; ++k) {
        const double x0 = math::loglog_node(d.true_edges[j], d.true_edges[j + 1], npts, k);
        const double x1 = math::loglog_node(d.true_edges[j], d.true_edges[j + 1], npts, k + 1);
        sum += math::loglog_piece_integral(x0, x1, model.dnde(x0), model.dnde(x1));
      }
      flux[j] = sum;
    }
  }
  std::vector<double> npred(nr, 0.0);
  for (std::size_t j = 0; j < nt; ++j) {
    const double npred_true = flux[j] * d.exposure[j];
    if (d.edisp.empty()) {
      npred[j] = npred_true;
      continue;
    }
    for (std::size_t i = 0; i < nr; ++i) npred[i] += npred_true * d.edisp[j * nr + i];
  }
  return npred;
}

// The fold evaluates LogParabola and ExpCutoffPowerLaw (alpha 1) in their log-slope form
// (closed_form_spectrum.hpp): the same function and the same rule, rounded differently from the
// plain formula by a few units in the last place per node (observed: below 1e-14 relative on a
// bin's integral); 1e-12 relative leaves a margin of ~100x and still catches any wrong term.
constexpr double kLogSlopeRelTol = 1e-12;

double fold_tolerance(const SpectralModel& model) {
  const auto closed = model.closed_form();
  return closed && math::log_slope_form(*closed).kind != math::LogSlopeKind::none ? kLogSlopeRelTol
                                                                                  : 0.0;
}

// Equal as doubles (within rel_tol relative when it is not 0), NaN equal to NaN (the fold must
// reproduce NaN where the dense product has it), infinities equal.
void expect_same(const std::vector<double>& got, const std::vector<double>& want,
                 const std::string& what, double rel_tol = 0.0) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << what << " reco bin " << i << ": " << got[i];
    } else if (rel_tol == 0.0 || !std::isfinite(want[i])) {
      EXPECT_EQ(got[i], want[i]) << what << " reco bin " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], rel_tol * std::abs(want[i])) << what << " reco bin " << i;
    }
  }
}

std::vector<SpectrumDataset> test_datasets() {
  std::vector<SpectrumDataset> d;
  d.push_back(make_dataset(60, 30, 3, false, 1));   // more true than reco bins, banded
  d.push_back(make_dataset(40, 40, 40, false, 2));  // dense
  d.push_back(make_dataset(25, 25, 0, true, 3));    // identity
  d.push_back(make_dataset(60, 30, 3, false, 4));   // the true axis of the first: shares its grid
  return d;
}

TEST(FoldArrays, EqualsTheDenseFoldForEveryClosedFormType) {
  // Bit for bit, except the log-slope types (fold_tolerance).
  const std::vector<SpectrumDataset> sets = test_datasets();
  FoldArrays arrays;
  for (const auto& d : sets) arrays.add_dataset(d);
  int log_slope_models = 0;
  for (const auto& model : closed_form_models()) {
    ASSERT_TRUE(model->closed_form().has_value()) << model->type();
    log_slope_models += fold_tolerance(*model) > 0.0 ? 1 : 0;
    for (std::size_t k = 0; k < sets.size(); ++k)
      expect_same(arrays.npred(static_cast<std::int32_t>(k), *model),
                  brute_force_npred(sets[k], *model), model->type() + " through " + sets[k].name,
                  fold_tolerance(*model));
  }
  // LogParabola, ExpCutoffPowerLaw with alpha 1 and with a cutoff whose tail underflows to 0:
  // the log-slope form is exercised, and ExpCutoffPowerLaw with alpha 1.5 is not in it.
  EXPECT_EQ(log_slope_models, 3);
  // Datasets 0 and 3 have the same true edges: one grid serves both.
  EXPECT_EQ(arrays.view().n_grids, 3);
}

// A node value's exponent is below ~50 in magnitude here: its rounding in exp (or pow) costs a
// few times 50 ulp at most, ~1e-14; a wrong term would be off by far more.
constexpr double kLogSlopeNodeRelTol = 2e-14;

TEST(LogSlopeForm, IsTheDirectFormulaUpToRoundingAndOnlyWhereItApplies) {
  std::vector<std::unique_ptr<SpectralModel>> in_form;
  in_form.push_back(models::make_log_parabola(4e-11, 2.2, 0.15, 1.0));
  in_form.push_back(models::make_log_parabola(1e-13, 1.7, 0.4, 0.3));
  in_form.push_back(models::make_log_parabola(2e-12, 2.5, -0.05, 10.0));
  in_form.push_back(models::make_exp_cutoff_power_law(3e-11, 2.0, 0.08, 1.0, 1.0));
  in_form.push_back(models::make_exp_cutoff_power_law(5e-14, 1.5, 0.5, 2.0, 1.0));
  for (const auto& model : in_form) {
    const math::ClosedFormSpectrum m = *model->closed_form();
    const math::LogSlopeSpectrum s = math::log_slope_form(m);
    ASSERT_NE(s.kind, math::LogSlopeKind::none) << model->type();
    for (int k = 0; k <= 200; ++k) {
      const double e = 0.01 * std::pow(10.0, k * 0.02);  // 0.01 - 100 TeV
      const double want = math::closed_form_dnde(m, e);
      EXPECT_NEAR(math::log_slope_dnde(s, e, std::log(e)), want, kLogSlopeNodeRelTol * want)
          << model->type() << " at " << e << " TeV";
    }
  }
  // Not in the form: the direct formula and gammapy's handling of 0 and inf stay.
  std::vector<std::unique_ptr<SpectralModel>> not_in_form;
  not_in_form.push_back(models::make_exp_cutoff_power_law(3e-11, 2.0, 0.08, 1.0, 1.5));
  not_in_form.push_back(models::make_log_parabola(-4e-11, 2.2, 0.15, 1.0));
  not_in_form.push_back(models::make_log_parabola(0.0, 2.2, 0.15, 1.0));
  not_in_form.push_back(models::make_power_law(3e-11, 2.4, 1.3));
  not_in_form.push_back(models::make_super_exp_cutoff_4fgl(1e-11, 1.8, 0.7, 0.01, 1.0));
  for (const auto& model : not_in_form)
    EXPECT_EQ(math::log_slope_form(*model->closed_form()).kind, math::LogSlopeKind::none)
        << model->type() << " " << model->parameters()[0].value;
}

TEST(FoldArrays, ADatasetWithThePreviousTrueEdgesSharesItsFluxesBitForBit) {
  // Datasets 0 and 3 have the same true edges and different exposures and dispersions: folding a
  // model through 3 right after 0 reuses the true bins' integrals, and must give exactly what a
  // fold through 3 alone gives; so must a cleared FoldArrays, and a changed parameter.
  const std::vector<SpectrumDataset> sets = test_datasets();
  for (const auto& model : closed_form_models()) {
    FoldArrays shared;
    const std::int32_t k0 = shared.add_dataset(sets[0]), k3 = shared.add_dataset(sets[3]);
    shared.npred(k0, *model);
    const std::vector<double> got = shared.npred(k3, *model);
    FoldArrays alone;
    expect_same(got, alone.npred(alone.add_dataset(sets[3]), *model), model->type(), 0.0);
    alone.clear();
    expect_same(alone.npred(alone.add_dataset(sets[3]), *model), got, model->type() + " cleared",
                0.0);
    auto changed = model->clone();
    changed->parameters()[0].value *= 1.25;
    shared.npred(k0, *changed);
    FoldArrays fresh;
    expect_same(shared.npred(k3, *changed), fresh.npred(fresh.add_dataset(sets[3]), *changed),
                model->type() + " changed", 0.0);
  }
}

TEST(FoldArrays, AGridReusedFromAnEarlierFoldArraysGivesTheSameResult) {
  // The second FoldArrays copies the grid the first one built for the same true edges.
  const SpectrumDataset d = make_dataset(46, 30, 5, false, 10);
  const auto model = models::make_log_parabola(4e-11, 2.2, 0.15, 1.0);
  const std::vector<double> want = brute_force_npred(d, *model);
  for (int round = 0; round < 2; ++round) {
    FoldArrays arrays;
    expect_same(arrays.npred(arrays.add_dataset(d), *model), want, "round " + std::to_string(round),
                kLogSlopeRelTol);
  }
}

TEST(FoldArrays, ModelsWithoutClosedFormFoldThroughTheSameDispersion) {
  const SpectrumDataset d = make_dataset(50, 20, 4, false, 5);
  const auto model = models::make_template({0.01, 0.3, 2.0, 100.0}, {1e-9, 3e-11, 1e-12, 1e-16});
  ASSERT_FALSE(model->closed_form().has_value());
  FoldArrays arrays;
  expect_same(arrays.npred(arrays.add_dataset(d), *model), brute_force_npred(d, *model),
              "template");
}

TEST(FoldArrays, NonFiniteTrueRowsMakeTheColumnsThatDoNotStoreThemNaN) {
  // An infinite exposure in true bin 10: the dense product gives inf * 0 = NaN in every column
  // whose band misses row 10, inf where the band holds it.
  SpectrumDataset d = make_dataset(60, 30, 3, false, 6);
  d.exposure[10] = math::kInf;
  const auto model = models::make_power_law(3e-11, 2.4, 1.0);
  const std::vector<double> want = brute_force_npred(d, *model);
  int nan_columns = 0;
  for (const double v : want) nan_columns += std::isnan(v) ? 1 : 0;
  ASSERT_GT(nan_columns, 0);  // the case is exercised
  ASSERT_LT(nan_columns, static_cast<int>(want.size()));
  FoldArrays arrays;
  expect_same(arrays.npred(arrays.add_dataset(d), *model), want, "infinite exposure");
}

TEST(FoldArrays, RejectsBadShapesNamingTheDataset) {
  SpectrumDataset d = make_dataset(10, 8, 2, false, 7);
  d.edisp.pop_back();
  FoldArrays arrays;
  try {
    arrays.add_dataset(d);
    FAIL() << "a dispersion of the wrong size was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("fold_test_7"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("dispersion"), std::string::npos) << e.what();
  }
}

// CPU and GPU evaluate pow/exp/log with different libraries (each within an ulp or two), and an
// integral sums ~10-100 log-log pieces, each a pow of an ulp-perturbed exponent: 1e-12 relative
// leaves a margin of ~100x over that.
constexpr double kCudaFoldRelTol = 1e-12;

TEST(CudaFold, MatchesTheCpuFoldForEveryClosedFormType) {
#if !FLUXPOINTS_WITH_CUDA
  GTEST_SKIP() << "built without the CUDA backend (FLUXPOINTS_CUDA=OFF or no nvcc)";
#else
  std::string why;
  if (cuda_backend::device_count(&why) == 0) GTEST_SKIP() << why;
  std::vector<SpectrumDataset> sets = test_datasets();
  sets.push_back(make_dataset(60, 30, 3, false, 8));
  sets.back().exposure[20] = math::kInf;  // non-finite rows, as on the host
  FoldArrays arrays;
  for (const auto& d : sets) arrays.add_dataset(d);
  std::vector<cuda_backend::FoldTask> tasks;
  std::vector<double> want;
  for (const auto& model : closed_form_models()) {
    for (std::size_t k = 0; k < sets.size(); ++k) {
      const auto kk = static_cast<std::int32_t>(k);
      const std::vector<double> cpu = arrays.npred(kk, *model);  // also prepares the grids
      tasks.push_back({*model->closed_form(), kk, static_cast<std::int64_t>(want.size())});
      want.insert(want.end(), cpu.begin(), cpu.end());
    }
  }
  const std::vector<double> got = cuda_backend::fold(arrays.view(), tasks);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(want[i])) {
      EXPECT_EQ(std::isnan(got[i]), std::isnan(want[i])) << "entry " << i;
      continue;
    }
    EXPECT_NEAR(got[i], want[i], kCudaFoldRelTol * std::abs(want[i])) << "entry " << i;
  }
#endif
}

TEST(CudaFold, RejectsATaskWithoutItsGrid) {
#if !FLUXPOINTS_WITH_CUDA
  GTEST_SKIP() << "built without the CUDA backend (FLUXPOINTS_CUDA=OFF or no nvcc)";
#else
  // Checked on the host before any device work, so it runs without a GPU too.
  FoldArrays arrays;
  arrays.add_dataset(make_dataset(20, 10, 2, false, 9));
  const auto model = models::make_log_parabola(4e-11, 2.2, 0.15, 1.0);
  const std::vector<cuda_backend::FoldTask> tasks = {{*model->closed_form(), 0, 0}};
  EXPECT_THROW(cuda_backend::fold(arrays.view(), tasks), std::invalid_argument);
#endif
}

}  // namespace
}  // namespace fluxpoints
