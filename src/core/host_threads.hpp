#pragma once
// Host-side work spread over the cores this process may run on (its CPU
// affinity: what Slurm or the launcher gave the rank), for preparation that
// is independent per item and would otherwise leave the device waiting.
// Each item is handled by exactly one thread, so results do not depend on
// the thread count.
#include <algorithm>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace prism {

// The cores in this process's affinity mask (at least 1).
int host_cores();

// fn(item) for item in [0, count), on up to `threads` threads (static
// interleaved assignment); the first exception is rethrown after all joined.
template <class F>
void host_parallel_for(std::int64_t count, int threads, F&& fn) {
  const int n = int(std::max<std::int64_t>(1, std::min<std::int64_t>(threads, count)));
  if (n == 1) {
    for (std::int64_t i = 0; i < count; ++i) fn(i);
    return;
  }
  std::exception_ptr error;
  std::mutex guard;
  std::vector<std::thread> pool;
  pool.reserve(n);
  auto work = [&](int t) {
    try {
      for (std::int64_t i = t; i < count; i += n) fn(i);
    } catch (...) {
      const std::lock_guard<std::mutex> lock(guard);
      if (!error) error = std::current_exception();
    }
  };
  try {
    for (int t = 1; t < n; ++t) pool.emplace_back(work, t);
  } catch (...) {  // no thread to be had: the started ones finish, this thread does the rest
    const std::lock_guard<std::mutex> lock(guard);
    if (!error) error = std::current_exception();
  }
  work(0);
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace prism
