// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// ThreadPool: the host threads of fluxpoints, for every parallel loop and background task on the
// CPU (the CPU backend's solve and solve_async, folding and tables in `batch`, the CUDA backend's
// staging copies). An exception thrown inside a loop body or a task is passed on to the caller
// (parallel_for rethrows it, a task's future holds it); it never terminates the process.
//
//   ThreadPool pool(4);
//   pool.parallel_for(n, 64, [&](std::int64_t i) { out[i] = f(in[i]); });   // blocks
//   std::future<double> x = pool.submit([&] { return g(); });            // runs on the pool

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace fluxpoints {

// CPUs this process may run on (its scheduler affinity, else the hardware's threads), at least 1.
// resolve_workers (fluxpoints/backend.hpp) turns a worker count of 0 into this.
int available_cores();

class ThreadPool {
 public:
  // `workers` threads of work at once (0 = available_cores()). A parallel_for runs on the caller
  // and up to workers - 1 pool threads; submit() runs tasks on the pool's `workers` threads.
  explicit ThreadPool(int workers = 0);
  // Runs the tasks already submitted, then joins the threads.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int workers() const { return workers_; }

  // Calls fn(i) for every i in [0, n), `grain` consecutive indices at a time, on the calling
  // thread and up to min(workers, max_workers) - 1 pool threads (max_workers 0: no extra limit),
  // and returns when all calls have finished. The first exception thrown by fn stops the
  // remaining items from starting and is rethrown here. Safe to call from a pool task (the
  // caller works through the items itself when the pool is busy).
  template <class Fn>
  void parallel_for(std::int64_t n, std::int64_t grain, Fn&& fn, int max_workers = 0);

  // Runs fn() on a pool thread; the future holds its result or its exception. A task must not
  // wait for another task of the same pool (it may run parallel_for).
  template <class Fn>
  std::future<std::invoke_result_t<Fn&>> submit(Fn fn);

 private:
  void enqueue(std::function<void()> task);
  void run_worker();

  int workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// --- implementation -------------------------------------------------------------------------

template <class Fn>
std::future<std::invoke_result_t<Fn&>> ThreadPool::submit(Fn fn) {
  using Result = std::invoke_result_t<Fn&>;
  auto task = std::make_shared<std::packaged_task<Result()>>(std::move(fn));
  std::future<Result> future = task->get_future();
  enqueue([task] { (*task)(); });
  return future;
}

template <class Fn>
void ThreadPool::parallel_for(std::int64_t n, std::int64_t grain, Fn&& fn, int max_workers) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const std::int64_t pieces = (n + grain - 1) / grain;
  const int limit = max_workers > 0 && max_workers < workers_ ? max_workers : workers_;
  const int helpers = static_cast<int>(pieces - 1 < limit - 1 ? pieces - 1 : limit - 1);
  if (helpers <= 0) {
    for (std::int64_t i = 0; i < n; ++i) fn(i);
    return;
  }

  // Shared by the caller and the helper tasks. A helper that starts after the caller has
  // finished (the pool was busy) sees `closed` and leaves without touching `fn`, which lives on
  // the caller's stack: the caller returns only once no helper is inside it.
  struct Loop {
    std::mutex mutex;
    std::condition_variable idle;
    std::int64_t next = 0;
    int active = 0;
    bool closed = false;
    std::exception_ptr error;
  };
  auto loop = std::make_shared<Loop>();
  auto* body = &fn;
  const auto work = [loop, body, n, grain] {
    for (;;) {
      std::int64_t begin = 0;
      {
        std::lock_guard<std::mutex> lock(loop->mutex);
        if (loop->error || loop->next >= n) return;
        begin = loop->next;
        loop->next += grain;
      }
      const std::int64_t end = begin + grain < n ? begin + grain : n;
      try {
        for (std::int64_t i = begin; i < end; ++i) (*body)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(loop->mutex);
        if (!loop->error) loop->error = std::current_exception();
      }
    }
  };
  for (int h = 0; h < helpers; ++h) {
    enqueue([loop, work] {
      {
        std::lock_guard<std::mutex> lock(loop->mutex);
        if (loop->closed) return;
        ++loop->active;
      }
      work();
      std::lock_guard<std::mutex> lock(loop->mutex);
      if (--loop->active == 0) loop->idle.notify_all();
    });
  }
  work();
  std::unique_lock<std::mutex> lock(loop->mutex);
  loop->closed = true;
  loop->idle.wait(lock, [&] { return loop->active == 0; });
  if (loop->error) std::rethrow_exception(loop->error);
}

}  // namespace fluxpoints
