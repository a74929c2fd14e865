// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// CPU backend throughput (issue 2): problems/s and bin-evaluations/s of a full batch solve with
// selection_optional = all, for spectrum-like problems (8 bins) and map-like problems (1e5 bins),
// next to the machine's rate for one `log` per element (the floor of a Cash/WStat evaluation).
//
//   ./build/bench/bench_cpu_solve --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "fluxpoints/backend.hpp"

namespace {

using fluxpoints::LikelihoodBatch;
using fluxpoints::StatKind;

// Random but realistic problems: source and background counts of similar size, Poisson counts.
LikelihoodBatch make_batch(std::int64_t n_problems, std::int64_t bins, StatKind kind,
                           std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> log_scale(std::log(0.05), std::log(50.0));
  LikelihoodBatch batch;
  batch.reserve(n_problems, n_problems * bins);
  for (std::int64_t p = 0; p < n_problems; ++p) {
    batch.begin_problem();
    batch.begin_dataset(kind);
    const double scale = std::exp(log_scale(rng));
    for (std::int64_t i = 0; i < bins; ++i) {
      const double s = scale * std::pow(0.7, static_cast<double>(i % 16));
      const double b = 0.5 * scale;
      const double norm_true = 1.0;
      if (kind == StatKind::cash) {
        const double n = std::poisson_distribution<long>(norm_true * s + b)(rng);
        batch.add_cash_bin(n, s, b);
      } else {
        const double alpha = 0.2;
        const double n_off = std::poisson_distribution<long>(b / alpha)(rng);
        const double n_on = std::poisson_distribution<long>(norm_true * s + b)(rng);
        batch.add_wstat_bin(n_on, n_off, alpha, s);
      }
    }
  }
  return batch;
}

void run_solve(benchmark::State& state, StatKind kind) {
  const std::int64_t n_problems = state.range(0), bins = state.range(1);
  const LikelihoodBatch batch = make_batch(n_problems, bins, kind, 42);
  const auto backend = fluxpoints::make_backend("cpu");
  fluxpoints::SolveOptions options;
  options.set_selection("all");
  double bin_evaluations = 0.0;
  for (auto _ : state) {
    const fluxpoints::BatchResult r = backend->solve(batch, options);
    benchmark::DoNotOptimize(r.norm.data());
    // Every profile evaluation is one pass over the problem's bins; the scan pass evaluates all
    // scan norms per bin (it is counted once in `evaluations`).
    bin_evaluations = static_cast<double>(r.evaluations - n_problems) * bins +
                      static_cast<double>(n_problems) * r.n_scan() * bins;
  }
  state.counters["problems_per_s"] =
      benchmark::Counter(static_cast<double>(n_problems), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bin_evals_per_s"] =
      benchmark::Counter(bin_evaluations, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bin_evals_per_problem_bin"] = bin_evaluations / (n_problems * bins);
}

void BM_SolveWStat(benchmark::State& state) { run_solve(state, StatKind::wstat); }
void BM_SolveCash(benchmark::State& state) { run_solve(state, StatKind::cash); }

// 100,000 spectra x 8 bins. Map-like groups: 1e5 bins each; the rate per problem does not depend
// on how many problems there are, so 100 problems keep the run short (1e3 would take 10x longer).
BENCHMARK(BM_SolveWStat)->Args({100000, 8})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SolveCash)->Args({100000, 8})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SolveCash)->Args({100, 100000})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SolveWStat)->Args({100, 100000})->Unit(benchmark::kMillisecond)->UseRealTime();

// The floor: one double-precision log per element, summed (what one Cash bin-evaluation needs
// at least).
void BM_LogPerElement(benchmark::State& state) {
  std::vector<double> x(1 << 20);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(0.1, 100.0);
  for (double& v : x) v = u(rng);
  for (auto _ : state) {
    double sum = 0.0;
    for (double v : x) sum += std::log(v);
    benchmark::DoNotOptimize(sum);
  }
  state.counters["logs_per_s"] = benchmark::Counter(static_cast<double>(x.size()),
                                                    benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_LogPerElement)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
