// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The kernels of the CUDA backend. All likelihood math comes from include/fluxpoints/math; this
// file only decides which threads evaluate which bins and how partial sums are reduced.
//
// Determinism: every sum has a fixed order. A thread-per-problem sum runs over the bins in
// order; a warp- or block-per-problem sum has thread t add bins t, t+T, ... and cub::WarpReduce /
// cub::BlockReduce combine the T partial sums in their fixed tree order. So a problem gives the same bits whatever chunk
// or position in the batch it has.
#include <cub/block/block_reduce.cuh>
#include <cub/warp/warp_reduce.cuh>

#include "fluxpoints/math/batch_solve.hpp"

namespace fluxpoints::cuda_backend {

// Threads per block of the block-per-problem kernels.
constexpr int kBlockThreads = 256;
// Threads per block of the thread-per-problem and warp-per-problem kernels.
constexpr int kSmallThreads = 128;
constexpr int kWarpThreads = 32;
constexpr int kWarpsPerBlock = kSmallThreads / kWarpThreads;

struct AddPoints {
  __device__ math::ProfilePoint operator()(const math::ProfilePoint& a,
                                           const math::ProfilePoint& b) const {
    return {a.value + b.value, a.d1 + b.d1, a.d2 + b.d2};
  }
};
struct AddDatasetSums {
  __device__ math::ProblemView::DatasetSums operator()(const math::ProblemView::DatasetSums& a,
                                                       const math::ProblemView::DatasetSums& b) const {
    return {a.counts + b.counts, a.npred + b.npred, a.npred_ref + b.npred_ref};
  }
};
struct MaxDouble {
  __device__ double operator()(double a, double b) const { return math::dmax(a, b); }
};
template <int K>
struct NormSums {
  double v[K];
};
template <int K>
struct AddNormSums {
  __device__ NormSums<K> operator()(const NormSums<K>& a, const NormSums<K>& b) const {
    NormSums<K> r;
#pragma unroll
    for (int j = 0; j < K; ++j) r.v[j] = a.v[j] + b.v[j];
    return r;
  }
};

// Shared memory of one block-per-problem block: the reductions' scratch (used one at a time)
// and the slot through which thread 0 hands each reduced value to every thread.
template <int BLOCK>
struct BlockShared {
  using PointReduce = cub::BlockReduce<math::ProfilePoint, BLOCK>;
  using SumsReduce = cub::BlockReduce<math::ProblemView::DatasetSums, BLOCK>;
  using MaxReduce = cub::BlockReduce<double, BLOCK>;
  union {
    typename PointReduce::TempStorage point;
    typename SumsReduce::TempStorage sums;
    typename MaxReduce::TempStorage max;
  } scratch;
  union {
    math::ProfilePoint point;
    math::ProblemView::DatasetSums sums;
    double value;
  } result;
};

// The profile of one problem evaluated cooperatively by a whole block: each evaluation is a
// block reduction whose result every thread receives, so all threads take the same branches in
// math::solve_profile and reach the same __syncthreads. Methods are __host__ __device__ only to
// satisfy the solver's host-device signature; they are used in device code only.
template <int BLOCK>
struct BlockProfile {
  math::ProblemView view;
  BlockShared<BLOCK>* shared;

  __host__ __device__ math::ProfilePoint profile(double theta) const {
#ifdef __CUDA_ARCH__
    const math::ProfilePoint part = view.partial_profile(theta, threadIdx.x, BLOCK);
    const math::ProfilePoint total =
        typename BlockShared<BLOCK>::PointReduce(shared->scratch.point).Reduce(part, AddPoints{});
    if (threadIdx.x == 0) shared->result.point = total;
    __syncthreads();
    const math::ProfilePoint r = shared->result.point;
    __syncthreads();  // scratch and result are reused by the next reduction
    return r;
#else
    (void)theta;
    return {math::kNaN, math::kNaN, math::kNaN};
#endif
  }

  __host__ __device__ double feasible_min() const {
#ifdef __CUDA_ARCH__
    const double part = view.partial_feasible_min(threadIdx.x, BLOCK);
    const double total =
        typename BlockShared<BLOCK>::MaxReduce(shared->scratch.max).Reduce(part, MaxDouble{});
    if (threadIdx.x == 0) shared->result.value = total;
    __syncthreads();
    const double r = shared->result.value;
    __syncthreads();
    return r;
#else
    return math::kNaN;
#endif
  }

  __device__ math::ProblemView::DatasetSums dataset_sums(std::int64_t k, double theta) const {
    const auto part = view.partial_dataset_sums(k, theta, threadIdx.x, BLOCK);
    const auto total =
        typename BlockShared<BLOCK>::SumsReduce(shared->scratch.sums).Reduce(part, AddDatasetSums{});
    __syncthreads();
    return total;  // valid in thread 0 only
  }
};

// Per-warp scratch of the warp-per-problem kernels (one reduction at a time).
struct WarpShared {
  using PointReduce = cub::WarpReduce<math::ProfilePoint>;
  using SumsReduce = cub::WarpReduce<math::ProblemView::DatasetSums>;
  using MaxReduce = cub::WarpReduce<double>;
  union {
    typename PointReduce::TempStorage point;
    typename SumsReduce::TempStorage sums;
    typename MaxReduce::TempStorage max;
  } scratch;
};

// Lane 0's value in every lane of the (converged) warp.
__device__ inline double from_lane0(double x) { return __shfl_sync(0xffffffffu, x, 0); }

// The profile of one problem evaluated by a whole warp: lane l sums bins l, l+32, ...; the warp
// reduction's result is broadcast so all lanes run the solver in lockstep, like BlockProfile.
struct WarpProfile {
  math::ProblemView view;
  WarpShared* shared;

  __host__ __device__ math::ProfilePoint profile(double theta) const {
#ifdef __CUDA_ARCH__
    const int lane = threadIdx.x % kWarpThreads;
    const math::ProfilePoint part = view.partial_profile(theta, lane, kWarpThreads);
    const math::ProfilePoint total =
        WarpShared::PointReduce(shared->scratch.point).Reduce(part, AddPoints{});
    __syncwarp();
    return {from_lane0(total.value), from_lane0(total.d1), from_lane0(total.d2)};
#else
    (void)theta;
    return {math::kNaN, math::kNaN, math::kNaN};
#endif
  }

  __host__ __device__ double feasible_min() const {
#ifdef __CUDA_ARCH__
    const double part = view.partial_feasible_min(threadIdx.x % kWarpThreads, kWarpThreads);
    const double total = WarpShared::MaxReduce(shared->scratch.max).Reduce(part, MaxDouble{});
    __syncwarp();
    return from_lane0(total);
#else
    return math::kNaN;
#endif
  }

  __device__ math::ProblemView::DatasetSums dataset_sums(std::int64_t k, double theta) const {
    const auto part = view.partial_dataset_sums(k, theta, threadIdx.x % kWarpThreads, kWarpThreads);
    const auto total = WarpShared::SumsReduce(shared->scratch.sums).Reduce(part, AddDatasetSums{});
    __syncwarp();
    return total;  // valid in lane 0 only
  }
};

// keys[p] = number of bins of problem p (the sort key), ids[p] = p.
__global__ void problem_sizes(math::BatchArrays in, std::int64_t n_problems, std::uint32_t* keys,
                              std::int64_t* ids) {
  const std::int64_t p = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (p >= n_problems) return;
  const std::int64_t n = in.problem(p).n_bins();
  keys[p] = n < 0xffffffffll ? static_cast<std::uint32_t>(n) : 0xffffffffu;
  ids[p] = p;
}

// One thread per problem; the scan is left to the scan kernels.
__global__ void solve_per_thread(math::BatchArrays in, const std::int64_t* ids,
                                 std::int64_t n_problems, math::SolveSettings settings,
                                 math::ResultArrays out) {
  const std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (t < n_problems) math::solve_and_store(in, ids[t], settings, nullptr, 0, out);
}

// One block per problem (problems with at least one bin).
template <int BLOCK>
__global__ void __launch_bounds__(BLOCK)
    solve_per_block(math::BatchArrays in, const std::int64_t* ids, math::SolveSettings settings,
                    math::ResultArrays out) {
  __shared__ BlockShared<BLOCK> shared;
  const std::int64_t p = ids[blockIdx.x];
  const BlockProfile<BLOCK> f{in.problem(p), &shared};
  const math::ProblemSolution s = math::solve_profile(f, settings);
  if (threadIdx.x == 0) math::store_solution(s, p, out);
  for (std::int64_t k = f.view.segment_begin; k < f.view.segment_end; ++k) {
    const auto d = f.dataset_sums(k, s.norm);
    if (threadIdx.x == 0) math::store_dataset_sums(d, k, s.norm, out);
  }
}

// One warp per problem (problems with at least one bin). A warp past the end leaves as a whole.
__global__ void __launch_bounds__(kSmallThreads)
    solve_per_warp(math::BatchArrays in, const std::int64_t* ids, std::int64_t n_problems,
                   math::SolveSettings settings, math::ResultArrays out) {
  __shared__ WarpShared shared[kWarpsPerBlock];
  const int warp = threadIdx.x / kWarpThreads, lane = threadIdx.x % kWarpThreads;
  const std::int64_t t = blockIdx.x * static_cast<std::int64_t>(kWarpsPerBlock) + warp;
  if (t >= n_problems) return;
  const std::int64_t p = ids[t];
  const WarpProfile f{in.problem(p), &shared[warp]};
  const math::ProblemSolution s = math::solve_profile(f, settings);
  if (lane == 0) math::store_solution(s, p, out);
  for (std::int64_t k = f.view.segment_begin; k < f.view.segment_end; ++k) {
    const auto d = f.dataset_sums(k, s.norm);
    if (lane == 0) math::store_dataset_sums(d, k, s.norm, out);
  }
}

// Loads norms [j0, j0 + K) into registers; returns how many are real.
template <int K>
__device__ int load_norms(const double* norms, int n_norms, int j0, double (&t)[K]) {
  const int n = n_norms - j0 < K ? n_norms - j0 : K;
#pragma unroll
  for (int j = 0; j < K; ++j) t[j] = j < n ? norms[j0 + j] : 0.0;
  return n;
}

// Scan, one thread per problem: K norms per pass over the problem's bins. Runs after the solve
// kernels on the same stream and adds its one evaluation to the problem's count.
template <int K>
__global__ void scan_per_thread(math::BatchArrays in, const std::int64_t* ids,
                                std::int64_t n_problems, const double* norms, int n_norms,
                                math::ResultArrays out) {
  const std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (t >= n_problems) return;
  const std::int64_t p = ids[t];
  const math::ProblemView v = in.problem(p);
  double* row = out.stat_scan + p * n_norms;
  if (v.n_bins() == 0) {  // empty problems: no statistic at all (as math::store_empty_problem)
    for (int j = 0; j < n_norms; ++j) row[j] = math::kNaN;
    return;
  }
  for (int j0 = 0; j0 < n_norms; j0 += K) {
    double theta[K], acc[K];
    const int n = load_norms<K>(norms, n_norms, j0, theta);
#pragma unroll
    for (int j = 0; j < K; ++j) acc[j] = 0.0;
    v.partial_values<K>(theta, n, 0, 1, acc);
    for (int j = 0; j < n; ++j) row[j0 + j] = acc[j];
  }
  ++out.evaluations[p];
}

// Scan, one warp per problem: as scan_per_block with a warp reduction.
template <int K>
__global__ void __launch_bounds__(kSmallThreads)
    scan_per_warp(math::BatchArrays in, const std::int64_t* ids, std::int64_t n_problems,
                  const double* norms, int n_norms, math::ResultArrays out) {
  using Reduce = cub::WarpReduce<NormSums<K>>;
  __shared__ typename Reduce::TempStorage scratch[kWarpsPerBlock];
  const int warp = threadIdx.x / kWarpThreads, lane = threadIdx.x % kWarpThreads;
  const std::int64_t t = blockIdx.x * static_cast<std::int64_t>(kWarpsPerBlock) + warp;
  if (t >= n_problems) return;
  const std::int64_t p = ids[t];
  const math::ProblemView v = in.problem(p);
  double* row = out.stat_scan + p * n_norms;
  for (int j0 = 0; j0 < n_norms; j0 += K) {
    double theta[K];
    NormSums<K> acc;
    const int n = load_norms<K>(norms, n_norms, j0, theta);
#pragma unroll
    for (int j = 0; j < K; ++j) acc.v[j] = 0.0;
    v.partial_values<K>(theta, n, lane, kWarpThreads, acc.v);
    const NormSums<K> total = Reduce(scratch[warp]).Reduce(acc, AddNormSums<K>{});
    if (lane == 0)
      for (int j = 0; j < n; ++j) row[j0 + j] = total.v[j];
    __syncwarp();
  }
  if (lane == 0) ++out.evaluations[p];
}

// Scan, one block per problem: thread t sums bins t, t+BLOCK, ... for K norms held in registers,
// then one block reduction per K norms (a segmented reduction with one segment per block).
template <int K, int BLOCK>
__global__ void __launch_bounds__(BLOCK)
    scan_per_block(math::BatchArrays in, const std::int64_t* ids, const double* norms,
                   int n_norms, math::ResultArrays out) {
  using Reduce = cub::BlockReduce<NormSums<K>, BLOCK>;
  __shared__ typename Reduce::TempStorage scratch;
  const std::int64_t p = ids[blockIdx.x];
  const math::ProblemView v = in.problem(p);
  double* row = out.stat_scan + p * n_norms;
  for (int j0 = 0; j0 < n_norms; j0 += K) {
    double theta[K];
    NormSums<K> acc;
    const int n = load_norms<K>(norms, n_norms, j0, theta);
#pragma unroll
    for (int j = 0; j < K; ++j) acc.v[j] = 0.0;
    v.partial_values<K>(theta, n, threadIdx.x, BLOCK, acc.v);
    const NormSums<K> total = Reduce(scratch).Reduce(acc, AddNormSums<K>{});
    if (threadIdx.x == 0)
      for (int j = 0; j < n; ++j) row[j0 + j] = total.v[j];
    __syncthreads();
  }
  if (threadIdx.x == 0) ++out.evaluations[p];
}

}  // namespace fluxpoints::cuda_backend
