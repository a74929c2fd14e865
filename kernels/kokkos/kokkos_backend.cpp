// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "kokkos_backend.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <thread>
#ifdef __linux__
#include <sched.h>
#endif

#include "fluxpoints/backend_support.hpp"
#include "fluxpoints/math/nuisance_batch_solve.hpp"

namespace fluxpoints::kokkos_backend {
namespace {

// Kokkos must be initialised once per process before the first dispatch and finalised at exit.
void ensure_kokkos() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (!Kokkos::is_initialized()) {
      Kokkos::InitArguments args;
      args.disable_warnings = true;
      Kokkos::initialize(args);
      std::atexit([] {
        if (Kokkos::is_initialized()) Kokkos::finalize();
      });
    }
  });
}

// Problems handed to a worker at a time: large enough that the shared counter is touched rarely,
// small enough that uneven problems (many bins, many crossings) still balance across workers.
constexpr std::int64_t kProblemsPerTask = 64;

// Solves problems [0, n) on `workers` std::threads: solve_one(p) for each. Each task is a
// contiguous range claimed from one atomic counter; the shared math reads only the batch and
// writes only row p (and its segments and nuisances), so the threads share no mutable state
// besides the counter.
template <class SolveOne>
void solve_on_threads(std::int64_t n, const SolveOne& solve_one, int workers) {
  std::atomic<std::int64_t> next{0};
  auto work = [&] {
    for (;;) {
      const std::int64_t begin = next.fetch_add(kProblemsPerTask, std::memory_order_relaxed);
      if (begin >= n) return;
      const std::int64_t end = std::min(n, begin + kProblemsPerTask);
      for (std::int64_t p = begin; p < end; ++p) solve_one(p);
    }
  };
  const std::int64_t tasks = (n + kProblemsPerTask - 1) / kProblemsPerTask;
  const int n_threads = static_cast<int>(std::min<std::int64_t>(workers, tasks));
  std::vector<std::thread> threads;
  threads.reserve(n_threads > 0 ? n_threads - 1 : 0);
  for (int t = 1; t < n_threads; ++t) threads.emplace_back(work);
  work();  // the calling thread is one of the workers
  for (auto& t : threads) t.join();
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int workers) : workers_(resolve_workers(workers)) {
    if (workers_ == 1) ensure_kokkos();
  }
  std::string name() const override {
    if (workers_ == 1) return std::string("cpu (Kokkos ") + Kokkos::DefaultHostExecutionSpace::name() + ", 1 worker)";
    return "cpu (" + std::to_string(workers_) + " worker threads)";
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
      run([=](std::int64_t p) {
        math::solve_and_store_nuisance(in, nu, p, settings, scan, n_scan, out, phi);
      }, batch.n_problems);
    } else {
      run([=](std::int64_t p) { math::solve_and_store(in, p, settings, scan, n_scan, out); },
          batch.n_problems);
    }
    result.evaluations = std::accumulate(evaluations.begin(), evaluations.end(), std::int64_t{0});
    return result;
  }

 private:
  // Calls solve_one(p) for every problem, on Kokkos (1 worker) or on worker threads.
  template <class SolveOne>
  void run(const SolveOne& solve_one, std::int64_t n_problems) const {
    if (workers_ == 1) {
      Kokkos::parallel_for("fluxpoints::solve_batch",
                           Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, n_problems),
                           [=](const std::int64_t p) { solve_one(p); });
      Kokkos::fence();
    } else {
      solve_on_threads(n_problems, solve_one, workers_);
    }
  }

  int workers_;
};

}  // namespace

int resolve_workers(int workers) {
  if (workers < 0) throw std::invalid_argument("workers must be >= 0 (0 = every core), got " + std::to_string(workers));
  if (workers > 0) return workers;
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

std::unique_ptr<Backend> make(int workers) { return std::make_unique<CpuBackend>(workers); }

}  // namespace fluxpoints::kokkos_backend
