// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Catalogs from real OGIP data (H.E.S.S. Crab runs of joint-crab): `fluxpoints convert` and the
// gammapy converter (tools/gammapy_to_catalog.py) store the same datasets, and `batch` on the
// catalog gives what the one-source estimator gives on the OGIP files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/catalog/batch_run.hpp"
#include "fluxpoints/catalog/catalog.hpp"
#include "fluxpoints/io/ogip.hpp"
#include "fluxpoints/models/spectral_model.hpp"
#include "host/io/hdf5_table.hpp"
#include "scratch_files.hpp"
#include "test_environment.hpp"

namespace fluxpoints::catalog {
namespace {

namespace fs = std::filesystem;

const std::string kHess = ::fluxpoints::testing::shared_data_path("joint-crab/spectra/hess");
const std::string kModels =
    ::fluxpoints::testing::shared_data_path("estimators/crab_hess_fp/models.yaml");

// Energies go keV -> TeV (OGIP) or through astropy (gammapy): the last bits may differ.
constexpr double kUnitConversionRelTol = 1e-14;
// convert stores the values the OGIP reader returns, and both paths run the same code on them.
constexpr double kSameInputRelTol = 0.0;

fs::path scratch(const std::string& name) {
  return ::fluxpoints::testing::scratch_path("catalog_convert", name);
}

std::vector<std::string> pha_files() {
  return {kHess + "/pha_obs23523.fits", kHess + "/pha_obs23526.fits", kHess + "/pha_obs23559.fits"};
}

std::string convert_command(const std::string& output) {
  std::string cmd = std::string(FLUXPOINTS_BINARY) + " convert --models " + kModels +
                    " --energy-edges 0.4,1,2,5,10,20 --selection all -o " + output + " --datasets";
  for (const auto& f : pha_files()) cmd += " " + f;
  return cmd + " > /dev/null";
}

TEST(CatalogConvert, OgipCatalogBatchEqualsEstimator) {
  FLUXPOINTS_NEEDS_SHARED_DATA(kHess);
  const std::string cat = scratch("hess.h5").string();
  ASSERT_EQ(std::system(convert_command(cat).c_str()), 0);
  const std::string out = scratch("hess_results.h5").string();
  BatchRunOptions o;
  o.catalog = cat;
  o.output = out;
  o.backend = "cpu";
  o.progress = false;
  const BatchRunSummary s = run_batch(o);
  ASSERT_EQ(s.n_ok, 1);

  std::vector<datasets::SpectrumDataset> ds;
  for (const auto& f : pha_files()) ds.push_back(io::read_ogip_dataset(f));
  const auto models = models::read_models_yaml(kModels);
  EstimatorOptions options;
  options.energy_edges = {0.4, 1, 2, 5, 10, 20};
  options.set_selection("all");
  const io::FluxPointsTable t = estimate_flux_points(ds, models, 0, options, *make_backend("cpu", nullptr, 1));
  hdf5::File res = hdf5::File::open(out);
  for (const char* c : {"norm", "norm_err", "norm_errn", "norm_errp", "norm_ul", "ts", "stat", "stat_null"}) {
    const auto v = res.read_all_f64(std::string("/fluxpoints/") + c);
    ASSERT_EQ(v.size(), t.n_rows);
    for (std::size_t r = 0; r < t.n_rows; ++r) {
      const double want = t.column(c).at(r);
      EXPECT_TRUE((std::isnan(want) && std::isnan(v[r])) ||
                  std::fabs(v[r] - want) <= kSameInputRelTol * std::fabs(want))
          << c << " row " << r << ": batch " << v[r] << ", estimate " << want;
    }
  }
}

TEST(CatalogConvert, GammapyConverterStoresTheSameDatasets) {
  FLUXPOINTS_NEEDS_SHARED_DATA(kHess);
  std::string python;
  FLUXPOINTS_NEEDS_GAMMAPY(python);
  if (std::system((python + " -c 'import gammapy, h5py' > /dev/null 2>&1").c_str()) != 0)
    FLUXPOINTS_SKIP_OR_FAIL(python + " has no h5py (pip install h5py): needed by "
                                     "tools/gammapy_to_catalog.py");
  if (std::system((python + " -c 'import fluxpoints' > /dev/null 2>&1").c_str()) != 0)
    FLUXPOINTS_SKIP_OR_FAIL(python + " has no fluxpoints package (tests/python/run.sh installs "
                                     "it): tools/gammapy_to_catalog.py runs it");
  // The tool writes catalog format version 2 (fields); a reader of version 1 cannot compare it.
  if (kCatalogFormatVersion < 2)
    FLUXPOINTS_SKIP_OR_FAIL("this build reads catalog format version " +
                            std::to_string(kCatalogFormatVersion) +
                            " only; tools/gammapy_to_catalog.py writes version 2");
  const std::string ours = scratch("ours.h5").string();
  const std::string theirs = scratch("gammapy.h5").string();
  ASSERT_EQ(std::system(convert_command(ours).c_str()), 0);
  std::string cmd = python + " " + testing::repo_path("tools/gammapy_to_catalog.py") +
                    " --models " + kModels +
                    " --energy-edges 0.4,1,2,5,10,20 --selection errn-errp,ul,scan -o " + theirs + " --ogip";
  for (const auto& f : pha_files()) cmd += " " + f;
  ASSERT_EQ(std::system((cmd + " > /dev/null").c_str()), 0);
  CatalogReader a(ours), b(theirs);
  ASSERT_EQ(a.n_datasets(), b.n_datasets());
  ASSERT_EQ(a.n_sources(), b.n_sources());
  const Source sa = a.read_sources(0, 1).at(0), sb = b.read_sources(0, 1).at(0);
  EXPECT_EQ(sa.model.type, sb.model.type);
  EXPECT_EQ(sa.model.parameter_names, sb.model.parameter_names);
  EXPECT_EQ(sa.model.parameter_values, sb.model.parameter_values);
  EXPECT_EQ(sa.datasets, sb.datasets);
  const auto near = [](const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (std::fabs(x[i] - y[i]) > kUnitConversionRelTol * std::fabs(y[i])) return false;
    return true;
  };
  for (std::int64_t r = 0; r < a.n_datasets(); ++r) {
    const auto x = *a.read_datasets({r}).at(0).dataset;
    const auto y = *b.read_datasets({r}).at(0).dataset;
    SCOPED_TRACE(x.name);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.counts, y.counts);
    EXPECT_EQ(x.counts_off, y.counts_off);
    EXPECT_EQ(x.alpha, y.alpha);
    EXPECT_EQ(x.mask_safe, y.mask_safe);
    EXPECT_TRUE(near(x.reco_edges, y.reco_edges));
    EXPECT_TRUE(near(x.true_edges, y.true_edges));
    EXPECT_TRUE(near(x.exposure, y.exposure));
    EXPECT_TRUE(near(x.edisp, y.edisp));
    EXPECT_NEAR(x.livetime_s, y.livetime_s, kUnitConversionRelTol * y.livetime_s);
  }
}

}  // namespace
}  // namespace fluxpoints::catalog
