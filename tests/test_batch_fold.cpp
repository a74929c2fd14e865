// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Folding on a chosen device (fluxpoints/fold_backend.hpp) and batch's --fold option: the CPU fold
// backend equals datasets::FoldArrays::npred bit for bit; batch folding many sources per call
// (the --fold device path, here on the CPU fold backend) gives the same result file as the
// default source-by-source fold, bad sources included; bad choices and --fold device without a
// GPU are clear errors that write nothing; and, on a GPU (skipping here otherwise), batch with the
// device fold agrees with the host fold within a stated tolerance.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "compare_tables.hpp"
#include "fluxpoints/backend.hpp"
#include "fluxpoints/catalog/batch_run.hpp"
#include "fluxpoints/catalog/catalog.hpp"
#include "fluxpoints/catalog/simulate.hpp"
#include "fluxpoints/config.hpp"
#include "fluxpoints/datasets/fold.hpp"
#include "fluxpoints/fold_backend.hpp"
#include "fluxpoints/models/spectral_models.hpp"
#include "host/io/hdf5_table.hpp"
#include "scratch_files.hpp"
#include "test_io_helpers.hpp"

namespace fluxpoints {
namespace {

namespace fs = std::filesystem;
using ::fluxpoints::testing::expect_same_result_files;
using ::fluxpoints::testing::message_of;

fs::path scratch(const std::string& name) {
  return ::fluxpoints::testing::scratch_path("batch_fold", name);
}

// A generated catalog of 60 sources (every model type the simulator draws, dispersions and
// identity-free datasets as in CI's 200-source catalog).
const std::string& catalog_60() {
  static const std::string path = [] {
    const std::string p = scratch("catalog_60.h5").string();
    catalog::SimulateCatalogOptions o;
    o.n_sources = 60;
    o.seed = 20261203;
    catalog::simulate_catalog(o, p);
    return p;
  }();
  return path;
}

// The datasets of the catalog's first sources, and one with an infinite exposure (its non-finite
// row makes columns NaN, which both folds must reproduce).
std::vector<datasets::SpectrumDataset> some_datasets() {
  catalog::CatalogReader reader(catalog_60());
  std::vector<datasets::SpectrumDataset> out;
  for (const auto& r : reader.read_datasets({0, 1, 2, 3, 4})) out.push_back(*r.dataset);
  out.push_back(out.front());
  out.back().exposure[3] = std::numeric_limits<double>::infinity();
  return out;
}

std::vector<std::unique_ptr<models::SpectralModel>> closed_form_models() {
  std::vector<std::unique_ptr<models::SpectralModel>> m;
  for (const std::string& type : models::supported_spectral_types()) {
    try {
      auto model = models::make_default_spectral_model(type);
      if (model->closed_form()) m.push_back(std::move(model));
    } catch (const std::invalid_argument&) {
      // Types without defaults (template, compound, EBL) have no closed form anyway.
    }
  }
  m.push_back(models::make_power_law(3e-11, 1.0, 1.0));  // index 1: the logarithmic case
  return m;
}

bool same_bits(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

TEST(FoldBackend, CpuEqualsTheHostFoldBitForBit) {
  const std::vector<datasets::SpectrumDataset> sets = some_datasets();
  datasets::FoldArrays arrays;
  for (const auto& d : sets) arrays.add_dataset(d);
  std::vector<FoldTask> tasks;
  std::vector<double> want;
  const auto models = closed_form_models();
  ASSERT_GE(models.size(), 10u) << "the closed-form types";
  for (const auto& model : models) {
    for (std::int32_t k = 0; k < arrays.n_datasets(); ++k) {
      const std::vector<double> host = arrays.npred(k, *model);  // also prepares the grids
      tasks.push_back({*model->closed_form(), k, static_cast<std::int64_t>(want.size())});
      want.insert(want.end(), host.begin(), host.end());
    }
  }
  for (int workers : {1, 2}) {
    const auto folder = make_fold_backend("host", {}, workers);
    EXPECT_EQ(folder->name(), "cpu");
    const std::vector<double> got = folder->fold(arrays.view(), tasks);
    ASSERT_EQ(got.size(), want.size());
    std::size_t differing = 0, nan = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      differing += same_bits(got[i], want[i]) ? 0 : 1;
      nan += std::isnan(want[i]) ? 1 : 0;
    }
    EXPECT_EQ(differing, 0u) << workers << " workers";
    EXPECT_GT(nan, 0u) << "the infinite exposure reaches the output";
  }
}

TEST(FoldBackend, BadTasksAndChoicesAreClearErrors) {
  datasets::FoldArrays arrays;
  arrays.add_dataset(some_datasets().front());
  const auto folder = make_fold_backend("host");
  const auto log_parabola = *models::make_log_parabola(4e-11, 2.2, 0.15, 1.0)->closed_form();
  const auto power_law = *models::make_power_law(3e-11, 2.4, 1.0)->closed_form();
  EXPECT_NE(message_of<std::invalid_argument>([&] {
              folder->fold(arrays.view(), {{power_law, 1, 0}});
            }).find("task 0 names dataset 1 of 1"),
            std::string::npos);
  EXPECT_NE(message_of<std::invalid_argument>([&] {
              folder->fold(arrays.view(), {{log_parabola, 0, 0}});
            }).find("no log-log grid"),
            std::string::npos);
  EXPECT_NE(message_of<std::invalid_argument>([&] {
              folder->fold(arrays.view(), {{power_law, 0, -1}});
            }).find("negative npred_offset"),
            std::string::npos);
  EXPECT_TRUE(folder->fold(arrays.view(), {}).empty());
  EXPECT_NE(message_of<std::invalid_argument>([] {
              make_fold_backend("gpu");
            }).find("unknown fold place 'gpu' (expected host or device)"),
            std::string::npos);
}

// GPU 99 exists nowhere: without a GPU the message says why there is none, with one that the
// index is out of range.
constexpr int kAbsentGpu = 99;

std::string expected_device_problem() {
  std::string reason;
  return cuda_device_available(&reason) ? "CUDA device index 99 is out of range" : reason;
}

TEST(FoldBackend, DeviceThatCannotBeUsedIsAClearError) {
  CudaConfig cuda;
  cuda.device = kAbsentGpu;
  const std::string message =
      message_of<std::runtime_error>([&] { make_fold_backend("device", cuda); });
  EXPECT_EQ(message.rfind("fold on the device: ", 0), 0u) << message;
  EXPECT_NE(message.find(expected_device_problem()), std::string::npos) << message;
}

// ---- batch
// ---------------------------------------------------------------------------------------

catalog::BatchRunOptions batch_options(const std::string& catalog, const std::string& output) {
  catalog::BatchRunOptions o;
  o.catalog = catalog;
  o.output = output;
  o.backend = "cpu";
  o.workers = 2;
  o.chunk_sources = 17;  // uneven chunks, a short last one
  o.progress = false;
  o.overwrite = true;
  return o;
}

// The chunk-at-once path (what --fold device runs) on the CPU fold backend: the same predictions,
// so the same bits as the default source-by-source fold.
TEST(BatchFold, ChunkAtOnceOnTheCpuEqualsTheDefaultFold) {
  const std::string host = scratch("host.h5").string(), batched = scratch("batched.h5").string();
  catalog::BatchRunOptions o = batch_options(catalog_60(), host);
  std::string fold_why;
  o.on_progress = [&](const catalog::BatchProgress& p) { fold_why = p.job->fold_why; };
  ASSERT_EQ(catalog::run_batch(o).n_errors, 0);
  EXPECT_EQ(fold_why, "fold auto: on the host (the solve backend is the CPU)");
  o.output = batched;
  o.fold_backend = make_fold_backend("host", {}, 2);
  ASSERT_EQ(catalog::run_batch(o).n_errors, 0);
  EXPECT_EQ(fold_why, "fold: on the given backend cpu");
  expect_same_result_files(host, batched);
}

// Sources whose datasets are bad are left to the host path, which gives them the same error
// records as without the chunk-at-once fold; the others keep their results.
TEST(BatchFold, BadSourcesGetTheSameErrorRecords) {
  const std::string planted = scratch("planted.h5").string();
  catalog::CatalogReader good(catalog_60());
  constexpr std::int64_t kSources = 20;
  {
    catalog::CatalogWriter w(planted);
    EstimatorOptions o;
    good.apply_options(o);
    w.set_options(o);
    std::int64_t k = 0;
    for (const catalog::Source& s : good.read_sources(0, kSources)) {
      catalog::Source copy = s;
      copy.datasets.clear();
      const auto reads = good.read_datasets(s.datasets);
      for (std::size_t d = 0; d < reads.size(); ++d) {
        datasets::SpectrumDataset ds = *reads[d].dataset;
        if (k == 2 && d == 0) ds.exposure[10] = std::nan("");  // folds to NaN: batch rejects it
        if (k == 5 && d == 0) ds.edisp.pop_back();             // the fold refuses the shape
        if (k == 9) ds.true_edges[0] = -1.0;                   // and a true bin below 0
        copy.datasets.push_back(w.add_dataset(ds));
      }
      w.add_source(copy);
      ++k;
    }
    w.close();
  }
  const std::string host = scratch("planted_host.h5").string();
  const std::string batched = scratch("planted_batched.h5").string();
  catalog::BatchRunOptions o = batch_options(planted, host);
  const catalog::BatchRunSummary a = catalog::run_batch(o);
  EXPECT_GE(a.n_errors, 3);
  o.output = batched;
  o.fold_backend = make_fold_backend("host", {}, 2);
  const catalog::BatchRunSummary b = catalog::run_batch(o);
  EXPECT_EQ(b.n_errors, a.n_errors);
  expect_same_result_files(host, batched);
}

TEST(BatchFold, UnknownChoiceAndUnusableDeviceAreClearErrorsThatWriteNothing) {
  const std::string out = scratch("refused.h5").string();
  fs::remove(out);
  catalog::BatchRunOptions o = batch_options(catalog_60(), out);
  o.fold = "gpu";
  EXPECT_NE(message_of<std::invalid_argument>([&] {
              catalog::run_batch(o);
            }).find("unknown fold choice 'gpu' (expected auto, host or device)"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(out));
  o.fold = "device";
  o.cuda_device = kAbsentGpu;
  const std::string message = message_of<std::runtime_error>([&] { catalog::run_batch(o); });
  EXPECT_EQ(message.rfind("--fold device: fold on the device: ", 0), 0u) << message;
  EXPECT_NE(message.find(expected_device_problem()), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(catalog::parts_folder(out)));
}

TEST(BatchFold, CliOptionParsesAndRefusesBadValues) {
  const fs::path dir = scratch("cli");
  fs::create_directories(dir);
  const std::string out = (dir / "out.h5").string();
  auto r = ::fluxpoints::testing::run_cli(
      "batch " + catalog_60() + " -o " + out + " --backend cpu --fold sideways", dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--fold"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sideways"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));

  r = ::fluxpoints::testing::run_cli(
      "batch " + catalog_60() + " -o " + out + " --backend cpu --fold host -v --no-progress", dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("fold on the host (requested)"), std::string::npos) << r.err;

  const std::string help = ::fluxpoints::testing::run_cli("batch --help", dir).out;
  EXPECT_NE(help.find("--fold"), std::string::npos);

  fs::remove(out);
  r = ::fluxpoints::testing::run_cli(
      "batch " + catalog_60() + " -o " + out + " --backend cpu --fold device --device 99", dir);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--fold device: fold on the device: " + expected_device_problem()),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(out));
}

// ---- on a GPU
// ------------------------------------------------------------------------------------

// The device evaluates pow/exp/log with its own library (an ulp or two from the host's per call),
// so predicted counts differ by ~1e-15 relative; the solver finds norms, errors and limits to
// ~1e-12 and the statistics are sums of logs of those counts. 1e-8 relative (of the larger value,
// and 1e-9 absolute for values that cancel to ~0 such as TS of a null source) leaves a margin of
// ~1e4 over that, and still catches any real fold difference (a wrong bin, exposure or dispersion
// changes results at the 1e-3 level or more).
constexpr double kDeviceFoldRelTol = 1e-8;
constexpr double kDeviceFoldAbsTol = 1e-9;

TEST(CudaFold, BatchOnTheDeviceMatchesTheHostFold) {
  std::string reason;
  if (!cuda_device_available(&reason)) GTEST_SKIP() << reason;
  const std::string host = scratch("gpu_host.h5").string(),
                    device = scratch("gpu_device.h5").string();
  catalog::BatchRunOptions o = batch_options(catalog_60(), host);
  o.fold = "host";
  ASSERT_EQ(catalog::run_batch(o).n_errors, 0);
  o.output = device;
  o.fold = "device";
  std::string fold_why;
  o.on_progress = [&](const catalog::BatchProgress& p) { fold_why = p.job->fold_why; };
  ASSERT_EQ(catalog::run_batch(o).n_errors, 0);
  EXPECT_EQ(fold_why.rfind("fold device: on the device, cuda (", 0), 0u) << fold_why;

  hdf5::File a = hdf5::File::open(host), b = hdf5::File::open(device);
  const std::int64_t n = a.attr_i64("/", "n_sources");
  EXPECT_EQ(a.read_u8("/sources/ok", 0, n), b.read_u8("/sources/ok", 0, n));
  std::int64_t compared = 0;
  for (const std::string& name : a.members("/fluxpoints")) {
    const std::string path = "/fluxpoints/" + name;
    ASSERT_EQ(a.dims(path), b.dims(path)) << name;
    const auto x = a.read_all_f64(path), y = b.read_all_f64(path);
    std::size_t differing = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (std::isnan(x[i]) || std::isnan(y[i])) {
        differing += std::isnan(x[i]) && std::isnan(y[i]) ? 0 : 1;
        continue;
      }
      const double scale = std::max(std::fabs(x[i]), std::fabs(y[i]));
      differing += std::fabs(x[i] - y[i]) <= kDeviceFoldRelTol * scale + kDeviceFoldAbsTol ? 0 : 1;
      ++compared;
    }
    EXPECT_EQ(differing, 0u) << name;
  }
  EXPECT_GT(compared, 1000);
}

}  // namespace
}  // namespace fluxpoints
