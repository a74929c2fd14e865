// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Field catalogs (format version 2): components read back as written; `convert` stores every
// model as a component so that `batch` estimates each source next to the others (equal to the
// one-source estimator on the same OGIP + YAML); a bad component fails only its sources; and, with
// live gammapy 2.1, two sources sharing spectrum datasets get gammapy's answer with reoptimize
// False and True. Under MPI and after a kill + --resume, a field's sources (spread over ranks and
// runs) get the results of one uninterrupted process.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/catalog/batch_run.hpp"
#include "fluxpoints/catalog/catalog.hpp"
#include "fluxpoints/catalog/simulate.hpp"
#include "fluxpoints/config.hpp"
#include "fluxpoints/datasets/simulate.hpp"
#include "fluxpoints/io/ogip.hpp"
#include "fluxpoints/models/spectral_model.hpp"
#include "fluxpoints/models/spectral_models.hpp"
#include "host/io/hdf5_table.hpp"
#include "batch_process.hpp"
#include "compare_tables.hpp"
#include "scratch_files.hpp"
#include "test_environment.hpp"

namespace fluxpoints::catalog {
namespace {

using fluxpoints::testing::repo_path;
using fluxpoints::testing::TempDir;

// batch and estimate sum the same bins in another grouping (bins where a source predicts nothing
// are summed apart and added back): the statistic differs in its last bits, the fitted norms by
// the solver's own convergence (~1e-12) at most.
constexpr double kSameProblemRelTol = 1e-9;

// Tolerances against gammapy 2.1 (those of the Python tests).
constexpr double kNormRelTol = 1e-3;
// MIGRAD stops at EDM < 2e-4: its norm is off by up to ~0.02 sigma.
constexpr double kMigradSigmaTol = 0.02;
// errn, errp, ul: gammapy's Brent roots at S(best fit) + n^2, its best fit within MIGRAD's
// tolerance of the exact one.
constexpr double kCrossingRelTol = 1e-3;
// norm_err: HESSE's finite-difference curvature at MIGRAD's norm (up to 0.02 sigma away); the
// curvature of these profiles changes by up to ~2e-3 relative over that distance.
constexpr double kNormErrRelTol = 3e-3;
constexpr double kTsAbsTol = 1e-3;  // MIGRAD's minimum is within its EDM (2e-4) of the true one
// stat at fixed norms: the same -2 ln L summed in another order.
constexpr double kStatRelTol = 1e-6;
// A statistic gammapy minimises with MIGRAD (stat; with reoptimize also stat_null, a minimum
// over the nuisances): gammapy's may lie above ours (the exact minimum) by up to its EDM bound.
constexpr double kMigradEdm = 2e-4;

BatchRunSummary run(const std::string& catalog, const std::string& output,
                    std::optional<bool> reoptimize, int workers = 1) {
  BatchRunOptions o;
  o.catalog = catalog;
  o.output = output;
  o.backend = "cpu";
  o.workers = workers;
  o.progress = false;
  o.overwrite = true;
  o.reoptimize = reoptimize;
  return run_batch(o);
}

// Column `c` of the results cube, rows of source `s` (n_groups each).
std::vector<double> rows_of(const std::string& results, const std::string& c, std::int64_t s,
                            std::int64_t n_groups) {
  hdf5::File f = hdf5::File::open(results);
  const auto v = f.read_all_f64("/fluxpoints/" + c);
  return {v.begin() + s * n_groups, v.begin() + (s + 1) * n_groups};
}

std::vector<std::uint8_t> ok_flags(const std::string& results) {
  hdf5::File f = hdf5::File::open(results);
  hdf5::File* p = &f;
  const std::int64_t n = p->length("/sources/ok");
  return p->read_u8("/sources/ok", 0, n);
}

// Two On/Off spectra written as OGIP, observed with one source, and a YAML with two sources
// applying to both (their second source is the neighbour the estimate must not forget).
struct TwoSourceFiles {
  std::vector<std::string> pha;
  std::string models;
};

TwoSourceFiles write_two_source_inputs(const TempDir& dir) {
  TwoSourceFiles f;
  const auto truth = models::make_power_law(3e-12, 2.3, 1.0);
  for (int k = 0; k < 2; ++k) {
    datasets::SimulationSetup setup;
    setup.name = "obs" + std::to_string(k + 1);
    setup.reco_edges = datasets::log_edges(0.1, 100.0, 15);
    setup.true_edges = datasets::log_edges(0.05, 200.0, 30);
    setup.livetime_s = 3600.0 * (5 + 3 * k);
    const datasets::SpectrumDataset d = datasets::simulate_on_off(*truth, setup, 100 + k);
    f.pha.push_back(dir.file(setup.name + ".fits"));
    io::write_ogip_dataset(d, f.pha.back());
  }
  f.models = dir.file("models.yaml");
  std::ofstream(f.models) << R"(components:
- name: a
  type: SkyModel
  spectral:
    type: PowerLawSpectralModel
    parameters:
    - {name: index, value: 2.3}
    - {name: amplitude, value: 2.0e-12, unit: cm-2 s-1 TeV-1, min: 0}
    - {name: reference, value: 1.0, unit: TeV}
- name: b
  type: SkyModel
  spectral:
    type: LogParabolaSpectralModel
    parameters:
    - {name: amplitude, value: 1.5e-12, unit: cm-2 s-1 TeV-1, min: 0}
    - {name: reference, value: 1.0, unit: TeV}
    - {name: alpha, value: 1.8}
    - {name: beta, value: 0.3}
)";
  return f;
}

std::string convert(const TwoSourceFiles& f, const std::string& output, const std::string& edges,
                    const std::string& selection) {
  std::string cmd = std::string(FLUXPOINTS_BINARY) + " convert --models " + f.models +
                    " --energy-edges " + edges + " --selection " + selection + " -o " + output +
                    " --overwrite --quiet --datasets";
  for (const auto& p : f.pha) cmd += " " + p;
  return cmd;
}

bool near(double a, double b, double rel) {
  return (std::isnan(a) && std::isnan(b)) || a == b ||
         std::fabs(a - b) <= rel * std::max(std::fabs(a), std::fabs(b));
}

TEST(CatalogFields, ComponentsReadBackAsWritten) {
  const TempDir dir;
  const std::string path = dir.file("field.h5");
  {
    CatalogWriter w(path);
    datasets::SpectrumDataset map;
    map.name = "field";
    map.reco_edges = {1.0, 10.0, 100.0};
    map.counts = {1, 2, 3, 4, 5, 6, 7, 8};  // 2 reco bins x 4 pixels
    map.background = std::vector<double>(8, 0.5);
    const std::int64_t d = w.add_dataset(map, 4);
    Component c;
    c.dataset = d;
    c.model = "s0";
    c.parameter = "amplitude";
    c.value = 2e-12;
    c.min = 0;
    c.free = true;
    c.bin_index = {1, 5, 6};
    c.bin_value = {0.5, 1.5, 2.5};
    const std::int64_t row = w.add_component(c);
    Component bkg = c;
    bkg.model = "bkg-field";
    bkg.parameter = "norm";
    bkg.value = 1.0;
    bkg.min = math::kNaN;
    bkg.bin_index = {0, 7};
    bkg.bin_value = {0.1, 0.2};
    w.add_component(bkg);
    Source s;
    s.name = "s0";
    s.model.type = "PowerLawSpectralModel";
    s.datasets = {d};
    s.components = {row};
    w.add_source(s);
    w.set_reoptimize(true);
    c.bin_index = {1, 9};  // outside the dataset's 8 bins: refused by the writer
    c.bin_value = {1, 1};
    EXPECT_THROW(w.add_component(c), std::invalid_argument);
    w.close();
  }
  CatalogReader r(path);
  EXPECT_EQ(r.format_version(), 2);
  EXPECT_TRUE(r.reoptimize());
  EXPECT_EQ(r.n_components(), 2);
  const Source s = r.read_sources(0, 1).at(0);
  EXPECT_EQ(s.components, std::vector<std::int64_t>{0});
  const DatasetRead d = r.read_datasets({0}).at(0);
  ASSERT_TRUE(d.dataset) << d.error;
  EXPECT_EQ(d.n_pixels, 4);
  EXPECT_EQ(d.dataset->counts.size(), 8u);
  EXPECT_EQ(r.components_of_datasets({0}), (std::vector<std::int64_t>{0, 1}));
  const auto comps = r.read_components({0, 1, 7});
  ASSERT_TRUE(comps.at(0).component) << comps.at(0).error;
  const Component& c = *comps.at(0).component;
  EXPECT_EQ(c.model, "s0");
  EXPECT_EQ(c.parameter, "amplitude");
  EXPECT_EQ(c.value, 2e-12);
  EXPECT_EQ(c.min, 0.0);
  EXPECT_TRUE(std::isnan(c.max));
  EXPECT_TRUE(c.free);
  EXPECT_EQ(c.bin_index, (std::vector<std::int64_t>{1, 5, 6}));
  EXPECT_EQ(c.bin_value, (std::vector<double>{0.5, 1.5, 2.5}));
  EXPECT_EQ(comps.at(1).component->nuisance_name(), "bkg-field.norm");
  EXPECT_FALSE(comps.at(7).component);
  EXPECT_NE(comps.at(7).error.find("component row 7"), std::string::npos) << comps.at(7).error;
}

TEST(CatalogFields, ConvertedCatalogBatchEqualsEstimatePerSource) {
  const TempDir dir;
  const TwoSourceFiles f = write_two_source_inputs(dir);
  const std::string cat = dir.file("two.h5");
  ASSERT_EQ(std::system(convert(f, cat, "0.3,1,3,10,30", "all").c_str()), 0);
  {
    CatalogReader r(cat);
    ASSERT_EQ(r.n_sources(), 2);
    EXPECT_EQ(r.n_components(), 4);  // two models x two datasets
    EXPECT_FALSE(r.reoptimize());
  }
  const std::string out = dir.file("two_results.h5");
  const BatchRunSummary s = run(cat, out, std::nullopt);
  ASSERT_EQ(s.n_ok, 2);

  std::vector<datasets::SpectrumDataset> ds;
  for (const auto& p : f.pha) ds.push_back(io::read_ogip_dataset(p));
  const auto sky = models::read_models_yaml(f.models);
  EstimatorOptions options;
  options.energy_edges = {0.3, 1, 3, 10, 30};
  options.set_selection("all");
  const auto backend = make_backend("cpu", nullptr, 1);
  for (std::size_t src = 0; src < 2; ++src) {
    SCOPED_TRACE(sky[src].name);
    const io::FluxPointsTable t = estimate_flux_points(ds, sky, src, options, *backend);
    std::vector<models::SkyModel> alone;
    alone.push_back(sky[src].clone());
    const io::FluxPointsTable t_alone = estimate_flux_points(ds, alone, 0, options, *backend);
    for (const char* c : {"norm", "norm_err", "norm_errn", "norm_errp", "norm_ul", "ts", "stat",
                          "stat_null", "norm_sensitivity"}) {
      const auto v = rows_of(out, c, static_cast<std::int64_t>(src), 4);
      for (std::size_t r = 0; r < 4; ++r)
        EXPECT_TRUE(near(v[r], t.column(c).at(r), kSameProblemRelTol))
            << c << " row " << r << ": batch " << v[r] << ", estimate " << t.column(c).at(r);
    }
    // The neighbour matters: estimated alone, the norm is another (the +19 % of issue 11).
    const auto norm = rows_of(out, "norm", static_cast<std::int64_t>(src), 4);
    int differ = 0;
    for (std::size_t r = 0; r < 4; ++r)
      differ += std::fabs(norm[r] - t_alone.column("norm").at(r)) > 1e-3 * std::fabs(norm[r]);
    EXPECT_GT(differ, 0);
  }

  // --reoptimize re-fits the neighbour's amplitude: another answer (checked against gammapy in
  // GammapyLive.FieldTwoSourcesShareSpectra), and the same with two workers.
  const std::string out_re = dir.file("two_results_re.h5");
  ASSERT_EQ(run(cat, out_re, true).n_ok, 2);
  const std::string out_re2 = dir.file("two_results_re2.h5");
  ASSERT_EQ(run(cat, out_re2, true, 2).n_ok, 2);
  const auto fixed = rows_of(out, "norm", 0, 4), re = rows_of(out_re, "norm", 0, 4);
  const auto re2 = rows_of(out_re2, "norm", 0, 4);
  int differ = 0;
  for (std::size_t r = 0; r < 4; ++r) {
    differ += std::fabs(fixed[r] - re[r]) > 1e-6 * std::fabs(fixed[r]);
    EXPECT_EQ(re[r], re2[r]) << r;
  }
  EXPECT_GT(differ, 0);
}

// sum_over_energy_groups (from convert's --config, stored in the catalog): each group of each
// dataset is one summed bin, and every source's flux points are what `estimate` gives with the
// option; with a mask that leaves out some bins of a group, only the safe bins are summed.
TEST(CatalogFields, SummedGroupsEqualEstimatePerSource) {
  const TempDir dir;
  TwoSourceFiles f = write_two_source_inputs(dir);
  {
    // obs2 loses its bin at 1-1.6 TeV (bad quality): the group 1-2.5 TeV keeps one of its two.
    datasets::SpectrumDataset d = io::read_ogip_dataset(f.pha[1]);
    if (d.mask_safe.empty()) d.mask_safe.assign(d.n_reco(), 1);
    const std::size_t i = static_cast<std::size_t>(
        std::find_if(d.reco_edges.begin(), d.reco_edges.end(), [](double e) { return e >= 1.0; }) -
        d.reco_edges.begin());
    ASSERT_LT(i, d.n_reco());
    d.mask_safe[i] = 0;
    io::write_ogip_dataset(d, f.pha[1], io::OutputRule{true, {}});
  }
  const std::string config = dir.file("options.yaml");
  std::ofstream(config) << "sum_over_energy_groups: true\n";
  const std::string cat = dir.file("summed.h5");
  ASSERT_EQ(std::system((convert(f, cat, "0.3,1,3,10,30", "all") + " --config " + config).c_str()),
            0);
  {
    CatalogReader r(cat);
    EstimatorOptions stored;
    r.apply_options(stored);
    EXPECT_TRUE(stored.sum_over_energy_groups);
  }
  const std::string out = dir.file("summed_results.h5");
  ASSERT_EQ(run(cat, out, std::nullopt).n_ok, 2);

  std::vector<datasets::SpectrumDataset> ds;
  for (const auto& p : f.pha) ds.push_back(io::read_ogip_dataset(p));
  const auto sky = models::read_models_yaml(f.models);
  EstimatorOptions options;
  options.energy_edges = {0.3, 1, 3, 10, 30};
  options.set_selection("all");
  options.sum_over_energy_groups = true;
  EstimatorOptions per_bin = options;
  per_bin.sum_over_energy_groups = false;
  const auto backend = make_backend("cpu", nullptr, 1);
  for (std::size_t src = 0; src < 2; ++src) {
    SCOPED_TRACE(sky[src].name);
    const io::FluxPointsTable t = estimate_flux_points(ds, sky, src, options, *backend);
    for (const char* c : {"norm", "norm_err", "norm_errn", "norm_errp", "norm_ul", "ts", "stat",
                          "stat_null", "norm_sensitivity"}) {
      const auto v = rows_of(out, c, static_cast<std::int64_t>(src), 4);
      for (std::size_t r = 0; r < 4; ++r)
        EXPECT_TRUE(near(v[r], t.column(c).at(r), kSameProblemRelTol))
            << c << " row " << r << ": batch " << v[r] << ", estimate " << t.column(c).at(r);
    }
    // Summing changes the problem (one bin per dataset and group): other norms than per bin.
    const io::FluxPointsTable t_bins = estimate_flux_points(ds, sky, src, per_bin, *backend);
    const auto norm = rows_of(out, "norm", static_cast<std::int64_t>(src), 4);
    int differ = 0;
    for (std::size_t r = 0; r < 4; ++r)
      differ += std::fabs(norm[r] - t_bins.column("norm").at(r)) > 1e-6 * std::fabs(norm[r]);
    EXPECT_GT(differ, 0);
  }
}

TEST(CatalogFields, BadComponentFailsOnlyItsSources) {
  const TempDir dir;
  const std::string path = dir.file("bad.h5");
  {
    CatalogWriter w(path);
    CatalogOptions options;
    options.energy_edges = {0.3, 3, 30};
    w.set_options(options);
    const auto truth = models::make_power_law(3e-12, 2.3, 1.0);
    std::int64_t rows[2];
    for (int k = 0; k < 2; ++k) {
      datasets::SimulationSetup setup;
      setup.name = "obs" + std::to_string(k);
      setup.reco_edges = datasets::log_edges(0.1, 100.0, 15);
      setup.true_edges = datasets::log_edges(0.05, 200.0, 30);
      rows[k] = w.add_dataset(datasets::simulate_on_off(*truth, setup, 7 + k));
    }
    for (int k = 0; k < 2; ++k) {
      Source s;
      s.name = "s" + std::to_string(k);
      s.model.type = "PowerLawSpectralModel";
      s.model.parameter_names = {"index", "amplitude", "reference"};
      s.model.parameter_values = {2.3, 3e-12, 1.0};
      s.datasets = {rows[k]};
      // Both components are in obs1: for s1 its own dataset, for s0 not one of its datasets.
      Component c;
      c.dataset = rows[1];
      c.model = s.name;
      c.parameter = "amplitude";
      c.value = 3e-12;
      c.bin_index = {5, 6};
      c.bin_value = {1.0, 2.0};
      s.components = {w.add_component(c)};
      w.add_source(s);
    }
    w.close();
  }
  const std::string out = dir.file("bad_results.h5");
  const BatchRunSummary s = run(path, out, std::nullopt);
  EXPECT_EQ(s.n_ok, 1);
  const auto ok = ok_flags(out);
  EXPECT_EQ(ok, (std::vector<std::uint8_t>{0, 1}));
  ASSERT_FALSE(s.first_failures.empty());
  EXPECT_NE(s.first_failures[0].find("not one of the source's datasets"), std::string::npos)
      << s.first_failures[0];
}

SimulateCatalogOptions field_options(std::int64_t n_sources, int side, int per_field,
                                     std::uint64_t seed) {
  SimulateCatalogOptions o;
  o.n_sources = n_sources;
  o.seed = seed;
  o.field = true;
  o.field_side = side;
  o.sources_per_field = per_field;
  o.n_groups = 5;
  o.selection = "errn-errp,ul";
  return o;
}

TEST(CatalogFields, SimulatedFieldsReadBackAndSolve) {
  const TempDir dir;
  const std::string path = dir.file("fields.h5");
  simulate_catalog(field_options(20, 20, 8, 5), path);
  {
    CatalogReader r(path);
    EXPECT_EQ(r.n_sources(), 20);
    EXPECT_EQ(r.n_datasets(), 3);         // 8 + 8 + 4 sources
    EXPECT_EQ(r.n_components(), 20 + 3);  // one per source, one background per field
    const DatasetRead d = r.read_datasets({0}).at(0);
    ASSERT_TRUE(d.dataset) << d.error;
    EXPECT_EQ(d.n_pixels, 400);
    EXPECT_EQ(d.dataset->counts.size(), 400u * kFieldRecoBins);
    const auto in_field = r.components_of_datasets({0});
    EXPECT_EQ(in_field.size(), 9u);
    const auto comps = r.read_components(in_field);
    int backgrounds = 0;
    for (const auto& [row, c] : comps) {
      ASSERT_TRUE(c.component) << c.error;
      EXPECT_TRUE(c.component->free);
      backgrounds += c.component->model == "bkg-field0";
    }
    EXPECT_EQ(backgrounds, 1);
    for (const Source& s : r.read_sources(0, 20)) EXPECT_EQ(s.components.size(), 1u) << s.name;
  }
  // Deterministic per seed.
  const std::string again = dir.file("fields_again.h5");
  simulate_catalog(field_options(20, 20, 8, 5), again);
  {
    hdf5::File a = hdf5::File::open(path), b = hdf5::File::open(again);
    for (const char* c : {"/datasets/counts", "/components/bin_value"})
      EXPECT_EQ(a.read_all_f64(c), b.read_all_f64(c)) << c;
  }
  const std::string fixed = dir.file("fixed.h5"), re = dir.file("re.h5");
  EXPECT_EQ(run(path, fixed, false, 2).n_ok, 20);
  EXPECT_EQ(run(path, re, true, 2).n_ok, 20);
  hdf5::File a = hdf5::File::open(fixed), b = hdf5::File::open(re);
  const auto norm_fixed = a.read_all_f64("/fluxpoints/norm"),
             norm_re = b.read_all_f64("/fluxpoints/norm");
  ASSERT_EQ(norm_fixed.size(), 100u);
  // The two lowest groups hold most counts: every source has a norm there; the highest groups
  // of faint sources may have no counts at all.
  int differ = 0;
  for (std::size_t i = 0; i < norm_fixed.size(); ++i) {
    if (i % 5 < 2) {
      EXPECT_TRUE(std::isfinite(norm_fixed[i])) << "source " << i / 5 << " group " << i % 5;
      EXPECT_TRUE(std::isfinite(norm_re[i])) << "source " << i / 5 << " group " << i % 5;
    }
    differ += std::fabs(norm_fixed[i] - norm_re[i]) > 1e-6 * std::fabs(norm_fixed[i]);
  }
  EXPECT_GT(differ, 50);  // re-fitting the background norm and the neighbours moves the norms
}

// A source whose template touches no other source's bins: with the neighbours' components
// removed (reoptimize off), its norm, errors and TS do not change.
TEST(CatalogFields, IsolatedSourceIgnoresItsNeighbours) {
  const TempDir dir;
  const std::string path = dir.file("sparse.h5");
  simulate_catalog(field_options(4, 40, 4, 11), path);
  CatalogReader r(path);
  const auto comps = r.read_components(r.components_of_datasets({0}));
  const std::vector<Source> sources = r.read_sources(0, 4);
  std::int64_t isolated = -1;
  for (std::size_t s = 0; s < sources.size() && isolated < 0; ++s) {
    const Component& own = *comps.at(sources[s].components.at(0)).component;
    bool alone = true;
    for (std::size_t t = 0; t < sources.size(); ++t) {
      if (t == s) continue;
      const Component& other = *comps.at(sources[t].components.at(0)).component;
      std::vector<std::int64_t> both;
      std::set_intersection(own.bin_index.begin(), own.bin_index.end(), other.bin_index.begin(),
                            other.bin_index.end(), std::back_inserter(both));
      alone = alone && both.empty();
    }
    if (alone) isolated = static_cast<std::int64_t>(s);
  }
  ASSERT_GE(isolated, 0) << "seed 11 has no isolated source: pick another seed";
  // The same field with only the isolated source and the background.
  const std::string single = dir.file("single.h5");
  {
    CatalogWriter w(single);
    CatalogOptions options;
    r.apply_options(options);
    w.set_options(options);
    const DatasetRead d = r.read_datasets({0}).at(0);
    const std::int64_t row = w.add_dataset(*d.dataset, d.n_pixels);
    Source s = sources[isolated];
    for (const auto& [c_row, c] : comps) {
      if (c.component->model != s.name && c.component->model.rfind("bkg-", 0) != 0) continue;
      Component copy = *c.component;
      copy.dataset = row;
      const std::int64_t new_row = w.add_component(copy);
      if (c_row == s.components[0]) s.components = {new_row};
    }
    s.datasets = {row};
    w.add_source(s);
    w.close();
  }
  const std::string crowded_out = dir.file("crowded_results.h5"),
                    single_out = dir.file("single_results.h5");
  ASSERT_EQ(run(path, crowded_out, false).n_ok, 4);
  ASSERT_EQ(run(single, single_out, false).n_ok, 1);
  for (const char* c : {"norm", "norm_err", "norm_errn", "norm_errp", "norm_ul", "ts"}) {
    const auto crowded = rows_of(crowded_out, c, isolated, 5), alone = rows_of(single_out, c, 0, 5);
    for (std::size_t g = 0; g < 5; ++g)
      EXPECT_TRUE(near(crowded[g], alone[g], kSameProblemRelTol))
          << c << " group " << g << ": " << crowded[g] << " vs alone " << alone[g];
  }
}

// ---- fields spread over MPI ranks and over interrupted runs ---------------------------------

// Three fields of 8 sources each, in chunks of 3 sources: chunk k goes to rank k % 2 (and,
// killed part-way, some chunks to the first run and the others to the resumed one), so each
// field's sources are solved by different processes, each of which must still see the whole
// field (every component of the field's dataset).
constexpr std::int64_t kSpreadSources = 24;
constexpr int kSpreadPerField = 8;
constexpr std::int64_t kSpreadChunk = 3;

std::string simulate_spread_fields(const TempDir& dir) {
  const std::string path = dir.file("spread.h5");
  simulate_catalog(field_options(kSpreadSources, 16, kSpreadPerField, 31), path);
  return path;
}

BatchRunSummary run_chunked(const std::string& catalog, const std::string& output, bool reoptimize,
                            std::int64_t chunk) {
  BatchRunOptions o;
  o.catalog = catalog;
  o.output = output;
  o.backend = "cpu";
  o.workers = 1;
  o.chunk_sources = chunk;
  o.progress = false;
  o.overwrite = true;
  o.reoptimize = reoptimize;
  return run_batch(o);
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(CatalogFields, MpiTwoRanksEqualOneRank) {
#if !FLUXPOINTS_WITH_MPI
  FLUXPOINTS_SKIP_OR_FAIL("this build has no MPI support (FLUXPOINTS_WITH_MPI off)");
#else
  if (!::fluxpoints::testing::mpirun_found()) FLUXPOINTS_SKIP_OR_FAIL("mpirun not found on PATH");
  const TempDir dir;
  const std::string catalog = simulate_spread_fields(dir);
  {
    // Each field (dataset) has sources in chunks of both ranks: the test tests what it says.
    CatalogReader r(catalog);
    std::map<std::int64_t, std::set<std::int64_t>> ranks_of_dataset;
    const std::vector<Source> sources = r.read_sources(0, kSpreadSources);
    for (std::int64_t s = 0; s < kSpreadSources; ++s)
      for (std::int64_t d : sources[s].datasets) ranks_of_dataset[d].insert((s / kSpreadChunk) % 2);
    ASSERT_EQ(ranks_of_dataset.size(), 3u);
    for (const auto& [d, ranks] : ranks_of_dataset) EXPECT_EQ(ranks.size(), 2u) << "dataset " << d;
  }
  std::map<bool, std::string> one_rank;
  for (const bool reoptimize : {false, true}) {
    SCOPED_TRACE(reoptimize ? "reoptimize" : "fixed");
    const std::string one = dir.file(reoptimize ? "one_re.h5" : "one.h5");
    const std::string two = dir.file(reoptimize ? "two_re.h5" : "two.h5");
    const std::string log = dir.file("mpi.log");
    ASSERT_EQ(run_chunked(catalog, one, reoptimize, kSpreadChunk).n_ok, kSpreadSources);
    one_rank[reoptimize] = one;
    const std::string cmd = ::fluxpoints::testing::mpirun_command(
        2,
        "batch " + catalog + " -o " + two + " --backend cpu --workers 1 --chunk-sources " +
            std::to_string(kSpreadChunk) + " --no-progress " +
            (reoptimize ? "--reoptimize" : "--no-reoptimize"),
        log);
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << file_text(log);
    EXPECT_NE(file_text(log).find("x 2 ranks"), std::string::npos) << file_text(log);
    ::fluxpoints::testing::expect_same_result_files(one, two);
  }
  // The option reached the ranks: re-fitting the neighbours and the background moves the norms,
  // so equal files above mean both runs re-fitted (or both did not).
  hdf5::File a = hdf5::File::open(one_rank[false]), b = hdf5::File::open(one_rank[true]);
  EXPECT_NE(a.read_all_f64("/fluxpoints/norm"), b.read_all_f64("/fluxpoints/norm"));
#endif
}

TEST(CatalogFields, KilledReoptimizeRunResumesToTheSameResult) {
  using ::fluxpoints::testing::chunk_files;
  using ::fluxpoints::testing::spawn_program;
  using ::fluxpoints::testing::wait_exit;
  const TempDir dir;
  const std::string catalog = simulate_spread_fields(dir);
  const std::string reference = dir.file("uninterrupted.h5");
  const std::string out = dir.file("resumed.h5");
  constexpr std::int64_t kChunk = 2;  // 12 chunks
  constexpr std::size_t kChunks = kSpreadSources / kChunk;
  ASSERT_EQ(run_chunked(catalog, reference, true, kChunk).n_ok, kSpreadSources);
  const std::vector<std::string> args = {
      "batch", catalog, "-o", out, "--backend", "cpu", "--chunk-sources", std::to_string(kChunk),
      "--reoptimize"};
  // Slowed down (100 ms per chunk) so that the kill lands part-way.
  const pid_t pid = spawn_program(args, {"FLUXPOINTS_BATCH_TEST_DELAY_MS=100"});
  ::fluxpoints::testing::wait_for_chunk_files(parts_folder(out), 3);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);
  const std::size_t kept = chunk_files(parts_folder(out));
  ASSERT_GE(kept, 3u);
  ASSERT_LT(kept, kChunks) << "the run finished before it was killed: nothing was tested";
  EXPECT_FALSE(std::filesystem::exists(out)) << "no result file before the job is complete";

  // reoptimize is part of the job: its chunks cannot be resumed without it.
  BatchRunOptions fixed;
  fixed.catalog = catalog;
  fixed.output = out;
  fixed.backend = "cpu";
  fixed.chunk_sources = kChunk;
  fixed.progress = false;
  fixed.resume = true;
  fixed.reoptimize = false;
  try {
    run_batch(fixed);
    ADD_FAILURE() << "resumed a reoptimize run without reoptimize";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("different job"), std::string::npos) << e.what();
  }
  EXPECT_EQ(chunk_files(parts_folder(out)), kept) << "a refused resume keeps the chunk files";

  std::vector<std::string> resume = args;
  resume.push_back("--resume");
  ASSERT_EQ(wait_exit(spawn_program(resume)), 0);
  ::fluxpoints::testing::expect_same_result_files(reference, out);
}

// Two sources sharing two On/Off spectra (tests/validation/field_two_sources.py): convert +
// batch against gammapy's FluxPointsEstimator for each source, reoptimize False and True.
TEST(GammapyLive, FieldTwoSourcesShareSpectra) {
  std::string python;
  FLUXPOINTS_NEEDS_GAMMAPY(python);
  const TempDir dir;
  const std::string data = dir.file("two");
  const std::string log = dir.file("gammapy.log");
  const std::string cmd = python + " " + repo_path("tests/validation/field_two_sources.py") + " " +
                          data + " > " + log + " 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream in(log);
    FAIL() << cmd << " failed:\n" << std::string(std::istreambuf_iterator<char>(in), {});
  }
  TwoSourceFiles f;
  f.pha = {data + "/obs1.fits", data + "/obs2.fits"};
  f.models = data + "/models.yaml";
  const std::string cat = dir.file("field.h5");
  ASSERT_EQ(std::system(convert(f, cat, "0.3,3,30", "errn-errp,ul").c_str()), 0);
  nlohmann::json gp;
  std::ifstream(data + "/gammapy.json") >> gp;
  for (const bool reoptimize : {false, true}) {
    const std::string out = dir.file(reoptimize ? "re.h5" : "fixed.h5");
    ASSERT_EQ(run(cat, out, reoptimize).n_ok, 2);
    const nlohmann::json& want_all = gp.at(reoptimize ? "reoptimize" : "fixed");
    for (std::int64_t src = 0; src < 2; ++src) {
      const std::string name = src == 0 ? "src" : "src2";
      SCOPED_TRACE(name + (reoptimize ? ", reoptimize" : ", fixed"));
      const nlohmann::json& want = want_all.at(name);
      const auto got = [&](const char* c) { return rows_of(out, c, src, 2); };
      const auto expected = [&](const char* c) { return want.at(c).get<std::vector<double>>(); };
      const auto norm = got("norm"), norm_gp = expected("norm"), err_gp = expected("norm_err");
      for (std::size_t r = 0; r < 2; ++r) {
        EXPECT_TRUE(near(norm[r], norm_gp[r], kNormRelTol) ||
                    std::fabs(norm[r] - norm_gp[r]) <= kMigradSigmaTol * err_gp[r])
            << "norm row " << r << ": " << norm[r] << " vs gammapy " << norm_gp[r];
        EXPECT_TRUE(near(got("norm_err")[r], expected("norm_err")[r], kNormErrRelTol))
            << "norm_err row " << r << ": " << got("norm_err")[r] << " vs gammapy "
            << expected("norm_err")[r];
        for (const char* c : {"norm_errn", "norm_errp", "norm_ul"})
          EXPECT_TRUE(near(got(c)[r], expected(c)[r], kCrossingRelTol))
              << c << " row " << r << ": " << got(c)[r] << " vs gammapy " << expected(c)[r];
        EXPECT_NEAR(got("ts")[r], expected("ts")[r], kTsAbsTol) << "ts row " << r;
        for (const char* c : {"stat", "stat_null"}) {
          const double ours = got(c)[r], theirs = expected(c)[r];
          const bool minimised = std::string(c) == "stat" || reoptimize;
          const bool above_by_edm = minimised && theirs >= ours && theirs - ours <= kMigradEdm;
          EXPECT_TRUE(near(ours, theirs, kStatRelTol) || above_by_edm)
              << c << " row " << r << ": " << ours << " vs gammapy " << theirs;
        }
      }
    }
  }
}

}  // namespace
}  // namespace fluxpoints::catalog
