#pragma once
// Langevin steps of phase-oscillator networks (noisy Kuramoto), first order
// (Euler-Maruyama) and second order (BAOAB splitting), for many independent
// runs ("units": a coupling strength and a noise realisation) side by side,
// all-to-all through the order parameter or on a sparse graph (CSR).
//
// Sums over the oscillators of a unit are deterministic: a team sums a fixed
// chunk of oscillators with a fixed team size, and the chunks' sums are added
// in chunk order; a unit never straddles ranks, so results do not depend on
// the number of ranks (or of host threads: a host team is one thread).
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <type_traits>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/common/philox.hpp"

namespace prism::oscillators {

using Phases = Kokkos::View<double**, Kokkos::LayoutRight>;  // [unit][oscillator]
using UnitSums = Kokkos::View<double**, Kokkos::LayoutRight>;  // [unit][moment]

// Oscillators per team, and threads per team (one on the host).
inline constexpr int kChunk = 2048;
template <class Exec>
constexpr int team_threads() {
  return Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Exec::memory_space>::accessible ? 1 : 128;
}

// A sparse graph: row i's neighbours col[row[i] .. row[i+1]) with weights.
struct Graph {
  Kokkos::View<std::int64_t*> row;
  Kokkos::View<std::int32_t*> col;
  Kokkos::View<double*> weight;
};

// Coefficients of one step (docs/oscillators.md).
struct Dynamics {
  std::int64_t N = 0;
  bool sparse = false, second = false;
  double dt = 0;
  double inv_m = 1;          // 1 / m
  double c1 = 0, c2 = 0;     // BAOAB's O step: v <- c1 v + c2 xi, c1 = exp(-gamma dt / m), c2 = sqrt((1 - c1^2) T / m)
  double noise = 0;          // first order: sqrt(2 T dt)
  double cos_a = 1, sin_a = 0;  // phase lag alpha
  std::uint64_t seed = 0;
};

// A standard normal for oscillator i of replica r at step `step` (Box-Muller
// on Philox words 0 and 1; counter (i, step low, replica, stream | step high)).
KOKKOS_INLINE_FUNCTION double noise_normal(std::uint64_t seed, std::int64_t i, std::int64_t step,
                                           std::int64_t replica) {
  const auto u = rng::philox(seed, std::uint32_t(i), std::uint32_t(step), std::uint32_t(replica),
                             rng::oscillator_noise | (std::uint32_t(std::uint64_t(step) >> 32) << 8));
  const double u1 = (u.v[0] + 1.0) * 0x1p-32, u2 = u.v[1] * 0x1p-32;
  return kmath::sqrt(-2.0 * kmath::log(u1)) * kmath::cos(6.283185307179586 * u2);
}

// sum_j w_ij sin(theta_j - theta_i - alpha) for one oscillator: through the
// unit's Z = sum_j e^{i theta_j} (all-to-all, weights 1), or over its row.
KOKKOS_INLINE_FUNCTION double mean_field_sum(double theta, double zc, double zs, const Dynamics& d) {
  const double c = kmath::cos(theta), s = kmath::sin(theta);
  const double ca = c * d.cos_a - s * d.sin_a, sa = s * d.cos_a + c * d.sin_a;  // e^{i(theta + alpha)}
  return zs * ca - zc * sa;  // Im(e^{-i(theta + alpha)} Z)
}
template <class Row>
KOKKOS_INLINE_FUNCTION double graph_sum(const Graph& g, const Row& theta, std::int64_t i, const Dynamics& d) {
  const double ti = theta(i);
  double s = 0, c = 0;
  for (std::int64_t e = g.row(i); e < g.row(i + 1); ++e) {
    const double diff = theta(g.col(e)) - ti;
    s += g.weight(e) * kmath::sin(diff);
    c += g.weight(e) * kmath::cos(diff);
  }
  return s * d.cos_a - c * d.sin_a;  // sum w sin(diff - alpha)
}

// sums(u, m) = sum over the N oscillators of unit u of f(u, i, v)[m], M
// moments, for the units [0, units).  `partial` is scratch of at least
// units x ceil(N / kChunk) x M.  f may also update state (each (u, i) is
// visited once).
template <int M, class Exec, class F>
void unit_sums(Exec const& space, std::int64_t units, std::int64_t N, F const& f, UnitSums const& sums,
               Kokkos::View<double*> const& partial, const char* label) {
  const std::int64_t blocks = (N + kChunk - 1) / kChunk;
  using Team = typename Kokkos::TeamPolicy<Exec>::member_type;
  constexpr int threads = team_threads<Exec>();
  Kokkos::parallel_for(
      label, Kokkos::TeamPolicy<Exec>(space, units * blocks, threads), KOKKOS_LAMBDA(const Team& team) {
        const std::int64_t u = team.league_rank() / blocks, b = team.league_rank() - u * blocks;
        const std::int64_t lo = b * kChunk, hi = lo + kChunk < N ? lo + kChunk : N;
        double acc[M > 0 ? M : 1] = {};
        for (std::int64_t i = lo + team.team_rank(); i < hi; i += team.team_size()) {
          double v[M > 0 ? M : 1] = {};
          f(u, i, v);
          for (int m = 0; m < M; ++m) acc[m] += v[m];
        }
        for (int m = 0; m < M; ++m) {
          double total = acc[m];
          team.team_reduce(Kokkos::Sum<double>(total));
          if (team.team_rank() == 0) partial((u * blocks + b) * M + m) = total;
        }
      });
  if constexpr (M > 0) {
    Kokkos::parallel_for(
        label, Kokkos::TeamPolicy<Exec>(space, units * M, threads), KOKKOS_LAMBDA(const Team& team) {
          const std::int64_t u = team.league_rank() / M;
          const int m = int(team.league_rank() - u * M);
          double s = 0;
          for (std::int64_t b = team.team_rank(); b < blocks; b += team.team_size())
            s += partial((u * blocks + b) * M + m);
          team.team_reduce(Kokkos::Sum<double>(s));
          if (team.team_rank() == 0) sums(u, m) = s;
        });
  }
}

}  // namespace prism::oscillators
