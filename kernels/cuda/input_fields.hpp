// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The batch input arrays that a chunk carries to the GPU, each listed once with its element type
// and what it is indexed by (as math/schema.hpp lists the results). The CUDA backend's device and
// pinned input buffers, the staging copies, the uploads and the memory plan (chunk_plan.hpp) are
// generated from these tables; the names are those of math::BatchArrays and, for problems with
// nuisance parameters, math::NuisanceArrays. Plain C++ (no CUDA).
#include <cstddef>
#include <cstdint>

#include "fluxpoints/math/batch_solve.hpp"
#include "fluxpoints/math/nuisance_problem.hpp"

namespace fluxpoints::cuda_backend {

// What an input array is indexed by.
enum class InputExtent : std::uint8_t {
  bin,             // one per bin
  segment,         // one per dataset segment
  segment_offset,  // n_segments + 1 offsets into the bins (rebased to a chunk's first bin)
  problem_offset,  // n_problems + 1 offsets into the segments (rebased to its first segment)
  // Carried only by chunks whose problems have nuisance parameters (none otherwise):
  nuisance,         // one per nuisance parameter (a chunk's nuisances are consecutive)
  nuisance_offset,  // n_problems + 1 offsets into the nuisances (rebased to the chunk's first)
  template_offset,  // one per problem: where its templates start in the chunk's template values
  template_value,   // the templates of the chunk's problems, gathered in problem order
};

// How many elements the input arrays of a chunk (or of a slot's buffers) have.
struct InputSizes {
  std::int64_t problems = 0, segments = 0, bins = 0;
  std::int64_t nuisances = 0, template_values = 0;

  constexpr std::int64_t count(InputExtent e) const {
    const bool with_nuisances = nuisances > 0;
    switch (e) {
      case InputExtent::bin: return bins;
      case InputExtent::segment: return segments;
      case InputExtent::segment_offset: return segments + 1;
      case InputExtent::problem_offset: return problems + 1;
      case InputExtent::nuisance: return nuisances;
      case InputExtent::nuisance_offset: return with_nuisances ? problems + 1 : 0;
      case InputExtent::template_offset: return with_nuisances ? problems : 0;
      case InputExtent::template_value: return template_values;
    }
    return 0;
  }
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

// FIELD(name, element type, extent): the members of math::NuisanceArrays. Unlike the fields
// above, template_offset and template_values are gathered per problem rather than sliced: a
// view's problems may keep their templates anywhere in its array.
#define FLUXPOINTS_CUDA_NUISANCE_FIELDS(FIELD)            \
  FIELD(problem_nuisances, std::int64_t, nuisance_offset) \
  FIELD(template_offset, std::int64_t, template_offset)   \
  FIELD(template_values, double, template_value)          \
  FIELD(start, double, nuisance)                          \
  FIELD(min, double, nuisance)                            \
  FIELD(max, double, nuisance)

// Calls f(extent, inputs.field...) for every field of the first table, in table order: with one
// set of arrays to fill it, with two to copy one into the other.
template <class F, class... Inputs>
void for_each_input_field(F&& f, Inputs&&... inputs) {
#define FLUXPOINTS_VISIT_INPUT(name, type, extent) f(InputExtent::extent, inputs.name...);
  FLUXPOINTS_CUDA_INPUT_FIELDS(FLUXPOINTS_VISIT_INPUT)
#undef FLUXPOINTS_VISIT_INPUT
}

// The same for the nuisance fields.
template <class F, class... Inputs>
void for_each_nuisance_field(F&& f, Inputs&&... inputs) {
#define FLUXPOINTS_VISIT_NUISANCE_INPUT(name, type, extent) f(InputExtent::extent, inputs.name...);
  FLUXPOINTS_CUDA_NUISANCE_FIELDS(FLUXPOINTS_VISIT_NUISANCE_INPUT)
#undef FLUXPOINTS_VISIT_NUISANCE_INPUT
}

// Bytes of one item of `e` summed over the input fields (both tables) of that extent.
constexpr std::size_t input_bytes(InputExtent e) {
  std::size_t bytes = 0;
#define FLUXPOINTS_ADD_INPUT_BYTES(name, type, extent) \
  if (InputExtent::extent == e) bytes += sizeof(type);
  FLUXPOINTS_CUDA_INPUT_FIELDS(FLUXPOINTS_ADD_INPUT_BYTES)
  FLUXPOINTS_CUDA_NUISANCE_FIELDS(FLUXPOINTS_ADD_INPUT_BYTES)
#undef FLUXPOINTS_ADD_INPUT_BYTES
  return bytes;
}

}  // namespace fluxpoints::cuda_backend
