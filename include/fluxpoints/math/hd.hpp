// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// FLUXPOINTS_HD marks a function usable from host code, CUDA device code and Kokkos lambdas.
// The math headers include nothing from CUDA or Kokkos: only this macro changes with the compiler.
// FLUXPOINTS_HD_FORCEINLINE also asks nvcc to inline it: for the solver's routines, which a kernel
// would otherwise call through the ABI, spilling registers around every call.
#if defined(__CUDACC__)
#define FLUXPOINTS_HD __host__ __device__ inline
#define FLUXPOINTS_HD_FORCEINLINE __host__ __device__ __forceinline__
#else
#define FLUXPOINTS_HD inline
#define FLUXPOINTS_HD_FORCEINLINE inline
#endif

#include <cmath>
#include <cstdint>

namespace fluxpoints::math {

// Device code cannot use std::numeric_limits in every toolkit; spell out what we need.
constexpr double kInf = __builtin_huge_val();
constexpr double kNaN = __builtin_nan("");
constexpr double kDoubleMax = 1.7976931348623157e308;
constexpr double kSmallestPositive = 2.2250738585072014e-308;  // numpy's tiny for float64

FLUXPOINTS_HD bool is_finite(double x) { return x - x == 0.0; }
FLUXPOINTS_HD bool is_nan(double x) { return x != x; }
FLUXPOINTS_HD double dmin(double a, double b) { return a < b ? a : b; }
FLUXPOINTS_HD double dmax(double a, double b) { return a > b ? a : b; }
FLUXPOINTS_HD double dabs(double a) { return a < 0 ? -a : a; }

// numpy.nan_to_num with its defaults: NaN -> 0, +-inf -> +-DBL_MAX.
FLUXPOINTS_HD double nan_to_num(double x) {
  if (x != x) return 0.0;
  if (x == kInf) return kDoubleMax;
  if (x == -kInf) return -kDoubleMax;
  return x;
}

}  // namespace fluxpoints::math
