// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Laying one chunk of a batch out in the buffers a slot sends to the GPU (pinned memory in the
// backend): slices of the bin, segment and nuisance arrays, offsets rebased to the chunk's first
// segment, bin and nuisance, and every problem's templates gathered in problem order. Plain C++
// (no CUDA), so that a chunk laid out on the host can be solved and checked without a GPU.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "chunk_plan.hpp"
#include "fluxpoints/batch.hpp"
#include "input_fields.hpp"

namespace fluxpoints::cuda_backend {

// Where a chunk's inputs go: one pointer per input field, each with room for the chunk's count of
// its extent (Chunk::sizes()). The nuisance pointers are read only for chunks with nuisances.
struct StagingTargets {
#define FLUXPOINTS_DECLARE_TARGET(name, type, extent) type* name = nullptr;
  FLUXPOINTS_CUDA_INPUT_FIELDS(FLUXPOINTS_DECLARE_TARGET)
#undef FLUXPOINTS_DECLARE_TARGET
  struct Nuisances {
#define FLUXPOINTS_DECLARE_TARGET(name, type, extent) type* name = nullptr;
    FLUXPOINTS_CUDA_NUISANCE_FIELDS(FLUXPOINTS_DECLARE_TARGET)
#undef FLUXPOINTS_DECLARE_TARGET
  } nuisances;
};

// One host copy of `bytes` bytes.
struct CopyJob {
  void* dst;
  const void* src;
  std::size_t bytes;
};

// Where chunk c's part of a sliced input array of extent `e` begins in the batch's array, how
// many elements it has, and what is subtracted from each (offsets are rebased to the chunk's
// first segment, bin or nuisance). Templates are gathered instead (stage_chunk).
struct InputSlice {
  std::int64_t first, count, minus;
};
inline InputSlice input_slice(InputExtent e, const Chunk& c) {
  const std::int64_t n = c.sizes().count(e);
  switch (e) {
    case InputExtent::bin:
      return {c.bin_begin, n, 0};
    case InputExtent::segment:
      return {c.segment_begin, n, 0};
    case InputExtent::segment_offset:
      return {c.segment_begin, n, c.bin_begin};
    case InputExtent::problem_offset:
      return {c.problem_begin, n, c.segment_begin};
    case InputExtent::nuisance:
      return {c.nuisance_begin, n, 0};
    case InputExtent::nuisance_offset:
      return {c.problem_begin, n, c.nuisance_begin};
    case InputExtent::template_offset:
    case InputExtent::template_value:
      break;
  }
  throw std::logic_error("input_slice: templates are gathered, not sliced");
}

namespace detail {

// Writes the rebased offsets of a slice now; leaves plain slices to `copies`.
template <class T>
void stage_slice(InputExtent e, const Chunk& c, T* dst, const T* src,
                 std::vector<CopyJob>& copies) {
  const InputSlice slice = input_slice(e, c);
  if constexpr (std::is_integral_v<T>) {
    if (slice.minus != 0) {  // offsets of a chunk after the first
      for (std::int64_t k = 0; k < slice.count; ++k) dst[k] = src[slice.first + k] - slice.minus;
      return;
    }
  }
  if (slice.count > 0)
    copies.push_back({dst, src + slice.first, static_cast<std::size_t>(slice.count) * sizeof(T)});
}

// Each problem's templates, one after the other in problem order, its template_offset pointing
// there (a view may keep them anywhere; consecutive ones become one copy). Returns how many
// values were gathered.
inline std::int64_t gather_templates(const BatchView& view, const Chunk& c,
                                     const StagingTargets::Nuisances& dst,
                                     std::vector<CopyJob>& copies) {
  const math::NuisanceArrays& src = view.nuisances;
  const std::int64_t* segment_bins = view.arrays.segment_bins;
  const std::int64_t* problem_segments = view.arrays.problem_segments;
  const std::size_t first_copy = copies.size();
  std::int64_t gathered = 0;
  for (std::int64_t p = c.problem_begin; p < c.problem_end; ++p) {
    const std::int64_t local = p - c.problem_begin;
    const std::int64_t k = src.problem_nuisances[p + 1] - src.problem_nuisances[p];
    dst.template_offset[local] = gathered;  // not read where k = 0
    if (k == 0) continue;
    const std::int64_t n =
        k * (segment_bins[problem_segments[p + 1]] - segment_bins[problem_segments[p]]);
    if (n == 0) continue;
    const double* from = src.template_values + src.template_offset[p];
    CopyJob* last = copies.size() > first_copy ? &copies.back() : nullptr;
    // The destination of a gathered piece always follows the previous one's.
    if (last &&
        static_cast<const char*>(last->src) + last->bytes == reinterpret_cast<const char*>(from))
      last->bytes += static_cast<std::size_t>(n) * sizeof(double);
    else
      copies.push_back(
          {dst.template_values + gathered, from, static_cast<std::size_t>(n) * sizeof(double)});
    gathered += n;
  }
  return gathered;
}

}  // namespace detail

// Lays chunk c of `view` (validated) out in `dst`: the offsets are written now, the copies of
// the other arrays appended to `copies` for the caller to run (several threads for large ones).
inline void stage_chunk(const BatchView& view, const Chunk& c, const StagingTargets& dst,
                        std::vector<CopyJob>& copies) {
  for_each_input_field([&](InputExtent e, auto* to,
                           const auto* from) { detail::stage_slice(e, c, to, from, copies); },
                       dst, view.arrays);
  if (c.nuisances() == 0) return;
  for_each_nuisance_field(
      [&](InputExtent e, auto* to, const auto* from) {
        if (e != InputExtent::template_offset && e != InputExtent::template_value)
          detail::stage_slice(e, c, to, from, copies);
      },
      dst.nuisances, view.nuisances);
  if (detail::gather_templates(view, c, dst.nuisances, copies) != c.template_values)
    throw std::logic_error("CUDA backend: a chunk's template count differs from its plan");
}

// Runs the copies on the calling thread.
inline void run_copies(const std::vector<CopyJob>& copies) {
  for (const CopyJob& j : copies)
    if (j.bytes > 0) std::memcpy(j.dst, j.src, j.bytes);
}

}  // namespace fluxpoints::cuda_backend
