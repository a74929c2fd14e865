// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// BatchView: a batch held in the caller's own arrays (numpy buffers from Python). Every backend
// solves it exactly like the LikelihoodBatch with the same contents, and malformed views (offsets
// out of range or decreasing, unknown statistic kinds, missing arrays) are rejected with a message
// naming the array before any backend reads them.

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "random_problems.hpp"
#include "test_helpers.hpp"

namespace fluxpoints::testing {
namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// A copy of a batch's arrays in plain vectors the test owns, and the view on them.
struct OwnedArrays {
  std::vector<double> counts, npred_ref, npred_other, counts_off, alpha;
  std::vector<std::int64_t> segment_bins, problem_segments;
  std::vector<StatKind> segment_kind;

  explicit OwnedArrays(const LikelihoodBatch& b)
      : counts(b.counts),
        npred_ref(b.npred_ref),
        npred_other(b.npred_other),
        counts_off(b.counts_off),
        alpha(b.alpha),
        segment_bins(b.segment_bins),
        problem_segments(b.problem_segments),
        segment_kind(b.segment_kind) {}

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

// The message of the std::invalid_argument `f` throws ("" when it throws nothing).
template <class F>
std::string rejection(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
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
    const std::string m = rejection([&] { backend().solve(a.view(), o); });
    EXPECT_NE(m.find("problem_segments"), std::string::npos) << m;
  }
  {
    OwnedArrays a(batch);
    a.segment_bins[3] = a.segment_bins[4] + 1;  // decreasing offsets (index 4)
    const std::string m = rejection([&] { backend().solve(a.view(), o); });
    EXPECT_NE(m.find("segment_bins decreases at index"), std::string::npos) << m;
  }
  {
    OwnedArrays a(batch);
    a.segment_bins.back() = static_cast<std::int64_t>(a.counts.size()) + 100;  // past the bins
    const std::string m = rejection([&] { backend().solve(a.view(), o); });
    EXPECT_NE(m.find("segment_bins"), std::string::npos) << m;
  }
  {
    OwnedArrays a(batch);
    a.problem_segments[0] = 1;
    const std::string m = rejection([&] { backend().solve(a.view(), o); });
    EXPECT_NE(m.find("problem_segments[0] must be 0"), std::string::npos) << m;
  }
  {
    OwnedArrays a(batch);
    std::uint8_t bad = 7;
    std::memcpy(&a.segment_kind[2], &bad, 1);
    const std::string m = rejection([&] { backend().solve(a.view(), o); });
    EXPECT_NE(m.find("segment_kind[2] is 7"), std::string::npos) << m;
  }
  {
    OwnedArrays a(batch);
    BatchView v = a.view();
    v.arrays.alpha = nullptr;
    const std::string m = rejection([&] { backend().solve(v, o); });
    EXPECT_NE(m.find("alpha is null"), std::string::npos) << m;
  }
  {
    OwnedArrays a(batch);
    BatchView v = a.view();
    v.n_bins = -1;
    const std::string m = rejection([&] { backend().solve(v, o); });
    EXPECT_NE(m.find("negative size"), std::string::npos) << m;
  }
  {
    OwnedArrays a(batch);
    a.counts[5] = -1.0;  // structure fine, a value is not
    const std::string m = rejection([&] { backend().solve(a.view(), o); });
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
  const std::string m = rejection([&] { b.validate(); });
  EXPECT_NE(m.find("crab, group 2"), std::string::npos) << m;
  EXPECT_NE(m.find("npred_other"), std::string::npos) << m;
}

TEST(BatchView, EmptyViewIsValid) {
  const std::int64_t zero = 0;
  BatchView v;
  v.arrays.problem_segments = &zero;
  v.arrays.segment_bins = &zero;
  EXPECT_NO_THROW(v.validate());
  BatchView missing;  // no offset arrays at all
  EXPECT_NE(rejection([&] { missing.validate(); }).find("problem_segments is null"),
            std::string::npos);
}

}  // namespace
}  // namespace fluxpoints::testing
