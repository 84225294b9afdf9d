// parallel_for over std::threads. Not OpenMP: torch ships its own libgomp, and two OpenMP runtimes
// in one process fight over threads. Threads are started per call: a call does milliseconds of
// work, so the ~20 us start-up does not matter, and calls from several Python threads (the GIL is
// released) need no shared pool state.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace pvf {

// Runs fn(task, worker) for task in [0, num_tasks) on up to num_threads threads (the caller is
// worker 0); tasks are handed out dynamically. The first exception is rethrown after all stop.
template <typename Fn>
void parallel_for(int64_t num_tasks, int num_threads, Fn&& fn) {
  if (num_tasks <= 0) return;
  const int workers =
      static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads, num_tasks)));
  if (workers == 1) {
    for (int64_t i = 0; i < num_tasks; ++i) fn(i, 0);
    return;
  }
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto run = [&](int worker) {
    try {
      for (int64_t i = next.fetch_add(1); i < num_tasks && !failed.load(); i = next.fetch_add(1)) {
        fn(i, worker);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      failed.store(true);
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(workers - 1));
  for (int w = 1; w < workers; ++w) {
    try {
      threads.emplace_back(run, w);
    } catch (const std::system_error&) {
      break;  // no more threads available: the started ones and the caller share the tasks
    }
  }
  run(0);
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace pvf
