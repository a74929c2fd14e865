// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Runs fn(i) for i in [0, n) on `workers` std::threads (the caller is one of them). Items are
// claimed one at a time from an atomic counter; fn must not throw and must touch only item i's
// data. No Kokkos and no HDF5 call may happen inside fn (neither is safe from several threads).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace fluxpoints::catalog {

template <class Fn>
void parallel_for_items(std::int64_t n, int workers, Fn&& fn) {
  std::atomic<std::int64_t> next{0};
  auto work = [&] {
    for (std::int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  };
  const int n_threads = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(workers, n)));
  std::vector<std::thread> threads;
  for (int t = 1; t < n_threads; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
}

}  // namespace fluxpoints::catalog
