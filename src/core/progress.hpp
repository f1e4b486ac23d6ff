#pragma once
// One progress line on rank 0, at most every `interval` seconds: done/total,
// rate and ETA.
#include <chrono>
#include <cstdint>
#include <string>

namespace prism {

class Progress {
 public:
  Progress(std::string label, std::int64_t total, std::string unit, bool enabled, double interval_s = 5.0);
  void update(std::int64_t done);
  void finish();

 private:
  std::string label_, unit_;
  std::int64_t total_;
  bool enabled_;
  double interval_;
  std::chrono::steady_clock::time_point start_, last_;
};

std::string format_duration(double seconds);

}  // namespace prism
