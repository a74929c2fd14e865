// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The CUDA backend against the CPU backend on random batches (small and large problems, Cash and
// WStat, every selection), chunked against unchunked, and its pieces that run without a GPU: the
// backend choice when there is no device, the chunk plan, and the strided partial sums the
// block-per-problem kernels are built from. GPU tests skip with the reason when no device is
// usable.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/config.hpp"
#include "fluxpoints/math/batch_solve.hpp"
#include "host/engine/backend_support.hpp"
#include "test_helpers.hpp"
#if FLUXPOINTS_WITH_CUDA
#include "kernels/cuda/chunk_plan.hpp"
#include "kernels/cuda/cuda_backend.hpp"
#endif

namespace fluxpoints {
namespace {

// CPU and GPU sum the same per-bin terms in different orders (block reductions, FMA
// contraction), so sums agree to a few ulps per term: ~1e-13 relative for 1e4-bin sums.
constexpr double kStatRelTol = 1e-11;
// Norms are solver roots with xtol_rel = 1e-12 (SolveSettings); rounding differences of the sums
// can move the stopping iterate by about that much, amplified where the profile is shallow.
constexpr double kNormRelTol = 1e-8;
// Absolute floor for quantities near 0 (norms, TS, npred_excess of a vanishing source).
constexpr double kAbsTol = 1e-9;

// --- random batches -----------------------------------------------------------------------------

struct BatchShape {
  int small_problems = 60;     // 1-3 datasets of 2-40 bins (thread or warp per problem)
  int large_problems = 6;      // 1-2 datasets of 300-3000 bins (warp or block per problem)
  bool special_cases = true;   // empty group, empty mask, all-zero counts, negative background
};

void add_dataset(LikelihoodBatch& b, std::mt19937_64& rng, bool wstat, int n_bins, double norm) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  b.begin_dataset(wstat ? StatKind::wstat : StatKind::cash);
  for (int i = 0; i < n_bins; ++i) {
    const double s = 5.0 * std::exp(-3.0 * u(rng)) * (1.0 + u(rng));
    const double bkg = 2.0 + 10.0 * u(rng);
    if (wstat) {
      const double alpha = 0.1 + 0.3 * u(rng);
      std::poisson_distribution<int> on(norm * s + alpha * bkg), off(bkg);
      b.add_wstat_bin(on(rng), off(rng), alpha, s);
    } else {
      std::poisson_distribution<int> n(norm * s + bkg);
      b.add_cash_bin(n(rng), s, bkg);
    }
  }
}

LikelihoodBatch random_batch(std::uint64_t seed, const BatchShape& shape) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> small_bins(2, 40), large_bins(300, 3000), datasets(1, 3);
  std::uniform_real_distribution<double> norm(0.0, 3.0);
  std::bernoulli_distribution coin(0.5);
  LikelihoodBatch b;
  const int n = shape.small_problems + shape.large_problems;
  for (int p = 0; p < n; ++p) {
    b.begin_problem("random " + std::to_string(p));
    // Interleave large problems among small ones so chunks and the size sort both matter.
    const bool large = p % (n / std::max(shape.large_problems, 1) + 1) == 1 &&
                       p / (n / std::max(shape.large_problems, 1) + 1) < shape.large_problems;
    const double theta = norm(rng);
    const int n_datasets = large ? 1 + coin(rng) : datasets(rng);
    for (int d = 0; d < n_datasets; ++d)
      add_dataset(b, rng, coin(rng), large ? large_bins(rng) : small_bins(rng), theta);
  }
  if (shape.special_cases) {
    b.begin_problem("no dataset");  // no dataset overlaps the group: a NaN row
    b.begin_problem("empty mask");  // no bin in the safe mask: stat 0, ts NaN
    b.begin_dataset(StatKind::cash);
    b.begin_problem("zero counts");
    b.begin_dataset(StatKind::cash);
    for (int i = 0; i < 5; ++i) b.add_cash_bin(0.0, 1.0 + i, 0.5);
    b.begin_problem("zero counts wstat");
    b.begin_dataset(StatKind::wstat);
    for (int i = 0; i < 5; ++i) b.add_wstat_bin(0.0, 3.0, 0.2, 1.0 + i);
    b.begin_problem("negative background");  // feasibility limit inside the search
    b.begin_dataset(StatKind::cash);
    b.add_cash_bin(3.0, 2.0, -1.0);
    b.add_cash_bin(1.0, 1.0, 0.5);
  }
  return b;
}

SolveOptions options_for(const std::string& selection) {
  SolveOptions o;
  o.set_selection(selection);
  return o;
}

const char* const kSelections[] = {"", "errn-errp", "ul", "scan", "all"};

// --- comparisons ------------------------------------------------------------------------------

void expect_close(const std::vector<double>& cpu, const std::vector<double>& gpu, double rel,
                  const char* what) {
  ASSERT_EQ(cpu.size(), gpu.size()) << what;
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    ASSERT_EQ(std::isnan(cpu[i]), std::isnan(gpu[i])) << what << "[" << i << "]: NaN pattern, cpu "
                                                      << cpu[i] << " gpu " << gpu[i];
    if (std::isnan(cpu[i])) continue;
    if (std::isinf(cpu[i])) {
      EXPECT_EQ(cpu[i], gpu[i]) << what << "[" << i << "]";
      continue;
    }
    EXPECT_NEAR(cpu[i], gpu[i], kAbsTol + rel * std::abs(cpu[i])) << what << "[" << i << "]";
  }
}

[[maybe_unused]] void expect_equivalent(const BatchResult& cpu, const BatchResult& gpu) {
  ASSERT_EQ(cpu.n_problems(), gpu.n_problems());
  for (std::int64_t p = 0; p < cpu.n_problems(); ++p) {
    EXPECT_EQ(cpu.status[p], gpu.status[p]) << "problem " << p << ": cpu " << cpu.reason(p)
                                            << " / gpu " << gpu.reason(p);
    EXPECT_EQ(cpu.success[p], gpu.success[p]) << "problem " << p;
    EXPECT_EQ(cpu.notes[p], gpu.notes[p]) << "problem " << p;
  }
  expect_close(cpu.stat, gpu.stat, kStatRelTol, "stat");
  expect_close(cpu.stat_null, gpu.stat_null, kStatRelTol, "stat_null");
  expect_close(cpu.stat_scan, gpu.stat_scan, kStatRelTol, "stat_scan");
  expect_close(cpu.counts, gpu.counts, 0.0, "counts");  // integer sums: exact
  expect_close(cpu.norm, gpu.norm, kNormRelTol, "norm");
  expect_close(cpu.norm_err, gpu.norm_err, kNormRelTol, "norm_err");
  expect_close(cpu.norm_errn, gpu.norm_errn, kNormRelTol, "norm_errn");
  expect_close(cpu.norm_errp, gpu.norm_errp, kNormRelTol, "norm_errp");
  expect_close(cpu.norm_ul, gpu.norm_ul, kNormRelTol, "norm_ul");
  // TS is a difference of two stats of size |stat|: its error is absolute, not relative.
  for (std::int64_t p = 0; p < cpu.n_problems(); ++p) {
    if (std::isnan(cpu.ts[p])) {
      EXPECT_TRUE(std::isnan(gpu.ts[p])) << "ts[" << p << "]";
      continue;
    }
    EXPECT_NEAR(cpu.ts[p], gpu.ts[p], kAbsTol + kStatRelTol * std::abs(cpu.stat_null[p]))
        << "ts[" << p << "]";
  }
  expect_close(cpu.npred, gpu.npred, kNormRelTol, "npred");
  expect_close(cpu.npred_excess, gpu.npred_excess, kNormRelTol, "npred_excess");
  EXPECT_EQ(cpu.norm_scan, gpu.norm_scan);
}

// --- without a GPU: the math the block kernels are built from ----------------------------------

// The block-per-problem Profile on the host: T workers each sum a strided share of the bins and
// the shares are added in worker order (the GPU uses CUB's fixed tree instead).
struct StridedProfile {
  math::ProblemView view;
  int workers;
  math::ProfilePoint profile(double theta) const {
    math::ProfilePoint sum{0.0, 0.0, 0.0};
    for (int t = 0; t < workers; ++t) {
      const math::ProfilePoint part = view.partial_profile(theta, t, workers);
      sum.value += part.value;
      sum.d1 += part.d1;
      sum.d2 += part.d2;
    }
    return sum;
  }
  double feasible_min() const {
    double lo = -math::kInf;
    for (int t = 0; t < workers; ++t) lo = std::max(lo, view.partial_feasible_min(t, workers));
    return lo;
  }
};

TEST(CudaMathOnHost, StridedProfileSolvesLikeTheSerialOne) {
  const LikelihoodBatch batch = random_batch(11, BatchShape{});
  SolveOptions options = options_for("all");
  const math::SolveSettings settings = options.settings();
  for (int workers : {1, 7, 256}) {
    for (std::int64_t p = 0; p < batch.n_problems(); ++p) {
      const math::ProblemView v = batch.view(p);
      if (v.n_bins() == 0) continue;
      SCOPED_TRACE("problem " + std::to_string(p) + ", workers " + std::to_string(workers));
      const math::ProblemSolution serial = math::solve_profile(v, settings);
      const math::ProblemSolution strided =
          math::solve_profile(StridedProfile{v, workers}, settings);
      EXPECT_EQ(serial.status, strided.status);
      EXPECT_EQ(serial.notes, strided.notes);
      const auto near = [](double a, double b) {
        return (std::isnan(a) && std::isnan(b)) || std::abs(a - b) <= kAbsTol + kNormRelTol * std::abs(a);
      };
      EXPECT_TRUE(near(serial.norm, strided.norm)) << serial.norm << " vs " << strided.norm;
      EXPECT_TRUE(near(serial.norm_ul, strided.norm_ul)) << serial.norm_ul << " vs " << strided.norm_ul;
      EXPECT_TRUE(near(serial.norm_errn, strided.norm_errn));
      EXPECT_TRUE(near(serial.norm_errp, strided.norm_errp));
      EXPECT_NEAR(serial.stat, strided.stat, kAbsTol + kStatRelTol * std::abs(serial.stat));
    }
  }
}

TEST(CudaMathOnHost, PartialScanAndDatasetSumsAddUpToTheWhole) {
  const LikelihoodBatch batch = random_batch(12, BatchShape{});
  const std::vector<double> norms = interp_grid(0.2, 5.0, 21, "log");
  constexpr int K = 8;
  constexpr int kWorkers = 5;
  for (std::int64_t p = 0; p < batch.n_problems(); ++p) {
    const math::ProblemView v = batch.view(p);
    std::vector<double> whole(norms.size());
    v.values(norms.data(), static_cast<int>(norms.size()), whole.data());
    for (std::size_t j0 = 0; j0 < norms.size(); j0 += K) {
      const int n = static_cast<int>(std::min<std::size_t>(K, norms.size() - j0));
      double theta[K] = {}, acc[K] = {};
      for (int j = 0; j < n; ++j) theta[j] = norms[j0 + j];
      for (int t = 0; t < kWorkers; ++t) v.partial_values<K>(theta, n, t, kWorkers, acc);
      for (int j = 0; j < n; ++j)
        EXPECT_NEAR(acc[j], whole[j0 + j], kAbsTol + kStatRelTol * std::abs(whole[j0 + j]))
            << "problem " << p << " norm " << j0 + j;
    }
    for (std::int64_t k = v.segment_begin; k < v.segment_end; ++k) {
      const auto d = v.dataset_sums(k, 1.3);
      math::ProblemView::DatasetSums sum{0.0, 0.0, 0.0};
      for (int t = 0; t < kWorkers; ++t) {
        const auto part = v.partial_dataset_sums(k, 1.3, t, kWorkers);
        sum.counts += part.counts;
        sum.npred += part.npred;
        sum.npred_ref += part.npred_ref;
      }
      EXPECT_EQ(sum.counts, d.counts);  // integers: exact in any order
      EXPECT_NEAR(sum.npred, d.npred, kAbsTol + kStatRelTol * d.npred);
      EXPECT_NEAR(sum.npred_ref, d.npred_ref, kAbsTol + kStatRelTol * d.npred_ref);
    }
  }
}

#if FLUXPOINTS_WITH_CUDA

// --- without a GPU: backend choice and chunk plan ----------------------------------------------

TEST(CudaNoDevice, CudaBackendThrowsWithTheReasonAndAutoFallsBack) {
  std::string reason;
  if (cuda_device_available(&reason)) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_NE(reason.find("CUDA device"), std::string::npos) << reason;
  try {
    make_backend("cuda");
    FAIL() << "make_backend(\"cuda\") must throw without a device";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
  }
  EXPECT_THROW(cuda_backend::Solver{}, std::runtime_error);
  std::string why;
  const auto backend = make_backend("auto", &why);
  EXPECT_EQ(backend->name().rfind("cpu", 0), 0u) << backend->name();
  EXPECT_NE(why.find("using the CPU"), std::string::npos) << why;
  EXPECT_NE(why.find(reason), std::string::npos) << why;
}

TEST(CudaChunkPlan, CoversEveryProblemOnceWithinTheBudget) {
  const LikelihoodBatch batch = random_batch(21, BatchShape{});
  const int n_scan = 11;
  constexpr std::int64_t kWarpMinBins = 32, kBlockMinBins = 2048;
  const auto plan_for = [&](std::size_t budget) {
    return cuda_backend::plan_chunks(batch.problem_segments(), batch.segment_bins(), n_scan, budget,
                                     kWarpMinBins, kBlockMinBins);
  };
  for (std::size_t budget : {std::size_t{1}, std::size_t{2000}, std::size_t{50000},
                             std::size_t{1} << 40}) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    const cuda_backend::ChunkPlan plan = plan_for(budget);
    ASSERT_FALSE(plan.chunks.empty());
    std::int64_t next = 0, tier_count[3] = {0, 0, 0};
    for (const auto& c : plan.chunks) {
      EXPECT_EQ(c.problem_begin, next);
      EXPECT_GT(c.problems(), 0);
      EXPECT_EQ(c.segment_begin, batch.problem_segments()[c.problem_begin]);
      EXPECT_EQ(c.segment_end, batch.problem_segments()[c.problem_end]);
      EXPECT_EQ(c.bin_begin, batch.segment_bins()[c.segment_begin]);
      EXPECT_EQ(c.bin_end, batch.segment_bins()[c.segment_end]);
      std::size_t bytes = 0;
      std::int64_t tiers[3] = {0, 0, 0}, max_bins = 0;  // thread, warp, block
      for (std::int64_t p = c.problem_begin; p < c.problem_end; ++p) {
        const std::int64_t bins = batch.view(p).n_bins();
        bytes += cuda_backend::problem_bytes(
            bins, batch.problem_segments()[p + 1] - batch.problem_segments()[p], n_scan);
        ++tiers[bins >= kBlockMinBins ? 2 : bins >= kWarpMinBins ? 1 : 0];
        max_bins = std::max(max_bins, bins);
      }
      if (c.problems() > 1) {
        EXPECT_LE(bytes, budget);
      }
      EXPECT_EQ(c.n_thread_problems(), tiers[0]);
      EXPECT_EQ(c.n_warp_problems, tiers[1]);
      EXPECT_EQ(c.n_block_problems, tiers[2]);
      EXPECT_EQ(c.max_problem_bins, max_bins);
      EXPECT_LE(c.problems(), plan.max_problems);
      EXPECT_LE(c.segments(), plan.max_segments);
      EXPECT_LE(c.bins(), plan.max_bins);
      for (int i = 0; i < 3; ++i) tier_count[i] += tiers[i];
      next = c.problem_end;
    }
    EXPECT_EQ(next, batch.n_problems());
    for (int i = 0; i < 3; ++i) EXPECT_GT(tier_count[i], 0) << "tier " << i << " never used";
  }
  // The smallest budget gives every problem its own chunk; the largest one chunk.
  EXPECT_EQ(plan_for(1).chunks.size(), static_cast<std::size_t>(batch.n_problems()));
  EXPECT_EQ(plan_for(std::size_t{1} << 40).chunks.size(), 1u);
  EXPECT_THROW(plan_for(0), std::invalid_argument);
  // A problem without bins is a thread problem whatever the thresholds.
  const auto all_blocks = cuda_backend::plan_chunks(batch.problem_segments(), batch.segment_bins(),
                                                    n_scan, std::size_t{1} << 40, 0, 0);
  std::int64_t empty = 0;
  for (std::int64_t p = 0; p < batch.n_problems(); ++p) empty += batch.view(p).n_bins() == 0;
  EXPECT_GT(empty, 0);
  EXPECT_EQ(all_blocks.chunks[0].n_thread_problems(), empty);
  EXPECT_EQ(all_blocks.chunks[0].n_warp_problems, 0);
}

// --- on a GPU -----------------------------------------------------------------------------------

class CudaEquivalence : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason;
    if (!cuda_device_available(&reason)) GTEST_SKIP() << "no CUDA device: " << reason;
  }
};

TEST_F(CudaEquivalence, MatchesTheCpuOnRandomBatchesForEverySelection) {
  const LikelihoodBatch batch = random_batch(31, BatchShape{});
  const auto cpu = make_backend("cpu");
  const auto gpu = make_backend("cuda");
  for (const char* selection : kSelections) {
    SCOPED_TRACE(std::string("selection '") + selection + "'");
    const SolveOptions o = options_for(selection);
    expect_equivalent(cpu->solve(batch, o), gpu->solve(batch, o));
  }
}

TEST_F(CudaEquivalence, ThreadWarpAndBlockPathsAllMatchTheCpu) {
  const LikelihoodBatch batch = random_batch(32, BatchShape{});
  const SolveOptions o = options_for("all");
  const BatchResult cpu = make_backend("cpu")->solve(batch, o);
  constexpr std::int64_t kNever = std::int64_t{1} << 40;
  cuda_backend::CudaConfig all_threads, all_warps, all_blocks, few_norms;
  all_threads.warp_min_bins = all_threads.block_min_bins = kNever;
  all_warps.warp_min_bins = 1;
  all_warps.block_min_bins = kNever;
  all_blocks.warp_min_bins = all_blocks.block_min_bins = 1;
  few_norms.scan_norms_per_pass = 8;
  const std::pair<const char*, cuda_backend::CudaConfig> cases[] = {
      {"every problem one thread", all_threads},
      {"every problem one warp", all_warps},
      {"every problem one block", all_blocks},
      {"8 scan norms per pass", few_norms}};
  for (const auto& [label, config] : cases) {
    SCOPED_TRACE(label);
    expect_equivalent(cpu, cuda_backend::make(config)->solve(batch, o));
  }
}

TEST_F(CudaEquivalence, MatchesTheCpuWithNormBoundsAndCustomScan) {
  const LikelihoodBatch batch = random_batch(33, BatchShape{});
  SolveOptions o = options_for("all");
  o.norm_min = 0.0;
  o.norm_max = 20.0;
  o.scan_values = interp_grid(0.01, 10.0, 37, "lin");  // more norms than one register pass
  expect_equivalent(make_backend("cpu")->solve(batch, o), make_backend("cuda")->solve(batch, o));
}

TEST_F(CudaEquivalence, ChunkedAndUnchunkedAreIdentical) {
  const LikelihoodBatch batch = random_batch(34, BatchShape{});
  const SolveOptions o = options_for("all");
  cuda_backend::CudaConfig whole, tiny_chunks, two_streams;
  whole.chunk_bytes = std::size_t{1} << 40;
  // Small thresholds so all three tiers occur in the chunks.
  for (auto* c : {&whole, &tiny_chunks, &two_streams}) c->block_min_bins = 1000;
  tiny_chunks.chunk_bytes = 4096;  // a few problems per chunk, large ones alone
  two_streams.chunk_bytes = 20000;
  two_streams.streams = 2;
  cuda_backend::PhaseTimes t_whole, t_tiny;
  cuda_backend::Solver solver_whole(whole), solver_tiny(tiny_chunks);
  const BatchResult a = solver_whole.solve(batch, o, &t_whole);
  const BatchResult b = solver_tiny.solve(batch, o, &t_tiny);
  EXPECT_EQ(t_whole.chunks, 1);
  EXPECT_GT(t_tiny.chunks, 3);
  testing::expect_identical(a, b, testing::NanPayloads::may_differ);
  testing::expect_identical(a, cuda_backend::make(two_streams)->solve(batch, o),
                            testing::NanPayloads::may_differ);
  // Run to run, with the workspace reused: bit-identical too.
  testing::expect_identical(a, solver_whole.solve(batch, o), testing::NanPayloads::may_differ);
}

TEST_F(CudaEquivalence, EmptyBatchAndSpecialProblems) {
  const SolveOptions o = options_for("all");
  const BatchResult empty = make_backend("cuda")->solve(LikelihoodBatch{}, o);
  EXPECT_EQ(empty.n_problems(), 0);
  BatchShape only_special;
  only_special.small_problems = 0;
  only_special.large_problems = 0;
  const LikelihoodBatch batch = random_batch(35, only_special);
  expect_equivalent(make_backend("cpu")->solve(batch, o), make_backend("cuda")->solve(batch, o));
}

#endif  // FLUXPOINTS_WITH_CUDA

}  // namespace
}  // namespace fluxpoints
