// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The backend factory, and properties every backend must have: deterministic output (the same
// batch twice gives bit-identical results), results independent of a problem's position in the
// batch, empty batches, and option validation at the solve boundary.
// (CPU-vs-CUDA equivalence lives in the CUDA backend's own test file.)

#include <gtest/gtest.h>

#include <cstring>
#include <future>
#include <stdexcept>
#include <string>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/config.hpp"
#include "random_problems.hpp"
#include "test_helpers.hpp"

namespace fluxpoints::testing {
namespace {

TEST(BackendFactory, CompiledBackends) {
  const std::vector<std::string> names = compiled_backends();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "cpu");
#if FLUXPOINTS_WITH_CUDA
  EXPECT_EQ(names.size(), 2u);
#else
  EXPECT_EQ(names.size(), 1u);
  std::string reason;
  EXPECT_FALSE(cuda_device_available(&reason));
  EXPECT_FALSE(reason.empty());
  EXPECT_THROW(make_backend("cuda"), std::runtime_error);
#endif
}

TEST(BackendFactory, NamesAndChoices) {
  std::string why;
  EXPECT_NE(make_backend("cpu", &why)->name().find("cpu"), std::string::npos);
  EXPECT_NE(why.find("cpu"), std::string::npos);
  const auto chosen = make_backend("auto", &why);
  std::string reason;
  if (!cuda_device_available(&reason)) {
    EXPECT_NE(chosen->name().find("cpu"), std::string::npos);
    EXPECT_NE(why.find(reason), std::string::npos) << why;  // says why it fell back
  }
  try {
    make_backend("tpu");
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("tpu"), std::string::npos) << e.what();
  }
}

// Bit-for-bit equality of two doubles, NaN payloads included.
bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

constexpr int kDeterminismProblems = 2000;

LikelihoodBatch random_batch(int n, std::uint64_t seed) {
  LikelihoodBatch b;
  for (int i = 0; i < n; ++i) add_to_batch(random_problem(seed, i), b, "random " + std::to_string(i));
  return b;
}

class BackendProperties : public BackendTest {};

TEST_P(BackendProperties, SameBatchTwiceIsBitIdentical) {
  const LikelihoodBatch b = random_batch(kDeterminismProblems, test_seed());
  const SolveOptions o = all_options();
  expect_identical(backend().solve(b, o), backend().solve(b, o));
}

TEST_P(BackendProperties, ResultDoesNotDependOnPositionInBatch) {
  // Each problem solved alone gives the bits it gets inside the batch.
  constexpr int kProblems = 50;
  const std::uint64_t seed = test_seed();
  const SolveOptions o = all_options();
  const BatchResult all = backend().solve(random_batch(kProblems, seed), o);
  for (int i = 0; i < kProblems; ++i) {
    LikelihoodBatch one;
    add_to_batch(random_problem(seed, i), one, "alone");
    const BatchResult r = backend().solve(one, o);
    ASSERT_TRUE(same_bits(r.norm[0], all.norm[i])) << "problem " << i;
    ASSERT_TRUE(same_bits(r.norm_ul[0], all.norm_ul[i])) << "problem " << i;
    ASSERT_TRUE(same_bits(r.norm_errn[0], all.norm_errn[i])) << "problem " << i;
    ASSERT_TRUE(same_bits(r.stat[0], all.stat[i])) << "problem " << i;
  }
}

TEST_P(BackendProperties, EmptyBatch) {
  const BatchResult r = backend().solve(LikelihoodBatch{}, all_options());
  EXPECT_EQ(r.n_problems(), 0);
  EXPECT_TRUE(r.npred.empty());
  EXPECT_TRUE(r.stat_scan.empty());
  EXPECT_EQ(r.n_scan(), 11);
}

TEST_P(BackendProperties, ScanOnlyWhenSelected) {
  LikelihoodBatch b;
  b.begin_problem();
  b.begin_dataset(StatKind::cash);
  b.add_cash_bin(10, 5, 2);
  SolveOptions o;  // selection_optional = None
  const BatchResult r = backend().solve(b, o);
  EXPECT_EQ(r.n_scan(), 0);
  EXPECT_TRUE(r.stat_scan.empty());
  EXPECT_TRUE(std::isnan(r.norm_errn[0]));
  EXPECT_TRUE(std::isnan(r.norm_ul[0]));
  EXPECT_TRUE(std::isfinite(r.norm[0]));
  EXPECT_TRUE(std::isfinite(r.norm_err[0]));
  o.scan_values = {0.5, 1.0, 2.0};
  o.set_selection("scan");
  const BatchResult s = backend().solve(b, o);
  EXPECT_EQ(s.norm_scan, o.scan_values);
  ASSERT_EQ(s.stat_scan.size(), 3u);
}

TEST_P(BackendProperties, InvalidOptionsAreRejected) {
  LikelihoodBatch b;
  b.begin_problem();
  b.begin_dataset(StatKind::cash);
  b.add_cash_bin(10, 5, 2);
  SolveOptions o;
  o.n_sigma = 0;
  EXPECT_THROW(backend().solve(b, o), std::invalid_argument);
  o = SolveOptions{};
  o.norm_min = 2;
  o.norm_max = 1;
  EXPECT_THROW(backend().solve(b, o), std::invalid_argument);
}

TEST_P(BackendProperties, SolveAsyncGivesTheSameBitsAndPassesErrorsOn) {
  const LikelihoodBatch b = random_batch(200, test_seed());
  const SolveOptions o = all_options();
  std::future<BatchResult> pending = backend().solve_async(b.as_view(), o);
  const BatchResult async_result = pending.get();
  expect_identical(async_result, backend().solve(b, o));
  SolveOptions bad = o;
  bad.n_sigma = 0;
  std::future<BatchResult> failing = backend().solve_async(b.as_view(), bad);
  EXPECT_THROW(failing.get(), std::invalid_argument);
}

FLUXPOINTS_INSTANTIATE_BACKENDS(BackendProperties);

TEST(BackendFactory, OptionsChooseDeviceAndWorkers) {
  BackendOptions options;
  options.device = "cpu";
  options.workers = 3;
  std::string why;
  const auto cpu = make_backend(options, &why);
  EXPECT_NE(cpu->name().find("3 worker"), std::string::npos) << cpu->name();
  EXPECT_NE(why.find("cpu"), std::string::npos) << why;
  options.device = "gpu";
  EXPECT_THROW(make_backend(options), std::invalid_argument);
  options.device = "cpu";
  options.workers = -1;
  EXPECT_THROW(make_backend(options), std::invalid_argument);
}

}  // namespace
}  // namespace fluxpoints::testing
