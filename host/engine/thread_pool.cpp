// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/thread_pool.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#ifdef __linux__
#include <sched.h>
#endif

#include "fluxpoints/backend.hpp"

namespace fluxpoints {

int available_cores() {
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int resolve_workers(int workers) {
  if (workers < 0)
    throw std::invalid_argument("workers must be >= 0 (0 = every core), got " +
                                std::to_string(workers));
  return workers > 0 ? workers : available_cores();
}

ThreadPool::ThreadPool(int workers) : workers_(resolve_workers(workers)) {
  threads_.reserve(static_cast<std::size_t>(workers_));
  for (int t = 0; t < workers_; ++t) threads_.emplace_back([this] { run_worker(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void ThreadPool::enqueue(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) throw std::logic_error("ThreadPool: task submitted while the pool stops");
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void ThreadPool::run_worker() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    // Tasks never throw: submit() wraps them in a packaged_task, parallel_for catches inside.
    task();
  }
}

}  // namespace fluxpoints
