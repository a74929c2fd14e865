// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The CUDA backend's pinned-memory cap, through its chunk plan (kernels/cuda/chunk_plan.hpp,
// plain C++): for a batch 10x larger than the cap, with or without nuisance parameters, the slots
// the backend allocates (`streams` of them, each sized for the plan's largest chunk) stay under
// the cap. Runs without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/cuda/chunk_plan.hpp"

namespace fluxpoints::cuda_backend {
namespace {

struct Offsets {
  std::vector<std::int64_t> problem_segments{0}, segment_bins{0};
  std::vector<std::int64_t> problem_nuisances{0};  // 0-16 nuisances per problem, uneven
};

// n problems of 1-3 segments of 3-40 bins (catalog-like and varied, so the largest chunk by
// problems, segments and bins are different chunks).
Offsets make_offsets(std::int64_t n) {
  Offsets o;
  for (std::int64_t p = 0; p < n; ++p) {
    const int segments = 1 + static_cast<int>(p % 3);
    for (int k = 0; k < segments; ++k)
      o.segment_bins.push_back(o.segment_bins.back() + 3 + (p * 7 + k * 13) % 38);
    o.problem_segments.push_back(o.problem_segments.back() + segments);
    o.problem_nuisances.push_back(o.problem_nuisances.back() + (p * p) % 17);
  }
  return o;
}

TEST(PinnedCap, ABatchTenTimesTheCapStaysUnderIt) {
  constexpr std::size_t kCap = std::size_t{8} << 20;  // 8 MiB (the default is 1 GiB)
  constexpr int kStreams = 3, kScan = 11;
  constexpr std::size_t kDeviceShare = std::size_t{20} << 30;  // a large GPU: the cap binds
  // Problems until the batch needs 10x the cap.
  std::int64_t n = 1000;
  Offsets o = make_offsets(n);
  auto batch_bytes = [&](const Offsets& x) {
    const auto np = static_cast<std::int64_t>(x.problem_segments.size()) - 1;
    const auto ns = static_cast<std::int64_t>(x.segment_bins.size()) - 1;
    return static_cast<std::size_t>(x.segment_bins.back()) * kBytesPerBin +
           static_cast<std::size_t>(ns) * kBytesPerSegment +
           static_cast<std::size_t>(np) * (kBytesPerProblem + kScan * sizeof(double));
  };
  while (batch_bytes(o) < 10 * kCap) o = make_offsets(n *= 2);
  const std::size_t budget = automatic_chunk_bytes(kDeviceShare, batch_bytes(o), kStreams, kCap);
  const ChunkPlan plan = plan_chunks(o.problem_segments, o.segment_bins, kScan, budget, 32, 2048);
  const std::size_t slots = std::min<std::size_t>(plan.chunks.size(), kStreams);
  EXPECT_GE(plan.chunks.size(), 30u);  // cut into many chunks, the ring reused
  EXPECT_LE(slots * slot_bytes(plan, kScan), kCap)
      << plan.chunks.size() << " chunks, slot " << slot_bytes(plan, kScan) << " bytes";
  // Every problem is in exactly one chunk, in order.
  std::int64_t next = 0;
  for (const Chunk& c : plan.chunks) {
    EXPECT_EQ(c.problem_begin, next);
    next = c.problem_end;
  }
  EXPECT_EQ(next, n);
}

TEST(PinnedCap, ABatchWithNuisancesTenTimesTheCapStaysUnderIt) {
  constexpr std::size_t kCap = std::size_t{8} << 20;
  constexpr int kStreams = 3, kScan = 11;
  constexpr std::size_t kDeviceShare = std::size_t{20} << 30;
  auto offsets = [](const Offsets& x) {
    return BatchOffsets{x.problem_segments.data(),
                        static_cast<std::int64_t>(x.problem_segments.size()) - 1,
                        x.segment_bins.data(), x.problem_nuisances.data()};
  };
  auto batch_bytes = [&](const Offsets& x) {  // every problem's bytes, templates included
    const BatchOffsets b = offsets(x);
    std::size_t bytes = 0;
    for (std::int64_t p = 0; p < b.n_problems; ++p) {
      const std::int64_t s0 = b.problem_segments[p], s1 = b.problem_segments[p + 1];
      bytes += problem_bytes(b.segment_bins[s1] - b.segment_bins[s0], s1 - s0, kScan, true,
                             b.problem_nuisances[p + 1] - b.problem_nuisances[p]);
    }
    return bytes;
  };
  std::int64_t n = 1000;
  Offsets o = make_offsets(n);
  while (batch_bytes(o) < 10 * kCap) o = make_offsets(n *= 2);
  const std::size_t budget =
      automatic_chunk_bytes(kDeviceShare, batch_bytes(o), kStreams, kCap, true);
  const ChunkPlan plan = plan_chunks(offsets(o), kScan, budget, 32, 2048);
  ASSERT_TRUE(plan.with_nuisances());
  const std::size_t slots = std::min<std::size_t>(plan.chunks.size(), kStreams);
  EXPECT_GE(plan.chunks.size(), 30u);
  EXPECT_LE(slots * slot_bytes(plan, kScan), kCap)
      << plan.chunks.size() << " chunks, slot " << slot_bytes(plan, kScan) << " bytes";
  // The nuisances and templates take a real share of the slot (the cap is not met by chance).
  EXPECT_GT(static_cast<std::size_t>(plan.max_template_values) * kBytesPerTemplateValue,
            slot_bytes(plan, kScan) / 4);
  std::int64_t next = 0, nuisance_next = 0;
  for (const Chunk& c : plan.chunks) {
    EXPECT_EQ(c.problem_begin, next);
    EXPECT_EQ(c.nuisance_begin, nuisance_next);
    next = c.problem_end;
    nuisance_next = c.nuisance_end;
  }
  EXPECT_EQ(next, n);
  EXPECT_EQ(nuisance_next, o.problem_nuisances.back());
}

TEST(PinnedCap, NoCapKeepsTheDeviceShareBudget) {
  const std::size_t share = std::size_t{512} << 20;
  EXPECT_EQ(automatic_chunk_bytes(share, std::size_t{10} << 30, 3, 0), share);
  // A small batch: one chunk of at least 64 MiB budget.
  EXPECT_EQ(automatic_chunk_bytes(share, 1000, 3, 0), std::size_t{64} << 20);
}

}  // namespace
}  // namespace fluxpoints::cuda_backend
