// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The kink rule: where the best fit sits on a kink of the profile (S' jumps there), norm_err is
// the half-width of the Delta-stat = 1 interval, whatever curvature the other bins add. So on
// every kink row min(errn, errp) <= norm_err <= max(errn, errp) (n_sigma = 1). Checked on
// synthetic kinks, on random problems and, when ../shared/data is present, on every real-data
// case of data/golden/cases.json (which contain rows 4-5 of H.E.S.S. obs 23523, case
// spec93_hess23523_pl).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/estimator/estimator.hpp"
#include "fluxpoints/io/ogip.hpp"
#include "random_problems.hpp"
#include "test_environment.hpp"
#include "test_helpers.hpp"

namespace fluxpoints::testing {
namespace {

namespace m = fluxpoints::math;

// errn, errp and the half-width are Brent-like roots solved to ~1e-12 relative (plus 1e-14
// absolute); 1e-9 relative leaves room for their rounding without hiding a wrong rule (the
// curvature rule missed by factors of up to 30).
constexpr double kBetweenRelTol = 1e-9;

// Asserts the kink rule on problem p of r; returns false (with a failure) if it does not hold.
bool kink_error_between(const BatchResult& r, std::int64_t p, const std::string& what) {
  const double lo = std::min(r.norm_errn[p], r.norm_errp[p]);
  const double hi = std::max(r.norm_errn[p], r.norm_errp[p]);
  const double tol = kBetweenRelTol * hi;
  const bool ok = r.norm_err[p] >= lo - tol && r.norm_err[p] <= hi + tol;
  EXPECT_TRUE(ok) << what << ": norm_err " << r.norm_err[p] << " outside [errn, errp] = ["
                  << r.norm_errn[p] << ", " << r.norm_errp[p] << "] (" << r.reason(p) << ")";
  return ok;
}

class KinkRule : public BackendTest {};

TEST_P(KinkRule, CurvatureFromOtherBinsDoesNotSetTheError) {
  // Like the real-data rows that showed norm_err 2.37 with errn 0.013 and errp 0.31: WStat bins
  // with n_on = n_off = 0 put a kink at theta = 0 (slopes -2 s / alpha below, +2 s above), and a
  // bin with counts adds a small positive curvature there. The old rule (kink only where S'' = 0)
  // took sigma = sqrt(2 / S'') from that curvature.
  LikelihoodBatch b;
  b.begin_problem("kink + small curvature");
  b.begin_dataset(StatKind::wstat);
  b.add_wstat_bin(0, 0, 0.5, 1.0);
  b.add_wstat_bin(3, 10, 0.5, 0.01);
  b.begin_problem("several kink bins + two counted bins");
  b.begin_dataset(StatKind::wstat);
  for (int i = 0; i < 5; ++i) b.add_wstat_bin(0, 0, 0.1, 0.05);
  b.add_wstat_bin(20, 150, 0.1, 0.02);
  b.add_wstat_bin(5, 60, 0.1, 0.01);
  b.begin_problem("kink away from 0 (other models' signal)");
  b.begin_dataset(StatKind::wstat);
  b.add_wstat_bin(0, 0, 0.3, 2.0, 0.4);  // kink at theta = -0.2
  b.add_wstat_bin(7, 40, 0.3, 0.05, 0.4);
  b.begin_problem("Cash n = 0 bin clipped at the minimum");
  b.begin_dataset(StatKind::cash);
  b.add_cash_bin(0, 1.0, 0.5);  // slope 2 above theta = -0.5, flat below
  b.add_cash_bin(0, 4.0, 2.0);  // slope 8 above theta = -0.5
  b.add_cash_bin(1, 0.1, 1.0);  // smooth, slope -0.01 at -0.5: errn ~9, errp ~0.1
  const BatchResult r = backend().solve(b, all_options());
  const double kink_at[] = {0.0, 0.0, -0.2, -0.5};
  for (std::int64_t p = 0; p < r.n_problems(); ++p) {
    SCOPED_TRACE(b.label(p));
    EXPECT_EQ(r.status[p], SolveStatus::ok) << r.reason(p);
    EXPECT_TRUE(r.notes[p] & m::note_kink) << r.reason(p);
    EXPECT_NEAR(r.norm[p], kink_at[p], 1e-12);
    ASSERT_TRUE(std::isfinite(r.norm_errn[p]) && std::isfinite(r.norm_errp[p]));
    kink_error_between(r, p, b.label(p));
    // The half-width itself.
    EXPECT_NEAR(r.norm_err[p], 0.5 * (r.norm_errn[p] + r.norm_errp[p]),
                kBetweenRelTol * r.norm_err[p]);
  }
}

TEST_P(KinkRule, SmoothMinimaKeepTheCurvature) {
  // No kink anywhere near the minimum: sigma = sqrt(2 / S'') as gammapy's HESSE, not the
  // half-width (which differs for an asymmetric profile).
  LikelihoodBatch b;
  b.begin_problem("smooth WStat");
  b.begin_dataset(StatKind::wstat);
  b.add_wstat_bin(33, 25, 0.2, 9.7);
  b.add_wstat_bin(2, 1, 0.2, 0.5);
  b.begin_problem("smooth Cash");
  b.begin_dataset(StatKind::cash);
  b.add_cash_bin(4, 1.0, 0.5);
  const BatchResult r = backend().solve(b, all_options());
  for (std::int64_t p = 0; p < r.n_problems(); ++p) {
    const m::ProfilePoint at = b.view(p).profile(r.norm[p]);
    EXPECT_FALSE(r.notes[p] & m::note_kink) << r.reason(p);
    EXPECT_NEAR(r.norm_err[p], std::sqrt(2 / at.d2), 1e-9 * r.norm_err[p]);
  }
}

TEST_P(KinkRule, RandomKinkProblems) {
  // Random problems (the brute-force suite's generator): every problem whose minimum the engine
  // puts on a kink obeys the rule, and there are many of them.
  constexpr int kProblems = 4000;
  const std::uint64_t seed = test_seed();
  LikelihoodBatch b;
  for (int i = 0; i < kProblems; ++i)
    add_to_batch(random_problem(seed, 2000000 + i), b, "random " + std::to_string(i));
  const BatchResult r = backend().solve(b, all_options());
  int kinks = 0, failed = 0;
  for (std::int64_t p = 0; p < r.n_problems(); ++p) {
    if (!(r.notes[p] & m::note_kink) || r.status[p] != SolveStatus::ok) continue;
    if (!std::isfinite(r.norm_errn[p]) || !std::isfinite(r.norm_errp[p])) continue;
    ++kinks;
    if (!kink_error_between(r, p, b.label(p)) && ++failed > 10) break;
  }
  std::cout << "[ kinks    ] " << kinks << " kink problems with both crossings of " << kProblems
            << " (seed " << seed << ")" << std::endl;
  EXPECT_GT(kinks, kProblems / 20);
}

FLUXPOINTS_INSTANTIATE_BACKENDS(KinkRule);

// Every real-data case of the gammapy comparison (needs ../shared/data): each kink row obeys
// the rule. Rows 4-5 of H.E.S.S. obs 23523 (case spec93_hess23523_pl) are among them.
TEST(KinkRuleRealData, EveryKinkRowOfTheValidationCases) {
  namespace fs = std::filesystem;
  const std::string data_dir = shared_data_path("joint-crab/spectra");
  const std::string cases_path = repo_path("data/golden/cases.json");
  FLUXPOINTS_NEEDS_SHARED_DATA(data_dir);
  std::ifstream in(cases_path);
  ASSERT_TRUE(in) << "cannot open " << cases_path;
  const nlohmann::json cases = nlohmann::json::parse(in);
  const auto backend = make_backend("cpu");
  int kinks = 0;
  bool spec93_rows_4_5 = false;
  for (const auto& c : cases.at("cases")) {
    const std::string name = c.at("name").get<std::string>();
    std::vector<datasets::SpectrumDataset> datasets;
    for (const auto& d : c.at("datasets"))
      datasets.push_back(io::read_ogip_dataset(data_dir + "/" + d.get<std::string>()));
    const auto models = models::read_models_yaml(repo_path(c.at("models").get<std::string>()));
    const auto& source = models::select_source(models, c.at("source").get<std::string>(), "");
    EstimatorOptions o;
    o.energy_edges = c.at("energy_edges_tev").get<std::vector<double>>();
    o.allow_multiple_telescopes = c.at("allow_multiple_telescopes").get<bool>();
    o.set_selection("all");
    LikelihoodBatch batch;
    const SourceProblems problems = append_source_problems(
        batch, datasets, models, static_cast<std::size_t>(&source - models.data()), o);
    const BatchResult r = backend->solve(batch, o.solve);
    int case_kinks = 0;
    for (std::size_t row = 0; row < problems.groups.size(); ++row) {
      const std::int64_t p = problems.groups[row].problem;
      if (!(r.notes[p] & m::note_kink) || !std::isfinite(r.norm_errn[p]) ||
          !std::isfinite(r.norm_errp[p]))
        continue;
      ++case_kinks;
      kink_error_between(r, p, name + " row " + std::to_string(row));
    }
    if (name == "spec93_hess23523_pl") {
      const auto kink_row = [&](std::size_t row) {
        return (r.notes[problems.groups.at(row).problem] & m::note_kink) != 0;
      };
      spec93_rows_4_5 = kink_row(4) && kink_row(5);
    }
    kinks += case_kinks;
  }
  EXPECT_TRUE(spec93_rows_4_5) << "rows 4-5 of case spec93_hess23523_pl (obs 23523) should be "
                                  "kink rows";
  EXPECT_GE(kinks, 10) << "the validation cases hold at least 10 kink rows";
}

}  // namespace
}  // namespace fluxpoints::testing
