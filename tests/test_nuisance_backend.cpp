// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Nuisance parameters carried by the batch types and solved by the backends:
//
//  * a LikelihoodBatch built with add_nuisance, solved by the CPU backend (1 and 2 workers), gives
//    bit for bit what math::solve_and_store_nuisance gives when called directly on the same
//    problems (tests/nuisance_batch.hpp lays them out by hand), fitted nuisances included, with
//    problems without nuisances mixed in;
//  * a batch without nuisances carries none in its view (the plain path);
//  * structurally broken nuisance arrays are refused before solving, naming the array;
//  * the CUDA backend's chunks of such batches, without a GPU: the chunk plan counts nuisances
//    and templates, and chunks laid out on the host as the backend stages them (offsets rebased,
//    templates gathered from anywhere in a view's array) solve, problem by problem through the
//    shared math, to the CPU backend's results bit for bit;
//  * where a GPU is present, the CUDA backend against the CPU backend on random problems with
//    1-16 nuisances (bounds active and inactive, scans), whole and in small chunks.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/config.hpp"
#include "kernels/cuda/chunk_plan.hpp"
#include "kernels/cuda/chunk_staging.hpp"
#include "random_nuisance_problems.hpp"
#include "test_helpers.hpp"
#if FLUXPOINTS_WITH_CUDA
#include "kernels/cuda/cuda_backend.hpp"
#endif

namespace fluxpoints::testing {
namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// The fitted nuisances of two solves bit for bit (NaN payloads may differ between backends).
void expect_same_nuisances(const BatchResult& a, const BatchResult& b) {
  ASSERT_EQ(a.nuisance.size(), b.nuisance.size());
  for (std::size_t k = 0; k < a.nuisance.size(); ++k)
    EXPECT_TRUE(same_bits(a.nuisance[k], b.nuisance[k]) ||
                (std::isnan(a.nuisance[k]) && std::isnan(b.nuisance[k])))
        << "nuisance[" << k << "]: " << a.nuisance[k] << " vs " << b.nuisance[k];
}

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

// --- the CUDA backend's chunks, without a GPU ------------------------------------------------

// Random problems with K = 1..16 nuisances (Cash, WStat, mixed; no bounds, min = 0 and windows
// that are often active), problems without nuisances between them and after them (2, 8 and 30
// bins among them: thread, warp and block problems for thresholds 6 and 12), a problem with
// nuisances but no bin, and one with more nuisances than the solver takes (invalid_nuisance).
LikelihoodBatch device_test_batch(std::uint64_t seed) {
  LikelihoodBatch b;
  int i = 0;
  for (int K : {1, 2, 3, 4, 6, 8, 12, 16})
    for (int kind = 0; kind < 3; ++kind)
      for (int j = 0; j < 2; ++j, ++i) {
        add_with_public_api(random_nuisance_problem(seed, 9000 + i, K, kind), b);
        if (i % 3 == 0) add_with_public_api(random_nuisance_problem(seed, 9500 + i, 0, kind), b);
      }
  b.begin_problem("nuisance, no bin");
  b.begin_dataset(StatKind::cash);
  b.add_nuisance(1.0, 0.0, math::kNaN, {});
  GenProblem too_many = random_nuisance_problem(seed, 9900, math::kMaxNuisances + 1, 0);
  add_with_public_api(too_many, b);
  for (int j = 0; j < 6; ++j)
    add_with_public_api(random_nuisance_problem(seed, 9950 + j, 0, j % 3), b);
  for (int bins : {2, 8, 30}) {  // without nuisances, one in each tier of the tests' thresholds
    b.begin_problem("plain, " + std::to_string(bins) + " bins");
    b.begin_dataset(bins == 8 ? StatKind::wstat : StatKind::cash);
    for (int k = 0; k < bins; ++k) {
      if (bins == 8)
        b.add_wstat_bin(4 + k % 3, 6 + k % 4, 0.3, 1.0 + 0.1 * k);
      else
        b.add_cash_bin(3 + k % 5, 1.0 + 0.05 * k, 2.0);
    }
  }
  return b;
}

// A view of `b` whose templates lie elsewhere: each problem's in reverse problem order with a gap
// before it, and the template_offset of problems without nuisances (never read) set to garbage.
// The staging must gather templates by template_offset, not assume a LikelihoodBatch's layout.
struct ScatteredTemplates {
  std::vector<double> values;
  std::vector<std::int64_t> offsets;
  BatchView view;

  explicit ScatteredTemplates(const LikelihoodBatch& b) : view(b.as_view()) {
    const std::int64_t n = b.n_problems();
    offsets.assign(n, std::numeric_limits<std::int64_t>::max());
    for (std::int64_t p = n - 1; p >= 0; --p) {
      const std::int64_t k = b.problem_nuisances()[p + 1] - b.problem_nuisances()[p];
      if (k == 0) continue;
      values.push_back(-1.0);  // the gap
      offsets[p] = static_cast<std::int64_t>(values.size());
      const std::int64_t count = k * b.view(p).n_bins();
      for (std::int64_t i = 0; i < count; ++i)
        values.push_back(b.template_values()[b.template_offset()[p] + i]);
    }
    view.nuisances.template_offset = offsets.data();
    view.nuisances.template_values = values.data();
    view.n_template_values = static_cast<std::int64_t>(values.size());
  }
};

cuda_backend::BatchOffsets offsets_of(const BatchView& v) {
  return {v.arrays.problem_segments, v.n_problems, v.arrays.segment_bins,
          v.nuisances.problem_nuisances};
}

TEST(NuisanceChunkPlan, CountsNuisancesAndTemplatesPerChunk) {
  const LikelihoodBatch batch = device_test_batch(test_seed());
  const BatchView v = batch.as_view();
  constexpr int kScan = 11;
  constexpr std::int64_t kWarpMinBins = 6, kBlockMinBins = 12;  // every tier occurs
  for (std::size_t budget : {std::size_t{1}, std::size_t{3000}, std::size_t{20000},
                             std::size_t{1} << 40}) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    const cuda_backend::ChunkPlan plan =
        cuda_backend::plan_chunks(offsets_of(v), kScan, budget, kWarpMinBins, kBlockMinBins);
    ASSERT_TRUE(plan.with_nuisances());
    std::int64_t next = 0, nuisance_problems = 0, plain_tiers[3] = {0, 0, 0};
    for (const cuda_backend::Chunk& c : plan.chunks) {
      EXPECT_EQ(c.problem_begin, next);
      EXPECT_EQ(c.nuisance_begin, batch.problem_nuisances()[c.problem_begin]);
      EXPECT_EQ(c.nuisance_end, batch.problem_nuisances()[c.problem_end]);
      std::size_t bytes = 0;
      std::int64_t templates = 0, with = 0, tiers[3] = {0, 0, 0}, max_plain_bins = 0;
      for (std::int64_t p = c.problem_begin; p < c.problem_end; ++p) {
        const std::int64_t bins = batch.view(p).n_bins();
        const std::int64_t k = batch.problem_nuisances()[p + 1] - batch.problem_nuisances()[p];
        bytes += cuda_backend::problem_bytes(
            bins, batch.problem_segments()[p + 1] - batch.problem_segments()[p], kScan, true, k);
        if (k > 0) {
          ++with;
          templates += k * bins;
          continue;
        }
        ++tiers[bins >= kBlockMinBins ? 2 : bins >= kWarpMinBins ? 1 : 0];
        max_plain_bins = std::max(max_plain_bins, bins);
      }
      if (c.problems() > 1) {
        EXPECT_LE(bytes, budget);
      }
      EXPECT_EQ(c.template_values, templates);
      EXPECT_EQ(c.n_nuisance_problems, with);
      EXPECT_EQ(c.n_thread_problems(), tiers[0]);
      EXPECT_EQ(c.n_warp_problems, tiers[1]);
      EXPECT_EQ(c.n_block_problems, tiers[2]);
      EXPECT_EQ(c.max_problem_bins, max_plain_bins);
      EXPECT_LE(c.nuisances(), plan.max_nuisances);
      EXPECT_LE(c.template_values, plan.max_template_values);
      nuisance_problems += with;
      for (int t = 0; t < 3; ++t) plain_tiers[t] += tiers[t];
      next = c.problem_end;
    }
    EXPECT_EQ(next, batch.n_problems());
    EXPECT_GT(nuisance_problems, 40);
    for (int t = 0; t < 3; ++t) EXPECT_GT(plain_tiers[t], 0) << "tier " << t << " never used";
  }
  // The same batch without its nuisance offsets: no nuisance problem, nothing sized for them.
  cuda_backend::BatchOffsets plain = offsets_of(v);
  plain.problem_nuisances = nullptr;
  const cuda_backend::ChunkPlan p = cuda_backend::plan_chunks(plain, kScan, 1, 6, 12);
  EXPECT_FALSE(p.with_nuisances());
  EXPECT_EQ(p.max_template_values, 0);
  for (const auto& c : p.chunks) EXPECT_EQ(c.n_nuisance_problems, 0);
}

// Solves the chunks of `view` laid out on the host exactly as the CUDA backend stages them, each
// problem through the per-problem entry the device threads call (math::solve_and_store for a
// chunk without nuisances, as its kernels get null nuisance arrays), and puts the rows back where
// the backend puts them.
BatchResult solve_staged_chunks(const BatchView& view, const SolveOptions& o,
                                std::size_t budget) {
  BatchResult whole;
  prepare_solve(view, o, whole);
  whole.nuisance.assign(view.n_nuisances, math::kNaN);
  std::vector<int> whole_evaluations(view.n_problems, 0);
  const int n_scan = static_cast<int>(whole.n_scan());
  const math::SolveSettings settings = o.settings();
  const cuda_backend::ChunkPlan plan =
      cuda_backend::plan_chunks(offsets_of(view), n_scan, budget, 32, 2048);
  for (const cuda_backend::Chunk& c : plan.chunks) {
    const cuda_backend::InputSizes n = c.sizes();
    // Host buffers of exactly the chunk's sizes, as the backend's pinned ones.
    std::vector<double> counts(n.bins), npred_ref(n.bins), npred_other(n.bins),
        counts_off(n.bins), alpha(n.bins), templates(n.template_values), start(n.nuisances),
        min(n.nuisances), max(n.nuisances);
    std::vector<std::int64_t> segment_bins(n.segments + 1), problem_segments(n.problems + 1),
        problem_nuisances(n.count(cuda_backend::InputExtent::nuisance_offset)),
        template_offset(n.count(cuda_backend::InputExtent::template_offset));
    std::vector<StatKind> segment_kind(n.segments);
    cuda_backend::StagingTargets t;
    t.counts = counts.data();
    t.npred_ref = npred_ref.data();
    t.npred_other = npred_other.data();
    t.counts_off = counts_off.data();
    t.alpha = alpha.data();
    t.segment_bins = segment_bins.data();
    t.segment_kind = segment_kind.data();
    t.problem_segments = problem_segments.data();
    t.nuisances = {problem_nuisances.data(), template_offset.data(), templates.data(),
                   start.data(), min.data(), max.data()};
    std::vector<cuda_backend::CopyJob> copies;
    cuda_backend::stage_chunk(view, c, t, copies);
    cuda_backend::run_copies(copies);

    const math::BatchArrays in{counts.data(),       npred_ref.data(),    npred_other.data(),
                               counts_off.data(),   alpha.data(),        segment_bins.data(),
                               segment_kind.data(), problem_segments.data()};
    const math::NuisanceArrays nu{problem_nuisances.data(), template_offset.data(),
                                  templates.data(),         start.data(),
                                  min.data(),               max.data()};
    BatchResult part;
    part.resize(c.problems(), c.segments(), n_scan);
    std::vector<int> evaluations(c.problems(), 0);
    std::vector<double> phi(c.nuisances(), math::kNaN);
    const math::ResultArrays out = result_arrays(part, evaluations);
    for (std::int64_t q = 0; q < c.problems(); ++q) {
      if (c.nuisances() > 0)
        math::solve_and_store_nuisance(in, nu, q, settings, whole.norm_scan.data(), n_scan, out,
                                       phi.data());
      else
        math::solve_and_store(in, q, settings, whole.norm_scan.data(), n_scan, out);
    }
    const math::ResultSizes before{c.problem_begin, c.segment_begin, n_scan};
    const math::ResultSizes size{c.problems(), c.segments(), n_scan};
    math::for_each_result_field(
        [&](const math::FieldInfo& field, auto& to, const auto& from) {
          std::copy(from.begin(), from.end(), to.begin() + before.count(field.extent));
          EXPECT_EQ(static_cast<std::int64_t>(from.size()), size.count(field.extent));
        },
        whole, part);
    std::copy(evaluations.begin(), evaluations.end(),
              whole_evaluations.begin() + c.problem_begin);
    std::copy(phi.begin(), phi.end(), whole.nuisance.begin() + c.nuisance_begin);
  }
  for (int e : whole_evaluations) whole.evaluations += e;
  return whole;
}

TEST(NuisanceChunkStaging, StagedChunksSolveLikeTheCpuBackend) {
  const LikelihoodBatch batch = device_test_batch(test_seed());
  const ScatteredTemplates scattered(batch);
  const SolveOptions o = all_options();
  const BatchResult cpu = make_backend("cpu", nullptr, 1)->solve(batch, o);
  {
    SCOPED_TRACE("the CPU backend on the scattered view");
    const BatchResult r = make_backend("cpu", nullptr, 1)->solve(scattered.view, o);
    testing::expect_identical(cpu, r);
    expect_same_nuisances(cpu, r);
  }
  for (const BatchView& v : {scattered.view, batch.as_view()}) {
    for (std::size_t budget : {std::size_t{1}, std::size_t{5000}, std::size_t{1} << 40}) {
      SCOPED_TRACE("budget " + std::to_string(budget) +
                   (v.nuisances.template_values == batch.template_values().data()
                        ? ", the batch's own layout"
                        : ", scattered templates"));
      const BatchResult staged = solve_staged_chunks(v, o, budget);
      testing::expect_identical(cpu, staged);
      expect_same_nuisances(cpu, staged);
    }
  }
}

// --- on a GPU -----------------------------------------------------------------------------------

// The device sums each nuisance problem's bins in the same order as the CPU (one thread per
// problem), but nvcc contracts a*b+c into FMA where g++ does not, and device pow/exp/log differ
// by an ulp; the solver's stopping rules (xtol 1e-12 relative) can amplify that up to their
// tolerance times the profile's shape. As the nuisance solver's own CPU/CUDA test.
constexpr double kDeviceStatRelTol = 1e-11;
constexpr double kDeviceNormRelTol = 1e-8;

// Every row of `gpu` equals `cpu` within the tolerances above: statuses and notes exactly.
void expect_device_matches(const BatchResult& cpu, const BatchResult& gpu) {
  ASSERT_EQ(cpu.n_problems(), gpu.n_problems());
  const auto close = [](double a, double b, double rel, double scale) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    if (std::isinf(a) || std::isinf(b)) return a == b;
    return std::fabs(a - b) <= rel * (scale + std::fabs(a));
  };
  for (std::int64_t p = 0; p < cpu.n_problems(); ++p) {
    SCOPED_TRACE(::testing::Message() << "problem " << p << " (cpu: " << cpu.reason(p) << ")");
    EXPECT_EQ(cpu.status[p], gpu.status[p]) << gpu.reason(p);
    EXPECT_EQ(cpu.notes[p], gpu.notes[p]);
    EXPECT_EQ(cpu.success[p], gpu.success[p]);
    const double scale =
        std::fabs(cpu.norm[p]) + (std::isfinite(cpu.norm_err[p]) ? cpu.norm_err[p] : 0.0);
    for (const auto& [name, c, g] :
         {std::tuple{"norm", &cpu.norm, &gpu.norm}, {"norm_err", &cpu.norm_err, &gpu.norm_err},
          {"norm_errn", &cpu.norm_errn, &gpu.norm_errn},
          {"norm_errp", &cpu.norm_errp, &gpu.norm_errp}, {"norm_ul", &cpu.norm_ul, &gpu.norm_ul}})
      EXPECT_TRUE(close((*c)[p], (*g)[p], kDeviceNormRelTol, scale))
          << name << ": cpu " << (*c)[p] << " gpu " << (*g)[p];
    // stat, stat_null and ts are differences from one scale: |stat_null| bounds their rounding.
    const double stat_scale = std::isfinite(cpu.stat_null[p]) ? std::fabs(cpu.stat_null[p]) : 0;
    for (const auto& [name, c, g] : {std::tuple{"stat", &cpu.stat, &gpu.stat},
                                     {"stat_null", &cpu.stat_null, &gpu.stat_null},
                                     {"ts", &cpu.ts, &gpu.ts}})
      EXPECT_TRUE(close((*c)[p], (*g)[p], kDeviceStatRelTol, stat_scale + 1e-3))
          << name << ": cpu " << (*c)[p] << " gpu " << (*g)[p];
    for (std::int64_t j = 0; j < cpu.n_scan(); ++j) {
      const std::int64_t i = p * cpu.n_scan() + j;
      EXPECT_TRUE(close(cpu.stat_scan[i], gpu.stat_scan[i], kDeviceStatRelTol, 1e-3))
          << "stat_scan[" << j << "]: cpu " << cpu.stat_scan[i] << " gpu " << gpu.stat_scan[i];
    }
  }
  ASSERT_EQ(cpu.npred.size(), gpu.npred.size());
  for (std::size_t k = 0; k < cpu.npred.size(); ++k) {
    EXPECT_TRUE(same_bits(cpu.counts[k], gpu.counts[k]) ||
                (std::isnan(cpu.counts[k]) && std::isnan(gpu.counts[k])))
        << "counts[" << k << "]";  // integer sums: exact
    EXPECT_TRUE(close(cpu.npred[k], gpu.npred[k], kDeviceNormRelTol, 1e-6)) << "npred[" << k << "]";
    EXPECT_TRUE(close(cpu.npred_excess[k], gpu.npred_excess[k], kDeviceNormRelTol, 1e-6))
        << "npred_excess[" << k << "]";
  }
  ASSERT_EQ(cpu.nuisance.size(), gpu.nuisance.size());
  for (std::size_t k = 0; k < cpu.nuisance.size(); ++k)
    EXPECT_TRUE(close(cpu.nuisance[k], gpu.nuisance[k], kDeviceNormRelTol, 1e-6))
        << "nuisance[" << k << "]: cpu " << cpu.nuisance[k] << " gpu " << gpu.nuisance[k];
  EXPECT_EQ(cpu.norm_scan, gpu.norm_scan);
}

class NuisanceBackendCuda : public ::testing::Test {
 protected:
  void SetUp() override {
#if !FLUXPOINTS_WITH_CUDA
    GTEST_SKIP() << "built without the CUDA backend";
#else
    std::string reason;
    if (!cuda_device_available(&reason)) GTEST_SKIP() << "no CUDA device: " << reason;
#endif
  }
};

TEST_F(NuisanceBackendCuda, MatchesTheCpuOnRandomNuisanceProblems) {
  const LikelihoodBatch batch = device_test_batch(test_seed());
  const ScatteredTemplates scattered(batch);
  SolveOptions bounded = all_options();
  bounded.norm_min = 0.0;
  bounded.norm_max = 20.0;
  bounded.scan_values = interp_grid(0.01, 10.0, 37, "lin");
  SolveOptions no_scan;
  no_scan.set_selection("errn-errp");
  const std::pair<const char*, SolveOptions> cases[] = {
      {"all", all_options()}, {"norm bounds, 37 scan norms", bounded}, {"no scan", no_scan}};
  const auto cpu = make_backend("cpu");
  const auto gpu = make_backend("cuda");
  for (const auto& [label, o] : cases) {
    SCOPED_TRACE(label);
    const BatchResult want = cpu->solve(batch, o);
    expect_device_matches(want, gpu->solve(batch, o));
    expect_device_matches(want, gpu->solve(scattered.view, o));
  }
}

#if FLUXPOINTS_WITH_CUDA
TEST_F(NuisanceBackendCuda, ChunkedTiersAndRepeatsAreIdentical) {
  const LikelihoodBatch batch = device_test_batch(test_seed());
  const SolveOptions o = all_options();
  cuda_backend::CudaConfig whole, tiny_chunks;
  for (auto* c : {&whole, &tiny_chunks}) {
    c->warp_min_bins = 6;  // problems without nuisances in every tier
    c->block_min_bins = 12;
  }
  whole.chunk_bytes = std::size_t{1} << 40;
  tiny_chunks.chunk_bytes = 4096;  // a few problems per chunk
  tiny_chunks.streams = 2;
  cuda_backend::PhaseTimes t_whole, t_tiny;
  cuda_backend::Solver solver_whole(whole), solver_tiny(tiny_chunks);
  const BatchResult a = solver_whole.solve(batch, o, &t_whole);
  const BatchResult b = solver_tiny.solve(batch, o, &t_tiny);
  EXPECT_EQ(t_whole.chunks, 1);
  EXPECT_GT(t_tiny.chunks, 10);
  expect_device_matches(make_backend("cpu")->solve(batch, o), a);
  const BatchResult again = solver_whole.solve(batch, o);  // the workspace reused
  for (const BatchResult* r : {&b, &again}) {
    testing::expect_identical(a, *r, testing::NanPayloads::may_differ);
    expect_same_nuisances(a, *r);
  }
  // A batch without nuisances after one with: the reused workspace takes the plain path.
  LikelihoodBatch plain;
  for (int j = 0; j < 8; ++j) add_with_public_api(random_nuisance_problem(7, j, 0, j % 3), plain);
  const BatchResult r = solver_whole.solve(plain, o);
  EXPECT_TRUE(r.nuisance.empty());
  expect_device_matches(make_backend("cpu")->solve(plain, o), r);
}
#endif

}  // namespace
}  // namespace fluxpoints::testing
