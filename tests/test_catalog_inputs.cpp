// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Catalogs that lie: external dataset files that lead back to themselves, offsets and extents
// beyond what the file holds, option attributes out of range. Each is an error naming the file,
// the field and the value, isolated to the rows it concerns; nothing is allocated from it first.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fluxpoints/catalog/batch_run.hpp"
#include "fluxpoints/catalog/catalog.hpp"
#include "fluxpoints/limits.hpp"
#include "host/io/hdf5_table.hpp"
#include "scratch_files.hpp"

namespace fluxpoints::catalog {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  return ::fluxpoints::testing::scratch_path("catalog_inputs", name);
}

datasets::SpectrumDataset small_dataset(const std::string& name) {
  datasets::SpectrumDataset d;
  d.name = name;
  d.on_off = true;
  d.livetime_s = 3600.0;
  for (int i = 0; i <= 6; ++i) d.reco_edges.push_back(0.1 * std::pow(10.0, 0.5 * i));
  d.true_edges = d.reco_edges;
  for (int i = 0; i < 6; ++i) {
    d.counts.push_back(10.0 + i);
    d.counts_off.push_back(20.0 + i);
    d.acceptance.push_back(1.0);
    d.acceptance_off.push_back(5.0);
    d.exposure.push_back(1e12);
  }
  return d;
}

Source power_law_source(const std::string& name, std::vector<std::int64_t> rows) {
  Source s;
  s.name = name;
  s.model.type = "PowerLawSpectralModel";
  s.model.parameter_names = {"index", "amplitude", "reference"};
  s.model.parameter_values = {2.5, 1e-11, 1.0};
  s.datasets = std::move(rows);
  return s;
}

// A catalog with one local dataset row and external rows pointing to (file, row).
void write_catalog(const std::string& path,
                   const std::vector<std::pair<std::string, std::int64_t>>& external) {
  CatalogWriter w(path);
  EstimatorOptions o;
  o.energy_edges = {0.1, 1.0, 10.0};
  w.set_options(o);
  w.add_dataset(small_dataset("local"));
  std::vector<std::int64_t> rows{0};
  for (const auto& [file, row] : external)
    rows.push_back(w.add_external_dataset(file, row, "ext_" + file));
  w.add_source(power_law_source("good", {0}));
  for (std::size_t k = 1; k < rows.size(); ++k)
    w.add_source(power_law_source("uses_row_" + std::to_string(k), {rows[k]}));
  w.close();
}

void expect_contains(const std::string& text, const std::vector<std::string>& parts) {
  for (const auto& p : parts) EXPECT_NE(text.find(p), std::string::npos) << "'" << p << "' in: " << text;
}

TEST(CatalogInputs, ExternalFileThatIsTheCatalogItself) {
  // Row 1 names the catalog itself: reading it used to recurse until the stack overflowed.
  const std::string path = scratch("self.h5").string();
  write_catalog(path, {{"self.h5", 1}});
  CatalogReader r(path);
  const auto reads = r.read_datasets({0, 1});
  EXPECT_TRUE(reads[0].dataset) << reads[0].error;
  ASSERT_FALSE(reads[1].dataset);
  expect_contains(reads[1].error, {"dataset row 1", "self.h5", "cycle"});
}

TEST(CatalogInputs, ExternalFilesInACycle) {
  // a.h5 row 1 -> b.h5 row 1 -> a.h5 row 1 -> ...
  const std::string a = scratch("cycle_a.h5").string(), b = scratch("cycle_b.h5").string();
  write_catalog(a, {{"cycle_b.h5", 1}});
  write_catalog(b, {{"cycle_a.h5", 1}});
  CatalogReader r(a);
  const auto reads = r.read_datasets({1, 0});
  ASSERT_FALSE(reads[0].dataset);
  expect_contains(reads[0].error, {"cycle", "cycle_a.h5 -> ", "cycle_b.h5 -> ", "row 1"});
  EXPECT_TRUE(reads[1].dataset) << reads[1].error;
}

TEST(CatalogInputs, ChainOfExternalFilesIsBounded) {
  // chain_0 row 0 -> chain_1 row 0 -> ... -> chain_11 row 0 (local): longer than the limit,
  // refused although it is not a cycle.
  constexpr int kFiles = limits::kMaxExternalDepth + 4;
  const auto name = [](int k) { return "chain_" + std::to_string(k) + ".h5"; };
  for (int k = 0; k < kFiles; ++k) {
    CatalogWriter w(scratch(name(k)).string());
    if (k + 1 < kFiles) w.add_external_dataset(name(k + 1), 0, "link");
    else w.add_dataset(small_dataset("end"));
    w.add_source(power_law_source("s", {0}));
    w.close();
  }
  CatalogReader r(scratch(name(0)).string());
  const DatasetRead read = r.read_datasets({0}).at(0);
  ASSERT_FALSE(read.dataset);
  expect_contains(read.error, {"more than " + std::to_string(limits::kMaxExternalDepth), "chain_0.h5"});
  // A chain of kMaxExternalDepth files is read.
  CatalogReader ok(scratch(name(kFiles - limits::kMaxExternalDepth)).string());
  const DatasetRead fine = ok.read_datasets({0}).at(0);
  ASSERT_TRUE(fine.dataset) << fine.error;
  EXPECT_EQ(fine.dataset->name, "end");
}

TEST(CatalogInputs, SelfReferenceFailsOnlyItsSourceInABatch) {
  // The whole job used to crash; now the source using the row gets ok = 0 and the reason.
  const std::string path = scratch("self_batch.h5").string();
  write_catalog(path, {{"self_batch.h5", 1}});
  BatchRunOptions o;
  o.catalog = path;
  o.output = scratch("self_batch_results.h5").string();
  o.backend = "cpu";
  o.workers = 1;
  o.progress = false;
  const BatchRunSummary s = run_batch(o);
  EXPECT_EQ(s.n_ok, 1);
  EXPECT_EQ(s.n_errors, 1);
  hdf5::File res = hdf5::File::open(o.output);
  const auto errors = res.read_str("/sources/error", 0, 2);
  EXPECT_EQ(errors[0], "");
  expect_contains(errors[1], {"cycle", "self_batch.h5"});
}

TEST(CatalogInputs, BatchNeverWritesOverAnExternalDatasetFile) {
  // The output rule covers the dataset files a catalog references, not only the catalog.
  const std::string data = scratch("external_data.h5").string();
  const std::string main = scratch("uses_external_data.h5").string();
  write_catalog(data, {});
  write_catalog(main, {{"external_data.h5", 0}});
  EXPECT_EQ(CatalogReader(main).external_files(), std::vector<std::string>{data});
  std::ifstream in(data, std::ios::binary);
  const std::string before((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BatchRunOptions o;
  o.catalog = main;
  o.output = data;
  o.overwrite = true;  // even when asked to replace an existing output
  o.backend = "cpu";
  o.workers = 1;
  o.progress = false;
  try {
    run_batch(o);
    ADD_FAILURE() << "batch accepted an external dataset file of its catalog as its output";
  } catch (const std::exception& e) {
    expect_contains(e.what(), {"input", "external_data.h5"});
  }
  std::ifstream again(data, std::ios::binary);
  const std::string after((std::istreambuf_iterator<char>(again)),
                          std::istreambuf_iterator<char>());
  EXPECT_EQ(after, before) << "the external dataset file changed";
}

// Overwrites entry `index` of a 1-D int64 column of an existing file.
void poke_i64(const std::string& path, const std::string& column, std::int64_t index, std::int64_t value) {
  hdf5::File f = hdf5::File::open(path, true);
  f.write_rows(column, index, 1, &value);
}

TEST(CatalogInputs, OffsetsOutsideTheColumnsAreRefusedBeforeReading) {
  // An offset of 1e8 made the reader allocate 800 MB per column before its range check.
  // Two dataset rows and two sources: the offsets poked are not the last ones (those are
  // checked against the column lengths when the file is opened).
  const auto two_rows = [](const std::string& path) {
    CatalogWriter w(path);
    w.add_dataset(small_dataset("obs0"));
    w.add_dataset(small_dataset("obs1"));
    w.add_source(power_law_source("a", {0}));
    w.add_source(power_law_source("b", {1}));
    w.close();
  };
  const std::string path = scratch("offsets.h5").string();
  two_rows(path);
  poke_i64(path, "/datasets/reco_offsets", 1, 100000000);
  CatalogReader r(path);
  const DatasetRead read = r.read_datasets({0}).at(0);
  ASSERT_FALSE(read.dataset);
  expect_contains(read.error, {"offsets.h5", "/datasets/reco_offsets[1] = 100000000", "outside [0, 12]"});

  const std::string src = scratch("source_offsets.h5").string();
  two_rows(src);
  poke_i64(src, "/sources/dataset_offsets", 1, -5);
  CatalogReader rs(src);
  try {
    rs.read_sources(0, 1);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    expect_contains(e.what(), {"source_offsets.h5", "/sources/dataset_offsets[1] = -5", "outside"});
  }
  EXPECT_THROW(rs.max_datasets_per_source(), std::runtime_error);
}

TEST(CatalogInputs, ExtentsTheFileDoesNotStoreAreRefused) {
  // A column whose extent claims 1e9 entries that were never written (a few bytes of file):
  // nothing may be sized from it.
  const std::string path = scratch("extent.h5").string();
  write_catalog(path, {});
  {
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hsize_t huge = 1000000000;
    for (const char* c : {"/sources/name", "/sources/model_type", "/sources/parameter_offsets",
                          "/sources/dataset_offsets"}) {
      hid_t d = H5Dopen2(f, c, H5P_DEFAULT);
      const hsize_t n = std::string(c).find("offsets") != std::string::npos ? huge + 1 : huge;
      H5Dset_extent(d, &n);
      H5Dclose(d);
    }
    hid_t a = H5Aopen(f, "n_sources", H5P_DEFAULT);
    const std::int64_t n_sources = static_cast<std::int64_t>(huge);
    H5Awrite(a, H5T_NATIVE_INT64, &n_sources);
    H5Aclose(a);
    H5Fclose(f);
  }
  try {
    CatalogReader r(path);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    expect_contains(e.what(), {"extent.h5", "/sources/name", "claims 1000000000 entries", "stored"});
  }
}

TEST(CatalogInputs, ScanValuesAttributeOutOfRange) {
  // scan_n_values = 2^32 + 5 used to be cast to int (5), and 1e9 to allocate 8 GB.
  const std::string path = scratch("scan_attr.h5").string();
  write_catalog(path, {});
  for (const std::int64_t bad : {std::int64_t{4294967301}, std::int64_t{1000000000}, std::int64_t{0}}) {
    {
      hdf5::File f = hdf5::File::open(path, true);
      f.set_attr("/", "scan_n_values", bad);
    }
    CatalogReader r(path);
    EstimatorOptions o;
    try {
      r.apply_options(o);
      ADD_FAILURE() << bad << ": no error";
    } catch (const std::runtime_error& e) {
      expect_contains(e.what(), {"scan_attr.h5", "scan_n_values", std::to_string(bad),
                                 std::to_string(limits::kMaxScanValues)});
    }
  }
}

}  // namespace
}  // namespace fluxpoints::catalog
