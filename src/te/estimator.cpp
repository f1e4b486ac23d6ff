#include "te/estimator.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "core/host_threads.hpp"
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

DigammaTable::DigammaTable(std::int64_t max) : psi_(std::size_t(max + 1), NAN) {
  for (std::int64_t n = 1; n <= max; ++n) psi_[std::size_t(n)] = digamma(n);
}

double te_from_counts(const Config& cfg, const Neighbours& c, const DigammaTable& psi) {
  const std::size_t n = c.z.size();
  double sum = 0;
  if (cfg.algorithm == 1) {
    for (std::size_t i = 0; i < n; ++i) sum += psi(c.z[i] + 1) - psi(c.xz[i] + 1) - psi(c.yz[i] + 1);
    return digamma(cfg.K) + sum / double(n);
  }
  for (std::size_t i = 0; i < n; ++i)
    sum += psi(c.z[i]) - psi(c.xz[i]) + 1.0 / c.xz[i] - psi(c.yz[i]) + 1.0 / c.yz[i];
  return digamma(cfg.K) - 2.0 / double(cfg.K) + sum / double(n);
}

bool window_search(SearchChoice choice, std::int64_t observations) {
  // The window never examines more candidates than brute force; it was
  // already the faster from the smallest size measured, 128 observations, on
  // a GPU and on host cores (docs/performance-notes.md).  Brute force stays
  // the reference the window is tested against.
  constexpr std::int64_t kWindowFrom = 128;
  return choice == SearchChoice::window || (choice == SearchChoice::automatic && observations >= kWindowFrom);
}

struct Estimator::Impl {
  Shared shared;
  Shared::HostMirror shared_host;
  Order order;
  Order::HostMirror order_host;
  Sources sources;
  Sources::HostMirror sources_host;
  Counts counts;
  Counts::HostMirror counts_host;
  std::vector<double> target;  // the target the shared columns hold
  bool have_target = false;
};

Estimator::Estimator(const Config& cfg, std::int64_t length, int threads)
    : impl_(std::make_unique<Impl>()),
      cfg_(cfg),
      n_(cfg.observations(length)),
      // Enough (estimate, observation) threads to fill a GPU, and sources of
      // at most 2^21 doubles per batch; a deck's te.batch at most 2^24
      // doubles (128 MB of sources, as much again for the counts).
      batch_(cfg.batch > 0
                 ? std::min(cfg.batch, std::max<std::int64_t>(1, (std::int64_t(1) << 24) / (n_ * cfg.l)))
                 : std::max<std::int64_t>(1, (std::int64_t(1) << 21) / (n_ * cfg.l))),
      threads_(std::max(1, threads)),
      window_(window_search(cfg.search, n_)),
      psi_(n_ + 1) {
  auto& I = *impl_;
  I.shared = Shared("te::shared", 1 + cfg.k, n_);
  I.shared_host = Kokkos::create_mirror_view(I.shared);
  I.order = Order("te::order", n_);
  I.order_host = Kokkos::create_mirror_view(I.order);
  I.sources = Sources("te::sources", batch_, cfg.l, n_);
  I.sources_host = Kokkos::create_mirror_view(I.sources);
  I.counts = Counts("te::counts", batch_, 3, n_);
  I.counts_host = Kokkos::create_mirror_view(I.counts);
}
Estimator::~Estimator() = default;

std::vector<double> Estimator::estimate(const std::vector<double>& target, std::int64_t count,
                                        const SourceFn& source) {
  if (count < 1 || count > batch_) throw std::logic_error("te::Estimator: batch of " + std::to_string(count));
  auto& I = *impl_;
  const std::int64_t D = cfg_.joint_dims(), k = cfg_.k, l = cfg_.l, n = n_;
  // The observation rows of every estimate, one thread each.
  std::vector<std::vector<double>> rows(count);
  host_parallel_for(count, threads_, [&](std::int64_t m) {
    std::vector<double> series;
    std::vector<std::int64_t> source_rows;
    source(m, series, source_rows);
    rows[m] = observation_rows(cfg_, series, target, source_rows);
  });
  // The shared columns and the sort (they depend on the target alone).
  const bool new_target = !I.have_target || I.target != target;
  if (new_target) {
    // By (z1, observation): ties keep observation order.
    const auto& r0 = rows[0];
    std::vector<std::pair<double, std::int64_t>> key(n);
    for (std::int64_t r = 0; r < n; ++r) key[r] = {r0[r * D + 1], r};
    std::sort(key.begin(), key.end());
    std::vector<std::int64_t> sorted(n);
    for (std::int64_t p = 0; p < n; ++p) sorted[p] = key[p].second;
    for (std::int64_t p = 0; p < n; ++p) {
      I.order_host(p) = sorted[p];
      for (std::int64_t c = 0; c <= k; ++c) I.shared_host(c, p) = r0[sorted[p] * D + c];
    }
    I.target = target;
    I.have_target = true;
  }
  host_parallel_for(count, threads_, [&](std::int64_t m) {
    for (std::int64_t c = 0; c < l; ++c)
      for (std::int64_t p = 0; p < n; ++p) I.sources_host(m, c, p) = rows[m][I.order_host(p) * D + 1 + k + c];
  });
  Kokkos::DefaultExecutionSpace space;
  if (new_target) {
    Kokkos::deep_copy(space, I.shared, I.shared_host);
    Kokkos::deep_copy(space, I.order, I.order_host);
  }
  const auto first = std::make_pair(std::int64_t(0), count);
  Kokkos::deep_copy(space, Kokkos::subview(I.sources, first, Kokkos::ALL, Kokkos::ALL),
                    Kokkos::subview(I.sources_host, first, Kokkos::ALL, Kokkos::ALL));
  ksg_counts(space, window_ ? Search::window : Search::brute, I.shared, I.order, I.sources, count,
             int(cfg_.K), cfg_.algorithm, I.counts);
  Kokkos::deep_copy(space, Kokkos::subview(I.counts_host, first, Kokkos::ALL, Kokkos::ALL),
                    Kokkos::subview(I.counts, first, Kokkos::ALL, Kokkos::ALL));
  space.fence();
  // Back to observation order, and the digamma sums.
  std::vector<double> te(count);
  host_parallel_for(count, threads_, [&](std::int64_t m) {
    Neighbours c;
    c.xz.resize(n);
    c.yz.resize(n);
    c.z.resize(n);
    for (std::int64_t p = 0; p < n; ++p) {
      const std::int64_t r = I.order_host(p);
      c.xz[r] = I.counts_host(m, 0, p);
      c.yz[r] = I.counts_host(m, 1, p);
      c.z[r] = I.counts_host(m, 2, p);
    }
    te[m] = te_from_counts(cfg_, c, psi_);
    if (m == 0) last_ = std::move(c);
  });
  return te;
}

double Estimator::estimate(const std::vector<double>& source, const std::vector<double>& target,
                           const std::vector<std::int64_t>& source_rows) {
  return estimate(target, 1, [&](std::int64_t, std::vector<double>& series, std::vector<std::int64_t>& rows) {
    series = source;
    rows = source_rows;
  })[0];
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
  return te_from_counts(cfg, c, DigammaTable(n + 1));
}

}  // namespace prism::te
