// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Nuisance parameters carried by the batch types and solved by the backends:
//
//  * a LikelihoodBatch built with add_nuisance, solved by the CPU backend (1 and 2 workers), gives
//    bit for bit what math::solve_and_store_nuisance gives when called directly on the same
//    problems (tests/nuisance_batch.hpp lays them out by hand), fitted nuisances included, with
//    problems without nuisances mixed in;
//  * a batch without nuisances carries none in its view (the plain path);
//  * structurally broken nuisance arrays are refused before solving, naming the array;
//  * the CUDA backend refuses nuisances with a clear message (its staging carries none yet).

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "random_nuisance_problems.hpp"
#include "test_helpers.hpp"

namespace fluxpoints::testing {
namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// The same random problem through the public builder: bins first, then one add_nuisance per
// nuisance with its template over the problem's bins.
void add_with_public_api(const GenProblem& g, LikelihoodBatch& b) {
  b.begin_problem("random problem " + std::to_string(b.n_problems()));
  std::vector<std::vector<double>> templates(g.nuisances.size());
  for (const auto& d : g.datasets) {
    b.begin_dataset(d.front().wstat ? StatKind::wstat : StatKind::cash);
    for (const GenBin& x : d) {
      if (x.wstat)
        b.add_wstat_bin(x.n, x.n_off, x.alpha, x.s, x.other);
      else
        b.add_cash_bin(x.n, x.s, x.other);
      for (std::size_t k = 0; k < templates.size(); ++k) templates[k].push_back(x.t[k]);
    }
  }
  for (std::size_t k = 0; k < templates.size(); ++k)
    b.add_nuisance(g.nuisances[k].start, g.nuisances[k].min, g.nuisances[k].max, templates[k]);
}

// Problems with K = 0, 1, 3 and 16 nuisances of every kind (Cash, WStat, mixed), interleaved.
std::vector<GenProblem> mixed_problems() {
  std::vector<GenProblem> out;
  const std::uint64_t seed = test_seed();
  for (int i = 0; i < 6; ++i)
    for (int K : {0, 1, 3, 16}) out.push_back(random_nuisance_problem(seed, 7000 + i, K, i % 3));
  return out;
}

void expect_same_row(const BatchResult& a, const BatchResult& b, std::int64_t p) {
  EXPECT_TRUE(same_bits(a.norm[p], b.norm[p])) << p << ": " << a.norm[p] << " " << b.norm[p];
  EXPECT_TRUE(same_bits(a.norm_err[p], b.norm_err[p])) << p;
  EXPECT_TRUE(same_bits(a.stat[p], b.stat[p])) << p;
  EXPECT_TRUE(same_bits(a.stat_null[p], b.stat_null[p])) << p;
  EXPECT_TRUE(same_bits(a.ts[p], b.ts[p])) << p;
  EXPECT_TRUE(same_bits(a.norm_errn[p], b.norm_errn[p])) << p;
  EXPECT_TRUE(same_bits(a.norm_errp[p], b.norm_errp[p])) << p;
  EXPECT_TRUE(same_bits(a.norm_ul[p], b.norm_ul[p])) << p;
  EXPECT_EQ(a.status[p], b.status[p]) << p;
  EXPECT_EQ(a.notes[p], b.notes[p]) << p;
}

TEST(NuisanceBackend, CpuSolvesLikeTheSharedMathCalledDirectly) {
  const std::vector<GenProblem> problems = mixed_problems();
  NuisanceBatch direct;
  LikelihoodBatch batch;
  for (const GenProblem& g : problems) {
    add_to_batch(g, direct);
    add_with_public_api(g, batch);
  }
  direct.finish();
  ASSERT_EQ(batch.n_nuisances(), direct.n_nuisances());
  const SolveOptions o = all_options();
  const NuisanceRun expected = run_nuisance(direct, o);
  int solved = 0;
  for (int workers : {1, 2}) {
    const auto backend = make_backend("cpu", nullptr, workers);
    const BatchResult r = backend->solve(batch, o);
    ASSERT_EQ(r.n_problems(), static_cast<std::int64_t>(problems.size()));
    for (std::int64_t p = 0; p < r.n_problems(); ++p) {
      expect_same_row(r, expected.result, p);
      if (workers == 1) solved += r.status[p] == SolveStatus::ok ? 1 : 0;
    }
    ASSERT_EQ(r.stat_scan.size(), expected.result.stat_scan.size());
    for (std::size_t i = 0; i < r.stat_scan.size(); ++i)
      EXPECT_TRUE(same_bits(r.stat_scan[i], expected.result.stat_scan[i])) << i;
    for (std::size_t k = 0; k < r.npred.size(); ++k) {
      EXPECT_TRUE(same_bits(r.npred[k], expected.result.npred[k])) << k;
      EXPECT_TRUE(same_bits(r.npred_excess[k], expected.result.npred_excess[k])) << k;
    }
    ASSERT_EQ(r.nuisance.size(), expected.phi.size());
    for (std::size_t k = 0; k < r.nuisance.size(); ++k)
      EXPECT_TRUE(same_bits(r.nuisance[k], expected.phi[k])) << k;
    EXPECT_EQ(r.evaluations, expected.result.evaluations);
  }
  // The comparison is about real solutions, not a row of failures.
  EXPECT_GE(solved, static_cast<int>(problems.size()) / 2);
}

TEST(NuisanceBackend, BatchWithoutNuisancesCarriesNone) {
  LikelihoodBatch b;
  b.begin_problem();
  b.begin_dataset(StatKind::cash);
  b.add_cash_bin(3, 1, 1);
  const BatchView v = b.as_view();
  EXPECT_FALSE(v.has_nuisances());
  EXPECT_EQ(v.nuisances.problem_nuisances, nullptr);
  const BatchResult r = make_backend("cpu")->solve(b, all_options());
  EXPECT_TRUE(r.nuisance.empty());
}

TEST(NuisanceBackend, BuilderRefusesMisplacedNuisances) {
  LikelihoodBatch b;
  b.begin_problem("p");
  b.begin_dataset(StatKind::cash);
  b.add_cash_bin(3, 1, 1);
  b.add_cash_bin(4, 1, 1);
  EXPECT_THROW(b.add_nuisance(1, 0, math::kNaN, {1.0}), std::invalid_argument);  // 1 of 2 bins
  b.add_nuisance(1, 0, math::kNaN, {1.0, 2.0});
  EXPECT_THROW(b.add_cash_bin(1, 1, 1), std::logic_error);  // bins after a nuisance
  EXPECT_THROW(b.begin_dataset(StatKind::cash), std::logic_error);
}

std::string rejection(const BatchView& v) {
  try {
    make_backend("cpu")->solve(v, all_options());
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(NuisanceBackend, BrokenNuisanceViewIsRefusedNamingTheArray) {
  LikelihoodBatch b;
  for (int p = 0; p < 3; ++p) {
    b.begin_problem("source " + std::to_string(p));
    b.begin_dataset(StatKind::cash);
    for (int i = 0; i < 4; ++i) b.add_cash_bin(5 + i, 1.0 + i, 2.0);
    if (p != 1) b.add_nuisance(1.0, 0.0, math::kNaN, {1, 1, 1, 1});
  }
  ASSERT_EQ(rejection(b.as_view()), "");  // the intact batch solves
  {
    BatchView v = b.as_view();
    v.n_nuisances = 3;  // offsets end at 2
    const std::string m = rejection(v);
    EXPECT_NE(m.find("nuisances.problem_nuisances[3] must equal the number of nuisances"),
              std::string::npos)
        << m;
  }
  {
    std::vector<std::int64_t> offsets = b.problem_nuisances().to_vector();
    offsets[1] = 2;  // 2 -> 1: decreasing
    BatchView v = b.as_view();
    v.nuisances.problem_nuisances = offsets.data();
    const std::string m = rejection(v);
    EXPECT_NE(m.find("nuisances.problem_nuisances decreases at index 2"), std::string::npos) << m;
  }
  {
    BatchView v = b.as_view();
    v.nuisances.max = nullptr;
    const std::string m = rejection(v);
    EXPECT_NE(m.find("nuisances.max is null"), std::string::npos) << m;
  }
  {
    BatchView v = b.as_view();
    v.n_template_values = 6;  // problem 2's templates end at 8
    const std::string m = rejection(v);
    EXPECT_NE(m.find("problem 2 (source 2)"), std::string::npos) << m;
    EXPECT_NE(m.find("template_values has 6 entries"), std::string::npos) << m;
  }
  {
    std::vector<std::int64_t> offsets = b.template_offset().to_vector();
    offsets[0] = -4;
    BatchView v = b.as_view();
    v.nuisances.template_offset = offsets.data();
    const std::string m = rejection(v);
    EXPECT_NE(m.find("problem 0 (source 0)"), std::string::npos) << m;
  }
  {
    BatchView v = b.as_view();
    v.nuisances.problem_nuisances = nullptr;  // n_nuisances still 2
    const std::string m = rejection(v);
    EXPECT_NE(m.find("nuisances.problem_nuisances is null"), std::string::npos) << m;
  }
}

#ifdef FLUXPOINTS_WITH_CUDA
TEST(NuisanceBackend, CudaRefusesNuisancesClearly) {
  std::string reason;
  if (!cuda_device_available(&reason)) GTEST_SKIP() << "no CUDA device: " << reason;
  LikelihoodBatch b;
  b.begin_problem();
  b.begin_dataset(StatKind::cash);
  b.add_cash_bin(3, 1, 1);
  b.add_nuisance(1.0, 0.0, math::kNaN, {1.0});
  try {
    make_backend("cuda")->solve(b, all_options());
    FAIL() << "the CUDA backend solved a batch with nuisances";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("not supported on the GPU yet"), std::string::npos);
  }
}
#endif

}  // namespace
}  // namespace fluxpoints::testing
