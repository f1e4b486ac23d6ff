#pragma once
// Langevin steps of phase-oscillator networks (noisy Kuramoto), first order
// (Euler-Maruyama) and second order (BAOAB splitting), for many independent
// runs ("units": a coupling strength and a noise realisation) side by side,
// all-to-all through the order parameter or on a sparse graph (CSR).
//
// Sums over the oscillators of a unit do not depend on how the work is
// split: a team sums a fixed chunk of oscillators with a fixed team size (one
// thread on the host), and the chunks' sums are combined either in 64-bit
// fixed point (the order parameter, every step) or in chunk order on the
// host (observations).  So results are the same on any number of ranks,
// whether a rank holds whole runs or a block of every run's oscillators.
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <type_traits>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/common/philox.hpp"

namespace prism::oscillators {

using Phases = Kokkos::View<double**, Kokkos::LayoutRight>;  // [unit][oscillator]

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
  bool sparse = false, second = false;
  double dt = 0;
  double inv_m = 1;  // 1 / m
  double c1 = 0,
         c2 = 0;  // BAOAB's O step: v <- c1 v + c2 xi, c1 = exp(-gamma dt / m), c2 = sqrt((1 - c1^2) T / m)
  double noise = 0;             // first order: sqrt(2 T dt)
  double cos_a = 1, sin_a = 0;  // phase lag alpha
  std::uint64_t seed = 0;
};

// A standard normal for oscillator i of replica r at step `step` (Box-Muller
// on Philox words 0 and 1; counter (i, step low, replica, stream | step high)).
// In float: the noise needs no more than float's 24-bit uniforms, and the
// float logarithm and cosine cost a fraction of the double ones, which
// bound the step on GPUs (docs/performance-notes.md). u1 is in (0, 1], so
// the tails are cut at sqrt(48 ln 2) = 5.77 standard deviations, a
// probability of 8e-9 per draw.
KOKKOS_INLINE_FUNCTION double noise_normal(std::uint64_t seed, std::int64_t i, std::int64_t step,
                                           std::int64_t replica) {
  const auto u = rng::philox(seed, std::uint32_t(i), std::uint32_t(step), std::uint32_t(replica),
                             rng::oscillator_noise | (std::uint32_t(std::uint64_t(step) >> 32) << 8));
  const float u1 = float((u.v[0] >> 8) + 1u) * 0x1p-24f, u2 = float(u.v[1] >> 8) * 0x1p-24f;
  return double(kmath::sqrt(-2.0f * kmath::log(u1)) * kmath::cos(6.28318531f * u2));
}

// sum_j w_ij sin(theta_j - theta_i - alpha) for one oscillator: through the
// unit's Z = sum_j e^{i theta_j} (all-to-all, weights 1), or over its row.
KOKKOS_INLINE_FUNCTION double mean_field_sum(double theta, double zc, double zs, const Dynamics& d) {
  double s, c;
  kmath::sincos(theta, &s, &c);
  const double ca = c * d.cos_a - s * d.sin_a, sa = s * d.cos_a + c * d.sin_a;  // e^{i(theta + alpha)}
  return zs * ca - zc * sa;                                                     // Im(e^{-i(theta + alpha)} Z)
}
template <class Row>
KOKKOS_INLINE_FUNCTION double graph_sum(const Graph& g, const Row& theta, std::int64_t i, const Dynamics& d) {
  const double ti = theta(i);
  double s = 0, c = 0;
  for (std::int64_t e = g.row(i); e < g.row(i + 1); ++e) {
    double sd, cd;
    kmath::sincos(theta(g.col(e)) - ti, &sd, &cd);
    s += g.weight(e) * sd;
    c += g.weight(e) * cd;
  }
  return s * d.cos_a - c * d.sin_a;  // sum w sin(diff - alpha)
}

// Entry t of a halo buffer laid out [rank][unit][k], rank r's block holding
// entries at(r) .. at(r + 1) of the index list for each of the n units: sets
// the unit and returns the position in the index list.
template <class Offsets>
KOKKOS_INLINE_FUNCTION std::int64_t halo_entry(const Offsets& at, std::int64_t n, std::int64_t t,
                                               std::int64_t& u) {
  int r = 0;
  while (at(r + 1) * n <= t) ++r;
  const std::int64_t rest = t - at(r) * n, len = at(r + 1) - at(r);
  u = rest / len;
  return at(r) + (rest - u * len);
}

// Runs f(u, i, v) once for every oscillator i of the chunks [c0, c1) of
// kChunk oscillators of every unit u in [0, units) (f may update state), and
// writes each chunk's sums of v[0..M) to
// partial((u * (c1 - c0) + c - c0) * M + m).  A chunk's sum depends only on
// its oscillators (fixed team size), never on which rank holds it.
template <int M, class Exec, class F>
void chunk_sums(Exec const& space, std::int64_t units, std::int64_t N, std::int64_t c0, std::int64_t c1,
                F const& f, Kokkos::View<double*> const& partial, const char* label) {
  const std::int64_t chunks = c1 - c0;
  using Team = typename Kokkos::TeamPolicy<Exec>::member_type;
  constexpr int threads = team_threads<Exec>();
  Kokkos::parallel_for(
      label, Kokkos::TeamPolicy<Exec>(space, units * chunks, threads), KOKKOS_LAMBDA(const Team& team) {
        const std::int64_t u = team.league_rank() / chunks, c = team.league_rank() - u * chunks;
        const std::int64_t lo = (c0 + c) * kChunk, hi = lo + kChunk < N ? lo + kChunk : N;
        double acc[M > 0 ? M : 1] = {};
        for (std::int64_t i = lo + team.team_rank(); i < hi; i += team.team_size()) {
          double v[M > 0 ? M : 1] = {};
          f(u, i, v);
          for (int m = 0; m < M; ++m) acc[m] += v[m];
        }
        for (int m = 0; m < M; ++m) {
          double total = acc[m];
          team.team_reduce(Kokkos::Sum<double>(total));
          if (team.team_rank() == 0) partial((u * chunks + c) * M + m) = total;
        }
      });
}

// totals(u, m) = sum over a unit's chunks of round(scale x chunk sum), in
// 64-bit integers: integer addition is associative, so the totals (and their
// sum over ranks) do not depend on the order or the split of the chunks.
template <class Exec>
void fixed_point_totals(Exec const& space, std::int64_t units, std::int64_t chunks, int M, double scale,
                        Kokkos::View<double*> const& partial,
                        Kokkos::View<std::int64_t**, Kokkos::LayoutRight> const& totals) {
  using Team = typename Kokkos::TeamPolicy<Exec>::member_type;
  constexpr int threads = team_threads<Exec>();
  // Teams over (unit, m, block of chunks), each adding its block's integer
  // sum with an atomic: integer sums, so any order gives the same totals.
  constexpr std::int64_t kBlock = 4096;
  const std::int64_t blocks = (chunks + kBlock - 1) / kBlock;
  Kokkos::deep_copy(space, totals, std::int64_t(0));
  Kokkos::parallel_for(
      "oscillators::fixed_point_totals", Kokkos::TeamPolicy<Exec>(space, units * M * blocks, threads),
      KOKKOS_LAMBDA(const Team& team) {
        const std::int64_t ub = team.league_rank() / blocks, b = team.league_rank() - ub * blocks;
        const std::int64_t u = ub / M;
        const int m = int(ub - u * M);
        const std::int64_t c1 = (b + 1) * kBlock < chunks ? (b + 1) * kBlock : chunks;
        std::int64_t s = 0;
        for (std::int64_t c = b * kBlock + team.team_rank(); c < c1; c += team.team_size()) {
          const double x = partial((u * chunks + c) * M + m) * scale;
          s += static_cast<std::int64_t>(x >= 0 ? x + 0.5 : x - 0.5);
        }
        team.team_reduce(Kokkos::Sum<std::int64_t>(s));
        if (team.team_rank() == 0) Kokkos::atomic_add(&totals(u, m), s);
      });
}

}  // namespace prism::oscillators
