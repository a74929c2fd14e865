// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// CUDA throughput benchmark (plain timed main; the lead records its figures in bench/RESULTS.md):
//  1. scan kernel alone: bin-evaluations/s (bins x norms / kernel time) on map-like problems;
//  2. full solve with selection "all" of many small problems (spectra, one thread each), of
//     medium ones (one warp each) and of few large ones (maps, one block each): problems/s, with the phases (assemble, buffer setup, staging, upload, kernels,
//     download, unstaging) timed separately;
//  3. the CPU backend on a subset of the same batches (same generator), extrapolated linearly to
//     the full batch, and the GPU/CPU ratio;
//  4. the same for problems with K = 4 and 16 linear nuisance parameters (reoptimize; one thread
//     per problem on the GPU).
// Without a usable device it runs the CPU part only and says why the GPU part is missing.
// Usage: bench_cuda [--small-problems N] [--small-bins N] [--medium-problems N]
//                   [--medium-bins N] [--large-problems N] [--large-bins N] [--cpu-small N]
//                   [--cpu-medium N] [--cpu-large N] [--scan-reps N]
//                   [--nuisance-problems N] [--cpu-nuisance N] [--quick]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "kernels/cuda/cuda_backend.hpp"

namespace {

using namespace fluxpoints;
using Clock = std::chrono::steady_clock;

double seconds(const std::function<void()>& f) {
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// splitmix64: fast, reproducible; batch generation must not dominate the benchmark's time.
struct Rng {
  std::uint64_t state;
  double uniform() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
  }
  // Integer counts with mean mu and Poisson-like spread (not exactly Poisson: speed matters).
  double counts(double mu) {
    const double c = std::floor(mu + std::sqrt(12.0 * mu) * (uniform() - 0.5) + uniform());
    return c > 0 ? c : 0;
  }
};

// n_problems problems of one dataset with n_bins bins each; problem p's data depend only on
// (seed, p), so a CPU subset is the first problems of the same batch.
LikelihoodBatch make_batch(std::int64_t n_problems, std::int64_t n_bins, bool wstat,
                           std::uint64_t seed) {
  LikelihoodBatch b;
  b.reserve(n_problems, n_problems * n_bins);
  for (std::int64_t p = 0; p < n_problems; ++p) {
    Rng rng{seed * 0x1000193ull + static_cast<std::uint64_t>(p)};
    const double norm = 0.5 + 2.0 * rng.uniform();
    b.begin_problem();
    b.begin_dataset(wstat ? StatKind::wstat : StatKind::cash);
    for (std::int64_t i = 0; i < n_bins; ++i) {
      const double s = 0.5 + 4.0 * rng.uniform(), bkg = 1.0 + 5.0 * rng.uniform();
      if (wstat) {
        const double alpha = 0.2;
        b.add_wstat_bin(rng.counts(norm * s + alpha * bkg), rng.counts(bkg), alpha, s);
      } else {
        b.add_cash_bin(rng.counts(norm * s + bkg), s, bkg);
      }
    }
  }
  return b;
}

struct Row {
  std::string name;
  double value;
  std::string unit;
  std::string note;
};
std::vector<Row> table;
void report(const std::string& name, double value, const std::string& unit,
            const std::string& note = "") {
  table.push_back({name, value, unit, note});
  std::printf("  %-44s %12.4g %-14s %s\n", name.c_str(), value, unit.c_str(), note.c_str());
  std::fflush(stdout);
}

std::int64_t arg(int argc, char** argv, const char* name, std::int64_t fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return static_cast<std::int64_t>(std::atof(argv[i + 1]));
  return fallback;
}
bool flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return true;
  return false;
}

// The CPU backend on the first `subset` problems of a batch built like the full one.
struct CpuRun {
  BatchResult result;
  double seconds_per_problem;
};
CpuRun cpu_subset_run(std::int64_t subset, std::int64_t n_bins, bool wstat, std::uint64_t seed,
                      const SolveOptions& o) {
  const LikelihoodBatch b = make_batch(subset, n_bins, wstat, seed);
  const auto cpu = make_backend("cpu");
  CpuRun run;
  run.seconds_per_problem = seconds([&] { run.result = cpu->solve(b, o); }) / subset;
  return run;
}

// Largest relative difference of norm and stat between the CPU subset and the same problems
// solved on the GPU (a sanity check at full scale; the tolerances live in the tests).
double max_rel_diff(const BatchResult& cpu, const BatchResult& gpu) {
  double worst = 0;
  for (std::int64_t p = 0; p < cpu.n_problems(); ++p)
    for (auto [a, b] : {std::pair{cpu.norm[p], gpu.norm[p]}, std::pair{cpu.stat[p], gpu.stat[p]}})
      if (std::isnan(a) != std::isnan(b)) worst = INFINITY;
      else if (std::isfinite(a) || std::isfinite(b))
        worst = std::max(worst, std::abs(a - b) / std::max(std::abs(a), 1e-12));
  return worst;
}

void solve_case(const char* label, std::int64_t n_problems, std::int64_t n_bins,
                std::int64_t cpu_subset, bool gpu, std::uint64_t seed) {
  std::printf("\n== full solve, selection all: %s: %lld problems x %lld bins (Cash)\n", label,
              static_cast<long long>(n_problems), static_cast<long long>(n_bins));
  SolveOptions o;
  o.set_selection("all");
  const std::string tag = std::string(label) + ": ";
  const CpuRun cpu = cpu_subset_run(cpu_subset, n_bins, false, seed, o);
  const double cpu_per_problem = cpu.seconds_per_problem;
  const double cpu_full = cpu_per_problem * static_cast<double>(n_problems);
  report(tag + "cpu problems/s", 1.0 / cpu_per_problem, "problems/s",
         "cpu backend on the first " + std::to_string(cpu_subset) + " problems");
  report(tag + "cpu time, full batch", cpu_full, "s", "extrapolated linearly from the subset");
  if (!gpu) return;
  LikelihoodBatch batch;
  const double assemble = seconds([&] { batch = make_batch(n_problems, n_bins, false, seed); });
  cuda_backend::Solver solver;
  cuda_backend::PhaseTimes cold, t;
  solver.solve(batch, o, &cold);  // allocates the buffers
  const BatchResult r = solver.solve(batch, o, &t);
  std::int64_t ok = 0;
  for (auto s : r.success) ok += s;
  report(tag + "assemble (host batch build)", assemble, "s", "synthetic data generator");
  report(tag + "buffer setup (first solve)", cold.setup_s, "s", "device + pinned allocation");
  report(tag + "stage into pinned memory", t.stage_s, "s", "host memcpy");
  report(tag + "upload H2D", t.upload_s, "s", "CUDA events, summed over chunks");
  report(tag + "kernels (sort+solve+scan)", t.solve_s, "s", "CUDA events, summed over chunks");
  report(tag + "download D2H", t.download_s, "s", "CUDA events, summed over chunks");
  report(tag + "unstage from pinned memory", t.unstage_s, "s", "host memcpy");
  report(tag + "gpu solve() wall", t.wall_s, "s",
         std::to_string(t.chunks) + " chunk(s), streams overlap");
  report(tag + "gpu problems/s (solve wall)", static_cast<double>(n_problems) / t.wall_s,
         "problems/s");
  report(tag + "gpu problems/s (kernels only)", static_cast<double>(n_problems) / t.solve_s,
         "problems/s");
  report(tag + "gpu bin-evaluations/s (kernels)",
         static_cast<double>(r.evaluations) * static_cast<double>(n_bins) / t.solve_s,
         "bin-evals/s", "profile evaluations x bins / kernel time");
  report(tag + "speed-up gpu/cpu (solve wall)", cpu_full / t.wall_s, "x",
         "cpu extrapolated; success " + std::to_string(ok) + "/" + std::to_string(n_problems));
  report(tag + "max rel diff norm/stat vs cpu", max_rel_diff(cpu.result, r), "",
         "on the cpu subset (NaN pattern differences count as inf)");
}

void scan_case(const char* label, std::int64_t n_problems, std::int64_t n_bins, bool wstat,
               int n_norms, int per_pass, int reps, bool gpu) {
  std::printf("\n== scan kernel: %s: %lld problems x %lld bins x %d norms (%s, %d norms/pass)\n",
              label, static_cast<long long>(n_problems), static_cast<long long>(n_bins), n_norms,
              wstat ? "WStat" : "Cash", per_pass);
  if (!gpu) return;
  const LikelihoodBatch batch = make_batch(n_problems, n_bins, wstat, 7);
  std::vector<double> norms(n_norms);
  for (int j = 0; j < n_norms; ++j) norms[j] = 0.2 * std::pow(25.0, j / (n_norms - 1.0));
  cuda_backend::CudaConfig config;
  config.scan_norms_per_pass = per_pass;
  cuda_backend::Solver solver(config);
  const double t = solver.time_scan(batch, norms, reps);
  report(std::string("scan ") + label + " bin-evals/s",
         static_cast<double>(batch.n_bins()) * n_norms / t, "bin-evals/s",
         std::to_string(per_pass) + " norms/pass, " + (wstat ? "WStat" : "Cash") +
             ", goal >= 1.35e11 (Cash, H100)");
}

// n_problems survey-like problems with K nuisances: a Cash and a WStat dataset of 20 bins each, a
// source and K overlapping components (Gaussian bumps) with true amplitudes near 1; every other
// nuisance has min = 0. Problem p depends only on (seed, p).
LikelihoodBatch make_nuisance_batch(std::int64_t n_problems, int K, std::uint64_t seed) {
  constexpr int kBins = 20;
  LikelihoodBatch b;
  b.reserve(n_problems, 2 * kBins * n_problems);
  std::vector<std::vector<double>> templates(K, std::vector<double>(2 * kBins));
  for (std::int64_t p = 0; p < n_problems; ++p) {
    Rng rng{seed * 0x1000193ull + static_cast<std::uint64_t>(p)};
    const double norm = 0.5 + 2.0 * rng.uniform();
    for (int k = 0; k < K; ++k) {
      const double centre = (k + rng.uniform()) / K, width = 0.5 / K + 0.1 * rng.uniform();
      for (int i = 0; i < 2 * kBins; ++i) {
        const double z = ((i % kBins + 0.5) / kBins - centre) / width;
        templates[k][i] = (1.0 + 4.0 * rng.uniform()) * (std::exp(-0.5 * z * z) + 1e-3);
      }
    }
    b.begin_problem();
    for (int d = 0; d < 2; ++d) {
      b.begin_dataset(d == 0 ? StatKind::cash : StatKind::wstat);
      for (int i = d * kBins; i < (d + 1) * kBins; ++i) {
        const double s = 0.5 + 4.0 * rng.uniform(), bkg = 1.0 + 5.0 * rng.uniform();
        double others = 0;
        for (int k = 0; k < K; ++k) others += templates[k][i];
        if (d == 0) {
          b.add_cash_bin(rng.counts(norm * s + others + bkg), s, bkg);
        } else {
          const double alpha = 0.2;
          b.add_wstat_bin(rng.counts(norm * s + others + alpha * bkg), rng.counts(bkg), alpha, s);
        }
      }
    }
    for (int k = 0; k < K; ++k)
      b.add_nuisance(1.0, k % 2 == 0 ? 0.0 : NAN, NAN, templates[k]);
  }
  return b;
}

void nuisance_case(int K, std::int64_t n_problems, std::int64_t cpu_subset, bool gpu) {
  std::printf("\n== full solve with %d nuisances, selection all: %lld problems x 40 bins\n", K,
              static_cast<long long>(n_problems));
  SolveOptions o;
  o.set_selection("all");
  const std::string tag = "nuisances K=" + std::to_string(K) + ": ";
  const LikelihoodBatch subset = make_nuisance_batch(cpu_subset, K, 5);
  BatchResult cpu_result;
  const double cpu_per_problem =
      seconds([&] { cpu_result = make_backend("cpu")->solve(subset, o); }) / cpu_subset;
  const double cpu_full = cpu_per_problem * static_cast<double>(n_problems);
  report(tag + "cpu problems/s", 1.0 / cpu_per_problem, "problems/s",
         "cpu backend on the first " + std::to_string(cpu_subset) + " problems");
  if (!gpu) return;
  const LikelihoodBatch batch = make_nuisance_batch(n_problems, K, 5);
  cuda_backend::Solver solver;
  cuda_backend::PhaseTimes cold, t;
  solver.solve(batch, o, &cold);  // allocates the buffers and the threads' stack
  const BatchResult r = solver.solve(batch, o, &t);
  report(tag + "gpu solve() wall, first", cold.wall_s, "s", "buffers and stack allocated");
  report(tag + "gpu kernels (sort+solve+scan)", t.solve_s, "s", "CUDA events");
  report(tag + "gpu problems/s (solve wall)", static_cast<double>(n_problems) / t.wall_s,
         "problems/s", std::to_string(t.chunks) + " chunk(s)");
  report(tag + "speed-up gpu/cpu (solve wall)", cpu_full / t.wall_s, "x", "cpu extrapolated");
  report(tag + "max rel diff norm/stat vs cpu", max_rel_diff(cpu_result, r), "",
         "on the cpu subset (NaN pattern differences count as inf)");
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = flag(argc, argv, "--quick");
  const std::int64_t small_problems = arg(argc, argv, "--small-problems", quick ? 10000 : 1000000);
  const std::int64_t small_bins = arg(argc, argv, "--small-bins", 8);
  const std::int64_t medium_problems = arg(argc, argv, "--medium-problems", quick ? 1000 : 100000);
  const std::int64_t medium_bins = arg(argc, argv, "--medium-bins", 256);
  const std::int64_t large_problems = arg(argc, argv, "--large-problems", quick ? 20 : 1000);
  const std::int64_t large_bins = arg(argc, argv, "--large-bins", quick ? 10000 : 100000);
  const std::int64_t cpu_small = arg(argc, argv, "--cpu-small", quick ? 1000 : 20000);
  const std::int64_t cpu_medium = arg(argc, argv, "--cpu-medium", quick ? 50 : 500);
  const std::int64_t cpu_large = arg(argc, argv, "--cpu-large", quick ? 2 : 4);
  const int reps = static_cast<int>(arg(argc, argv, "--scan-reps", quick ? 3 : 10));
  const std::int64_t nuisance_problems =
      arg(argc, argv, "--nuisance-problems", quick ? 2000 : 20000);
  const std::int64_t cpu_nuisance = arg(argc, argv, "--cpu-nuisance", quick ? 50 : 200);

  std::string reason;
  const bool gpu = cuda_device_available(&reason);
  std::printf("fluxpoints CUDA benchmark\n  device: %s\n",
              gpu ? make_backend("cuda")->name().c_str() : ("none (" + reason + ")").c_str());
  if (!gpu) std::printf("  GPU parts skipped: %s\n", reason.c_str());

  try {
    scan_case("maps", large_problems, large_bins, false, 16, 16, reps, gpu);
    scan_case("maps", large_problems, large_bins, false, 16, 8, reps, gpu);
    scan_case("maps wstat", std::max<std::int64_t>(large_problems / 10, 1), large_bins, true, 16,
              16, reps, gpu);
    scan_case("spectra", small_problems, small_bins, false, 16, 16, reps, gpu);
    solve_case("spectra", small_problems, small_bins, cpu_small, gpu, 1);
    solve_case("medium", medium_problems, medium_bins, cpu_medium, gpu, 3);
    solve_case("maps", large_problems, large_bins, cpu_large, gpu, 2);
    for (int K : {4, 16}) nuisance_case(K, nuisance_problems, cpu_nuisance, gpu);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda: %s\n", e.what());
    return 1;
  }

  std::printf("\n%-52s %12s %s\n", "SUMMARY", "value", "unit");
  for (const Row& r : table)
    std::printf("%-52s %12.4g %s\n", r.name.c_str(), r.value, r.unit.c_str());
  if (!gpu) std::printf("(GPU figures missing: %s)\n", reason.c_str());
  return 0;
}
