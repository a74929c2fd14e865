// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The `fluxpoints estimate` and `show` commands, run as a program: outputs, config file, and
// bad input (clear message, non-zero exit, no output file left behind).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fluxpoints/io/flux_points.hpp"
#include "scratch_files.hpp"
#include "test_io_helpers.hpp"
#include "test_environment.hpp"

namespace fs = std::filesystem;

namespace {

using fluxpoints::testing::repo_path;
using fluxpoints::testing::shared_data_path;

const std::string kHess = shared_data_path("joint-crab/spectra/hess/pha_obs23523.fits");
const std::string kModels = repo_path("data/golden/models/crab_spec93_pl.yaml");
const std::string kCrabFp = shared_data_path("estimators/crab_hess_fp/crab_hess_fp.fits");

using fluxpoints::testing::CliRun;
using fluxpoints::testing::slurp;

fs::path work_dir() { return fluxpoints::testing::test_scratch_dir("cli_estimate"); }

CliRun run(const std::string& args) { return fluxpoints::testing::run_cli(args, work_dir()); }

std::string estimate_args(const std::string& extra) {
  return "estimate --datasets " + kHess + " --models " + kModels + " --source crab --backend cpu " +
         extra;
}

}  // namespace

TEST(CliEstimate, WritesFitsAndEcsvAndPrintsTheTable) {
  FLUXPOINTS_NEEDS_SHARED_DATA(kHess);
  const fs::path fits = work_dir() / "hess.fits", ecsv = work_dir() / "hess.ecsv";
  fs::remove(fits);
  const CliRun r = run(estimate_args("--energy-edges 1,3,10 --selection all -o " + fits.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("backend cpu"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("norm_ul"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("keV"), std::string::npos) << r.out;  // OGIP energies stay in keV
  EXPECT_NE(r.err.find("solving 2 problems"), std::string::npos) << r.err;
  const fluxpoints::io::FluxPointsTable t = fluxpoints::io::read_flux_points_fits(fits.string());
  EXPECT_EQ(t.n_rows, 2u);
  EXPECT_EQ(t.sed_type, "likelihood");
  EXPECT_EQ(t.column("counts").at(0), 73.0);  // gammapy: obs 23523, [1, 3] TeV group

  // --sed-type dnde, TeV energies, ECSV.
  const CliRun e = run(
      estimate_args("--energy-edges 1,3,10 --energy-unit TeV --sed-type dnde -o " + ecsv.string()));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const std::string text = slurp(ecsv);
  EXPECT_NE(text.find("{SED_TYPE: dnde}"), std::string::npos);
  EXPECT_NE(text.find("{name: dnde, unit: 'TeV-1 s-1 cm-2', datatype: float64}"),
            std::string::npos);
  EXPECT_NE(text.find("{name: e_min, unit: 'TeV', datatype: float64}"), std::string::npos);
  EXPECT_EQ(text.find("norm_ul"), std::string::npos);  // no selection: no ul column
}

TEST(CliEstimate, ConfigFileAndCommandLineOverride) {
  FLUXPOINTS_NEEDS_SHARED_DATA(kHess);
  const fs::path config = work_dir() / "estimator.yaml", out = work_dir() / "config.fits";
  std::ofstream(config) << "energy_edges: [\"1 TeV\", \"3 TeV\", \"10 TeV\", \"30 TeV\"]\n"
                           "selection_optional: [ul, scan]\n"
                           "n_sigma_ul: 3\n"
                           "norm: {scan_min: 0.5, scan_max: 2, scan_n_values: 5}\n";
  const CliRun r = run(
      estimate_args("--config " + config.string() + " --energy-edges 1,3,10 -o " + out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fluxpoints::io::FluxPointsTable t = fluxpoints::io::read_flux_points_fits(out.string());
  EXPECT_EQ(t.n_rows, 2u);  // the command line's edges win
  EXPECT_DOUBLE_EQ(t.n_sigma_ul, 3.0);
  EXPECT_EQ(t.column("norm_scan").width, 5u);
  EXPECT_DOUBLE_EQ(t.column("norm_scan").at(0, 0), 0.5);
  EXPECT_TRUE(t.has("norm_ul"));
  EXPECT_FALSE(t.has("norm_errn"));

  std::ofstream(config) << "energy_edges: [1, 3]\nn_sigmaa: 2\n";
  const CliRun bad = run(estimate_args("--config " + config.string()));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("n_sigmaa: unknown option"), std::string::npos) << bad.err;
}

TEST(CliEstimate, BadInputFailsCleanly) {
  const fs::path out = work_dir() / "never.fits";
  fs::remove(out);
  const auto expect_error = [&](const std::string& args, const std::string& message) {
    const CliRun r = run(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << "\nstderr: " << r.err;
    EXPECT_FALSE(fs::exists(out)) << args;
  };
  // A missing dataset file.
  expect_error("estimate --datasets /nonexistent/pha.fits --models " + kModels +
                   " --energy-edges 1,10 -o " + out.string(),
               "file not found: /nonexistent/pha.fits");
  // Malformed edges and unknown SED type are caught before any file is read.
  expect_error("estimate --datasets x.fits --models y.yaml --energy-edges 10,1 -o " + out.string(),
               "energy_edges: must increase");
  expect_error("estimate --datasets x.fits --models y.yaml --sed-type counts -o " + out.string(),
               "unknown SED type 'counts'");
  FLUXPOINTS_NEEDS_SHARED_DATA(kHess);
  // An unknown source name.
  expect_error("estimate --datasets " + kHess + " --models " + kModels +
                   " --source vela --energy-edges 1,10 -o " + out.string(),
               "vela");
  // Energy edges outside every dataset (HESS covers 0.01-100 TeV).
  expect_error(estimate_args("--energy-edges 200,300,400 -o " + out.string()),
               "outside every dataset");
  // An output name with an unknown extension.
  expect_error(estimate_args("--energy-edges 1,10 -o " + (work_dir() / "out.txt").string()),
               "unknown output format");
  // An output folder that does not exist.
  expect_error(estimate_args("--energy-edges 1,10 -o /nonexistent/dir/out.fits"), "does not exist");
}

TEST(CliShow, PrintsGammapyFile) {
  FLUXPOINTS_NEEDS_SHARED_DATA(kCrabFp);
  const CliRun r = run("show " + kCrabFp);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("SED_TYPE = likelihood"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("UL_CONF = 0.9973002"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("5 rows, 22 columns"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("TeV s-1 cm-2"), std::string::npos) << r.out;

  const CliRun missing = run("show /nonexistent/fp.fits");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("/nonexistent/fp.fits"), std::string::npos) << missing.err;
}
