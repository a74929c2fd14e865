// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The multi-threaded CPU backend must give exactly (bit for bit) what a single worker gives:
// problems are independent and the per-problem math is the same code.
#include <gtest/gtest.h>

#include <random>

#include "fluxpoints/backend.hpp"
#include "test_helpers.hpp"

namespace fluxpoints {
namespace {

// A batch with every kind of problem: Cash and WStat, several datasets, empty groups, empty
// masks, zero counts, faint and bright sources.
LikelihoodBatch random_batch(int n_problems, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  LikelihoodBatch batch;
  for (int p = 0; p < n_problems; ++p) {
    batch.begin_problem("problem " + std::to_string(p));
    const int n_datasets = static_cast<int>(u(rng) * 4.0);  // 0 .. 3: 0 = no dataset (1.8a)
    const double brightness = std::pow(10.0, -1.0 + 3.0 * u(rng));
    for (int d = 0; d < n_datasets; ++d) {
      const bool wstat = u(rng) < 0.5;
      batch.begin_dataset(wstat ? StatKind::wstat : StatKind::cash);
      const int n_bins = static_cast<int>(u(rng) * 6.0);  // 0 = empty mask (1.8b)
      for (int i = 0; i < n_bins; ++i) {
        const double s = brightness * u(rng);
        const double bkg = 5.0 * u(rng);
        std::poisson_distribution<int> on(s + bkg);
        if (wstat) {
          std::poisson_distribution<int> off(bkg / 0.2);
          batch.add_wstat_bin(on(rng), off(rng), 0.2, s);
        } else {
          batch.add_cash_bin(on(rng), s, bkg);
        }
      }
    }
  }
  return batch;
}

TEST(CpuWorkers, ManyWorkersBitIdenticalToOneWorker) {
  // 1000 problems = 16 tasks of 64: every worker count below gets several tasks, with a ragged end.
  const LikelihoodBatch batch = random_batch(1000, 20261126);
  SolveOptions options;
  options.set_selection("all");
  const BatchResult reference = make_backend("cpu", nullptr, 1)->solve(batch, options);
  for (int workers : {2, 3, 7, 0}) {
    SCOPED_TRACE("workers = " + std::to_string(workers));
    testing::expect_identical(reference, make_backend("cpu", nullptr, workers)->solve(batch, options));
  }
}

TEST(CpuWorkers, MoreWorkersThanProblems) {
  const LikelihoodBatch batch = random_batch(5, 7);
  SolveOptions options;
  options.set_selection("errn-errp,ul");
  testing::expect_identical(make_backend("cpu", nullptr, 1)->solve(batch, options),
                       make_backend("cpu", nullptr, 16)->solve(batch, options));
}

TEST(CpuWorkers, ResolveWorkers) {
  EXPECT_GE(fluxpoints::resolve_workers(0), 1);
  EXPECT_EQ(fluxpoints::resolve_workers(3), 3);
  EXPECT_THROW(fluxpoints::resolve_workers(-1), std::invalid_argument);
  EXPECT_NE(make_backend("cpu", nullptr, 1)->name().find("1 worker"), std::string::npos);
  EXPECT_NE(make_backend("cpu", nullptr, 2)->name().find("2 worker"), std::string::npos);
}

}  // namespace
}  // namespace fluxpoints
