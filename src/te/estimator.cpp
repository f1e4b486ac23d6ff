#include "te/estimator.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <array>
#include <cmath>

#include "kernels/common/philox.hpp"
#include "kernels/te/ksg.hpp"

namespace prism::te {

double digamma_exact(std::int64_t n) {
  // psi(n) = psi(n + m) - sum_{j < m} 1/(n + j), with the asymptotic series at n + m >= 16.
  double shift = 0;
  double x = double(n);
  while (x < 16) {
    shift += 1.0 / x;
    x += 1;
  }
  const double r = 1.0 / (x * x);
  const double series =
      std::log(x) - 0.5 / x - r * (1.0 / 12 - r * (1.0 / 120 - r * (1.0 / 252 - r * (1.0 / 240 - r / 132))));
  return series - shift;
}

double digamma(std::int64_t n) {
  // JIDT (the reference tool, whose values prism reproduces) takes psi(n) =
  // -0.5772156 + H(n-1) below n = 10000 and the exact function above: the
  // constant's last digits cancel in the estimators' sums while every count
  // is below 10000, and shift the result by up to 6.5e-8 otherwise.
  constexpr double kJidtEulerGap = 0.57721566490153286 - 0.5772156;
  return n < 10000 ? digamma_exact(n) + kJidtEulerGap : digamma_exact(n);
}

std::vector<double> observation_rows(const Config& cfg, const std::vector<double>& y,
                                     const std::vector<double>& x,
                                     const std::vector<std::int64_t>& source_rows) {
  const std::int64_t first = cfg.first_time(), n = std::int64_t(x.size()) - first, D = cfg.joint_dims();
  std::vector<double> rows(std::size_t(n * D));
  for (std::int64_t r = 0; r < n; ++r) {
    const std::int64_t t = first + r;
    const std::int64_t ts = first + (source_rows.empty() ? r : source_rows[r]);
    double* row = &rows[std::size_t(r * D)];
    row[0] = x[t];
    for (std::int64_t c = 0; c < cfg.k; ++c) row[1 + c] = x[t - 1 - c * cfg.k_tau];
    for (std::int64_t c = 0; c < cfg.l; ++c) row[1 + cfg.k + c] = y[ts - cfg.delay - c * cfg.l_tau];
  }
  // As JIDT: each column normalised over the observations (standard
  // deviation with n - 1; a constant column is only centred), then noise of
  // standard deviation te.noise, keyed by (data_seed, observation, column).
  for (std::int64_t c = 0; c < D && cfg.normalise; ++c) {
    double mean = 0, var = 0;
    for (std::int64_t r = 0; r < n; ++r) mean += rows[r * D + c];
    mean /= double(n);
    for (std::int64_t r = 0; r < n; ++r) var += (rows[r * D + c] - mean) * (rows[r * D + c] - mean);
    const double sd = std::sqrt(var / double(n - 1));
    for (std::int64_t r = 0; r < n; ++r)
      rows[r * D + c] = sd > 0 ? (rows[r * D + c] - mean) / sd : rows[r * D + c] - mean;
  }
  if (cfg.noise > 0)
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t c = 0; c < D; ++c) {
        rows[r * D + c] +=
            cfg.noise * rng::standard_normal(rng::philox(cfg.data_seed, std::uint32_t(r), std::uint32_t(c),
                                                         std::uint32_t(r >> 32), rng::te_noise));
      }
  return rows;
}

double te_from_counts(const Config& cfg, const Neighbours& c) {
  const std::size_t n = c.z.size();
  double sum = 0;
  if (cfg.algorithm == 1) {
    for (std::size_t i = 0; i < n; ++i)
      sum += digamma(c.z[i] + 1) - digamma(c.xz[i] + 1) - digamma(c.yz[i] + 1);
    return digamma(cfg.K) + sum / double(n);
  }
  for (std::size_t i = 0; i < n; ++i)
    sum += digamma(c.z[i]) - digamma(c.xz[i]) + 1.0 / c.xz[i] - digamma(c.yz[i]) + 1.0 / c.yz[i];
  return digamma(cfg.K) - 2.0 / double(cfg.K) + sum / double(n);
}

struct Estimator::Impl {
  Points points;
  Points::HostMirror points_host;
  Radii radii;
  Counts counts;
  Counts::HostMirror counts_host;
};

Estimator::Estimator(const Config& cfg, std::int64_t length)
    : impl_(std::make_unique<Impl>()), cfg_(cfg), n_(cfg.observations(length)) {
  auto& I = *impl_;
  I.points = Points("te::points", n_, cfg.joint_dims());
  I.points_host = Kokkos::create_mirror_view(I.points);
  I.radii = Radii("te::radii", n_, 4);
  I.counts = Counts("te::counts", n_, 3);
  I.counts_host = Kokkos::create_mirror_view(I.counts);
}
Estimator::~Estimator() = default;

double Estimator::estimate(const std::vector<double>& source, const std::vector<double>& target,
                           const std::vector<std::int64_t>& source_rows) {
  auto& I = *impl_;
  const auto rows = observation_rows(cfg_, source, target, source_rows);
  std::copy(rows.begin(), rows.end(), I.points_host.data());
  Kokkos::DefaultExecutionSpace space;
  Kokkos::deep_copy(space, I.points, I.points_host);
  const int k = int(cfg_.k), l = int(cfg_.l);
  ksg_radii(space, I.points, k, l, int(cfg_.K), cfg_.algorithm, I.radii);
  ksg_counts(space, I.points, k, l, cfg_.algorithm, I.radii, I.counts);
  Kokkos::deep_copy(space, I.counts_host, I.counts);
  space.fence();
  last_.xz.resize(n_);
  last_.yz.resize(n_);
  last_.z.resize(n_);
  for (std::int64_t i = 0; i < n_; ++i) {
    last_.xz[i] = I.counts_host(i, 0);
    last_.yz[i] = I.counts_host(i, 1);
    last_.z[i] = I.counts_host(i, 2);
  }
  return te_from_counts(cfg_, last_);
}

double reference_te(const Config& cfg, const std::vector<double>& y, const std::vector<double>& x,
                    Neighbours* out) {
  const auto rows = observation_rows(cfg, y, x, {});
  const std::int64_t D = cfg.joint_dims(), n = std::int64_t(rows.size()) / D;
  auto at = [&](std::int64_t i, std::int64_t c) { return rows[std::size_t(i * D + c)]; };
  // Subspace max-norm distances (x, y, z) of i and j.
  auto dist = [&](std::int64_t i, std::int64_t j) {
    double dx = std::fabs(at(i, 0) - at(j, 0)), dy = 0, dz = 0;
    for (std::int64_t c = 1; c <= cfg.k; ++c) dz = std::max(dz, std::fabs(at(i, c) - at(j, c)));
    for (std::int64_t c = cfg.k + 1; c < D; ++c) dy = std::max(dy, std::fabs(at(i, c) - at(j, c)));
    return std::array<double, 3>{dx, dy, dz};
  };
  Neighbours c;
  c.xz.resize(n);
  c.yz.resize(n);
  c.z.resize(n);
  for (std::int64_t i = 0; i < n; ++i) {
    // All other observations by (joint distance, index); the first K are the neighbours.
    std::vector<std::pair<double, std::int64_t>> order;
    for (std::int64_t j = 0; j < n; ++j)
      if (j != i) {
        const auto d = dist(i, j);
        order.emplace_back(std::max({d[0], d[1], d[2]}), j);
      }
    std::sort(order.begin(), order.end());
    const double eps = order[cfg.K - 1].first;
    double ex = 0, ey = 0, ez = 0;
    for (std::int64_t m = 0; m < cfg.K; ++m) {
      const auto d = dist(i, order[m].second);
      ex = std::max(ex, d[0]);
      ey = std::max(ey, d[1]);
      ez = std::max(ez, d[2]);
    }
    for (std::int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      const auto d = dist(i, j);
      if (cfg.algorithm == 1) {
        c.z[i] += d[2] < eps;
        c.xz[i] += d[0] < eps && d[2] < eps;
        c.yz[i] += d[1] < eps && d[2] < eps;
      } else {
        c.z[i] += d[2] <= ez;
        c.xz[i] += d[0] <= ex && d[2] <= ez;
        c.yz[i] += d[1] <= ey && d[2] <= ez;
      }
    }
  }
  if (out) *out = c;
  return te_from_counts(cfg, c);
}

}  // namespace prism::te
