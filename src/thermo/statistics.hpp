#pragma once
// Host-side statistics of the thermo workload: binned estimators with
// jackknife errors, the replica-exchange acceptance rule, round trips.
#include <cstdint>
#include <optional>
#include <vector>

#include "core/statistics.hpp"

namespace prism::thermo {

// Per-temperature block sums of e = E/N and m = M/N moments.  Samples arrive
// in sweep order on one rank, so the sums are the same whatever the number
// of ranks that produced them.  e and |m| are summed about the first sample
// of their temperature (a shift fixed for the run), so that variances such as
// <e^2> - <e>^2 do not cancel catastrophically when |e| is large (a strong
// field) and the fluctuation small.
class BlockAccumulator {
 public:
  BlockAccumulator(std::int64_t temperatures, std::int64_t blocks, std::int64_t samples)
      : sums_(temperatures, blocks, samples, kMoments),
        shifts_(2 * temperatures, 0.0),
        shifted_(temperatures, 0) {}
  void add(std::int64_t temperature, std::int64_t sample, double e, double m);
  std::int64_t blocks() const { return sums_.blocks(); }

  struct Estimate {
    double energy_mean, energy_err;
    double specific_heat, specific_heat_err;  // per site
    double magnetization_abs_mean, magnetization_err;
    double susceptibility, susceptibility_err;  // per site, from <m^2> - <|m|>^2
    double binder, binder_err;                  // 1 - <m^4> / (3 <m^2>^2)
  };
  // beta = 1/T; sites = N.  Errors: standard error over blocks for the
  // means, jackknife over the same blocks for the derived quantities.  Only
  // blocks holding samples count (a run stopped early has filled the first
  // ones); nullopt with fewer than two.
  std::optional<Estimate> estimate(std::int64_t temperature, double beta, double sites) const;

  // Checkpoint state: the block sums and the shifts (e, |m| per temperature).
  const BlockSums& sums() const { return sums_; }
  const std::vector<double>& shifts() const { return shifts_; }
  const std::vector<std::int8_t>& shifted() const { return shifted_; }
  void restore(const std::vector<double>& sums, const std::vector<std::int64_t>& counts,
               const std::vector<double>& shifts, const std::vector<std::int8_t>& shifted);

 private:
  // Moments summed per block: e - e0, (e - e0)^2, |m| - a0, (|m| - a0)^2, m^2, m^4.
  enum Moment { E, E2, A, A2, M2, M4, kMoments };
  BlockSums sums_;                    // [temperature][block][moment]
  std::vector<double> shifts_;        // [temperature][e0, a0]
  std::vector<std::int8_t> shifted_;  // the shifts of a temperature are set
};

// Log of the Metropolis acceptance of swapping the configurations held at
// inverse temperatures beta_i and beta_j with energies E_i and E_j:
// min(0, (beta_i - beta_j) (E_i - E_j)).
double swap_log_acceptance(double beta_i, double beta_j, double energy_i, double energy_j);

// Counts round trips of each replica between the lowest and the highest
// temperature (a round trip: lowest -> highest -> lowest).
class RoundTripCounter {
 public:
  explicit RoundTripCounter(std::int64_t replicas) : last_end_(replicas, -1), half_trips_(replicas, 0) {}
  // Checkpoint state per replica: the last end reached (-1, 0, 1) and half trips.
  std::vector<std::int64_t> last_ends() const { return {last_end_.begin(), last_end_.end()}; }
  const std::vector<std::int64_t>& half_trips() const { return half_trips_; }
  void restore(const std::vector<std::int64_t>& last_ends, const std::vector<std::int64_t>& half_trips);
  // Call after every exchange with the temperature index of each replica.
  void observe(const std::vector<std::int64_t>& temperature_of_replica, std::int64_t n_temperatures);
  std::vector<std::int64_t> round_trips() const;

 private:
  std::vector<int> last_end_;  // -1 none yet, 0 lowest, 1 highest
  std::vector<std::int64_t> half_trips_;
};

}  // namespace prism::thermo
