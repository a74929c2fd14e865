// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The kernels of the CUDA backend. All likelihood math comes from include/fluxpoints/math; this
// file only decides which threads evaluate which bins and how partial sums are reduced.
//
// Determinism: every sum has a fixed order. A thread-per-problem sum runs over the bins in
// order; a warp- or block-per-problem sum has thread t add bins t, t+T, ... and cub::WarpReduce /
// cub::BlockReduce combine the T partial sums in their fixed tree order. So a problem gives the
// same bits whatever chunk or position in the batch it has.
#include <cub/block/block_reduce.cuh>
#include <cub/warp/warp_reduce.cuh>
#include <type_traits>

#include "fluxpoints/math/batch_solve.hpp"
#include "fluxpoints/math/nuisance_batch_solve.hpp"
#include "launch_policy.hpp"

namespace fluxpoints::cuda_backend {

// Launch shapes (launch_policy.hpp). Every kernel is compiled for them (__launch_bounds__), so
// launching one with another block size fails.
constexpr int kBlockThreads = LaunchPolicy::kBlockThreads;
constexpr int kSmallThreads = LaunchPolicy::kSmallBlockThreads;
constexpr int kWarpThreads = LaunchPolicy::kWarpThreads;
constexpr int kWarpsPerBlock = LaunchPolicy::kWarpsPerBlock;
#define FLUXPOINTS_SMALL_KERNEL_BOUNDS \
  __launch_bounds__(LaunchPolicy::kSmallBlockThreads, LaunchPolicy::kSmallMinBlocksPerSm)
#define FLUXPOINTS_BLOCK_KERNEL_BOUNDS(BLOCK) \
  __launch_bounds__(BLOCK, LaunchPolicy::kBlockMinBlocksPerSm)
constexpr int kNuisanceThreads = LaunchPolicy::kNuisanceBlockThreads;
#define FLUXPOINTS_NUISANCE_KERNEL_BOUNDS \
  __launch_bounds__(LaunchPolicy::kNuisanceBlockThreads, LaunchPolicy::kNuisanceMinBlocksPerSm)

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

// Storage for one value of each type T... at a time (a union), reached by type: get<U>().
// Storage<T> says what is kept for a T (a reduction's scratch, or the T itself).
template <template <class> class Storage, class... T>
union OneOf;
template <template <class> class Storage, class T>
union OneOf<Storage, T> {
  Storage<T> first;
  template <class U>
  __device__ Storage<U>& get() {
    static_assert(std::is_same_v<U, T>, "not a type of this OneOf");
    return first;
  }
};
template <template <class> class Storage, class T, class U2, class... Rest>
union OneOf<Storage, T, U2, Rest...> {
  Storage<T> first;
  OneOf<Storage, U2, Rest...> rest;
  template <class U>
  __device__ Storage<U>& get() {
    if constexpr (std::is_same_v<U, T>) return first;
    else return rest.template get<U>();
  }
};
template <class T>
using Itself = T;

// The threads that evaluate one problem together: a warp (WarpGroup) or a whole block
// (BlockGroup). Thread rank() of the kThreads sums bins rank, rank + kThreads, ...; reduce()
// combines the partial sums in cub's fixed tree order (the result in rank 0 only), all_reduce()
// gives the result to every thread. Both leave the scratch free for the next reduction. Reduced
// is the list of value types the group reduces; Shared is its per-group shared memory.
template <class... Reduced>
struct WarpGroup {
  static constexpr int kThreads = kWarpThreads;
  template <class T>
  using Scratch = typename cub::WarpReduce<T>::TempStorage;
  using Shared = OneOf<Scratch, Reduced...>;
  Shared* shared;

  __device__ int rank() const { return threadIdx.x % kThreads; }
  template <class T, class Op>
  __device__ T reduce(const T& part, Op op) const {
    const T total = cub::WarpReduce<T>(shared->template get<T>()).Reduce(part, op);
    __syncwarp();
    return total;
  }
  template <class T, class Op>
  __device__ T all_reduce(const T& part, Op op) const {
    return cub::ShuffleIndex<kThreads>(reduce(part, op), 0, 0xffffffffu);
  }
};

template <int BLOCK, class... Reduced>
struct BlockGroup {
  static constexpr int kThreads = BLOCK;
  template <class T>
  using Scratch = typename cub::BlockReduce<T, BLOCK>::TempStorage;
  struct Shared {
    OneOf<Scratch, Reduced...> scratch;
    OneOf<Itself, Reduced...> result;  // through which thread 0 hands a result to every thread
  };
  Shared* shared;

  __device__ int rank() const { return threadIdx.x; }
  template <class T, class Op>
  __device__ T reduce(const T& part, Op op) const {
    const T total =
        cub::BlockReduce<T, BLOCK>(shared->scratch.template get<T>()).Reduce(part, op);
    __syncthreads();
    return total;
  }
  template <class T, class Op>
  __device__ T all_reduce(const T& part, Op op) const {
    const T total =
        cub::BlockReduce<T, BLOCK>(shared->scratch.template get<T>()).Reduce(part, op);
    if (threadIdx.x == 0) shared->result.template get<T>() = total;
    __syncthreads();
    const T r = shared->result.template get<T>();
    __syncthreads();  // scratch and result are reused by the next reduction
    return r;
  }
};

// What the solve kernels' groups reduce.
using SolveWarp = WarpGroup<math::ProfilePoint, math::ProblemView::DatasetSums, double>;
template <int BLOCK>
using SolveBlock = BlockGroup<BLOCK, math::ProfilePoint, math::ProblemView::DatasetSums, double>;

// The profile of one problem evaluated cooperatively by a group: every evaluation is a group
// reduction whose result all threads receive, so they all take the same branches in
// math::solve_profile (and reach the same barriers). Methods are __host__ __device__ only to
// satisfy the solver's host-device signature; they are used in device code only.
template <class Group>
struct GroupProfile {
  math::ProblemView view;
  Group group;

  __host__ __device__ math::ProfilePoint profile(double theta) const {
#ifdef __CUDA_ARCH__
    return group.all_reduce(view.partial_profile(theta, group.rank(), Group::kThreads),
                            AddPoints{});
#else
    (void)theta;
    return {math::kNaN, math::kNaN, math::kNaN};
#endif
  }

  __host__ __device__ double feasible_min() const {
#ifdef __CUDA_ARCH__
    return group.all_reduce(view.partial_feasible_min(group.rank(), Group::kThreads),
                            MaxDouble{});
#else
    return math::kNaN;
#endif
  }

  // Valid in rank 0 only.
  __device__ math::ProblemView::DatasetSums dataset_sums(std::int64_t k, double theta) const {
    return group.reduce(view.partial_dataset_sums(k, theta, group.rank(), Group::kThreads),
                        AddDatasetSums{});
  }
};

// Solves problem p with a group of threads; rank 0 stores the results.
template <class Group>
__device__ void solve_with_group(const math::BatchArrays& in, std::int64_t p,
                                 const math::SolveSettings& settings,
                                 const math::ResultArrays& out, const Group& group) {
  const GroupProfile<Group> f{in.problem(p), group};
  const math::ProblemSolution s = math::solve_profile(f, settings);
  const bool leader = group.rank() == 0;
  if (leader) math::store_solution(s, p, out);
  for (std::int64_t k = f.view.segment_begin; k < f.view.segment_end; ++k) {
    const auto d = f.dataset_sums(k, s.norm);
    if (leader) math::store_dataset_sums(d, k, s.norm, out);
  }
}

// The sort key of problem p: its number of bins, or for a problem with K nuisance parameters
// (when `nu` has them) nuisance_key_base + min(K, kMaxCoords) - 1, where nuisance_key_base is
// above every problem's bin count: those problems sort after all others, grouped by K (threads
// of a warp then solve problems of the same size). ids[p] = p.
__global__ void FLUXPOINTS_SMALL_KERNEL_BOUNDS
    problem_sizes(math::BatchArrays in, math::NuisanceArrays nu, std::int64_t n_problems,
                  std::uint32_t nuisance_key_base, std::uint32_t* keys, std::int64_t* ids) {
  const std::int64_t p = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (p >= n_problems) return;
  const std::int64_t k =
      nu.problem_nuisances ? nu.problem_nuisances[p + 1] - nu.problem_nuisances[p] : 0;
  if (k > 0) {
    const std::int64_t size_class = k < math::kMaxCoords ? k : math::kMaxCoords;
    keys[p] = nuisance_key_base + static_cast<std::uint32_t>(size_class - 1);
  } else {
    const std::int64_t n = in.problem(p).n_bins();
    keys[p] = n < 0xffffffffll ? static_cast<std::uint32_t>(n) : 0xffffffffu;
  }
  ids[p] = p;
}

// One thread per problem; the scan is left to the scan kernels.
__global__ void FLUXPOINTS_SMALL_KERNEL_BOUNDS
    solve_per_thread(math::BatchArrays in, const std::int64_t* ids, std::int64_t n_problems,
                     math::SolveSettings settings, math::ResultArrays out) {
  const std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (t < n_problems) math::solve_and_store(in, ids[t], settings, nullptr, 0, out);
}

// One block per problem (problems with at least one bin).
template <int BLOCK>
__global__ void FLUXPOINTS_BLOCK_KERNEL_BOUNDS(BLOCK)
    solve_per_block(math::BatchArrays in, const std::int64_t* ids, math::SolveSettings settings,
                    math::ResultArrays out) {
  __shared__ typename SolveBlock<BLOCK>::Shared shared;
  solve_with_group(in, ids[blockIdx.x], settings, out, SolveBlock<BLOCK>{&shared});
}

// One thread per problem with nuisance parameters: the shared math solves the problem, its scan
// (every scan norm re-fits the nuisances, so the scan kernels do not serve these problems) and
// stores its row, its per-dataset sums and its fitted nuisances (phi, indexed like nu's
// nuisances). The solver's working set is on the thread's stack (local memory).
__global__ void FLUXPOINTS_NUISANCE_KERNEL_BOUNDS
    solve_nuisance_per_thread(math::BatchArrays in, math::NuisanceArrays nu,
                              const std::int64_t* ids, std::int64_t n_problems,
                              math::SolveSettings settings, const double* norms, int n_norms,
                              math::ResultArrays out, double* phi) {
  const std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (t < n_problems)
    math::solve_and_store_nuisance(in, nu, ids[t], settings, norms, n_norms, out, phi);
}

// One warp per problem (problems with at least one bin). A warp past the end leaves as a whole.
__global__ void FLUXPOINTS_SMALL_KERNEL_BOUNDS
    solve_per_warp(math::BatchArrays in, const std::int64_t* ids, std::int64_t n_problems,
                   math::SolveSettings settings, math::ResultArrays out) {
  __shared__ SolveWarp::Shared shared[kWarpsPerBlock];
  const int warp = threadIdx.x / kWarpThreads;
  const std::int64_t t = blockIdx.x * static_cast<std::int64_t>(kWarpsPerBlock) + warp;
  if (t >= n_problems) return;
  solve_with_group(in, ids[t], settings, out, SolveWarp{&shared[warp]});
}

// Loads norms [j0, j0 + K) into registers; returns how many are real.
template <int K>
__device__ __forceinline__ int load_norms(const double* norms, int n_norms, int j0,
                                          double (&t)[K]) {
  const int n = n_norms - j0 < K ? n_norms - j0 : K;
#pragma unroll
  for (int j = 0; j < K; ++j) t[j] = j < n ? norms[j0 + j] : 0.0;
  return n;
}

// Scan, one thread per problem: K norms per pass over the problem's bins. Runs after the solve
// kernels on the same stream and adds its one evaluation to the problem's count.
template <int K>
__global__ void FLUXPOINTS_SMALL_KERNEL_BOUNDS
    scan_per_thread(math::BatchArrays in, const std::int64_t* ids, std::int64_t n_problems,
                    const double* norms, int n_norms, math::ResultArrays out) {
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

// Scan of problem p (at least one bin) with a group of threads: thread r sums bins r,
// r + kThreads, ... for K norms held in registers, then one group reduction per K norms.
template <int K, class Group>
__device__ void scan_with_group(const math::BatchArrays& in, std::int64_t p, const double* norms,
                                int n_norms, const math::ResultArrays& out, const Group& group) {
  const math::ProblemView v = in.problem(p);
  double* row = out.stat_scan + p * n_norms;
  const bool leader = group.rank() == 0;
  for (int j0 = 0; j0 < n_norms; j0 += K) {
    double theta[K];
    NormSums<K> acc;
    const int n = load_norms<K>(norms, n_norms, j0, theta);
#pragma unroll
    for (int j = 0; j < K; ++j) acc.v[j] = 0.0;
    v.partial_values<K>(theta, n, group.rank(), Group::kThreads, acc.v);
    const NormSums<K> total = group.reduce(acc, AddNormSums<K>{});
    if (leader)
      for (int j = 0; j < n; ++j) row[j0 + j] = total.v[j];
  }
  if (leader) ++out.evaluations[p];
}

// Scan, one warp per problem.
template <int K>
__global__ void FLUXPOINTS_SMALL_KERNEL_BOUNDS
    scan_per_warp(math::BatchArrays in, const std::int64_t* ids, std::int64_t n_problems,
                  const double* norms, int n_norms, math::ResultArrays out) {
  using Group = WarpGroup<NormSums<K>>;
  __shared__ typename Group::Shared shared[kWarpsPerBlock];
  const int warp = threadIdx.x / kWarpThreads;
  const std::int64_t t = blockIdx.x * static_cast<std::int64_t>(kWarpsPerBlock) + warp;
  if (t >= n_problems) return;
  scan_with_group<K>(in, ids[t], norms, n_norms, out, Group{&shared[warp]});
}

// Scan, one block per problem (a segmented reduction with one segment per block).
template <int K, int BLOCK>
__global__ void FLUXPOINTS_BLOCK_KERNEL_BOUNDS(BLOCK)
    scan_per_block(math::BatchArrays in, const std::int64_t* ids, const double* norms,
                   int n_norms, math::ResultArrays out) {
  using Group = BlockGroup<BLOCK, NormSums<K>>;
  __shared__ typename Group::Shared shared;
  scan_with_group<K>(in, ids[blockIdx.x], norms, n_norms, out, Group{&shared});
}

}  // namespace fluxpoints::cuda_backend
