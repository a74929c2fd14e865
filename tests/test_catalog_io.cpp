// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The HDF5 catalog format: round trip of sources, models, datasets and options; clear errors for
// missing, foreign, truncated and inconsistent files; per-row errors that leave other rows alone.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <map>

#include "fluxpoints/catalog/catalog.hpp"
#include "fluxpoints/catalog/simulate.hpp"
#include "host/io/hdf5_table.hpp"
#include "scratch_files.hpp"

namespace fluxpoints::catalog {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  return ::fluxpoints::testing::scratch_path("catalog_io", name);
}

datasets::SpectrumDataset make_dataset(const std::string& name, bool on_off, int n_reco, int n_true, double scale) {
  datasets::SpectrumDataset d;
  d.name = name;
  d.on_off = on_off;
  d.livetime_s = 3600.0 * scale;
  for (int i = 0; i <= n_reco; ++i) d.reco_edges.push_back(0.1 * std::pow(10.0, 3.0 * i / n_reco));
  for (int j = 0; j <= n_true; ++j) d.true_edges.push_back(0.05 * std::pow(10.0, 3.5 * j / n_true));
  for (int i = 0; i < n_reco; ++i) {
    d.counts.push_back(10.0 * scale + i);
    d.mask_safe.push_back(i > 0 ? 1 : 0);
    if (on_off) {
      d.counts_off.push_back(20.0 + i);
      d.acceptance.push_back(1.0);
      d.acceptance_off.push_back(i == 1 ? 0.0 : 5.0);  // alpha inf -> 0 in row 1
    } else {
      d.background.push_back(0.5 * i);
    }
  }
  for (int j = 0; j < n_true; ++j) d.exposure.push_back(1e12 * scale * (j + 1));
  for (int j = 0; j < n_true; ++j)
    for (int i = 0; i < n_reco; ++i) d.edisp.push_back(i == j * n_reco / n_true ? 0.9 : 0.1 / n_reco);
  return d;
}

Source make_source(const std::string& name, std::vector<std::int64_t> datasets, double amplitude) {
  Source s;
  s.name = name;
  s.model.type = "PowerLawSpectralModel";
  s.model.parameter_names = {"index", "amplitude", "reference"};
  s.model.parameter_values = {2.5, amplitude, 1.0};
  s.datasets = std::move(datasets);
  return s;
}

TEST(CatalogIo, RoundTrip) {
  const std::string path = scratch("roundtrip.h5").string();
  fs::remove(path);
  const auto d0 = make_dataset("obs0", true, 6, 8, 1.0);
  const auto d1 = make_dataset("obs1", false, 4, 5, 2.0);
  const auto d2 = make_dataset("obs2", true, 6, 8, 3.0);
  {
    CatalogWriter w(path);
    CatalogOptions o;
    o.energy_edges = {0.1, 1.0, 10.0};
    o.set_selection("ul,scan");
    o.solve.n_sigma_ul = 3.0;
    w.set_options(o);
    EXPECT_EQ(w.add_dataset(d0), 0);
    EXPECT_EQ(w.add_dataset(d1), 1);
    EXPECT_EQ(w.add_dataset(d2), 2);
    w.add_source(make_source("a", {0, 1}, 1e-12));
    w.add_source(make_source("b", {1, 2}, 2e-12));  // dataset 1 shared
    EXPECT_FALSE(fs::exists(path)) << "written under a temporary name until close()";
    w.close();
  }
  ASSERT_FALSE(fs::exists(path + ".tmp"));
  CatalogReader r(path);
  EXPECT_EQ(r.format_version(), kCatalogFormatVersion);
  EXPECT_EQ(r.n_sources(), 2);
  EXPECT_EQ(r.n_datasets(), 3);
  EXPECT_EQ(r.max_datasets_per_source(), 2);
  CatalogOptions o;
  r.apply_options(o);
  EXPECT_EQ(o.energy_edges, (std::vector<double>{0.1, 1.0, 10.0}));
  EXPECT_TRUE(o.solve.ul);
  EXPECT_TRUE(o.solve.scan);
  EXPECT_FALSE(o.solve.errn_errp);
  EXPECT_EQ(o.solve.n_sigma_ul, 3.0);
  const auto sources = r.read_sources(0, 2);
  ASSERT_EQ(sources.size(), 2u);
  EXPECT_EQ(sources[1].name, "b");
  EXPECT_EQ(sources[1].datasets, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(sources[1].model.type, "PowerLawSpectralModel");
  EXPECT_EQ(sources[1].model.parameter_values[1], 2e-12);
  const auto reads = r.read_datasets({2, 0, 1, 0});
  ASSERT_EQ(reads.size(), 4u);
  for (const auto& rd : reads) ASSERT_TRUE(rd.dataset) << rd.error;
  const auto& back0 = *reads[1].dataset;
  EXPECT_EQ(back0.name, "obs0");
  EXPECT_TRUE(back0.on_off);
  EXPECT_EQ(back0.counts, d0.counts);
  EXPECT_EQ(back0.counts_off, d0.counts_off);
  EXPECT_EQ(back0.acceptance_off, d0.acceptance_off);
  EXPECT_EQ(back0.alpha[0], 0.2);
  EXPECT_EQ(back0.alpha[1], 0.0) << "acceptance_off = 0 gives alpha = 0 (gammapy's nan_to_num)";
  EXPECT_EQ(back0.edisp, d0.edisp);
  EXPECT_EQ(back0.exposure, d0.exposure);
  EXPECT_EQ(back0.true_edges, d0.true_edges);
  EXPECT_EQ(back0.reco_edges, d0.reco_edges);
  EXPECT_EQ(back0.mask_safe, d0.mask_safe);
  EXPECT_EQ(back0.livetime_s, d0.livetime_s);
  const auto& back1 = *reads[2].dataset;
  EXPECT_FALSE(back1.on_off);
  EXPECT_EQ(back1.background, d1.background);
  EXPECT_TRUE(back1.counts_off.empty());
  EXPECT_EQ(reads[0].dataset->counts, d2.counts);
  EXPECT_EQ(reads[3].dataset->name, "obs0");
}

TEST(CatalogIo, ClearErrorsForBadFiles) {
  const std::string good = scratch("good.h5").string();
  {
    CatalogWriter w(good);
    for (int k = 0; k < 50; ++k) w.add_dataset(make_dataset("obs" + std::to_string(k), true, 30, 40, 1.0));
    w.add_source(make_source("a", {0}, 1e-12));
    w.close();
  }
  const auto expect_error = [](const std::string& path, const std::string& fragment) {
    try {
      CatalogReader r(path);
      ADD_FAILURE() << path << ": no error";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      EXPECT_NE(what.find(fragment), std::string::npos) << what;
    }
  };
  expect_error(scratch("missing.h5").string(), "no such file");
  const std::string text = scratch("text.h5").string();
  std::ofstream(text) << "not hdf5\n";
  expect_error(text, "not an HDF5 file");
  // A copy cut to half its size, as an interrupted transfer leaves it.
  const std::string truncated = scratch("truncated.h5").string();
  fs::copy_file(good, truncated, fs::copy_options::overwrite_existing);
  fs::resize_file(truncated, fs::file_size(good) / 2);
  expect_error(truncated, "truncated or corrupt");
  // An HDF5 file that is not a catalog.
  const std::string foreign = scratch("foreign.h5").string();
  {
    CatalogWriter w(foreign);
    w.close();
  }
  {
    auto f = hdf5::File::open(foreign, true);
    f.set_attr("/", "format", std::string("something-else"));
  }
  expect_error(foreign, "not a fluxpoints catalog");
  {
    auto f = hdf5::File::open(foreign, true);
    f.set_attr("/", "format", std::string(kCatalogFormat));
    f.set_attr("/", "format_version", std::int64_t{kCatalogFormatVersion + 1});
  }
  expect_error(foreign, "format_version");
  // A catalog whose writer never finished (no counts written) is refused.
  {
    auto f = hdf5::File::open(good, true);
    f.set_attr("/", "n_datasets", std::int64_t{51});
  }
  expect_error(good, "has 50 entries, expected 51");
}

TEST(CatalogIo, BadRowsFailAloneAndSayWhy) {
  const std::string external = scratch("external.h5").string();
  {
    CatalogWriter w(external);
    for (int k = 0; k < 20; ++k) w.add_dataset(make_dataset("ext" + std::to_string(k), true, 30, 40, 1.0));
    w.close();
  }
  fs::resize_file(external, fs::file_size(external) / 3);
  const std::string path = scratch("badrows.h5").string();
  {
    CatalogWriter w(path);
    w.add_dataset(make_dataset("ok0", true, 6, 8, 1.0));
    auto bad = make_dataset("bad_edisp", true, 6, 8, 1.0);
    bad.edisp.resize(47);
    w.add_dataset(bad);
    auto bad_edges = make_dataset("bad_edges", false, 6, 8, 1.0);
    bad_edges.true_edges.pop_back();
    w.add_dataset(bad_edges);
    w.add_dataset(make_dataset("ok3", false, 6, 8, 1.0));
    w.add_external_dataset("external.h5", 0, "ext0");
    w.close();
  }
  CatalogReader r(path);
  const auto reads = r.read_datasets({0, 1, 2, 3, 4, 99});
  ASSERT_EQ(reads.size(), 6u);
  EXPECT_TRUE(reads[0].dataset);
  EXPECT_TRUE(reads[3].dataset);
  ASSERT_FALSE(reads[1].dataset);
  EXPECT_NE(reads[1].error.find("edisp has 47 entries"), std::string::npos) << reads[1].error;
  EXPECT_NE(reads[1].error.find("bad_edisp"), std::string::npos) << reads[1].error;
  ASSERT_FALSE(reads[2].dataset);
  EXPECT_NE(reads[2].error.find("true_edges has 8 entries"), std::string::npos) << reads[2].error;
  ASSERT_FALSE(reads[4].dataset);
  EXPECT_NE(reads[4].error.find("external.h5"), std::string::npos) << reads[4].error;
  EXPECT_NE(reads[4].error.find("truncated or corrupt"), std::string::npos) << reads[4].error;
  ASSERT_FALSE(reads[5].dataset);
  EXPECT_NE(reads[5].error.find("does not exist"), std::string::npos) << reads[5].error;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(CatalogSimulate, DeterministicForASeedAndRealistic) {
  SimulateCatalogOptions o;
  o.n_sources = 300;
  o.seed = 7;
  const std::string a = scratch("sim_a.h5").string(), b = scratch("sim_b.h5").string(), c = scratch("sim_c.h5").string();
  simulate_catalog(o, a);
  simulate_catalog(o, b);
  o.seed = 8;
  simulate_catalog(o, c);
  EXPECT_EQ(file_bytes(a), file_bytes(b)) << "same seed, same file";
  EXPECT_NE(file_bytes(a), file_bytes(c)) << "another seed, another catalog";

  CatalogReader r(a);
  ASSERT_EQ(r.n_sources(), 300);
  EstimatorOptions opt;
  r.apply_options(opt);
  EXPECT_EQ(opt.energy_edges.size(), 11u) << "10 energy groups";
  std::map<std::string, int> types;
  std::map<std::size_t, int> n_datasets;
  std::vector<double> amplitudes;
  for (const Source& s : r.read_sources(0, r.n_sources())) {
    ++types[s.model.type];
    ++n_datasets[s.datasets.size()];
    for (std::size_t k = 0; k < s.model.parameter_names.size(); ++k)
      if (s.model.parameter_names[k] == "amplitude") amplitudes.push_back(s.model.parameter_values[k]);
    for (const DatasetRead& d : r.read_datasets(s.datasets)) {
      ASSERT_TRUE(d.dataset) << d.error;
      d.dataset->validate();
      EXPECT_TRUE(d.dataset->on_off);
    }
  }
  EXPECT_EQ(types.size(), 3u) << "PowerLaw, LogParabola and ExpCutoffPowerLaw";
  for (std::size_t n = 1; n <= 4; ++n) EXPECT_GT(n_datasets[n], 0) << n << " datasets";
  EXPECT_EQ(n_datasets.size(), 4u) << "1 to 4 datasets per source";
  // Many faint sources: N(>F) ~ 1/F from 1e-13 puts the median near 2e-13 and ~10 % above 1e-12.
  std::sort(amplitudes.begin(), amplitudes.end());
  EXPECT_LT(amplitudes[amplitudes.size() / 2], 4e-13);
  EXPECT_GT(amplitudes.back(), 1e-12);
}

}  // namespace
}  // namespace fluxpoints::catalog
