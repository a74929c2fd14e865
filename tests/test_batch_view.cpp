// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// BatchView: a batch held in the caller's own arrays (numpy buffers from Python). Every backend
// solves it exactly like the LikelihoodBatch with the same contents, and malformed views (offsets
// out of range or decreasing, unknown statistic kinds, missing arrays) are rejected with a message
// naming the array before any backend reads them.

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "random_problems.hpp"
#include "test_helpers.hpp"
#include "test_io_helpers.hpp"

namespace fluxpoints::testing {
namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// A copy of a batch's arrays in plain vectors the test owns, and the view on them.
struct OwnedArrays {
  std::vector<double> counts, npred_ref, npred_other, counts_off, alpha;
  std::vector<std::int64_t> segment_bins, problem_segments;
  std::vector<StatKind> segment_kind;

  explicit OwnedArrays(const LikelihoodBatch& b)
      : counts(b.counts().to_vector()),
        npred_ref(b.npred_ref().to_vector()),
        npred_other(b.npred_other().to_vector()),
        counts_off(b.counts_off().to_vector()),
        alpha(b.alpha().to_vector()),
        segment_bins(b.segment_bins().to_vector()),
        problem_segments(b.problem_segments().to_vector()),
        segment_kind(b.segment_kind().to_vector()) {}

  BatchView view() const {
    BatchView v;
    v.arrays = math::BatchArrays{counts.data(),       npred_ref.data(),       npred_other.data(),
                                 counts_off.data(),   alpha.data(),           segment_bins.data(),
                                 segment_kind.data(), problem_segments.data()};
    v.n_problems = static_cast<std::int64_t>(problem_segments.size()) - 1;
    v.n_segments = static_cast<std::int64_t>(segment_bins.size()) - 1;
    v.n_bins = static_cast<std::int64_t>(counts.size());
    return v;
  }
};

LikelihoodBatch small_batch() {
  LikelihoodBatch b;
  for (int i = 0; i < 40; ++i)
    add_to_batch(random_problem(test_seed(), i), b, "p" + std::to_string(i));
  return b;
}


class BatchViewSolve : public BackendTest {};

TEST_P(BatchViewSolve, ViewOfCallerArraysGivesTheBatchResult) {
  const LikelihoodBatch batch = small_batch();
  const OwnedArrays owned(batch);
  SolveOptions o = all_options();
  const BatchResult from_batch = backend().solve(batch, o);
  const BatchResult from_view = backend().solve(owned.view(), o);
  ASSERT_EQ(from_view.n_problems(), from_batch.n_problems());
  for (std::int64_t p = 0; p < from_batch.n_problems(); ++p) {
    EXPECT_TRUE(same_bits(from_view.norm[p], from_batch.norm[p])) << p;
    EXPECT_TRUE(same_bits(from_view.stat[p], from_batch.stat[p])) << p;
    EXPECT_TRUE(same_bits(from_view.norm_ul[p], from_batch.norm_ul[p])) << p;
    EXPECT_TRUE(same_bits(from_view.norm_errn[p], from_batch.norm_errn[p])) << p;
  }
  EXPECT_EQ(from_view.stat_scan.size(), from_batch.stat_scan.size());
  for (std::size_t i = 0; i < from_batch.stat_scan.size(); ++i)
    EXPECT_TRUE(same_bits(from_view.stat_scan[i], from_batch.stat_scan[i])) << i;
}

TEST_P(BatchViewSolve, MalformedViewIsRejectedBeforeSolving) {
  const LikelihoodBatch batch = small_batch();
  const SolveOptions o = all_options();
  {
    OwnedArrays a(batch);
    a.problem_segments.back() += 1;  // points past the last segment
    const std::string m = message_of<std::invalid_argument>([&] { backend().solve(a.view(), o); });
    EXPECT_NE(m.find("problem_segments"), std::string::npos) << m;
  }
  {
    OwnedArrays a(batch);
    a.segment_bins[3] = a.segment_bins[4] + 1;  // decreasing offsets (index 4)
    const std::string m = message_of<std::invalid_argument>([&] { backend().solve(a.view(), o); });
    EXPECT_NE(m.find("segment_bins decreases at index"), std::string::npos) << m;
  }
  {
    OwnedArrays a(batch);
    a.segment_bins.back() = static_cast<std::int64_t>(a.counts.size()) + 100;  // past the bins
    const std::string m = message_of<std::invalid_argument>([&] { backend().solve(a.view(), o); });
    EXPECT_NE(m.find("segment_bins"), std::string::npos) << m;
  }
  {
    OwnedArrays a(batch);
    a.problem_segments[0] = 1;
    const std::string m = message_of<std::invalid_argument>([&] { backend().solve(a.view(), o); });
    EXPECT_NE(m.find("problem_segments[0] must be 0"), std::string::npos) << m;
  }
  {
    OwnedArrays a(batch);
    std::uint8_t bad = 7;
    std::memcpy(&a.segment_kind[2], &bad, 1);
    const std::string m = message_of<std::invalid_argument>([&] { backend().solve(a.view(), o); });
    EXPECT_NE(m.find("segment_kind[2] is 7"), std::string::npos) << m;
  }
  {
    OwnedArrays a(batch);
    BatchView v = a.view();
    v.arrays.alpha = nullptr;
    const std::string m = message_of<std::invalid_argument>([&] { backend().solve(v, o); });
    EXPECT_NE(m.find("alpha is null"), std::string::npos) << m;
  }
  {
    OwnedArrays a(batch);
    BatchView v = a.view();
    v.n_bins = -1;
    const std::string m = message_of<std::invalid_argument>([&] { backend().solve(v, o); });
    EXPECT_NE(m.find("negative size"), std::string::npos) << m;
  }
  {
    OwnedArrays a(batch);
    a.counts[5] = -1.0;  // structure fine, a value is not
    const std::string m = message_of<std::invalid_argument>([&] { backend().solve(a.view(), o); });
    EXPECT_NE(m.find("counts"), std::string::npos) << m;
    EXPECT_NE(m.find("negative"), std::string::npos) << m;
  }
}

FLUXPOINTS_INSTANTIATE_BACKENDS(BatchViewSolve);

TEST(BatchView, LikelihoodBatchViewNamesProblemsByLabel) {
  LikelihoodBatch b;
  b.begin_problem("crab, group 2");
  b.begin_dataset(StatKind::cash);
  b.add_cash_bin(3, 1, std::nan(""));
  const std::string m = message_of<std::invalid_argument>([&] { b.validate(); });
  EXPECT_NE(m.find("crab, group 2"), std::string::npos) << m;
  EXPECT_NE(m.find("npred_other"), std::string::npos) << m;
}

// Every offset array of `b` has the size its counts say and stays inside what it indexes: what a
// LikelihoodBatch keeps true by construction, whatever was refused on the way.
void expect_consistent(const LikelihoodBatch& b) {
  EXPECT_EQ(b.problem_segments().size(), static_cast<std::size_t>(b.n_problems() + 1));
  EXPECT_EQ(b.problem_nuisances().size(), static_cast<std::size_t>(b.n_problems() + 1));
  EXPECT_EQ(b.template_offset().size(), static_cast<std::size_t>(b.n_problems()));
  EXPECT_EQ(b.segment_bins().size(), static_cast<std::size_t>(b.n_segments() + 1));
  EXPECT_EQ(b.segment_kind().size(), static_cast<std::size_t>(b.n_segments()));
  for (const auto& bins : {b.npred_ref(), b.npred_other(), b.counts_off(), b.alpha()})
    EXPECT_EQ(bins.size(), b.counts().size());
  for (const auto& per : {b.nuisance_start(), b.nuisance_min(), b.nuisance_max()})
    EXPECT_EQ(per.size(), static_cast<std::size_t>(b.n_nuisances()));
  EXPECT_EQ(b.problem_segments().back(), b.n_segments());
  EXPECT_EQ(b.segment_bins().back(), b.n_bins());
  EXPECT_NO_THROW(b.validate());
}

TEST(LikelihoodBatch, BuildingOutOfOrderThrowsAndLeavesTheBatchConsistent) {
  LikelihoodBatch b;
  EXPECT_NE(message_of<std::logic_error>([&] { b.add_cash_bin(1, 1, 1); })
                .find("add_cash_bin before begin_dataset (and begin_problem)"),
            std::string::npos);
  EXPECT_NE(message_of<std::logic_error>([&] { b.begin_dataset(StatKind::cash); })
                .find("begin_dataset before begin_problem"),
            std::string::npos);
  EXPECT_NE(message_of<std::logic_error>([&] { b.add_nuisance(1, 0, 2, {}); })
                .find("add_nuisance before begin_problem"),
            std::string::npos);
  expect_consistent(b);

  b.begin_problem("first");
  EXPECT_NE(message_of<std::logic_error>([&] { b.add_wstat_bin(1, 2, 0.5, 1); })
                .find("add_wstat_bin before begin_dataset in problem 0"),
            std::string::npos);
  b.begin_dataset(StatKind::cash);
  b.add_cash_bin(4, 2, 1);
  EXPECT_NE(message_of<std::logic_error>([&] { b.add_wstat_bin(1, 2, 0.5, 1); })
                .find("add_wstat_bin in a Cash dataset"),
            std::string::npos);
  // A statistic kind outside the enum (e.g. an integer from a file cast blindly).
  std::uint8_t raw = 7;
  StatKind bogus;
  std::memcpy(&bogus, &raw, 1);
  EXPECT_NE(message_of<std::invalid_argument>([&] { b.begin_dataset(bogus); })
                .find("statistic kind 7"),
            std::string::npos);
  expect_consistent(b);

  // A second problem: its bins may not go into the first problem's dataset.
  b.begin_problem("second");
  EXPECT_NE(message_of<std::logic_error>([&] { b.add_cash_bin(1, 1, 1); })
                .find("add_cash_bin before begin_dataset in problem 1"),
            std::string::npos);
  EXPECT_EQ(b.n_bins(), 1);
  EXPECT_EQ(b.view(0).n_bins(), 1);
  EXPECT_EQ(b.view(1).n_bins(), 0);
  b.begin_dataset(StatKind::wstat);
  b.add_wstat_bin(3, 4, 0.25, 1);
  b.add_wstat_bin(5, 2, 0.25, 2);
  // A template must have one value per bin of the problem (2 here).
  const std::string wrong_length =
      message_of<std::invalid_argument>([&] { b.add_nuisance(1, 0, 2, {1.0, 2.0, 3.0}); });
  EXPECT_NE(wrong_length.find("nuisance 0 of problem 1 has 3 template values for 2 bins"),
            std::string::npos)
      << wrong_length;
  EXPECT_EQ(b.n_nuisances(), 0);
  b.add_nuisance(1, 0, 2, {0.5, 0.5});
  for (const auto& misuse : std::vector<std::function<void()>>{
           [&] { b.add_wstat_bin(1, 1, 0.25, 1); }, [&] { b.begin_dataset(StatKind::cash); }})
    EXPECT_NE(message_of<std::logic_error>(misuse).find("after add_nuisance"), std::string::npos);
  expect_consistent(b);
  EXPECT_EQ(b.n_problems(), 2);
  EXPECT_EQ(b.n_segments(), 2);
  EXPECT_EQ(b.n_bins(), 3);
  EXPECT_EQ(b.n_nuisances(), 1);
  EXPECT_EQ(b.template_offset()[1], 0);
  EXPECT_EQ(b.template_values().to_vector(), (std::vector<double>{0.5, 0.5}));
}

TEST(Span, ReadsTheArrayItViewsAndChecksAt) {
  const std::vector<double> v{1.0, 2.0, 3.0};
  const Span<const double> s = v;
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.data(), v.data());
  EXPECT_EQ(s[1], 2.0);
  EXPECT_EQ(s.back(), 3.0);
  EXPECT_EQ(s.to_vector(), v);
  double sum = 0;
  for (double x : s) sum += x;
  EXPECT_EQ(sum, 6.0);
  EXPECT_THROW(s.at(3), std::out_of_range);
  EXPECT_TRUE(Span<const double>().empty());
}

TEST(BatchView, EmptyViewIsValid) {
  const std::int64_t zero = 0;
  BatchView v;
  v.arrays.problem_segments = &zero;
  v.arrays.segment_bins = &zero;
  EXPECT_NO_THROW(v.validate());
  BatchView missing;  // no offset arrays at all
  EXPECT_NE(message_of<std::invalid_argument>([&] { missing.validate(); }).find("problem_segments is null"),
            std::string::npos);
}

}  // namespace
}  // namespace fluxpoints::testing
