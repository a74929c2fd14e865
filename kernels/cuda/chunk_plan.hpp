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
// Batches with nuisance parameters only: every problem's nuisance and template offsets, every
// nuisance's start and bounds and its fitted value (the result), every template value.
constexpr std::size_t kBytesPerProblemWithNuisances =
    input_bytes(InputExtent::nuisance_offset) + input_bytes(InputExtent::template_offset);
constexpr std::size_t kBytesPerNuisance = input_bytes(InputExtent::nuisance) + sizeof(double);
constexpr std::size_t kBytesPerTemplateValue = input_bytes(InputExtent::template_value);

// A slot's buffers come in parts (bins, segments, problems; with nuisances also nuisances and
// template values), each sized for the largest chunk of its kind.
constexpr int slot_parts(bool with_nuisances) { return with_nuisances ? 5 : 3; }

struct Chunk {
  std::int64_t problem_begin = 0, problem_end = 0;
  std::int64_t segment_begin = 0, segment_end = 0;
  std::int64_t bin_begin = 0, bin_end = 0;
  std::int64_t nuisance_begin = 0, nuisance_end = 0;
  std::int64_t template_values = 0;  // of its problems with nuisances, gathered (input_fields.hpp)
  // After sorting (cuda_backend.cu) the chunk's problems are [thread | warp | block | nuisance]
  // problems: those without nuisance parameters by bin count, then those with.
  std::int64_t n_warp_problems = 0;      // warp_min_bins <= bins < block_min_bins
  std::int64_t n_block_problems = 0;     // bins >= block_min_bins
  std::int64_t n_nuisance_problems = 0;  // problems with nuisance parameters, any bin count
  std::int64_t n_thread_problems() const {
    return problems() - n_warp_problems - n_block_problems - n_nuisance_problems;
  }
  std::int64_t max_problem_bins = 0;  // over the problems without nuisance parameters
  std::int64_t problems() const { return problem_end - problem_begin; }
  std::int64_t segments() const { return segment_end - segment_begin; }
  std::int64_t bins() const { return bin_end - bin_begin; }
  std::int64_t nuisances() const { return nuisance_end - nuisance_begin; }
  InputSizes sizes() const {
    return {problems(), segments(), bins(), nuisances(), template_values};
  }
};

struct ChunkPlan {
  std::vector<Chunk> chunks;
  // Largest chunk sizes: every stream's buffers are allocated for these once.
  std::int64_t max_problems = 0, max_segments = 0, max_bins = 0;
  std::int64_t max_nuisances = 0, max_template_values = 0;
  bool with_nuisances() const { return max_nuisances > 0; }
  InputSizes max_sizes() const {
    return {max_problems, max_segments, max_bins, max_nuisances, max_template_values};
  }
};

// The offsets of a batch the plan reads (a validated batch's).
struct BatchOffsets {
  const std::int64_t* problem_segments = nullptr;  // n_problems + 1 offsets into segment_bins
  std::int64_t n_problems = 0;
  const std::int64_t* segment_bins = nullptr;
  // n_problems + 1 offsets into the nuisances; null when no problem has nuisance parameters.
  const std::int64_t* problem_nuisances = nullptr;
  bool with_nuisances() const {
    return problem_nuisances != nullptr && problem_nuisances[n_problems] > 0;
  }
};

// Device bytes of one problem of a batch with (`batch_has_nuisances`) or without nuisance
// parameters; `nuisances` are the problem's own.
inline std::size_t problem_bytes(std::int64_t bins, std::int64_t segments, int n_scan,
                                 bool batch_has_nuisances = false, std::int64_t nuisances = 0) {
  std::size_t bytes = static_cast<std::size_t>(bins) * kBytesPerBin +
                      static_cast<std::size_t>(segments) * kBytesPerSegment + kBytesPerProblem +
                      static_cast<std::size_t>(n_scan) * sizeof(double);
  if (batch_has_nuisances)
    bytes += kBytesPerProblemWithNuisances +
             static_cast<std::size_t>(nuisances) *
                 (kBytesPerNuisance + static_cast<std::size_t>(bins) * kBytesPerTemplateValue);
  return bytes;
}

// Greedy: consecutive problems go into one chunk while it stays within `chunk_bytes`. A problem
// larger than the budget on its own gets a chunk of its own (the allocation then says whether it
// fits the device). Problems with nuisance parameters are counted as nuisance problems; of the
// others, those with >= block_min_bins bins as block problems, the rest with >= warp_min_bins as
// warp problems (thresholds below 1 count as 1: a problem with no bin is always a thread
// problem). `max_chunk_problems` keeps counts within the sort's int range.
inline ChunkPlan plan_chunks(const BatchOffsets& batch, int n_scan, std::size_t chunk_bytes,
                             std::int64_t warp_min_bins, std::int64_t block_min_bins,
                             std::int64_t max_chunk_problems = std::int64_t{1} << 30) {
  if (chunk_bytes == 0) throw std::invalid_argument("plan_chunks: chunk_bytes must be positive");
  ChunkPlan plan;
  const std::int64_t* problem_segments = batch.problem_segments;
  const std::int64_t* segment_bins = batch.segment_bins;
  const bool with_nuisances = batch.with_nuisances();
  const std::int64_t* problem_nuisances = with_nuisances ? batch.problem_nuisances : nullptr;
  const std::int64_t warp_threshold = std::max<std::int64_t>(warp_min_bins, 1);
  const std::int64_t block_threshold = std::max<std::int64_t>(block_min_bins, 1);
  Chunk c;
  std::size_t used = 0;
  auto close = [&](std::int64_t end) {
    c.problem_end = end;
    c.segment_end = problem_segments[end];
    c.bin_end = segment_bins[c.segment_end];
    c.nuisance_end = problem_nuisances ? problem_nuisances[end] : 0;
    plan.chunks.push_back(c);
    plan.max_problems = std::max(plan.max_problems, c.problems());
    plan.max_segments = std::max(plan.max_segments, c.segments());
    plan.max_bins = std::max(plan.max_bins, c.bins());
    plan.max_nuisances = std::max(plan.max_nuisances, c.nuisances());
    plan.max_template_values = std::max(plan.max_template_values, c.template_values);
  };
  auto open = [&](std::int64_t begin) {
    c = Chunk{};
    c.problem_begin = begin;
    c.segment_begin = problem_segments[begin];
    c.bin_begin = segment_bins[c.segment_begin];
    c.nuisance_begin = problem_nuisances ? problem_nuisances[begin] : 0;
    used = 0;
  };
  open(0);
  for (std::int64_t p = 0; p < batch.n_problems; ++p) {
    const std::int64_t s0 = problem_segments[p], s1 = problem_segments[p + 1];
    const std::int64_t bins = segment_bins[s1] - segment_bins[s0];
    const std::int64_t nuisances =
        problem_nuisances ? problem_nuisances[p + 1] - problem_nuisances[p] : 0;
    const std::size_t bytes = problem_bytes(bins, s1 - s0, n_scan, with_nuisances, nuisances);
    if (p > c.problem_begin &&
        (used + bytes > chunk_bytes || p - c.problem_begin >= max_chunk_problems)) {
      close(p);
      open(p);
    }
    used += bytes;
    if (nuisances > 0) {
      ++c.n_nuisance_problems;
      c.template_values += nuisances * bins;
      continue;
    }
    if (bins >= block_threshold) ++c.n_block_problems;
    else if (bins >= warp_threshold) ++c.n_warp_problems;
    c.max_problem_bins = std::max(c.max_problem_bins, bins);
  }
  if (batch.n_problems > 0) close(batch.n_problems);
  return plan;
}

// The same for a batch without nuisance parameters: `problem_segments` has n_problems + 1
// offsets into `segment_bins`.
inline ChunkPlan plan_chunks(const std::int64_t* problem_segments, std::int64_t n_problems,
                             const std::int64_t* segment_bins, int n_scan,
                             std::size_t chunk_bytes, std::int64_t warp_min_bins,
                             std::int64_t block_min_bins,
                             std::int64_t max_chunk_problems = std::int64_t{1} << 30) {
  return plan_chunks(BatchOffsets{problem_segments, n_problems, segment_bins, nullptr}, n_scan,
                     chunk_bytes, warp_min_bins, block_min_bins, max_chunk_problems);
}

// Bytes of one slot's buffers (one chunk in flight) sized for chunks of at most `max` items, as
// the backend allocates them: its device buffers use this much, its pinned staging buffers
// (inputs and results only, no sort keys) less.
inline std::size_t slot_bytes(const InputSizes& max, int n_scan) {
  std::size_t bytes = static_cast<std::size_t>(max.bins) * kBytesPerBin +
                      static_cast<std::size_t>(max.segments) * kBytesPerSegment +
                      static_cast<std::size_t>(max.problems) *
                          (kBytesPerProblem + static_cast<std::size_t>(n_scan) * sizeof(double));
  if (max.nuisances > 0)
    bytes += static_cast<std::size_t>(max.problems) * kBytesPerProblemWithNuisances +
             static_cast<std::size_t>(max.nuisances) * kBytesPerNuisance +
             static_cast<std::size_t>(max.template_values) * kBytesPerTemplateValue;
  return bytes;
}

// The same sized for the plan's largest chunk.
inline std::size_t slot_bytes(const ChunkPlan& plan, int n_scan) {
  return slot_bytes(plan.max_sizes(), n_scan);
}

// The largest chunk budget under which `streams` slots hold at most pinned_cap bytes of pinned
// memory: each of a slot's parts is sized for the largest chunk of its kind, each at most one
// chunk budget (unless one problem alone is larger than the budget: it then gets a chunk of its
// own). pinned_cap = 0: no cap.
inline std::size_t capped_chunk_bytes(std::size_t chunk_bytes, std::size_t pinned_cap,
                                      int streams, bool with_nuisances) {
  if (pinned_cap == 0) return chunk_bytes;
  const std::size_t n = static_cast<std::size_t>(std::max(streams, 1));
  const std::size_t parts = static_cast<std::size_t>(slot_parts(with_nuisances));
  return std::max<std::size_t>(std::min(chunk_bytes, pinned_cap / (parts * n)), 1);
}

// The automatic chunk budget: a share of the device memory per stream, cutting a large batch into
// at least `streams` chunks (but none below 64 MiB, where overlap gains nothing), within the
// pinned-memory cap (capped_chunk_bytes).
inline std::size_t automatic_chunk_bytes(std::size_t device_share_per_stream,
                                         std::size_t batch_bytes, int streams,
                                         std::size_t pinned_cap, bool with_nuisances = false) {
  const std::size_t n = static_cast<std::size_t>(std::max(streams, 1));
  constexpr std::size_t kMinChunk = std::size_t{64} << 20;
  const std::size_t even = batch_bytes / n + 1;
  const std::size_t budget = std::min(device_share_per_stream, std::max(even, kMinChunk));
  return std::max<std::size_t>(
      capped_chunk_bytes(budget, pinned_cap, streams, with_nuisances), 1);
}

// The same for offsets held in spans (a LikelihoodBatch's) or vectors, without nuisances.
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
