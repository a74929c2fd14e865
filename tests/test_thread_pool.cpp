// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// ThreadPool: every index runs exactly once, exceptions reach the caller (never std::terminate),
// tasks may run parallel loops on the same pool.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <vector>

#include "fluxpoints/backend.hpp"
#include "fluxpoints/thread_pool.hpp"

namespace fluxpoints {
namespace {

TEST(ThreadPool, EveryIndexOnce) {
  ThreadPool pool(4);
  EXPECT_EQ(pool.workers(), 4);
  for (const std::int64_t n : {0, 1, 3, 64, 1001}) {
    for (const std::int64_t grain : {1, 7, 64}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      pool.parallel_for(n, grain, [&](std::int64_t i) { hits[static_cast<std::size_t>(i)]++; });
      for (std::int64_t i = 0; i < n; ++i)
        ASSERT_EQ(hits[static_cast<std::size_t>(i)].load(), 1) << "n " << n << " i " << i;
    }
  }
}

TEST(ThreadPool, LoopExceptionReachesTheCaller) {
  ThreadPool pool(3);
  std::atomic<int> ran{0};
  const auto loop = [&] {
    pool.parallel_for(1000, 1, [&](std::int64_t i) {
      ++ran;
      if (i == 17) throw std::runtime_error("item 17 failed");
    });
  };
  EXPECT_THROW(loop(), std::runtime_error);
  EXPECT_GE(ran.load(), 1);
  // The pool is still usable afterwards.
  std::atomic<int> count{0};
  pool.parallel_for(100, 10, [&](std::int64_t) { ++count; });
  EXPECT_EQ(count.load(), 100);
}

TEST(ThreadPool, TaskResultsAndExceptionsThroughFutures) {
  ThreadPool pool(2);
  std::future<int> ok = pool.submit([] { return 42; });
  std::future<int> bad = pool.submit([]() -> int { throw std::invalid_argument("bad task"); });
  EXPECT_EQ(ok.get(), 42);
  EXPECT_THROW(bad.get(), std::invalid_argument);
}

TEST(ThreadPool, TasksMayRunLoopsOnTheSamePool) {
  ThreadPool pool(2);
  std::vector<std::future<std::int64_t>> sums;
  for (int t = 0; t < 6; ++t)  // more tasks than threads: each caller works through its own loop
    sums.push_back(pool.submit([&pool] {
      std::vector<std::int64_t> v(500);
      pool.parallel_for(500, 16, [&](std::int64_t i) { v[static_cast<std::size_t>(i)] = i; });
      std::int64_t s = 0;
      for (const std::int64_t x : v) s += x;
      return s;
    }));
  for (auto& s : sums) EXPECT_EQ(s.get(), 500 * 499 / 2);
}

TEST(ThreadPool, WorkerCounts) {
  EXPECT_GE(available_cores(), 1);
  EXPECT_EQ(ThreadPool(0).workers(), resolve_workers(0));
  EXPECT_THROW(ThreadPool(-2), std::invalid_argument);
}

}  // namespace
}  // namespace fluxpoints
