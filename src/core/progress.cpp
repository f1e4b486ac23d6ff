#include "core/progress.hpp"

#include <cstdio>

namespace prism {

std::string format_duration(double s) {
  char buf[64];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}

Progress::Progress(std::string label, std::int64_t total, std::string unit, bool enabled, double interval_s)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(enabled),
      interval_(interval_s),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void Progress::update(std::int64_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_).count() < interval_) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = done / (elapsed > 0 ? elapsed : 1e-9);
  const double eta = rate > 0 ? (total_ - done) / rate : 0.0;
  std::printf("%s: %lld/%lld %s (%.1f%%)  %.4g %s/s  elapsed %s  ETA %s\n", label_.c_str(),
              static_cast<long long>(done), static_cast<long long>(total_), unit_.c_str(),
              100.0 * done / (total_ > 0 ? total_ : 1), rate, unit_.c_str(), format_duration(elapsed).c_str(),
              format_duration(eta).c_str());
  std::fflush(stdout);
}

void Progress::finish() {
  if (!enabled_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::printf("%s: %lld/%lld %s done in %s\n", label_.c_str(), static_cast<long long>(total_),
              static_cast<long long>(total_), unit_.c_str(), format_duration(elapsed).c_str());
  std::fflush(stdout);
}

}  // namespace prism
