// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Bad input gets a message that says what really happened (naming the file, field, value,
// dataset, group or parameter), and sizes from input are bounded before anything is allocated:
// model files, estimator options, the likelihood batch, the `estimate` and `show` commands.
#include <fitsio.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/estimator/config.hpp"
#include "fluxpoints/estimator/estimator.hpp"
#include "fluxpoints/io/flux_points.hpp"
#include "fluxpoints/io/ogip.hpp"
#include "fluxpoints/limits.hpp"
#include "fluxpoints/models/spectral_models.hpp"
#include "scratch_files.hpp"
#include "test_io_helpers.hpp"

namespace fluxpoints::testing {
namespace {

namespace fs = std::filesystem;
namespace m = fluxpoints::math;

fs::path scratch(const std::string& name) {
  return ::fluxpoints::testing::scratch_path("input_messages", name);
}

void expect_contains(const std::string& text, const std::vector<std::string>& parts) {
  for (const auto& p : parts) EXPECT_NE(text.find(p), std::string::npos) << "'" << p << "' in: " << text;
}

const char* kTwoModels = R"(components:
- name: crab
  type: SkyModel
  spectral:
    type: PowerLawSpectralModel
    parameters:
    - {name: index, value: 2.5}
    - {name: amplitude, value: 1.0e-11, unit: cm-2 s-1 TeV-1}
    - {name: reference, value: 1.0, unit: TeV}
- name: NAME2
  type: SkyModel
  DATASETS
  spectral:
    type: PowerLawSpectralModel
    parameters:
    - {name: index, value: INDEX2}
    - {name: amplitude, value: 1.0e-12, unit: cm-2 s-1 TeV-1}
    - {name: reference, value: 1.0, unit: TeV}
)";

std::string models_yaml(const std::string& file, const std::string& name2, const std::string& index2,
                        const std::string& datasets = "") {
  std::string s = kTwoModels;
  s.replace(s.find("NAME2"), 5, name2);
  s.replace(s.find("INDEX2"), 6, index2);
  s.replace(s.find("DATASETS"), 8, datasets);
  const std::string path = scratch(file).string();
  std::ofstream(path) << s;
  return path;
}

// 6 reco bins over 0.1-100 TeV (identity dispersion), On/Off with alpha 0.2.
datasets::SpectrumDataset small_dataset(const std::string& name) {
  datasets::SpectrumDataset d;
  d.name = name;
  d.on_off = true;
  d.energy_unit = "TeV";
  d.livetime_s = 1800;
  for (int k = 0; k <= 6; ++k) d.reco_edges.push_back(0.1 * std::pow(1000.0, k / 6.0));
  d.true_edges = d.reco_edges;
  d.counts = {3, 12, 30, 7, 2, 1};
  d.counts_off = {5, 40, 60, 20, 0, 3};
  d.acceptance.assign(6, 1.0);
  d.acceptance_off.assign(6, 5.0);
  d.set_alpha_from_acceptances();
  for (int j = 0; j < 6; ++j) d.exposure.push_back(1e9 * d.livetime_s);
  d.edisp.assign(36, 0.0);
  for (int j = 0; j < 6; ++j) d.edisp[j * 6 + j] = 1.0;
  return d;
}

// ---- model files ------------------------------------------------------------------------------

TEST(InputMessages, DuplicateModelNamesAreRefused) {
  // Two components named 'crab': the second silently became the first's background before.
  const std::string path = models_yaml("dup.yaml", "crab", "2.0");
  expect_contains(message_of([&] { models::read_models_yaml(path); }),
                  {"dup.yaml", "names must be unique", "'crab'", "components 0 and 1"});
  const std::string ok = models_yaml("nodup.yaml", "vela", "2.0");
  EXPECT_EQ(models::read_models_yaml(ok).size(), 2u);
}

TEST(InputMessages, NanParameterIsNamed) {
  // It used to surface as "npred_ref (source counts at norm 1) is not finite".
  const auto ds = std::vector<datasets::SpectrumDataset>{small_dataset("obs1")};
  EstimatorOptions o;
  o.energy_edges = {0.3, 3.0};
  for (const char* source : {"vela", "crab"}) {  // the source itself, or another model
    const auto models = models::read_models_yaml(models_yaml("nan.yaml", "vela", ".nan"));
    LikelihoodBatch b;
    const std::size_t index = std::string(source) == "vela" ? 1 : 0;
    expect_contains(message_of([&] { append_source_problems(b, ds, models, index, o); }),
                    {"model 'vela'", "parameter 'index' is nan"});
  }
}

TEST(InputMessages, DatasetsNamesMatchingNoDatasetIsAnError) {
  // It used to give a plateau ("all counts 0 with Cash") in every group.
  const auto ds = std::vector<datasets::SpectrumDataset>{small_dataset("obs1")};
  const auto models = models::read_models_yaml(
      models_yaml("dsnames.yaml", "vela", "2.0", "datasets_names: [obs7, obs8]"));
  EstimatorOptions o;
  o.energy_edges = {0.3, 3.0};
  LikelihoodBatch b;
  expect_contains(message_of([&] { append_source_problems(b, ds, models, 1, o); }),
                  {"model 'vela'", "'obs7', 'obs8'", "name none of the datasets ('obs1')"});
  // The other model, which applies to every dataset, is fine.
  EXPECT_NO_THROW(append_source_problems(b, ds, models, 0, o));
}

// ---- plateaus say why -------------------------------------------------------------------------

TEST(InputMessages, PlateauSaysWhy) {
  LikelihoodBatch b;
  b.begin_problem("alpha 0");  // BACKSCAL = 0 makes alpha 0 (or inf -> 0)
  b.begin_dataset(StatKind::wstat);
  b.add_wstat_bin(5, 10, 0.0, 2.0);
  b.add_wstat_bin(3, 12, 0.0, 1.0);
  b.begin_problem("no source counts");
  b.begin_dataset(StatKind::wstat);
  b.add_wstat_bin(5, 10, 0.2, 0.0);
  b.begin_problem("Cash, all counts 0");
  b.begin_dataset(StatKind::cash);
  b.add_cash_bin(0, 1.0, 2.0);
  const auto backend = make_backend("cpu");
  SolveOptions o;
  const BatchResult r = backend->solve(b, o);
  const char* why[] = {"alpha = 0 in every On/Off bin", "the source predicts no counts",
                       "every count is 0 (Cash)"};
  for (std::int64_t p = 0; p < 3; ++p) {
    EXPECT_EQ(r.status[p], SolveStatus::flat_minimum) << b.label(p);
    const std::string text = explain(b, r, p);
    expect_contains(text, {"plateau", why[p]});
    EXPECT_EQ(text.find("e.g. all counts 0 with Cash"), std::string::npos) << text;
  }
}

// ---- engine limits ----------------------------------------------------------------------------

TEST(InputMessages, CountsThatOverflowTheStatistic) {
  // Counts >= 1e160 gave success with npred = DBL_MAX: refused, naming the bin and the limit.
  LikelihoodBatch b;
  b.begin_problem("huge");
  b.begin_dataset(StatKind::cash);
  b.add_cash_bin(1e160, 1e160, 5e159);
  expect_contains(message_of([&] { b.validate(); }),
                  {"problem 0 (huge), dataset 0, bin 0", "counts = 1e+160", "exceeds 1e+100"});
  // The solver itself, given such a problem anyway, reports non_finite instead of a success.
  const m::ProblemSolution s = m::solve_profile(b.view(0), SolveOptions{}.settings());
  EXPECT_EQ(s.status, SolveStatus::non_finite);
  // Just below the limit is accepted and solved.
  LikelihoodBatch ok;
  ok.begin_problem("large");
  ok.begin_dataset(StatKind::cash);
  ok.add_cash_bin(limits::kMaxCounts, limits::kMaxCounts, 0.5 * limits::kMaxCounts);
  EXPECT_NO_THROW(ok.validate());
  EXPECT_EQ(m::solve_profile(ok.view(0), SolveOptions{}.settings()).status, SolveStatus::ok);
}

TEST(InputMessages, ScanAndGroupSizesAreBounded) {
  SolveOptions s;
  s.scan_n_values = 1000000000;
  expect_contains(message_of([&] { s.validate(); }), {"scan_n_values = 1000000000", "10000"});
  s.scan_n_values = 11;
  s.scan_values.assign(limits::kMaxScanValues + 1, 1.0);
  expect_contains(message_of([&] { s.validate(); }), {"10001 values exceed the maximum of 10000"});

  const std::string cfg = scratch("scan.yaml").string();
  std::ofstream(cfg) << "norm: {scan_n_values: 1e9}\n";
  EstimatorOptions o;
  std::string source;
  expect_contains(message_of([&] { apply_estimator_config(cfg, o, source); }),
                  {"scan.yaml", "norm.scan_n_values", "1e9", "10000"});
  std::ofstream(cfg) << "energy_edges: {min: 1 TeV, max: 10 TeV, nbins: 1000000000}\n";
  expect_contains(message_of([&] { apply_estimator_config(cfg, o, source); }),
                  {"scan.yaml", "energy_edges.nbins", "1000000000"});
  o.energy_edges.assign(limits::kMaxEnergyGroups + 2, 1.0);
  for (std::size_t k = 0; k < o.energy_edges.size(); ++k) o.energy_edges[k] = 1.0 + k;
  expect_contains(message_of([&] { o.validate(); }), {"10001 energy groups exceed"});
}

// ---- the estimate and show commands -----------------------------------------------------------

CliRun run(const std::string& args) { return run_cli(args, scratch_path("input_messages")); }

// An OGIP On/Off dataset and a model file for the command.
struct Files {
  std::string pha, models;
};
Files write_files(const std::string& stem) {
  Files f;
  f.pha = scratch(stem + ".fits").string();
  io::write_ogip_dataset(small_dataset(stem), f.pha);
  f.models = models_yaml(stem + "_models.yaml", "vela", "2.0");
  return f;
}

TEST(InputMessagesCli, FolderIsNotReportedAsMissing) {
  const Files f = write_files("folder");
  const std::string folder = scratch("a_folder").string();
  fs::create_directories(folder);
  for (const std::string& args :
       {"estimate --datasets " + folder + " --models " + f.models,
        "estimate --datasets " + f.pha + " --models " + folder}) {
    const CliRun r = run(args);
    EXPECT_NE(r.exit_code, 0);
    expect_contains(r.err, {folder, "is a folder"});
    EXPECT_EQ(r.err.find("not found"), std::string::npos) << r.err;
  }
  expect_contains(message_of([&] { io::read_ogip_dataset(folder); }), {folder, "is a folder"});
  expect_contains(message_of([&] { models::read_models_yaml(folder); }), {folder, "is a folder"});
}

TEST(InputMessagesCli, GroupNarrowerThanOneBin) {
  // 1.01-1.02 TeV lies inside the axis but inside one reco bin (1-3.16 TeV): it was reported as
  // "outside every dataset".
  const Files f = write_files("narrow");
  const CliRun r = run("estimate --datasets " + f.pha + " --models " + f.models +
                       " --source crab --backend cpu --energy-edges 1.01,1.02");
  EXPECT_NE(r.exit_code, 0);
  expect_contains(r.err, {"1.01, 1.02", "narrower than one reco bin", "'narrow'"});
  EXPECT_EQ(r.err.find("outside every dataset"), std::string::npos) << r.err;
  // Edges really outside still say so.
  const CliRun out = run("estimate --datasets " + f.pha + " --models " + f.models +
                         " --source crab --backend cpu --energy-edges 200,300");
  EXPECT_NE(out.exit_code, 0);
  expect_contains(out.err, {"outside every dataset"});
}

TEST(InputMessagesCli, BackscalZeroSaysAlphaIsZero) {
  const Files f = write_files("backscal");
  fitsfile* fits = nullptr;
  int status = 0;
  const std::string bkg = scratch("backscal_bkg.fits").string();
  fits_open_diskfile(&fits, bkg.c_str(), READWRITE, &status);
  fits_movnam_hdu(fits, BINARY_TBL, const_cast<char*>("SPECTRUM"), 0, &status);
  double zeros[6] = {0, 0, 0, 0, 0, 0};
  int col = 0;
  fits_get_colnum(fits, CASEINSEN, const_cast<char*>("BACKSCAL"), &col, &status);
  fits_write_col(fits, TDOUBLE, col, 1, 1, 6, zeros, &status);
  fits_close_file(fits, &status);
  ASSERT_EQ(status, 0);
  const CliRun r = run("estimate --datasets " + f.pha + " --models " + f.models +
                       " --source crab --backend cpu --energy-edges 0.3,3");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_contains(r.err, {"success False", "alpha = 0", "BACKSCAL"});
}

TEST(InputMessagesCli, ScanPointsBoundedOnTheCommandLine) {
  const Files f = write_files("scan");
  const CliRun r = run("estimate --datasets " + f.pha + " --models " + f.models +
                       " --source crab --selection scan --norm-n-values 1000000000");
  EXPECT_NE(r.exit_code, 0);
  expect_contains(r.err, {"--norm-n-values", "1000000000", "10000"});
}

TEST(InputMessagesCli, ShowPrintsVectorCellsInFull) {
  // A 4-dataset table: counts used to print as "[0 .. 0]" with the middle values hidden.
  io::FluxPointsTable t;
  t.sed_type = "likelihood";
  t.n_rows = 1;
  io::Column e;
  e.name = "e_ref";
  e.unit = "TeV";
  e.data = {1.0};
  t.add(e);
  io::Column counts;
  counts.name = "counts";
  counts.is_vector = true;
  counts.width = 4;
  counts.data = {0, 17, 25, 0};
  t.add(counts);
  const std::string text = io::format_flux_points(t);
  expect_contains(text, {"[0, 17, 25, 0]"});
  expect_contains(io::format_flux_points(t, 2), {"[0, 17, ... 2 more of 4]"});
  const std::string path = scratch("vectors.fits").string();
  fs::remove(path);
  io::write_flux_points_fits(t, path);
  const CliRun r = run("show " + path);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_contains(r.out, {"[0, 17, 25, 0]"});
  const CliRun r2 = run("show --max-vector-values 1 " + path);
  expect_contains(r2.out, {"[0, ... 3 more of 4]"});
}

}  // namespace
}  // namespace fluxpoints::testing
