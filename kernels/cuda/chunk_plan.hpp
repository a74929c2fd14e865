// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Cutting a batch into chunks of whole problems that fit a device-memory budget. Plain C++ (no
// CUDA) so the plan is tested on machines without a GPU.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "fluxpoints/math/schema.hpp"
#include "fluxpoints/span.hpp"
#include "input_fields.hpp"

namespace fluxpoints::cuda_backend {

// Device bytes a chunk needs, per item (inputs, sort keys/ids and results; see cuda_backend.cu).
constexpr std::size_t kBytesPerBin = input_bytes(InputExtent::bin);
// offset, statistic kind, and the per-dataset results.
constexpr std::size_t kBytesPerSegment = input_bytes(InputExtent::segment_offset) +
                                         input_bytes(InputExtent::segment) +
                                         math::result_bytes(math::Extent::segment);
// offset, 2x sort keys + 2x ids, the per-problem results, evaluations, and a margin for the radix
// sort's temporary storage.
constexpr std::size_t kBytesPerProblem = input_bytes(InputExtent::problem_offset) + 2 * 4 +
                                         2 * sizeof(std::int64_t) +
                                         math::result_bytes(math::Extent::problem) + 4 + 16;

struct Chunk {
  std::int64_t problem_begin = 0, problem_end = 0;
  std::int64_t segment_begin = 0, segment_end = 0;
  std::int64_t bin_begin = 0, bin_end = 0;
  // After sorting by bin count the chunk's problems are [thread | warp | block] problems.
  std::int64_t n_warp_problems = 0;   // warp_min_bins <= bins < block_min_bins
  std::int64_t n_block_problems = 0;  // bins >= block_min_bins
  std::int64_t n_thread_problems() const {
    return problems() - n_warp_problems - n_block_problems;
  }
  std::int64_t max_problem_bins = 0;
  std::int64_t problems() const { return problem_end - problem_begin; }
  std::int64_t segments() const { return segment_end - segment_begin; }
  std::int64_t bins() const { return bin_end - bin_begin; }
};

struct ChunkPlan {
  std::vector<Chunk> chunks;
  // Largest chunk sizes: every stream's buffers are allocated for these once.
  std::int64_t max_problems = 0, max_segments = 0, max_bins = 0;
};

inline std::size_t problem_bytes(std::int64_t bins, std::int64_t segments, int n_scan) {
  return static_cast<std::size_t>(bins) * kBytesPerBin +
         static_cast<std::size_t>(segments) * kBytesPerSegment + kBytesPerProblem +
         static_cast<std::size_t>(n_scan) * sizeof(double);
}

// Greedy: consecutive problems go into one chunk while it stays within `chunk_bytes`. A problem
// larger than the budget on its own gets a chunk of its own (the allocation then says whether it
// fits the device). Problems with >= block_min_bins bins are counted as block problems, the
// rest with >= warp_min_bins as warp problems (thresholds below 1 count as 1: a problem with no
// bin is always a thread problem). `max_chunk_problems` keeps counts within the sort's int range.
// `problem_segments` has n_problems + 1 offsets into `segment_bins` (a validated batch's).
inline ChunkPlan plan_chunks(const std::int64_t* problem_segments, std::int64_t n_problems,
                             const std::int64_t* segment_bins, int n_scan,
                             std::size_t chunk_bytes, std::int64_t warp_min_bins,
                             std::int64_t block_min_bins,
                             std::int64_t max_chunk_problems = std::int64_t{1} << 30) {
  if (chunk_bytes == 0) throw std::invalid_argument("plan_chunks: chunk_bytes must be positive");
  ChunkPlan plan;
  const std::int64_t warp_threshold = std::max<std::int64_t>(warp_min_bins, 1);
  const std::int64_t block_threshold = std::max<std::int64_t>(block_min_bins, 1);
  Chunk c;
  std::size_t used = 0;
  auto close = [&](std::int64_t end) {
    c.problem_end = end;
    c.segment_end = problem_segments[end];
    c.bin_end = segment_bins[c.segment_end];
    plan.chunks.push_back(c);
    plan.max_problems = std::max(plan.max_problems, c.problems());
    plan.max_segments = std::max(plan.max_segments, c.segments());
    plan.max_bins = std::max(plan.max_bins, c.bins());
  };
  auto open = [&](std::int64_t begin) {
    c = Chunk{};
    c.problem_begin = begin;
    c.segment_begin = problem_segments[begin];
    c.bin_begin = segment_bins[c.segment_begin];
    used = 0;
  };
  open(0);
  for (std::int64_t p = 0; p < n_problems; ++p) {
    const std::int64_t s0 = problem_segments[p], s1 = problem_segments[p + 1];
    const std::int64_t bins = segment_bins[s1] - segment_bins[s0];
    const std::size_t bytes = problem_bytes(bins, s1 - s0, n_scan);
    if (p > c.problem_begin &&
        (used + bytes > chunk_bytes || p - c.problem_begin >= max_chunk_problems)) {
      close(p);
      open(p);
    }
    used += bytes;
    if (bins >= block_threshold) ++c.n_block_problems;
    else if (bins >= warp_threshold) ++c.n_warp_problems;
    c.max_problem_bins = std::max(c.max_problem_bins, bins);
  }
  if (n_problems > 0) close(n_problems);
  return plan;
}

// Bytes of one slot's buffers (one chunk in flight) sized for the plan's largest chunk, as the
// backend allocates them: its device buffers use this much, its pinned staging buffers (inputs
// and results only, no sort keys) less.
inline std::size_t slot_bytes(const ChunkPlan& plan, int n_scan) {
  return static_cast<std::size_t>(plan.max_bins) * kBytesPerBin +
         static_cast<std::size_t>(plan.max_segments) * kBytesPerSegment +
         static_cast<std::size_t>(plan.max_problems) *
             (kBytesPerProblem + static_cast<std::size_t>(n_scan) * sizeof(double));
}

// The automatic chunk budget: a share of the device memory per stream, cutting a large batch into
// at least `streams` chunks (but none below 64 MiB, where overlap gains nothing), and at most
// pinned_cap / (3 streams): each of a slot's three parts (bins, segments, problems) is sized for
// the largest chunk of its kind, each at most one chunk budget, so the `streams` slots hold at
// most pinned_cap of pinned memory whatever the batch size -- unless one problem alone is larger
// than the budget (it then gets a chunk of its own). pinned_cap = 0: no cap.
inline std::size_t automatic_chunk_bytes(std::size_t device_share_per_stream,
                                         std::size_t batch_bytes, int streams,
                                         std::size_t pinned_cap) {
  const std::size_t n = static_cast<std::size_t>(std::max(streams, 1));
  constexpr std::size_t kMinChunk = std::size_t{64} << 20;
  const std::size_t even = batch_bytes / n + 1;
  std::size_t budget = std::min(device_share_per_stream, std::max(even, kMinChunk));
  if (pinned_cap > 0) budget = std::min(budget, pinned_cap / (3 * n));
  return std::max<std::size_t>(budget, 1);
}

// The same for offsets held in spans (a LikelihoodBatch's) or vectors.
inline ChunkPlan plan_chunks(Span<const std::int64_t> problem_segments,
                             Span<const std::int64_t> segment_bins, int n_scan,
                             std::size_t chunk_bytes, std::int64_t warp_min_bins,
                             std::int64_t block_min_bins,
                             std::int64_t max_chunk_problems = std::int64_t{1} << 30) {
  return plan_chunks(problem_segments.data(),
                     static_cast<std::int64_t>(problem_segments.size()) - 1, segment_bins.data(),
                     n_scan, chunk_bytes, warp_min_bins, block_min_bins, max_chunk_problems);
}

}  // namespace fluxpoints::cuda_backend
