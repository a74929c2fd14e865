// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Problems with linear nuisance parameters (math/nuisance_batch_solve.hpp): problems/s of a full
// solve with selection_optional = all for K = 0 (today's path, through the same entry), 1, 4 and
// 16 nuisances, on one CPU thread (the backends are not wired to nuisances yet, so this calls the
// shared math in a plain loop; a backend runs the same call per problem in parallel).
//
//   ./build/bench/bench_nuisance --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "fluxpoints/backend_support.hpp"
#include "fluxpoints/math/nuisance_batch_solve.hpp"

namespace {

using fluxpoints::LikelihoodBatch;
using fluxpoints::StatKind;
namespace math = fluxpoints::math;

struct NuisanceBatch {
  LikelihoodBatch batch;
  std::vector<std::int64_t> problem_nuisances{0}, template_offset;
  std::vector<double> template_values, start, min, max;
};

// Survey-like problems: a source and K overlapping components (neighbouring sources, background
// norms) over 2 datasets of 20 bins (Cash and WStat alternate), Poisson counts around true
// amplitudes 1; every other nuisance has min = 0.
NuisanceBatch make_batch(int n_problems, int K, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  NuisanceBatch nb;
  constexpr int kBinsPerDataset = 20;
  nb.batch.reserve(n_problems, 2 * kBinsPerDataset * static_cast<std::int64_t>(n_problems));
  for (int p = 0; p < n_problems; ++p) {
    nb.batch.begin_problem();
    for (int k = 0; k < K; ++k) {
      nb.start.push_back(1.0);
      nb.min.push_back(k % 2 == 0 ? 0.0 : math::kNaN);
      nb.max.push_back(math::kNaN);
    }
    nb.problem_nuisances.push_back(nb.problem_nuisances.back() + K);
    nb.template_offset.push_back(static_cast<std::int64_t>(nb.template_values.size()));
    const double scale = std::exp(std::log(0.5) + u(rng) * std::log(100.0));
    std::vector<double> centre(K), width(K);
    for (int k = 0; k < K; ++k) {
      centre[k] = (k + u(rng)) / (K > 0 ? K : 1);
      width[k] = 0.5 / (K > 0 ? K : 1) * (0.5 + u(rng));
    }
    std::vector<std::vector<double>> t(K);
    for (int d = 0; d < 2; ++d) {
      const StatKind kind = (p + d) % 2 == 0 ? StatKind::cash : StatKind::wstat;
      nb.batch.begin_dataset(kind);
      for (int i = 0; i < kBinsPerDataset; ++i) {
        const double x = (i + 0.5) / kBinsPerDataset;
        const double s = scale * std::exp(-2.0 * x);
        double mean = s;
        for (int k = 0; k < K; ++k) {
          const double z = (x - centre[k]) / width[k];
          const double v = scale * (std::exp(-0.5 * z * z) + 1e-3);
          t[k].push_back(v);
          mean += v;
        }
        if (kind == StatKind::cash) {
          const double b = 0.5 * scale;
          nb.batch.add_cash_bin(std::poisson_distribution<long>(mean + b)(rng), s, b);
        } else {
          const double alpha = 0.2, b = 0.5 * scale / alpha;
          nb.batch.add_wstat_bin(std::poisson_distribution<long>(mean + alpha * b)(rng),
                                 std::poisson_distribution<long>(b)(rng), alpha, s);
        }
      }
    }
    for (int k = 0; k < K; ++k)
      nb.template_values.insert(nb.template_values.end(), t[k].begin(), t[k].end());
  }
  return nb;
}

void BM_SolveNuisance(benchmark::State& state) {
  const int K = static_cast<int>(state.range(0));
  const int n_problems = static_cast<int>(state.range(1));
  const NuisanceBatch nb = make_batch(n_problems, K, 42);
  fluxpoints::SolveOptions options;
  options.set_selection("all");
  fluxpoints::BatchResult result;
  fluxpoints::prepare_solve(nb.batch.as_view(), options, result);
  std::vector<int> evaluations(n_problems, 0);
  const math::ResultArrays out = fluxpoints::result_arrays(result, evaluations);
  const math::BatchArrays in = nb.batch.as_view().arrays;
  const math::NuisanceArrays nu{nb.problem_nuisances.data(),
                                nb.template_offset.data(),
                                nb.template_values.data(),
                                nb.start.data(),
                                nb.min.data(),
                                nb.max.data()};
  const math::SolveSettings settings = options.settings();
  std::vector<double> phi(nb.start.size() + 1);
  const std::vector<double>& scan = result.norm_scan;
  double passes = 0;
  int ok = 0;
  for (auto _ : state) {
    for (int p = 0; p < n_problems; ++p)
      math::solve_and_store_nuisance(in, nu, p, settings, scan.data(),
                                     static_cast<int>(scan.size()), out, phi.data());
    benchmark::DoNotOptimize(result.norm.data());
    passes = 0;
    ok = 0;
    for (int p = 0; p < n_problems; ++p) {
      passes += evaluations[p];
      ok += result.status[p] == math::SolveStatus::ok;
    }
  }
  state.counters["problems_per_s"] = benchmark::Counter(
      static_cast<double>(n_problems), benchmark::Counter::kIsIterationInvariantRate);
  // K = 0: evaluations count profile evaluations (the scan as one); K > 0: passes over the bins.
  state.counters["passes_per_problem"] = passes / n_problems;
  state.counters["ok_fraction"] = static_cast<double>(ok) / n_problems;
}

BENCHMARK(BM_SolveNuisance)
    ->Args({0, 2000})
    ->Args({1, 2000})
    ->Args({4, 1000})
    ->Args({16, 200})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
