// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The library against gammapy 2.1, case by case, column by column, with the tolerances and rules
// of tests/validation/compare.py (see its README):
//  * GoldenGammapy: every case of data/golden/cases.json (gammapy run on the joint-crab spectra
//    of ../shared/data, results committed);
//  * GammapyLive: the Cash case of tests/validation/simulated.py, on spectra `fluxpoints
//    simulate` writes, with gammapy run live (`fluxpoints estimate` reads OGIP only, and OGIP
//    cannot express a Cash dataset for gammapy, so compare.py cannot run this one).
// stat, stat_null and stat_scan are compared as they are (both tools compute the same -2 ln L).
// Cells outside tolerance, and NaN-vs-number cells, fail unless tests/validation/
// excused_cells.json lists them with a reason; a listed cell that agrees fails too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/estimator/estimator.hpp"
#include "fluxpoints/io/dataset_io.hpp"
#include "scratch_files.hpp"
#include "test_environment.hpp"

namespace fs = std::filesystem;
namespace fp = fluxpoints;
using nlohmann::json;

namespace {

using fluxpoints::testing::repo_path;

const std::string kGoldenDir = repo_path("data/golden");
const std::string kDataDir = fluxpoints::testing::shared_data_path("joint-crab/spectra");
const std::string kExcusedCells = repo_path("tests/validation/excused_cells.json");

// --- tolerances (issue 3), and why ---------------------------------------------------------------
constexpr double kNormRelTol = 1e-3;  // issue 3
// gammapy's MIGRAD stops at EDM < 2e-4 (tol 0.1); EDM = 2 (d theta / sigma)^2, x2 for Minuit's
// approximate EDM: its norm is off by up to ~0.02 sigma, ~1e-2 relative in low-count groups.
constexpr double kMigradSigmaTol = 0.02;
constexpr double kErrRelTol = 1e-3;  // HESSE finite differences ~1e-4; Brent crossings ~1e-12
constexpr double kTsTol = 1e-3;      // absolute or relative: stat(theta_hat) carries the EDM
// stat at the best fit, as it is: MIGRAD stops up to its EDM (2e-4, x2 for Minuit's estimate)
// above the minimum.
constexpr double kStatAbsTol = 1e-3;
constexpr double kStatScanAbsTol = 1e-4;  // stat_null and the scan: fixed norms, no optimizer
constexpr double kNpredRelTol = 1e-6;     // model sums at the best-fit norm (+ the norm's offset)
constexpr double kNpredExcessRefRelTol = 1e-6;  // npred_excess / norm; float32 in gammapy (6e-8)
constexpr double kEnergyRelTol = 1e-9;          // same axis edges, unit-conversion rounding only
constexpr double kRefRelTol = 1e-6;             // analytic reference dnde / flux
constexpr double kRefEfluxRelTol = 1e-4;  // gammapy integrates E phi numerically for curved models
constexpr double kNormScanRelTol = 1e-12;
constexpr double kSensitivityRelTol = 1e-2;  // gammapy's root finder: brentq rtol 0.01

using Rows = std::vector<std::vector<double>>;  // row -> cells (one for scalar columns)
// (row, cell label) -> reason; labels are the column name, with [k] for vector columns.
using Excused = std::map<std::pair<std::size_t, std::string>, std::string>;

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
  std::string reason;  // empty: not in excused_cells.json
  bool agrees;         // listed although within tolerance: the excuse is stale
};

json load_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  return json::parse(in);
}

// The excused cells of one case from excused_cells.json.
Excused load_excused(const std::string& case_name) {
  Excused excused;
  const json all = load_json(kExcusedCells).at("cases");
  if (!all.contains(case_name)) return excused;
  for (const json& entry : all.at(case_name)) {
    const std::string reason = entry.at("reason").get<std::string>();
    EXPECT_FALSE(reason.empty()) << kExcusedCells << ": " << case_name << ": empty reason";
    for (const json& cell : entry.at("cells"))
      excused[{entry.at("row").get<std::size_t>(), cell.get<std::string>()}] = reason;
  }
  return excused;
}

class CaseComparison {
 public:
  CaseComparison(const json& golden, const fp::io::FluxPointsTable& ours, Excused excused)
      : golden_(golden), ours_(ours), excused_(std::move(excused)) {
    for (auto it = golden.at("columns").begin(); it != golden.at("columns").end(); ++it) {
      g_[it.key()] = golden_rows(it.value());
      if (!it.value().empty() && it.value().front().is_array()) vector_columns_.insert(it.key());
    }
    for (const auto& c : ours.columns) o_[c.name] = our_rows(c, ours.n_rows);
  }

  // Runs every check; returns the listed cells. Excused cells that name no cell of this case
  // are reported as failures.
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
    for (const auto& [cell, reason] : excused_) {
      if (!used_.count(cell)) {
        ADD_FAILURE() << "excused_cells.json names row " << cell.first << " " << cell.second
                      << ", which this case does not have";
      }
    }
    return listed;
  }

 private:
  double g(const std::string& c, std::size_t i, std::size_t k = 0) const { return g_.at(c)[i][k]; }
  double o(const std::string& c, std::size_t i, std::size_t k = 0) const { return o_.at(c)[i][k]; }

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
    if (column == "stat") return {diff, diff <= kStatAbsTol};
    if (column == "stat_null" || column == "stat_scan") return {diff, diff <= kStatScanAbsTol};
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

  void compare_row(const std::string& column, std::size_t i, std::vector<Listed>& listed) {
    const auto& gc = g_.at(column)[i];
    const auto& oc = o_.at(column)[i];
    if (gc.size() != oc.size()) {
      listed.push_back({i, column, "shape", double(gc.size()), double(oc.size()), "", false});
      return;
    }
    for (std::size_t k = 0; k < gc.size(); ++k) {
      const std::string label =
          vector_columns_.count(column) ? column + "[" + std::to_string(k) + "]" : column;
      const auto excuse = excused_.find({i, label});
      const std::string reason = excuse == excused_.end() ? "" : excuse->second;
      if (!reason.empty()) used_.insert({i, label});
      const bool gnan = !std::isfinite(gc[k]), onan = !std::isfinite(oc[k]);
      bool passed = gnan && onan;
      std::string what = "NaN";
      if (!gnan && !onan) {
        const auto [dev, ok] = check(column, i, k, gc[k], oc[k]);
        passed = ok;
        what = "dev " + std::to_string(dev);
      }
      if (!passed || !reason.empty())
        listed.push_back({i, label, what, gc[k], oc[k], reason, passed});
    }
  }

  const json& golden_;
  const fp::io::FluxPointsTable& ours_;
  const Excused excused_;
  std::set<std::pair<std::size_t, std::string>> used_;
  std::map<std::string, Rows> g_, o_;
  std::set<std::string> vector_columns_;
};

// Runs the library on every case of `cases_path` (datasets relative to `data_dir`, OGIP or
// gammapy's gadf files) and compares it with gammapy's <case>.json in `gammapy_dir`. Returns the
// number of cases compared.
int compare_cases(const std::string& cases_path, const std::string& data_dir,
                  const std::string& gammapy_dir) {
  const json cases = load_json(cases_path);
  const auto backend = fp::make_backend("cpu");
  int compared = 0;
  for (const json& c : cases.at("cases")) {
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE("case " + name);
    json common = cases.at("options");
    if (c.contains("options")) common.update(c.at("options"));  // the case's own options win
    const std::string golden_path = gammapy_dir + "/" + name + ".json";
    if (!fs::exists(golden_path)) {
      ADD_FAILURE() << "missing " << golden_path;
      continue;
    }
    std::vector<fp::datasets::SpectrumDataset> datasets;
    for (const json& d : c.at("datasets"))
      datasets.push_back(fp::io::read_spectrum_dataset(data_dir + "/" + d.get<std::string>()));
    const std::string models_path = repo_path(c.at("models").get<std::string>());  // or absolute
    const auto models = fp::models::read_models_yaml(models_path);
    const auto& source =
        fp::models::select_source(models, c.at("source").get<std::string>(), models_path);
    fp::EstimatorOptions o;
    o.energy_edges = c.at("energy_edges_tev").get<std::vector<double>>();
    o.allow_multiple_telescopes = c.at("allow_multiple_telescopes").get<bool>();
    o.sum_over_energy_groups = common.at("sum_over_energy_groups").get<bool>();
    const json& selection = common.at("selection_optional");
    std::string selection_list;  // gammapy's "all" or list -> our comma list
    if (selection.is_string()) {
      selection_list = selection.get<std::string>();
    } else {
      for (const json& s : selection)
        selection_list += (selection_list.empty() ? "" : ",") + s.get<std::string>();
    }
    o.set_selection(selection_list);
    o.solve.n_sigma = common.at("n_sigma").get<double>();
    o.solve.n_sigma_ul = common.at("n_sigma_ul").get<double>();
    fp::LikelihoodBatch batch;
    const auto problems = fp::append_source_problems(
        batch, datasets, models, static_cast<std::size_t>(&source - models.data()), o);
    const auto table = fp::make_flux_points(backend->solve(batch, o.solve), problems, o, "TeV");

    const json golden = load_json(golden_path);
    const std::vector<Listed> listed = CaseComparison(golden, table, load_excused(name)).run();
    ++compared;
    for (const Listed& l : listed) {
      const bool excused = !l.reason.empty() && !l.agrees;
      std::cout << "  " << (excused ? "ok  " : "FAIL") << " " << name << " row " << l.row << " "
                << l.cell << " " << l.what << " gammapy " << l.gammapy << " fluxpoints " << l.ours
                << "  "
                << (l.reason.empty() ? "UNEXPLAINED (not in excused_cells.json)"
                    : l.agrees       ? "excused in excused_cells.json but agrees: remove the entry"
                                     : l.reason)
                << "\n";
      if (!excused) {
        ADD_FAILURE() << name << " row " << l.row << " " << l.cell << ": " << l.what << ", gammapy "
                      << l.gammapy << ", fluxpoints " << l.ours
                      << (l.agrees ? " (agrees, but excused_cells.json excuses it)" : "");
      }
    }
  }
  return compared;
}

}  // namespace

TEST(GoldenGammapy, AllValidationCases) {
  FLUXPOINTS_NEEDS_SHARED_DATA(kDataDir);
  const int compared = compare_cases(kGoldenDir + "/cases.json", kDataDir, kGoldenDir);
  EXPECT_EQ(compared, 13);
}

TEST(GammapyLive, SimulatedCashCase) {
  std::string python;
  FLUXPOINTS_NEEDS_GAMMAPY(python);
  const fluxpoints::testing::TempDir dir;
  const std::string out = dir.file("sim");
  const std::string command = python + " " + repo_path("tests/validation/simulated.py") + " " +
                              FLUXPOINTS_BINARY + " --out-dir " + out +
                              " --only sim_cash_pl_2obs > " + dir.file("gammapy.log") + " 2>&1";
  if (std::system(command.c_str()) != 0) {
    std::ifstream log(dir.file("gammapy.log"));
    FAIL() << command << " failed:\n" << std::string(std::istreambuf_iterator<char>(log), {});
  }
  EXPECT_EQ(compare_cases(out + "/cases.json", out, out + "/gammapy"), 1);
}
