#include "core/timers.hpp"

#include <Kokkos_Core.hpp>

namespace prism {

Timers::Scope::Scope(Timers& t, std::string phase) : timers_(t), phase_(std::move(phase)) {
  Kokkos::fence();
  Kokkos::Profiling::pushRegion(phase_);
  start_ = std::chrono::steady_clock::now();
}

Timers::Scope::~Scope() {
  Kokkos::fence();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  Kokkos::Profiling::popRegion();
  timers_.add(phase_, s);
}

void Timers::add(const std::string& phase, double s) {
  auto [it, inserted] = seconds_.emplace(phase, 0.0);
  if (inserted) order_.push_back(phase);
  it->second += s;
}

double Timers::seconds(const std::string& phase) const {
  const auto it = seconds_.find(phase);
  return it == seconds_.end() ? 0.0 : it->second;
}

}  // namespace prism
