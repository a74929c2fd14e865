// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "kokkos_backend.hpp"

#include <Kokkos_Core.hpp>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <numeric>
#include <type_traits>

#include "fluxpoints/math/nuisance_batch_solve.hpp"
#include "fluxpoints/thread_pool.hpp"
#include "host/engine/backend_support.hpp"

namespace fluxpoints::kokkos_backend {
namespace {

// Whether Kokkos' default host execution space runs a parallel_for on several threads (Threads,
// OpenMP, HPX). Debian's Kokkos 3.4 is built with Serial only: then the project's thread pool
// runs the same per-problem body instead (docs/library.md, "The CPU backend").
#if defined(KOKKOS_ENABLE_SERIAL)
constexpr bool kKokkosHostIsParallel =
    !std::is_same_v<Kokkos::DefaultHostExecutionSpace, Kokkos::Serial>;
#else
constexpr bool kKokkosHostIsParallel = true;
#endif

// Kokkos is initialised once per process, with the worker count of the first backend that needs
// it, and finalised at exit. Its dispatch is not made from several threads at once.
std::mutex& kokkos_dispatch_mutex() {
  static std::mutex m;
  return m;
}

void ensure_kokkos(int threads) {
  static std::once_flag once;
  std::call_once(once, [threads] {
    if (!Kokkos::is_initialized()) {
      Kokkos::InitArguments args;
      args.disable_warnings = true;
      args.num_threads = threads;
      Kokkos::initialize(args);
      std::atexit([] {
        if (Kokkos::is_initialized()) Kokkos::finalize();
      });
    }
  });
}

// Problems handed to a pool thread at a time: large enough that the shared counter is touched
// rarely, small enough that uneven problems (many bins, many crossings) still balance.
constexpr std::int64_t kProblemsPerTask = 64;

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int workers) : workers_(resolve_workers(workers)) {
    if (kKokkosHostIsParallel)
      ensure_kokkos(workers_);
    else
      pool_ = std::make_unique<ThreadPool>(workers_);
  }
  std::string name() const override {
    const std::string threads =
        std::to_string(workers_) + (workers_ == 1 ? " worker thread" : " worker threads");
    if (kKokkosHostIsParallel)
      return std::string("cpu (Kokkos ") + Kokkos::DefaultHostExecutionSpace::name() + ", " +
             threads + ")";
    return "cpu (" + threads + ")";
  }

  using Backend::solve;
  BatchResult solve(const BatchView& batch, const SolveOptions& options) const override {
    BatchResult result;
    prepare_solve(batch, options, result);
    std::vector<int> evaluations(batch.n_problems, 0);
    const math::BatchArrays in = batch.arrays;
    const math::ResultArrays out = result_arrays(result, evaluations);
    const math::SolveSettings settings = options.settings();
    const double* scan = result.norm_scan.data();
    const int n_scan = static_cast<int>(result.n_scan());
    if (batch.has_nuisances()) {
      // Problems with nuisances (reoptimize); those without go through solve_and_store inside.
      result.nuisance.assign(batch.n_nuisances, math::kNaN);
      const math::NuisanceArrays nu = batch.nuisances;
      double* phi = result.nuisance.data();
      run(batch.n_problems, [=](const std::int64_t p) {
        math::solve_and_store_nuisance(in, nu, p, settings, scan, n_scan, out, phi);
      });
    } else {
      run(batch.n_problems, [=](const std::int64_t p) {
        math::solve_and_store(in, p, settings, scan, n_scan, out);
      });
    }
    result.evaluations = std::accumulate(evaluations.begin(), evaluations.end(), std::int64_t{0});
    return result;
  }

  // On the pool when there is one (the task's parallel_for then shares the pool with it).
  std::future<BatchResult> solve_async(const BatchView& batch,
                                       const SolveOptions& options) const override {
    if (!pool_) return Backend::solve_async(batch, options);
    return pool_->submit([this, batch, options] { return solve(batch, options); });
  }

 private:
  // The one body of the CPU backend, solve_one(p) for every problem: problem p reads only the
  // batch and writes only its own row (its segments, its nuisances), so any schedule gives the
  // same bits. Kokkos dispatches it when its host space is parallel, the pool otherwise.
  template <class SolveOne>
  void run(std::int64_t n_problems, const SolveOne& solve_one) const {
    if (kKokkosHostIsParallel) {
      std::lock_guard<std::mutex> lock(kokkos_dispatch_mutex());
      Kokkos::parallel_for("fluxpoints::solve_batch",
                           Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, n_problems),
                           solve_one);
      Kokkos::fence();
    } else {
      pool_->parallel_for(n_problems, kProblemsPerTask, solve_one);
    }
  }

  int workers_;
  std::unique_ptr<ThreadPool> pool_;  // null when Kokkos' host space is parallel
};

}  // namespace

std::unique_ptr<Backend> make(int workers) { return std::make_unique<CpuBackend>(workers); }

}  // namespace fluxpoints::kokkos_backend
