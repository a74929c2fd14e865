// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Every validation case of data/golden/cases.json (made by tests/validation/, gammapy 2.1 on the
// joint-crab OGIP spectra) run through the library and compared column by column with gammapy's
// output, with the tolerances of issue 3. The rules are those of tests/validation/compare.py
// (see its README): cells outside tolerance, and NaN-vs-number cells, are printed with a reason;
// only cells without a reason fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/estimator.hpp"
#include "fluxpoints/io/ogip.hpp"

namespace fs = std::filesystem;
namespace fp = fluxpoints;
using nlohmann::json;

namespace {

const std::string kGoldenDir = "data/golden";
const std::string kDataDir = "../shared/data/joint-crab/spectra";

// --- tolerances (issue 3), and why ---------------------------------------------------------------
constexpr double kNormRelTol = 1e-3;  // issue 3
// gammapy's MIGRAD stops at EDM < 2e-4 (tol 0.1); EDM = 2 (d theta / sigma)^2, x2 for Minuit's
// approximate EDM: its norm is off by up to ~0.02 sigma, ~1e-2 relative in low-count groups.
constexpr double kMigradSigmaTol = 0.02;
constexpr double kErrRelTol = 1e-3;       // HESSE finite differences ~1e-4; Brent crossings ~1e-12
constexpr double kTsTol = 1e-3;           // absolute or relative: stat(theta_hat) carries the EDM
constexpr double kStatScanAbsTol = 1e-4;  // fixed norms, no optimizer; up to a per-row constant
constexpr double kNpredRelTol = 1e-6;     // model sums at the best-fit norm (+ the norm's offset)
constexpr double kNpredExcessRefRelTol = 1e-6;  // npred_excess / norm; float32 in gammapy (6e-8)
constexpr double kEnergyRelTol = 1e-9;          // same axis edges, unit-conversion rounding only
constexpr double kRefRelTol = 1e-6;             // analytic reference dnde / flux
constexpr double kRefEfluxRelTol = 1e-4;  // gammapy integrates E phi numerically for curved models
constexpr double kNormScanRelTol = 1e-12;
constexpr double kKinkNormSigma = 0.1;  // |norm| < 0.1 sigma: minimum on WStat's kink (spec 8.11)
constexpr double kSensitivityRelTol = 1e-2;  // gammapy's root finder: brentq rtol 0.01 (spec 3.6)
// Columns that depend on where the optimizer stopped: ill defined at a kink.
const std::set<std::string> kNormDependent = {"norm",         "norm_err", "norm_errn", "norm_errp",
                                              "ts",           "sqrt_ts",  "stat",      "npred",
                                              "npred_excess", "success",  "is_ul"};

using Rows = std::vector<std::vector<double>>;  // row -> cells (one for scalar columns)

double to_number(const json& v) {
  if (v.is_null()) return std::nan("");
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  return v.get<double>();
}

Rows golden_rows(const json& column) {
  Rows rows;
  for (const json& v : column) {
    std::vector<double> cells;
    if (v.is_array()) {
      for (const json& x : v) cells.push_back(to_number(x));
    } else {
      cells.push_back(to_number(v));
    }
    rows.push_back(cells);
  }
  return rows;
}

Rows our_rows(const fp::io::Column& c, std::size_t n_rows) {
  Rows rows(n_rows);
  for (std::size_t r = 0; r < n_rows; ++r)
    for (std::size_t j = 0; j < c.width; ++j) rows[r].push_back(c.at(r, j));
  return rows;
}

struct Listed {
  std::size_t row;
  std::string cell, what;
  double gammapy, ours;
  std::string reason;  // empty: unexplained
};

class CaseComparison {
 public:
  CaseComparison(const json& golden, const fp::io::FluxPointsTable& ours)
      : golden_(golden), ours_(ours) {
    for (auto it = golden.at("columns").begin(); it != golden.at("columns").end(); ++it)
      g_[it.key()] = golden_rows(it.value());
    for (const auto& c : ours.columns) o_[c.name] = our_rows(c, ours.n_rows);
    n_sigma_ = golden.at("options").at("n_sigma").get<double>();
    n_sigma_ul_ = golden.at("options").at("n_sigma_ul").get<double>();
    for (const json& v : golden.at("norm_unfiltered")) g_norm_unfiltered_.push_back(to_number(v));
    for (const json& v : golden.at("norm_err_unfiltered"))
      g_err_unfiltered_.push_back(to_number(v));
  }

  // Runs every check; returns the listed cells.
  std::vector<Listed> run() {
    std::vector<Listed> listed;
    const std::size_t n_rows = g_.at("e_min").size();
    EXPECT_EQ(ours_.n_rows, n_rows);
    if (ours_.n_rows != n_rows) return listed;
    EXPECT_EQ(ours_.sed_type, golden_.at("header").at("SED_TYPE").get<std::string>());
    EXPECT_DOUBLE_EQ(ours_.ul_conf(), golden_.at("header").at("UL_CONF").get<double>());
    for (const auto& name : golden_.at("column_order")) {
      const std::string column = name.get<std::string>();
      if (!o_.count(column)) {
        ADD_FAILURE() << "missing column " << column;
        continue;
      }
      for (std::size_t i = 0; i < n_rows; ++i) compare_row(column, i, listed);
    }
    return listed;
  }

 private:
  double g(const std::string& c, std::size_t i, std::size_t k = 0) const { return g_.at(c)[i][k]; }
  double o(const std::string& c, std::size_t i, std::size_t k = 0) const { return o_.at(c)[i][k]; }

  bool no_masked_bins(std::size_t i) const {
    const auto& counts = g_.at("counts")[i];
    const bool zero = std::all_of(counts.begin(), counts.end(), [](double c) { return c == 0; });
    return g("success", i) == 0 && zero && g("stat", i) == 0.0;
  }

  // gammapy's own (unfiltered) best fit decides whether a row is a kink, so a wrong norm on our
  // side can never excuse itself.
  bool kink(std::size_t i) const {
    const double n = g_norm_unfiltered_[i], e = g_err_unfiltered_[i];
    return std::isfinite(n) && std::isfinite(e) && std::abs(n) < kKinkNormSigma * e;
  }

  // Does gammapy's own scan rise by n^2 on that side of its best fit? -1: cannot tell.
  int scan_has_crossing(const std::string& column, std::size_t i) const {
    const double norm = g_norm_unfiltered_[i];
    if (!g_.count("stat_scan") || !std::isfinite(norm)) return -1;
    const double n = column == "norm_ul" ? n_sigma_ul_ : n_sigma_;
    const double target = g("stat", i) + n * n;
    const auto& scan = g_.at("stat_scan")[i];
    const auto& grid = g_.at("norm_scan")[i];
    for (std::size_t j = 0; j < scan.size(); ++j) {
      const bool side = column == "norm_errn" ? grid[j] < norm : grid[j] > norm;
      if (side && scan[j] >= target) return 1;
    }
    return 0;
  }

  std::string reason(const std::string& column, std::size_t i, bool nan_mismatch) const {
    if (no_masked_bins(i)) return "no masked bin in this group (spec 1.8b)";
    if (kink(i) && (kNormDependent.count(column) || column == "norm_ul"))
      return "kink: best fit at norm~0 (spec 8.11), optimizer end point ill defined";
    if (g("success", i) == 0 && kNormDependent.count(column))
      return "success False in gammapy (MIGRAD/HESSE invalid; norm filtered, spec 3.5)";
    if (nan_mismatch && (column == "norm_errn" || column == "norm_errp" || column == "norm_ul") &&
        scan_has_crossing(column, i) == 0)
      return "no crossing: gammapy's scan never rises by n^2 on that side (spec 3.3)";
    return "";
  }

  // Per-row constant between the two stats (-2 ln L up to data-only terms): median difference
  // of the scans.
  double stat_offset(std::size_t i) const {
    if (!g_.count("stat_scan") || !o_.count("stat_scan")) return 0.0;
    std::vector<double> d;
    for (std::size_t j = 0; j < g_.at("stat_scan")[i].size(); ++j) {
      const double x = o("stat_scan", i, j) - g("stat_scan", i, j);
      if (std::isfinite(x)) d.push_back(x);
    }
    if (d.empty()) return 0.0;
    std::sort(d.begin(), d.end());
    const std::size_t m = d.size() / 2;
    return d.size() % 2 ? d[m] : 0.5 * (d[m - 1] + d[m]);
  }

  // Deviation of one finite pair and whether it passes.
  std::pair<double, bool> check(const std::string& column, std::size_t i, std::size_t k, double gv,
                                double ov) const {
    const double diff = std::abs(ov - gv), scale = std::abs(gv);
    const double rel = scale > 0 ? diff / scale : (diff == 0 ? 0.0 : INFINITY);
    const double gn = g("norm", i), on = o("norm", i);
    const bool norms = std::isfinite(gn) && std::isfinite(on);
    if (column == "counts" || column == "success" || column == "is_ul") return {diff, diff == 0};
    if (column == "e_ref" || column == "e_min" || column == "e_max")
      return {rel, rel <= kEnergyRelTol};
    if (column == "ref_dnde" || column == "ref_flux") return {rel, rel <= kRefRelTol};
    if (column == "ref_eflux") return {rel, rel <= kRefEfluxRelTol};
    if (column == "norm_scan") return {rel, rel <= kNormScanRelTol};
    if (column == "norm_ul") return {rel, rel <= kErrRelTol};
    if (column == "norm_sensitivity") return {rel, rel <= kSensitivityRelTol};
    if (column == "norm") {
      const double sigma = g("norm_err", i);
      return {rel, rel <= kNormRelTol || (std::isfinite(sigma) && diff <= kMigradSigmaTol * sigma)};
    }
    if (column == "norm_err") {
      // sigma moves with the norm (for a pure-signal Poisson group sigma is proportional to it).
      const double shift = norms && gn != 0 ? std::abs(on - gn) / std::abs(gn) : 0.0;
      return {rel, rel <= kErrRelTol + shift};
    }
    if (column == "norm_errn" || column == "norm_errp") {
      if (rel <= kErrRelTol) return {rel, true};
      // Distances from the best fit, which MIGRAD finds only to its EDM: the crossing point
      // itself is what Brent solves.
      if (!norms) return {rel, false};
      const double sign = column == "norm_errn" ? -1.0 : 1.0;
      const double point = std::abs((on + sign * ov) - (gn + sign * gv)) / scale;
      return {point, point <= kErrRelTol};
    }
    if (column == "ts") return {std::min(diff, rel), std::min(diff, rel) <= kTsTol};
    if (column == "sqrt_ts") {
      const double dev = std::min(diff, rel);
      return {dev, dev <= kTsTol || std::max(std::abs(gv), std::abs(ov)) <= std::sqrt(kTsTol)};
    }
    if (column == "stat" || column == "stat_null" || column == "stat_scan") {
      const double d = std::abs(ov - stat_offset(i) - gv);
      if (column == "stat") {
        const double dev = std::min(d, scale > 0 ? d / scale : d);
        return {dev, dev <= kTsTol};
      }
      return {d, d <= kStatScanAbsTol};
    }
    if (column == "npred") {
      // npred follows the fitted norm: allow |d norm| x the reference npred of the dataset.
      const double excess = g("npred_excess", i, k);
      const double allowance = norms && gn != 0 ? std::abs(on - gn) * std::abs(excess / gn) : 0.0;
      return {scale > 0 ? diff / scale : diff, diff <= kNpredRelTol * scale + allowance};
    }
    if (column == "npred_excess") {
      if (norms && gn != 0 && on != 0) {
        const double a = gv / gn, b = ov / on;
        const double r = a != 0 ? std::abs(b - a) / std::abs(a) : std::abs(b - a);
        return {r, r <= kNpredExcessRefRelTol};
      }
      return {rel, rel <= kNormRelTol};
    }
    return {rel, rel <= kErrRelTol};
  }

  void compare_row(const std::string& column, std::size_t i, std::vector<Listed>& listed) const {
    const auto& gc = g_.at(column)[i];
    const auto& oc = o_.at(column)[i];
    if (gc.size() != oc.size()) {
      listed.push_back({i, column, "shape", double(gc.size()), double(oc.size()), ""});
      return;
    }
    for (std::size_t k = 0; k < gc.size(); ++k) {
      const std::string label =
          gc.size() > 1 || column == "npred" || column == "counts" || column == "npred_excess"
              ? column + "[" + std::to_string(k) + "]"
              : column;
      const bool gnan = !std::isfinite(gc[k]), onan = !std::isfinite(oc[k]);
      if (gnan && onan) continue;
      if (gnan != onan) {
        listed.push_back({i, label, "NaN", gc[k], oc[k], reason(column, i, true)});
        continue;
      }
      const auto [dev, passed] = check(column, i, k, gc[k], oc[k]);
      if (!passed)
        listed.push_back(
            {i, label, "dev " + std::to_string(dev), gc[k], oc[k], reason(column, i, false)});
    }
  }

  const json& golden_;
  const fp::io::FluxPointsTable& ours_;
  std::map<std::string, Rows> g_, o_;
  double n_sigma_ = 1, n_sigma_ul_ = 2;
  std::vector<double> g_norm_unfiltered_, g_err_unfiltered_;
};

json load_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

}  // namespace

TEST(GoldenGammapy, AllValidationCases) {
  const std::string cases_path = kGoldenDir + "/cases.json";
  if (!fs::exists(cases_path)) GTEST_SKIP() << "missing " << cases_path;
  if (!fs::exists(kDataDir)) GTEST_SKIP() << "missing " << kDataDir;
  const json cases = load_json(cases_path);
  const json& common = cases.at("options");
  const auto backend = fp::make_backend("cpu");
  int unexplained = 0, compared = 0;
  for (const json& c : cases.at("cases")) {
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE("case " + name);
    const std::string golden_path = kGoldenDir + "/" + name + ".json";
    if (!fs::exists(golden_path)) {
      ADD_FAILURE() << "missing " << golden_path;
      continue;
    }
    std::vector<fp::datasets::SpectrumDataset> datasets;
    for (const json& d : c.at("datasets"))
      datasets.push_back(fp::io::read_ogip_dataset(kDataDir + "/" + d.get<std::string>()));
    const auto models = fp::models::read_models_yaml(c.at("models").get<std::string>());
    const auto& source = fp::models::select_source(models, c.at("source").get<std::string>(),
                                                   c.at("models").get<std::string>());
    fp::EstimatorOptions o;
    o.energy_edges = c.at("energy_edges_tev").get<std::vector<double>>();
    o.allow_multiple_telescopes = c.at("allow_multiple_telescopes").get<bool>();
    o.sum_over_energy_groups = common.at("sum_over_energy_groups").get<bool>();
    o.set_selection(common.at("selection_optional").get<std::string>());
    o.solve.n_sigma = common.at("n_sigma").get<double>();
    o.solve.n_sigma_ul = common.at("n_sigma_ul").get<double>();
    fp::LikelihoodBatch batch;
    const auto problems = fp::append_source_problems(
        batch, datasets, models, static_cast<std::size_t>(&source - models.data()), o);
    const auto table = fp::make_flux_points(backend->solve(batch, o.solve), problems, o, "TeV");

    const json golden = load_json(golden_path);
    const std::vector<Listed> listed = CaseComparison(golden, table).run();
    ++compared;
    for (const Listed& l : listed) {
      std::cout << "  " << (l.reason.empty() ? "FAIL" : "ok  ") << " " << name << " row " << l.row
                << " " << l.cell << " " << l.what << " gammapy " << l.gammapy << " fluxpoints "
                << l.ours << "  " << (l.reason.empty() ? "UNEXPLAINED" : l.reason) << "\n";
      if (l.reason.empty()) {
        ++unexplained;
        ADD_FAILURE() << name << " row " << l.row << " " << l.cell << ": " << l.what << ", gammapy "
                      << l.gammapy << ", fluxpoints " << l.ours;
      }
    }
  }
  EXPECT_GT(compared, 0);
  EXPECT_EQ(unexplained, 0);
  std::cout << "  compared " << compared << " cases\n";
}
