// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Reading one source of a batch result file back (catalog::read_result_source, used by
// `fluxpoints show results.h5 --source NAME`): the same table `estimate` computes for it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/catalog/batch_run.hpp"
#include "fluxpoints/catalog/results.hpp"
#include "fluxpoints/datasets/simulate.hpp"
#include "fluxpoints/io/ogip.hpp"
#include "fluxpoints/models/model_yaml.hpp"
#include "fluxpoints/models/spectral_models.hpp"
#include "compare_tables.hpp"
#include "scratch_files.hpp"

namespace fluxpoints::catalog {
namespace {

using ::fluxpoints::testing::TempDir;

// The same engine solves the same bins in both paths: only storage could differ, and both
// store float64.
constexpr double kSameSolveRelTol = 1e-15;

constexpr const char* kModelsYaml =
    "components:\n"
    "- name: bright\n  type: SkyModel\n  spectral:\n    type: PowerLawSpectralModel\n"
    "    parameters:\n    - {name: index, value: 2.4}\n"
    "    - {name: amplitude, value: 3.0e-11, unit: cm-2 s-1 TeV-1}\n"
    "    - {name: reference, value: 1.0, unit: TeV}\n";

TEST(ResultsReader, OneSourceEqualsTheEstimatorsTable) {
  TempDir dir;
  std::ofstream(dir.file("models.yaml")) << kModelsYaml;
  datasets::SimulationSetup setup;
  setup.true_edges = datasets::log_edges(0.03, 100.0, 30);
  setup.reco_edges = datasets::log_edges(0.05, 50.0, 16);
  const auto pl = models::make_power_law(3e-11, 2.4, 1.0);
  std::vector<datasets::SpectrumDataset> ds;  // as convert reads them (RMF in float32)
  std::string phas;
  for (int k = 0; k < 2; ++k) {
    setup.name = "obs" + std::to_string(k);
    const std::string pha = dir.file("obs" + std::to_string(k) + ".fits");
    io::write_ogip_dataset(datasets::simulate_on_off(*pl, setup, 11 + k), pha);
    ds.push_back(io::read_ogip_dataset(pha));
    phas += " " + pha;
  }
  const std::string cmd = std::string(FLUXPOINTS_BINARY) + " convert --models " +
                          dir.file("models.yaml") +
                          " --energy-edges 0.3,1,3,10,30 --selection all -o " +
                          dir.file("catalog.h5") + " --datasets" + phas + " > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  BatchRunOptions o;
  o.catalog = dir.file("catalog.h5");
  o.output = dir.file("results.h5");
  o.backend = "cpu";
  o.progress = false;
  ASSERT_EQ(run_batch(o).n_ok, 1);

  EstimatorOptions options;
  options.energy_edges = {0.3, 1, 3, 10, 30};
  options.set_selection("all");
  const auto sky = models::read_models_yaml(dir.file("models.yaml"));
  const io::FluxPointsTable want =
      estimate_flux_points(ds, sky, 0, options, *make_backend("cpu", nullptr, 1));
  const io::FluxPointsTable got = read_result_source(dir.file("results.h5"), "bright");

  EXPECT_EQ(result_source_names(dir.file("results.h5")), std::vector<std::string>{"bright"});
  EXPECT_EQ(got.dataset_names, (std::vector<std::string>{"obs0", "obs1"}));
  ::fluxpoints::testing::expect_same_tables(got, want, kSameSolveRelTol);
  int finite_norms = 0;
  for (double v : got.column("norm").data) finite_norms += std::isfinite(v);
  EXPECT_EQ(finite_norms, 4);  // not a vacuous comparison

  // Errors name the file and the source.
  try {
    read_result_source(dir.file("results.h5"), "dim");
    ADD_FAILURE() << "no error for an unknown source";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("no source named 'dim'"), std::string::npos) << m;
    EXPECT_NE(m.find("'bright'"), std::string::npos) << m;
  }
  try {
    read_result_source(dir.file("catalog.h5"), "bright");
    ADD_FAILURE() << "a catalog read as a result file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a fluxpoints result file"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fluxpoints::catalog
