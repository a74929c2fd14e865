// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The datasets.yaml index of gammapy's Datasets.write: parsing, path resolution and the errors
// for bad entries. (The comparison with gammapy on files it writes is the ctest
// GammapyCompare.DatasetsIndex, tests/validation/datasets_index_check.py.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "fluxpoints/datasets/simulate.hpp"
#include "fluxpoints/io/dataset_io.hpp"
#include "fluxpoints/io/ogip.hpp"
#include "fluxpoints/models/spectral_models.hpp"
#include "tests/scratch_files.hpp"
#include "tests/test_io_helpers.hpp"

namespace {

using fluxpoints::testing::message_of;
using fluxpoints::testing::TempDir;
namespace io = fluxpoints::io;

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}


std::string simulated_pha(const TempDir& dir, const std::string& name) {
  fluxpoints::datasets::SimulationSetup setup;
  setup.name = "file_name";
  setup.true_edges = fluxpoints::datasets::log_edges(0.03, 100.0, 20);
  setup.reco_edges = fluxpoints::datasets::log_edges(0.05, 50.0, 10);
  const auto pl = fluxpoints::models::make_power_law(1e-11, 2.5, 1.0);
  const std::string path = dir.file(name);
  io::write_ogip_dataset(fluxpoints::datasets::simulate_on_off(*pl, setup, 3), path);
  return path;
}

TEST(DatasetsIndex, ReadsEntriesAndResolvesRelativeFilesNextToTheIndex) {
  TempDir dir;
  write_text(dir.file("datasets.yaml"),
             "datasets:\n"
             "-   name: a\n    type: SpectrumDatasetOnOff\n    filename: a.fits\n"
             "-   name: b\n    type: SpectrumDataset\n    filename: /abs/b.fits\n"
             "metadata:\n    creator: Gammapy 2.1\n");
  const auto entries = io::read_datasets_index(dir.file("datasets.yaml"));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].name, "a");
  EXPECT_EQ(entries[0].type, "SpectrumDatasetOnOff");
  EXPECT_EQ(entries[0].path, dir.file("a.fits"));
  EXPECT_EQ(entries[1].path, "/abs/b.fits");
  EXPECT_TRUE(io::is_datasets_index("x/datasets.YML"));
  EXPECT_FALSE(io::is_datasets_index("x/pha_obs1.fits"));
}

TEST(DatasetsIndex, BadEntriesNameTheFileTheEntryAndTheField) {
  TempDir dir;
  const std::string index = dir.file("datasets.yaml");
  struct Case {
    const char* yaml;
    const char* expected;  // part of the message
  };
  const Case cases[] = {
      {"datasets: []\n", "is empty"},
      {"components: []\n", "expected a top-level list 'datasets'"},
      {"datasets:\n- name: a\n  type: SpectrumDataset\n", "datasets[0]: field 'filename' is missing"},
      {"datasets:\n- name: a\n  type: [x]\n  filename: a.fits\n", "field 'type' is not a text value"},
      {"datasets:\n- name: cube\n  type: MapDataset\n  filename: c.fits\n",
       "datasets[0] ('cube'): type 'MapDataset' is not supported"},
      {"datasets:\n- name: a\n  type: SpectrumDataset\n  filename: a.fits\n"
       "- name: a\n  type: SpectrumDataset\n  filename: b.fits\n",
       "datasets[1]: dataset name 'a' appears twice"},
      {"datasets: [\n", "not valid YAML"},
  };
  for (const Case& c : cases) {
    write_text(index, c.yaml);
    const std::string message = message_of<std::runtime_error>([&] { io::read_datasets_index(index); });
    EXPECT_NE(message.find(index), std::string::npos) << c.yaml << " -> " << message;
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.yaml << " -> " << message;
  }
  EXPECT_NE(message_of<std::runtime_error>([&] { io::read_datasets_index(dir.file("missing.yaml")); })
                .find("cannot open"),
            std::string::npos);
}

TEST(DatasetsIndex, DatasetsTakeTheIndexNameAndMustMatchTheType) {
  TempDir dir;
  const std::string pha = simulated_pha(dir, "obs.fits");
  write_text(dir.file("good.yaml"),
             "datasets:\n- name: renamed\n  type: SpectrumDatasetOnOff\n  filename: obs.fits\n");
  const auto entries = io::expand_dataset_arguments({dir.file("good.yaml"), pha});
  ASSERT_EQ(entries.size(), 2u);
  const auto datasets = io::read_dataset_entries(entries);
  EXPECT_EQ(datasets[0].name, "renamed");   // the index's name
  EXPECT_EQ(datasets[1].name, "file_name");  // a plain file keeps its own
  EXPECT_EQ(datasets[0].counts, datasets[1].counts);

  // The output rule protects the index and every file of the OGIP set.
  const auto inputs = io::dataset_input_files({dir.file("good.yaml")});
  EXPECT_EQ(inputs.front(), dir.file("good.yaml"));
  EXPECT_GE(inputs.size(), 4u);  // index, PHA, and at least BKG and RMF

  write_text(dir.file("wrong_type.yaml"),
             "datasets:\n- name: cash\n  type: SpectrumDataset\n  filename: obs.fits\n");
  const std::string message = message_of<std::runtime_error>([&] {
    io::read_dataset_entries(io::read_datasets_index(dir.file("wrong_type.yaml")));
  });
  EXPECT_NE(message.find("'cash' is listed as SpectrumDataset"), std::string::npos) << message;
  EXPECT_NE(message.find(dir.file("obs.fits")), std::string::npos) << message;
}

}  // namespace
