// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The estimator end to end on the synthetic spectrum of tests/test_spec_examples.cpp (examples
// 9.1, Cash, and 9.2, its On/Off twin; built here, no files):
// snapping, slicing, masks, joint fits, sum_over_energy_groups, NaN rows, reference quantities.
#include <gtest/gtest.h>

#include <cmath>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/estimator/estimator.hpp"
#include "fluxpoints/models/spectral_models.hpp"

namespace fp = fluxpoints;
using fp::datasets::SpectrumDataset;
using fp::io::FluxPointsTable;

namespace {

// The reference values (exact solution) carry 7 significant digits; our solver is exact to ~1e-10.
constexpr double kSpecDigitsRel = 2e-6;
// stat_scan values are printed with 6 decimals.
constexpr double kSpecScanAbs = 1e-5;
// Analytic identities (same sums in another order).
constexpr double kIdentityRel = 1e-10;

std::vector<double> spec_edges() {
  std::vector<double> e(9);
  for (int i = 0; i <= 8; ++i) e[i] = 0.5 * std::pow(100.0, i / 8.0);
  return e;
}

// Example 9.1: identity edisp, exposure 5e13 cm2 s, counts and background as given.
SpectrumDataset spec91_dataset(const std::string& name = "synthetic") {
  SpectrumDataset d;
  d.name = name;
  d.source_file = "(synthetic example 9.1, built in the test)";
  d.reco_edges = spec_edges();
  d.true_edges = spec_edges();
  d.counts = {95, 60, 33, 17, 6, 3, 0, 1};
  d.background = {20, 10, 5, 2, 1, 0.5, 0.2, 0.1};
  d.mask_safe.assign(8, 1);
  d.exposure.assign(8, 5e13);
  d.livetime_s = 1.0;
  d.edisp.assign(64, 0.0);
  for (int i = 0; i < 8; ++i) d.edisp[i * 8 + i] = 1.0;
  return d;
}

// Example 9.2: the same as On/Off, n_off given, alpha = 1/5, no background.
SpectrumDataset spec92_dataset() {
  SpectrumDataset d = spec91_dataset("onoff");
  d.on_off = true;
  d.background.clear();
  d.counts_off = {100, 50, 25, 10, 5, 2, 1, 0};
  d.acceptance.assign(8, 1.0);
  d.acceptance_off.assign(8, 5.0);
  d.alpha.assign(8, 0.2);
  return d;
}

std::vector<fp::models::SkyModel> spec_models() {
  std::vector<fp::models::SkyModel> m(1);
  m[0].name = "src";
  m[0].spectral = fp::models::make_power_law(1e-12, 2.5, 1.0);
  return m;
}

fp::EstimatorOptions spec_options() {
  fp::EstimatorOptions o;
  o.energy_edges = {0.6, 2, 5, 20, 50};
  o.set_selection("all");
  return o;
}

FluxPointsTable run(const std::vector<SpectrumDataset>& ds, const fp::EstimatorOptions& o,
                    const std::string& energy_unit = "") {
  const auto backend = fp::make_backend("cpu");
  fp::LikelihoodBatch batch;
  const auto models = spec_models();
  const fp::SourceProblems problems = fp::append_source_problems(batch, ds, models, 0, o);
  const fp::BatchResult result = backend->solve(batch, o.solve);
  return fp::make_flux_points(result, problems, o, energy_unit);
}

double col(const FluxPointsTable& t, const char* name, std::size_t row, std::size_t j = 0) {
  return t.column(name).at(row, j);
}

void expect_rel(double actual, double expected, double rel, const std::string& what) {
  EXPECT_NEAR(actual, expected, rel * std::abs(expected)) << what;
}

}  // namespace

TEST(EstimatorSpectrum, Spec91PredictedCounts) {
  const auto pred = fp::predict_counts({spec91_dataset()}, spec_models(), 0);
  const std::vector<double> s{54.52297653, 22.99214856, 9.69570865, 4.08864644,
                              1.72416791,  0.72707558,  0.30660523, 0.12929435};
  ASSERT_EQ(pred[0].source.size(), s.size());
  constexpr double kPrintedAbs = 5e-9;  // the reference s values carry 8 decimals
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(pred[0].source[i], s[i], kPrintedAbs) << i;
  for (double o : pred[0].other) EXPECT_EQ(o, 0.0);
}

TEST(EstimatorSpectrum, Spec91Cash) {
  fp::EstimatorOptions o = spec_options();
  o.energy_edges.push_back(100.0);  // a fifth group [50, 100] TeV: no dataset, a NaN row
  const FluxPointsTable t = run({spec91_dataset()}, o);
  ASSERT_EQ(t.n_rows, 5u);
  EXPECT_EQ(t.column("e_min").unit, "TeV");

  const double e[] = {0.5, 1.581139, 5, 15.811388, 50, 100};
  for (std::size_t r = 0; r < 5; ++r) {
    expect_rel(col(t, "e_min", r), e[r], kSpecDigitsRel, "e_min");
    expect_rel(col(t, "e_max", r), e[r + 1], kSpecDigitsRel, "e_max");
  }
  const double counts[] = {155, 50, 9, 1, 0};
  const double norm[] = {1.606972, 3.120673, 3.056412, 1.520677};
  const double norm_err[] = {0.1605908, 0.5129747, 1.223754, 2.294106};
  const double errn[] = {0.1563184, 0.4890828, 1.091686, 1.601953};
  const double errp[] = {0.1649206, 0.5374366, 1.363374, 3.114655};
  const double ul[] = {1.945584, 4.245547, 6.075594, 9.562074};
  const double ts[] = {256.1853, 110.8370, 17.21247, 0.848804};
  const double sqrt_ts[] = {16.00579, 10.52792, 4.148791, 0.92131};
  const double stat[] = {-1041.685, -226.6269, -10.05359, 4.356366};
  const double stat_null[] = {-785.4993, -115.7899, 7.158883, 5.205170};
  const double npred[] = {154.5646, 50.01647, 8.992011, 0.962863};
  const double npred_excess[] = {124.5646, 43.01647, 7.492011, 0.662863};
  const bool is_ul[] = {false, false, false, true};
  for (std::size_t r = 0; r < 4; ++r) {
    SCOPED_TRACE("group " + std::to_string(r + 1));
    EXPECT_EQ(col(t, "counts", r), counts[r]);
    expect_rel(col(t, "norm", r), norm[r], kSpecDigitsRel, "norm");
    expect_rel(col(t, "norm_err", r), norm_err[r], kSpecDigitsRel, "norm_err");
    expect_rel(col(t, "norm_errn", r), errn[r], kSpecDigitsRel, "norm_errn");
    expect_rel(col(t, "norm_errp", r), errp[r], kSpecDigitsRel, "norm_errp");
    expect_rel(col(t, "norm_ul", r), ul[r], kSpecDigitsRel, "norm_ul");
    expect_rel(col(t, "ts", r), ts[r], kSpecDigitsRel, "ts");
    expect_rel(col(t, "sqrt_ts", r), sqrt_ts[r], 1e-5, "sqrt_ts (printed to 6 digits)");
    expect_rel(col(t, "stat", r), stat[r], kSpecDigitsRel, "stat");
    expect_rel(col(t, "stat_null", r), stat_null[r], kSpecDigitsRel, "stat_null");
    expect_rel(col(t, "npred", r), npred[r], kSpecDigitsRel, "npred");
    // float32 storage: ~6e-8 relative.
    expect_rel(col(t, "npred_excess", r), npred_excess[r], kSpecDigitsRel, "npred_excess");
    EXPECT_EQ(col(t, "is_ul", r), is_ul[r] ? 1.0 : 0.0);
    EXPECT_EQ(col(t, "success", r), 1.0);
  }

  // Reference quantities (reference values of example 9.1; ref_eflux written in erg).
  const double e_ref[] = {0.8891397, 2.811707, 8.891397, 28.117066};
  const double ref_dnde[] = {1.341452e-12, 7.543536e-14, 4.242042e-15, 2.385476e-16};
  const double ref_flux[] = {1.550303e-12, 2.756871e-13, 4.902487e-14, 8.717992e-15};
  const double ref_eflux[] = {1.983311e-12, 1.115298e-12, 6.271782e-13, 3.526882e-13};
  for (std::size_t r = 0; r < 4; ++r) {
    SCOPED_TRACE("group " + std::to_string(r + 1));
    expect_rel(col(t, "e_ref", r), e_ref[r], kSpecDigitsRel, "e_ref");
    expect_rel(col(t, "ref_dnde", r), ref_dnde[r], kSpecDigitsRel, "ref_dnde");
    expect_rel(col(t, "ref_flux", r), ref_flux[r], kSpecDigitsRel, "ref_flux");
    expect_rel(col(t, "ref_eflux", r), ref_eflux[r], kSpecDigitsRel, "ref_eflux");
  }
  EXPECT_EQ(t.column("ref_eflux").unit, "erg s-1 cm-2");

  // stat_scan on the default grid, groups 1, 3, 4.
  const std::vector<std::vector<double>> scan{
      {-882.575555, -908.250061, -937.199490, -967.960581, -998.026275, -1023.632526, -1039.516328,
       -1038.575784, -1011.346701, -945.204476, -823.191601},
      {},
      {3.052424, 1.817226, 0.325731, -1.409174, -3.335703, -5.351272, -7.291893, -8.921720,
       -9.919617, -9.858423, -8.172216},
      {4.919548, 4.835507, 4.736503, 4.626508, 4.514649, 4.417297, 4.360303, 4.381476, 4.533607,
       4.888645, 5.543791}};
  ASSERT_EQ(t.column("stat_scan").width, 11u);
  for (std::size_t r = 0; r < 4; ++r)
    for (std::size_t j = 0; j < scan[r].size(); ++j)
      EXPECT_NEAR(col(t, "stat_scan", r, j), scan[r][j], kSpecScanAbs)
          << "group " << r + 1 << " j " << j;
  EXPECT_NEAR(col(t, "norm_scan", 0, 5), 1.0, 1e-15);
  EXPECT_NEAR(col(t, "norm_scan", 4, 10), 5.0, 1e-15);

  // Fifth group: a NaN row on the requested edges with the PL's reference quantities there.
  const std::size_t r = 4;
  EXPECT_EQ(col(t, "e_min", r), 50.0);
  EXPECT_EQ(col(t, "e_max", r), 100.0);
  const double pl_flux = 1e-12 / 1.5 * (std::pow(50.0, -1.5) - std::pow(100.0, -1.5));
  expect_rel(col(t, "ref_flux", r), pl_flux, kIdentityRel, "ref_flux [50, 100]");
  expect_rel(col(t, "ref_dnde", r), 1e-12 * std::pow(std::sqrt(5000.0), -2.5), kIdentityRel,
             "ref_dnde [50, 100]");
  EXPECT_EQ(col(t, "success", r), 0.0);
  EXPECT_EQ(col(t, "counts", r), 0.0);
  for (const char* name : {"norm", "norm_err", "ts", "sqrt_ts", "stat", "stat_null", "npred",
                           "npred_excess", "norm_ul", "norm_errn", "norm_errp"})
    EXPECT_TRUE(std::isnan(col(t, name, r))) << name;
  for (std::size_t j = 0; j < 11; ++j) EXPECT_TRUE(std::isnan(col(t, "stat_scan", r, j)));
  EXPECT_EQ(col(t, "is_ul", r), 0.0);  // NaN sqrt_ts is not < 2
}

TEST(EstimatorSpectrum, Spec91SensitivityCash) {
  // Example 9.1: exact Asimov roots for n_sigma_sensitivity = 2 (reference values, 5 digits).
  fp::EstimatorOptions o = spec_options();
  o.n_sigma_sensitivity = 2;
  const FluxPointsTable t = run({spec91_dataset()}, o);
  const double expected[] = {0.14929, 0.42959, 1.24234, 3.77999};
  for (std::size_t r = 0; r < 4; ++r)
    expect_rel(col(t, "norm_sensitivity", r), expected[r], 5e-5, "norm_sensitivity");
  // gammapy's column order: norm_ul, norm_sensitivity, ts.
  const auto& c = t.columns;
  const auto at = [&](const char* name) {
    for (std::size_t k = 0; k < c.size(); ++k)
      if (c[k].name == name) return k;
    return c.size();
  };
  EXPECT_EQ(at("norm_sensitivity"), at("norm_ul") + 1);
  EXPECT_EQ(at("ts"), at("norm_sensitivity") + 1);
  // Without "sensitivity" in the selection there is no column.
  o.set_selection("errn-errp,ul");
  EXPECT_FALSE(run({spec91_dataset()}, o).has("norm_sensitivity"));
  o.set_selection("sensitivity");
  EXPECT_TRUE(o.sensitivity);
  EXPECT_FALSE(o.solve.ul);
  EXPECT_THROW(o.set_selection("ul,bogus"), std::invalid_argument);
}

TEST(EstimatorSpectrum, Spec92OnOffGroup4IsAnalytic) {
  // Example 9.2 group 4: theta = 1/(s6 + s7), sigma = theta, npred_excess = 1,
  // npred = 1 + alpha n_off / (1 + alpha).
  fp::EstimatorOptions o = spec_options();
  o.energy_edges = {20, 50};
  const FluxPointsTable t = run({spec92_dataset()}, o);
  const double theta = 1.0 / (0.30660523 + 0.12929435);
  expect_rel(col(t, "norm", 0), theta, 1e-7, "norm");
  expect_rel(col(t, "norm_err", 0), theta, 1e-7, "norm_err");
  expect_rel(col(t, "npred_excess", 0), 1.0, 1e-7, "npred_excess (float32)");
  expect_rel(col(t, "npred", 0), 1.0 + 0.2 / 1.2, 1e-7, "npred");
  expect_rel(col(t, "norm_ul", 0), 10.335503, kSpecDigitsRel, "norm_ul");
  expect_rel(col(t, "ts", 0), 1.152878, kSpecDigitsRel, "ts");
  // Group 1 of the On/Off table.
  o.energy_edges = {0.6, 2};
  const FluxPointsTable g1 = run({spec92_dataset()}, o);
  expect_rel(col(g1, "norm", 0), 1.603096, kSpecDigitsRel, "norm");
  expect_rel(col(g1, "stat", 0), 4.668508, kSpecDigitsRel, "stat");
  expect_rel(col(g1, "stat_scan", 0, 0), 132.626862, 1e-8, "stat_scan[0]");
}

TEST(EstimatorSpectrum, JointFitAndPadding) {
  // Two identical datasets: S doubles, so the norm is unchanged, the error shrinks by sqrt 2 and
  // ts doubles. A third dataset covering only 0.5-5 TeV drops out of the upper groups and is
  // padded there (counts 0, npred NaN, npred_excess NaN).
  const fp::EstimatorOptions o = spec_options();
  const FluxPointsTable one = run({spec91_dataset("a")}, o);
  const FluxPointsTable two = run({spec91_dataset("a"), spec91_dataset("b")}, o);
  for (std::size_t r = 0; r < 4; ++r) {
    expect_rel(col(two, "norm", r), col(one, "norm", r), 1e-9, "norm");
    expect_rel(col(two, "norm_err", r), col(one, "norm_err", r) / std::sqrt(2.0), 1e-9, "norm_err");
    expect_rel(col(two, "ts", r), 2 * col(one, "ts", r), 1e-9, "ts");
    EXPECT_EQ(col(two, "counts", r, 0), col(one, "counts", r));
    EXPECT_EQ(col(two, "counts", r, 1), col(one, "counts", r));
  }
  EXPECT_EQ(two.column("npred").width, 2u);
  EXPECT_EQ(two.dataset_names, (std::vector<std::string>{"a", "b"}));

  SpectrumDataset low = spec91_dataset("low");
  const int n = 4;  // bins 0..3: 0.5 - 5 TeV
  low.reco_edges.resize(n + 1);
  low.counts.resize(n);
  low.background.resize(n);
  low.mask_safe.resize(n);
  std::vector<double> edisp(8 * n, 0.0);
  for (int i = 0; i < n; ++i) edisp[i * n + i] = 1.0;
  low.edisp = edisp;
  const FluxPointsTable three = run({spec91_dataset("a"), low}, o);
  ASSERT_EQ(three.column("counts").width, 2u);
  EXPECT_EQ(col(three, "counts", 0, 1), 155.0);
  EXPECT_EQ(col(three, "counts", 1, 1), 50.0);
  for (std::size_t r = 2; r < 4; ++r) {
    EXPECT_EQ(col(three, "counts", r, 1), 0.0);
    EXPECT_TRUE(std::isnan(col(three, "npred", r, 1)));
    EXPECT_TRUE(std::isnan(col(three, "npred_excess", r, 1)));
    // ... and the upper groups are the single-dataset fits.
    expect_rel(col(three, "norm", r), col(one, "norm", r), 1e-9, "norm");
  }
  EXPECT_TRUE(std::isfinite(col(three, "npred", 3, 0)));
}

TEST(EstimatorSpectrum, MasksDropBins) {
  fp::EstimatorOptions o = spec_options();
  SpectrumDataset d = spec91_dataset();
  d.mask_safe[0] = 0;  // group 1 keeps bin 1 only
  d.mask_fit.assign(8, 1);
  d.mask_fit[2] = 0;   // group 2 keeps bin 3 only
  d.mask_safe[6] = 0;  // group 4: both bins out
  d.mask_fit[7] = 0;
  const FluxPointsTable t = run({d}, o);
  EXPECT_EQ(col(t, "counts", 0), 60.0);
  EXPECT_EQ(col(t, "counts", 1), 17.0);
  EXPECT_EQ(col(t, "counts", 2), 9.0);
  // A group with no bin in the safe mask: stat 0, stat_null 0, ts NaN, npred NaN,
  // npred_excess 0, success False, and the snapped edges.
  EXPECT_EQ(col(t, "stat", 3), 0.0);
  EXPECT_EQ(col(t, "stat_null", 3), 0.0);
  EXPECT_TRUE(std::isnan(col(t, "ts", 3)));
  EXPECT_TRUE(std::isnan(col(t, "norm", 3)));
  EXPECT_TRUE(std::isnan(col(t, "npred", 3)));
  EXPECT_EQ(col(t, "npred_excess", 3), 0.0);
  EXPECT_EQ(col(t, "counts", 3), 0.0);
  EXPECT_EQ(col(t, "success", 3), 0.0);
  expect_rel(col(t, "e_min", 3), 15.811388, kSpecDigitsRel, "e_min");
  // Group 1 with bin 1 alone: the one-bin Cash optimum n = theta s + b.
  expect_rel(col(t, "norm", 0), (60.0 - 10.0) / 22.99214856, 1e-7, "norm");
}

TEST(EstimatorSpectrum, SumOverEnergyGroups) {
  fp::EstimatorOptions o = spec_options();
  o.sum_over_energy_groups = true;
  // Cash: one bin per group with summed counts, source and background: optimum n = theta s + b.
  SpectrumDataset d = spec91_dataset();
  d.mask_fit.assign(8, 1);
  d.mask_fit[1] = 0;  // ignored when summing over energy groups: only mask_safe weights
  const FluxPointsTable t = run({d}, o);
  expect_rel(col(t, "norm", 0), (155.0 - 30.0) / (54.52297653 + 22.99214856), 1e-7, "norm");
  EXPECT_EQ(col(t, "counts", 0), 155.0);

  // WStat: OFF-count-weighted alpha. Check the assembled bin directly.
  SpectrumDataset on = spec92_dataset();
  on.alpha = {0.2, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2};
  on.mask_safe[3] = 0;  // group 2 sums bin 2 only
  fp::LikelihoodBatch batch;
  const auto models = spec_models();
  o.energy_edges = {0.6, 2, 5};
  fp::append_source_problems(batch, {on}, models, 0, o);
  ASSERT_EQ(batch.n_bins(), 2);
  EXPECT_EQ(batch.counts()[0], 155.0);
  EXPECT_EQ(batch.counts_off()[0], 150.0);
  expect_rel(batch.alpha()[0], (0.2 * 100 + 0.1 * 50) / 150.0, kIdentityRel, "alpha");
  expect_rel(batch.npred_ref()[0], 54.52297653 + 22.99214856, 1e-9, "s");
  EXPECT_EQ(batch.counts()[1], 33.0);
  EXPECT_EQ(batch.counts_off()[1], 25.0);
}

TEST(EstimatorSpectrum, OutputEnergyUnitAndWarnings) {
  fp::EstimatorOptions o = spec_options();
  const FluxPointsTable t = run({spec91_dataset()}, o, "keV");
  EXPECT_EQ(t.column("e_min").unit, "keV");
  expect_rel(col(t, "e_min", 0), 0.5e9, 1e-15, "e_min in keV");
  EXPECT_THROW(run({spec91_dataset()}, o, "cm"), std::invalid_argument);

  fp::LikelihoodBatch batch;
  const auto models = spec_models();
  o.energy_edges = {60, 100};
  const auto problems = fp::append_source_problems(batch, {spec91_dataset()}, models, 0, o);
  EXPECT_FALSE(problems.any_dataset());
  ASSERT_EQ(problems.warnings.size(), 1u);
  EXPECT_NE(problems.warnings[0].find("No dataset contributes"), std::string::npos);
}

TEST(EstimatorSpectrum, ManySourcesInOneBatch) {
  // Two sources appended to one batch and solved once give the same rows as separate runs.
  const fp::EstimatorOptions o = spec_options();
  const std::vector<SpectrumDataset> ds{spec91_dataset()};
  const auto only = [](std::unique_ptr<fp::models::SpectralModel> spectral, const char* name) {
    std::vector<fp::models::SkyModel> m(1);
    m[0].name = name;
    m[0].spectral = std::move(spectral);
    return m;
  };
  const auto m0 = only(fp::models::make_power_law(1e-12, 2.5, 1.0), "src");
  const auto m1 = only(fp::models::make_power_law(5e-13, 2.0, 1.0), "other");
  const auto backend = fp::make_backend("cpu");
  const auto alone = [&](const std::vector<fp::models::SkyModel>& m) {
    fp::LikelihoodBatch b;
    const auto p = fp::append_source_problems(b, ds, m, 0, o);
    return fp::make_flux_points(backend->solve(b, o.solve), p, o);
  };
  fp::LikelihoodBatch batch;
  const auto p0 = fp::append_source_problems(batch, ds, m0, 0, o);
  const auto p1 = fp::append_source_problems(batch, ds, m1, 0, o);
  EXPECT_EQ(batch.n_problems(), 8);
  const fp::BatchResult result = backend->solve(batch, o.solve);
  const FluxPointsTable t0 = fp::make_flux_points(result, p0, o);
  const FluxPointsTable t1 = fp::make_flux_points(result, p1, o);
  const FluxPointsTable a0 = alone(m0), a1 = alone(m1);
  for (const char* name : {"norm", "norm_err", "norm_ul", "ts", "stat", "ref_flux"}) {
    for (std::size_t r = 0; r < 4; ++r) {
      EXPECT_EQ(col(t0, name, r), col(a0, name, r)) << name;
      EXPECT_EQ(col(t1, name, r), col(a1, name, r)) << name;
    }
  }
  EXPECT_NE(col(t0, "norm", 0), col(t1, "norm", 0));
}

TEST(EstimatorSpectrum, PredictionsForAllSourcesAtOnce) {
  // Folding every model once and subtracting the source from the total gives the same
  // predictions as folding the others per source (up to the rounding of one subtraction).
  std::vector<fp::models::SkyModel> models(3);
  const char* names[] = {"a", "b", "c"};
  for (int m = 0; m < 3; ++m) {
    models[m].name = names[m];
    models[m].spectral = fp::models::make_power_law(1e-12 * (m + 1), 2.0 + 0.3 * m, 1.0);
  }
  models[2].datasets_names = {"second"};  // c predicts nothing in "first"
  const std::vector<SpectrumDataset> ds{spec91_dataset("first"), spec91_dataset("second")};
  const auto all = fp::predict_counts_all_sources(ds, models);
  constexpr double kSubtractionRel = 1e-13;
  ASSERT_EQ(all.size(), 3u);
  for (std::size_t m = 0; m < 3; ++m) {
    const auto one = fp::predict_counts(ds, models, m);
    for (std::size_t d = 0; d < 2; ++d)
      for (std::size_t i = 0; i < 8; ++i) {
        EXPECT_EQ(all[m][d].source[i], one[d].source[i]);
        EXPECT_NEAR(all[m][d].other[i], one[d].other[i], kSubtractionRel * one[d].other[i]);
      }
  }
  EXPECT_EQ(all[2][0].source[0], 0.0);
  EXPECT_GT(all[2][1].source[0], 0.0);
}
