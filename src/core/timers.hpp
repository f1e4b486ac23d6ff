#pragma once
// Wall-clock phase timers.  A phase fences the default execution space before
// it reads the clock, so asynchronous kernels are charged to the right phase.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace prism {

class Timers {
 public:
  class Scope {
   public:
    Scope(Timers& t, std::string phase);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Timers& timers_;
    std::string phase_;
    std::chrono::steady_clock::time_point start_;
  };
  Scope scope(const std::string& phase) { return Scope(*this, phase); }
  void add(const std::string& phase, double seconds);
  double seconds(const std::string& phase) const;
  // Phases in first-use order (identical on all ranks by construction).
  const std::vector<std::string>& phases() const { return order_; }

 private:
  std::map<std::string, double> seconds_;
  std::vector<std::string> order_;
};

}  // namespace prism
