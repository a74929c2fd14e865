// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "kokkos_backend.hpp"

#include <Kokkos_Core.hpp>
#include <cstdlib>
#include <mutex>
#include <numeric>

#include "fluxpoints/backend_support.hpp"

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

class KokkosBackend final : public Backend {
 public:
  KokkosBackend() { ensure_kokkos(); }
  std::string name() const override {
    return std::string("cpu (Kokkos ") + Kokkos::DefaultHostExecutionSpace::name() + ")";
  }

  BatchResult solve(const LikelihoodBatch& batch, const SolveOptions& options) const override {
    BatchResult result;
    prepare_solve(batch, options, result);
    std::vector<int> evaluations(batch.n_problems(), 0);
    const math::BatchArrays in = batch_arrays(batch);
    const math::ResultArrays out = result_arrays(result, evaluations);
    const math::SolveSettings settings = options.settings();
    const double* scan = result.norm_scan.data();
    const int n_scan = static_cast<int>(result.n_scan());
    Kokkos::parallel_for(
        "fluxpoints::solve_batch",
        Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, batch.n_problems()),
        [=](const std::int64_t p) { math::solve_and_store(in, p, settings, scan, n_scan, out); });
    Kokkos::fence();
    result.evaluations = std::accumulate(evaluations.begin(), evaluations.end(), std::int64_t{0});
    return result;
  }
};

}  // namespace

std::unique_ptr<Backend> make() { return std::make_unique<KokkosBackend>(); }

}  // namespace fluxpoints::kokkos_backend
