// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// run_batch reports through its callbacks only: the stages of every chunk in order, counts that
// never go back and end at the total, and nothing at all on stderr or stdout without callbacks.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fluxpoints/catalog/batch_run.hpp"
#include "fluxpoints/catalog/simulate.hpp"
#include "scratch_files.hpp"

namespace fluxpoints::catalog {
namespace {

constexpr std::int64_t kSources = 45;
constexpr std::int64_t kChunk = 10;  // 5 chunks, the last one short
constexpr std::int64_t kChunks = (kSources + kChunk - 1) / kChunk;

const std::string& small_catalog() {
  static const std::string path = [] {
    const std::string p = ::fluxpoints::testing::scratch_path("batch_progress", "catalog.h5").string();
    SimulateCatalogOptions o;
    o.n_sources = kSources;
    o.seed = 20261203;
    simulate_catalog(o, p);
    return p;
  }();
  return path;
}

BatchRunOptions options_for(const std::string& output) {
  BatchRunOptions o;
  o.catalog = small_catalog();
  o.output = output;
  o.backend = "cpu";
  o.workers = 2;
  o.chunk_sources = kChunk;
  o.overwrite = true;
  return o;
}

struct Report {
  BatchStage stage;
  std::int64_t done, total;
  double rate;
};

std::vector<Report> run_recording(BatchRunOptions o) {
  std::vector<Report> reports;
  o.on_progress = [&](const BatchProgress& p) {
    ASSERT_NE(p.job, nullptr);
    EXPECT_EQ(p.job->n_sources, kSources);
    EXPECT_EQ(p.job->n_chunks, kChunks);
    reports.push_back({p.stage, p.sources_done, p.sources_total, p.sources_per_second});
  };
  run_batch(o);
  return reports;
}

TEST(BatchProgress, CountsAreMonotoneAndEndAtTheTotal) {
  const ::fluxpoints::testing::TempDir dir;
  const std::vector<Report> reports = run_recording(options_for(dir.file("out.h5")));
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.front().stage, BatchStage::plan);
  EXPECT_EQ(reports.back().stage, BatchStage::done);
  std::int64_t previous = 0, writes = 0;
  std::vector<BatchStage> stages;
  for (const Report& r : reports) {
    EXPECT_GE(r.done, previous) << "at stage " << stage_name(r.stage);
    EXPECT_LE(r.done, r.total);
    previous = r.done;
    stages.push_back(r.stage);
    if (r.stage == BatchStage::write) {
      ++writes;
      EXPECT_GT(r.rate, 0.0) << "a finished chunk gives a rate";
    }
  }
  EXPECT_EQ(writes, kChunks) << "one write per chunk";
  EXPECT_EQ(reports.back().done, kSources);
  EXPECT_EQ(reports.back().total, kSources);
  // Every chunk passes read, fold, solve, tables, write, in that order.
  for (BatchStage s : {BatchStage::read, BatchStage::fold, BatchStage::solve, BatchStage::tables})
    EXPECT_EQ(std::count(stages.begin(), stages.end(), s), kChunks) << stage_name(s);
  std::vector<BatchStage> first_chunk;
  for (BatchStage s : stages)
    if (first_chunk.size() < 2 && (s == BatchStage::read || s == BatchStage::fold))
      first_chunk.push_back(s);
  EXPECT_EQ(first_chunk, (std::vector<BatchStage>{BatchStage::read, BatchStage::fold}));
  EXPECT_EQ(std::count(stages.begin(), stages.end(), BatchStage::merge), 1);
}

TEST(BatchProgress, WithoutPerChunkProgressOnlyTheRunsStagesAreReported) {
  const ::fluxpoints::testing::TempDir dir;
  BatchRunOptions o = options_for(dir.file("out.h5"));
  o.progress = false;
  const std::vector<Report> reports = run_recording(o);
  std::vector<BatchStage> stages;
  for (const Report& r : reports) stages.push_back(r.stage);
  EXPECT_EQ(stages, (std::vector<BatchStage>{BatchStage::plan, BatchStage::resume,
                                             BatchStage::merge, BatchStage::done}));
  EXPECT_EQ(reports.back().done, kSources);
}

TEST(BatchProgress, LibraryWritesNothingWithoutCallbacks) {
  const ::fluxpoints::testing::TempDir dir;
  BatchRunOptions o = options_for(dir.file("out.h5"));
  ASSERT_FALSE(o.on_progress);
  ASSERT_FALSE(o.on_warning);
  small_catalog();  // generated before the capture starts
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  const BatchRunSummary s = run_batch(o);
  const std::string out = ::testing::internal::GetCapturedStdout();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(s.n_sources, kSources);
  EXPECT_EQ(err, "");
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace fluxpoints::catalog
