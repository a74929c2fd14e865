// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The result arrays of a batch solve, each listed once with its element type and what it is
// indexed by. Everything that holds, allocates, copies or compares them is generated from this
// table or walks through it by name: math::ResultArrays (raw pointers the solvers write),
// BatchResult (host vectors), the CUDA backend's device and pinned buffers, its chunk copies and
// its memory plan, and the tests' bit-for-bit comparison. Adding a result array is one line here
// (plus the code that computes it); nothing lists the arrays by position.

#include <cstddef>
#include <cstdint>

#include "fluxpoints/math/solver.hpp"

namespace fluxpoints::math {

// What an array is indexed by, and so how many elements it has.
enum class Extent : std::uint8_t {
  problem,  // one per problem (a source x energy group)
  segment,  // one per dataset segment (a dataset of a problem)
  scan,     // n_problems x n_scan, problem-major
};

// FIELD(name, element type, extent).
//   norm .. norm_ul  the solution (NaN where undefined)
//   success          1 where status is ok (gammapy's success)
//   status, notes    why a solution is missing or special (math/solver.hpp)
//   stat_scan        the statistic at each scan norm
//   npred, npred_excess, counts   per dataset at the best-fit norm
// Besides these, a solve counts profile evaluations per problem (ResultArrays::evaluations), which
// BatchResult keeps only as their total.
#define FLUXPOINTS_RESULT_FIELDS(FIELD)  \
  FIELD(norm, double, problem)           \
  FIELD(norm_err, double, problem)       \
  FIELD(ts, double, problem)             \
  FIELD(sqrt_ts, double, problem)        \
  FIELD(stat, double, problem)           \
  FIELD(stat_null, double, problem)      \
  FIELD(norm_errn, double, problem)      \
  FIELD(norm_errp, double, problem)      \
  FIELD(norm_ul, double, problem)        \
  FIELD(success, std::uint8_t, problem)  \
  FIELD(status, SolveStatus, problem)    \
  FIELD(notes, std::uint32_t, problem)   \
  FIELD(stat_scan, double, scan)         \
  FIELD(npred, double, segment)          \
  FIELD(npred_excess, double, segment)   \
  FIELD(counts, double, segment)

// One member per field, each a Column<element type>: raw pointers, host vectors, device buffers.
template <template <class> class Column>
struct ResultColumns {
#define FLUXPOINTS_DECLARE_COLUMN(name, type, extent) Column<type> name;
  FLUXPOINTS_RESULT_FIELDS(FLUXPOINTS_DECLARE_COLUMN)
#undef FLUXPOINTS_DECLARE_COLUMN
};

template <class T>
using Pointer = T*;

struct FieldInfo {
  const char* name;
  Extent extent;
};

// Calls f(FieldInfo, columns.field...) for every field, in table order: with one set of columns
// to visit or fill it, with two to copy or compare one into the other.
template <class F, class... Columns>
void for_each_result_field(F&& f, Columns&&... columns) {
#define FLUXPOINTS_VISIT_FIELD(name, type, extent) \
  f(FieldInfo{#name, Extent::extent}, columns.name...);
  FLUXPOINTS_RESULT_FIELDS(FLUXPOINTS_VISIT_FIELD)
#undef FLUXPOINTS_VISIT_FIELD
}

// Bytes of one item of `e` summed over the fields of that extent (one problem's, one segment's or
// one scan value's share of the results).
constexpr std::size_t result_bytes(Extent e) {
  std::size_t bytes = 0;
#define FLUXPOINTS_ADD_BYTES(name, type, extent) \
  if (Extent::extent == e) bytes += sizeof(type);
  FLUXPOINTS_RESULT_FIELDS(FLUXPOINTS_ADD_BYTES)
#undef FLUXPOINTS_ADD_BYTES
  return bytes;
}

// The sizes of a batch, or of the part of one before a chunk.
struct ResultSizes {
  std::int64_t problems = 0;
  std::int64_t segments = 0;
  std::int64_t scan = 0;  // scan norms per problem

  // Elements of an array of extent `e`; with the sizes before a chunk, where the chunk's part of
  // such an array begins.
  std::int64_t count(Extent e) const {
    switch (e) {
      case Extent::problem: return problems;
      case Extent::segment: return segments;
      case Extent::scan: return problems * scan;
    }
    return 0;
  }
};

}  // namespace fluxpoints::math
