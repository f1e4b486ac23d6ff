#include "thermo/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace prism::thermo {

void BlockAccumulator::add(std::int64_t t, std::int64_t sample, double e, double m) {
  const double m2 = m * m;
  const double values[kMoments] = {e, e * e, std::fabs(m), m2, m2 * m2};
  sums_.add(t, sample, values);
}

namespace {
struct Moments {
  double e, e2, m, m2, m4;
};
struct Derived {
  double c, chi, binder;
};
Derived derive(const Moments& x, double beta, double sites) {
  Derived d;
  d.c = beta * beta * sites * (x.e2 - x.e * x.e);
  d.chi = beta * sites * (x.m2 - x.m * x.m);
  d.binder = x.m2 > 0 ? 1.0 - x.m4 / (3.0 * x.m2 * x.m2) : 0.0;
  return d;
}
}  // namespace

BlockAccumulator::Estimate BlockAccumulator::estimate(std::int64_t t, double beta, double sites) const {
  const std::int64_t nb = sums_.blocks();
  auto at = [&](std::int64_t t2, std::int64_t b, int k) { return sums_.sum(t2, b, k); };
  std::vector<Moments> block(nb);
  Moments total{0, 0, 0, 0, 0};
  std::int64_t n_total = 0;
  for (std::int64_t b = 0; b < nb; ++b) {
    const double n = static_cast<double>(sums_.count(t, b));
    block[b] = {at(t, b, E) / n, at(t, b, E2) / n, at(t, b, M) / n, at(t, b, M2) / n, at(t, b, M4) / n};
    total.e += at(t, b, E);
    total.e2 += at(t, b, E2);
    total.m += at(t, b, M);
    total.m2 += at(t, b, M2);
    total.m4 += at(t, b, M4);
    n_total += sums_.count(t, b);
  }
  const double n = static_cast<double>(n_total);
  const Moments mean{total.e / n, total.e2 / n, total.m / n, total.m2 / n, total.m4 / n};

  auto std_error = [&](auto field) {
    std::vector<double> means(nb);
    for (std::int64_t b = 0; b < nb; ++b) means[b] = field(block[b]);
    return block_standard_error(means, field(mean));
  };
  // Jackknife: leave one block out, recompute the derived quantities.
  const Derived full = derive(mean, beta, sites);
  std::vector<double> c(nb), chi(nb), binder(nb);
  for (std::int64_t b = 0; b < nb; ++b) {
    const double nb_count = static_cast<double>(sums_.count(t, b));
    const double rest = n - nb_count;
    const Moments loo{(total.e - at(t, b, E)) / rest, (total.e2 - at(t, b, E2)) / rest,
                      (total.m - at(t, b, M)) / rest, (total.m2 - at(t, b, M2)) / rest,
                      (total.m4 - at(t, b, M4)) / rest};
    const Derived d = derive(loo, beta, sites);
    c[b] = d.c;
    chi[b] = d.chi;
    binder[b] = d.binder;
  }
  Estimate est;
  est.energy_mean = mean.e;
  est.energy_err = std_error([](const Moments& x) { return x.e; });
  est.magnetization_abs_mean = mean.m;
  est.magnetization_err = std_error([](const Moments& x) { return x.m; });
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

std::vector<std::int64_t> RoundTripCounter::round_trips() const {
  std::vector<std::int64_t> trips(half_trips_.size());
  for (std::size_t r = 0; r < trips.size(); ++r) trips[r] = half_trips_[r] / 2;
  return trips;
}

}  // namespace prism::thermo
