// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The batch input arrays that a chunk carries to the GPU, each listed once with its element type
// and what it is indexed by (as math/schema.hpp lists the results). The CUDA backend's device and
// pinned input buffers, the staging copies, the uploads and the memory plan (chunk_plan.hpp) are
// generated from this table; the names are those of math::BatchArrays. Plain C++ (no CUDA).
#include <cstddef>
#include <cstdint>

#include "fluxpoints/math/batch_solve.hpp"

namespace fluxpoints::cuda_backend {

// What an input array is indexed by.
enum class InputExtent : std::uint8_t {
  bin,             // one per bin
  segment,         // one per dataset segment
  segment_offset,  // n_segments + 1 offsets into the bins (rebased to a chunk's first bin)
  problem_offset,  // n_problems + 1 offsets into the segments (rebased to its first segment)
};

// FIELD(name, element type, extent): the members of math::BatchArrays.
#define FLUXPOINTS_CUDA_INPUT_FIELDS(FIELD)           \
  FIELD(counts, double, bin)                          \
  FIELD(npred_ref, double, bin)                       \
  FIELD(npred_other, double, bin)                     \
  FIELD(counts_off, double, bin)                      \
  FIELD(alpha, double, bin)                           \
  FIELD(segment_bins, std::int64_t, segment_offset)   \
  FIELD(segment_kind, math::StatKind, segment)        \
  FIELD(problem_segments, std::int64_t, problem_offset)

// Calls f(extent, inputs.field...) for every field, in table order: with one set of arrays to
// fill it, with two to copy one into the other.
template <class F, class... Inputs>
void for_each_input_field(F&& f, Inputs&&... inputs) {
#define FLUXPOINTS_VISIT_INPUT(name, type, extent) f(InputExtent::extent, inputs.name...);
  FLUXPOINTS_CUDA_INPUT_FIELDS(FLUXPOINTS_VISIT_INPUT)
#undef FLUXPOINTS_VISIT_INPUT
}

// Bytes of one item of `e` summed over the input fields of that extent.
constexpr std::size_t input_bytes(InputExtent e) {
  std::size_t bytes = 0;
#define FLUXPOINTS_ADD_INPUT_BYTES(name, type, extent) \
  if (InputExtent::extent == e) bytes += sizeof(type);
  FLUXPOINTS_CUDA_INPUT_FIELDS(FLUXPOINTS_ADD_INPUT_BYTES)
#undef FLUXPOINTS_ADD_INPUT_BYTES
  return bytes;
}

}  // namespace fluxpoints::cuda_backend
