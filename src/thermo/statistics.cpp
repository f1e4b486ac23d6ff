#include "thermo/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace prism::thermo {

void BlockAccumulator::add(std::int64_t t, std::int64_t sample, double e, double m) {
  const double a = std::fabs(m);
  if (!shifted_[t]) {
    shifts_[2 * t] = e;
    shifts_[2 * t + 1] = a;
    shifted_[t] = 1;
  }
  const double de = e - shifts_[2 * t], da = a - shifts_[2 * t + 1], m2 = m * m;
  const double values[kMoments] = {de, de * de, da, da * da, m2, m2 * m2};
  sums_.add(t, sample, values);
}

void BlockAccumulator::restore(const std::vector<double>& sums, const std::vector<std::int64_t>& counts,
                               const std::vector<double>& shifts, const std::vector<std::int8_t>& shifted) {
  if (shifts.size() != shifts_.size() || shifted.size() != shifted_.size())
    throw std::invalid_argument("moment shifts of the wrong size");
  for (double x : shifts)
    if (!std::isfinite(x)) throw std::invalid_argument("moment shifts are not finite");
  sums_.restore(sums, counts);
  shifts_ = shifts;
  shifted_ = shifted;
}

namespace {
// Block (or leave-one-out) means of the moments.
struct Moments {
  double e, e2, a, a2, m2, m4;
};
struct Derived {
  double c, chi, binder;
};
// Variances are about the shift, which they do not depend on.
Derived derive(const Moments& x, double beta, double sites) {
  Derived d;
  d.c = beta * beta * sites * (x.e2 - x.e * x.e);
  d.chi = beta * sites * (x.a2 - x.a * x.a);
  d.binder = x.m2 > 0 ? 1.0 - x.m4 / (3.0 * x.m2 * x.m2) : 0.0;
  return d;
}
}  // namespace

std::optional<BlockAccumulator::Estimate> BlockAccumulator::estimate(std::int64_t t, double beta,
                                                                     double sites) const {
  // The blocks that hold samples; of a run stopped early, the full ones
  // (a part-filled last block would weigh like a full one in the errors).
  std::vector<std::int64_t> filled, complete;
  for (std::int64_t b = 0; b < sums_.blocks(); ++b) {
    if (sums_.count(t, b) == 0) continue;
    filled.push_back(b);
    if (sums_.count(t, b) == sums_.capacity(b)) complete.push_back(b);
  }
  if (complete.size() >= 2) filled = complete;
  const std::size_t nb = filled.size();
  if (nb < 2) return std::nullopt;
  auto block_moments = [&](std::int64_t b, double n) {
    return Moments{sums_.sum(t, b, E) / n,  sums_.sum(t, b, E2) / n, sums_.sum(t, b, A) / n,
                   sums_.sum(t, b, A2) / n, sums_.sum(t, b, M2) / n, sums_.sum(t, b, M4) / n};
  };
  Moments total{0, 0, 0, 0, 0, 0};
  std::int64_t n_total = 0;
  for (auto b : filled) {
    const Moments s = block_moments(b, 1.0);
    total = {total.e + s.e,   total.e2 + s.e2, total.a + s.a,
             total.a2 + s.a2, total.m2 + s.m2, total.m4 + s.m4};
    n_total += sums_.count(t, b);
  }
  const double n = double(n_total);
  const Moments mean{total.e / n, total.e2 / n, total.a / n, total.a2 / n, total.m2 / n, total.m4 / n};
  const Derived full = derive(mean, beta, sites);
  // Block means for the standard errors; leave-one-block-out for the jackknife.
  std::vector<double> e(nb), a(nb), c(nb), chi(nb), binder(nb);
  for (std::size_t k = 0; k < nb; ++k) {
    const double nk = double(sums_.count(t, filled[k]));
    const Moments blk = block_moments(filled[k], nk);
    e[k] = blk.e;
    a[k] = blk.a;
    const Moments s = block_moments(filled[k], 1.0);
    const double rest = n - nk;
    const Derived d = derive({(total.e - s.e) / rest, (total.e2 - s.e2) / rest, (total.a - s.a) / rest,
                              (total.a2 - s.a2) / rest, (total.m2 - s.m2) / rest, (total.m4 - s.m4) / rest},
                             beta, sites);
    c[k] = d.c;
    chi[k] = d.chi;
    binder[k] = d.binder;
  }
  Estimate est;
  est.energy_mean = shifts_[2 * t] + mean.e;
  est.energy_err = block_standard_error(e, mean.e);
  est.magnetization_abs_mean = shifts_[2 * t + 1] + mean.a;
  est.magnetization_err = block_standard_error(a, mean.a);
  est.specific_heat = full.c;
  est.specific_heat_err = jackknife_error(c, full.c);
  est.susceptibility = full.chi;
  est.susceptibility_err = jackknife_error(chi, full.chi);
  est.binder = full.binder;
  est.binder_err = jackknife_error(binder, full.binder);
  return est;
}

double swap_log_acceptance(double beta_i, double beta_j, double energy_i, double energy_j) {
  return std::min(0.0, (beta_i - beta_j) * (energy_i - energy_j));
}

void RoundTripCounter::observe(const std::vector<std::int64_t>& temperature_of_replica,
                               std::int64_t n_temperatures) {
  if (n_temperatures < 2) return;
  for (std::size_t r = 0; r < temperature_of_replica.size(); ++r) {
    const std::int64_t t = temperature_of_replica[r];
    const int end = t == 0 ? 0 : (t == n_temperatures - 1 ? 1 : -1);
    if (end < 0 || end == last_end_[r]) continue;
    // Trips start at the lowest temperature: a replica that reaches the top
    // before it has ever been at the bottom is not yet counted.
    if (last_end_[r] < 0 && end == 1) continue;
    if (last_end_[r] >= 0) ++half_trips_[r];
    last_end_[r] = end;
  }
}

void RoundTripCounter::restore(const std::vector<std::int64_t>& last_ends,
                               const std::vector<std::int64_t>& half_trips) {
  if (last_ends.size() != last_end_.size() || half_trips.size() != half_trips_.size())
    throw std::invalid_argument("round-trip state of the wrong size");
  for (std::size_t r = 0; r < last_ends.size(); ++r) {
    if (last_ends[r] < -1 || last_ends[r] > 1 || half_trips[r] < 0)
      throw std::invalid_argument("round-trip state out of range");
    last_end_[r] = static_cast<int>(last_ends[r]);
  }
  half_trips_ = half_trips;
}

std::vector<std::int64_t> RoundTripCounter::round_trips() const {
  std::vector<std::int64_t> trips(half_trips_.size());
  for (std::size_t r = 0; r < trips.size(); ++r) trips[r] = half_trips_[r] / 2;
  return trips;
}

}  // namespace prism::thermo
