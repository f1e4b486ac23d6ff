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

// Teams of the step kernel that must fit an SM at once (launch bounds: a cap
// on registers per thread), 0 for the compiler's choice.
#ifndef PRISM_OSCILLATORS_MIN_TEAMS
#define PRISM_OSCILLATORS_MIN_TEAMS 0
#endif

// Oscillators per team, and threads per team (one on the host).
inline constexpr int kChunk = 2048;
template <class Exec>
constexpr int team_threads() {
  return Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Exec::memory_space>::accessible ? 1 : 128;
}

// A sparse graph: row i's neighbours col[row[i] .. row[i+1]) with weights;
// no weight array where every weight is 1 (the built-in graphs), which
// spares each edge a load.
//
// Gather blocks: a row's columns are sorted by global index, and cut marks
// where each row crosses the bounds b N / blocks (b = 1 .. blocks - 1), so
// that a row splits into `blocks` segments, segment b naming only
// oscillators of the b-th slice of the global index range.  A pass over
// every row's segment b gathers from one slice of the phases, which can stay
// in the L2 cache where the whole array cannot (gather_blocks).
struct Graph {
  Kokkos::View<std::int64_t*> row;
  Kokkos::View<std::int32_t*> col;
  Kokkos::View<double*> weight;
  Kokkos::View<std::int32_t*> cut;  // [b - 1][row]: segment b's first edge minus row(i)
  int blocks = 1;
  std::int64_t rows = 0;
  KOKKOS_INLINE_FUNCTION double w(std::int64_t e) const { return weight.extent(0) ? weight(e) : 1.0; }
  KOKKOS_INLINE_FUNCTION std::int64_t segment(int b, std::int64_t i) const {
    return b == 0 ? row(i) : b == blocks ? row(i + 1) : row(i) + cut((b - 1) * rows + i);
  }
};

// The natural frequencies: one per oscillator, or where they are all the
// same (frequencies = "identical") no array, which spares every step a load
// of 8 bytes per oscillator.
struct NaturalFrequencies {
  Kokkos::View<double*> each;  // [local oscillator], or empty
  double all = 0;              // the frequency of every oscillator where `each` is empty
  KOKKOS_INLINE_FUNCTION double operator()(std::int64_t li) const { return each.extent(0) ? each(li) : all; }
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

// The thermal noise.  Oscillator i's standard normal at a step is normal
// (i >> 5) & 3 of the four that one Philox draw gives by Box-Muller (words
// 0, 1 and 2, 3 each a pair: r cos and r sin), the draw keyed (g, step low,
// replica, stream | step high) with g = (i >> 7) * 32 + (i & 31).  So the
// four oscillators of a draw are 32 apart, one per lane of a warp in four
// coalesced rounds, and one draw serves four oscillator-steps.  In float:
// the noise needs no more than float's 24-bit uniforms, and the float
// transcendentals cost a fraction of the double ones
// (docs/performance-notes.md).  u1 is in (0, 1], so the tails are cut at
// sqrt(48 ln 2) = 5.77 standard deviations, a probability of 8e-9 per draw.
KOKKOS_INLINE_FUNCTION std::uint32_t noise_draw(std::int64_t i) {
  return std::uint32_t(((i >> 7) << 5) | (i & 31));
}
KOKKOS_INLINE_FUNCTION void box_muller(std::uint32_t a, std::uint32_t b, float* x) {
  const float u1 = float((a >> 8) + 1u) * 0x1p-24f, u2 = float(b >> 8) * 0x1p-24f;
  const float r = kmath::sqrt(-2.0f * kmath::log(u1));
  float s, c;
  kmath::sincos_2pi(u2, &s, &c);
  x[0] = r * c;
  x[1] = r * s;
}
KOKKOS_INLINE_FUNCTION void noise_quad(std::uint64_t seed, std::uint32_t draw, std::int64_t step,
                                       std::uint32_t replica, float* x) {
  const auto u = rng::philox(seed, draw, std::uint32_t(step), replica,
                             rng::oscillator_noise | (std::uint32_t(std::uint64_t(step) >> 32) << 8));
  box_muller(u.v[0], u.v[1], x);
  box_muller(u.v[2], u.v[3], x + 2);
}

// sum_j w_ij sin(theta_j - theta_i - alpha) for one oscillator: through the
// unit's Z = sum_j e^{i theta_j} (all-to-all, weights 1), or over its row.
KOKKOS_INLINE_FUNCTION double mean_field_sum(double theta, double zc, double zs, const Dynamics& d) {
  double s, c;
  kmath::sincos(theta, &s, &c);
  const double ca = c * d.cos_a - s * d.sin_a, sa = s * d.cos_a + c * d.sin_a;  // e^{i(theta + alpha)}
  return zs * ca - zc * sa;                                                     // Im(e^{-i(theta + alpha)} Z)
}
// Edges e0 .. e1 of a row added to the running sums s = sum w sin(theta_j -
// theta_i), c = sum w cos(...).  The edges go kAhead at a time: their
// columns, then their neighbours' phases are loaded before the first is
// used, so that a thread has several of its row's gathers in flight rather
// than one chain at a time; the sums still take the edges in order, so a
// row summed in segments with s and c carried between them gives the same
// bits as one pass.
template <class Row>
KOKKOS_INLINE_FUNCTION void edge_sums(const Graph& g, const Row& theta, double ti, std::int64_t e0,
                                      std::int64_t e1, double& s, double& c) {
  constexpr int kAhead = 4;
  std::int64_t e = e0;
  for (; e + kAhead <= e1; e += kAhead) {  // whole groups: no bounds test, so the arrays stay in registers
    double th[kAhead], w[kAhead];
#pragma unroll
    for (int k = 0; k < kAhead; ++k) {
      th[k] = theta(g.col(e + k));
      w[k] = g.w(e + k);
    }
#pragma unroll
    for (int k = 0; k < kAhead; ++k) {
      double sd, cd;
      kmath::sincos(th[k] - ti, &sd, &cd);
      s += w[k] * sd;
      c += w[k] * cd;
    }
  }
  for (; e < e1; ++e) {
    double sd, cd;
    kmath::sincos(theta(g.col(e)) - ti, &sd, &cd);
    s += g.w(e) * sd;
    c += g.w(e) * cd;
  }
}
// sum_j w_ij sin(theta_j - theta_i - alpha) over row i; with `carried`, the
// sums (s, c) of the row's first blocks - 1 segments (gather_segments) are
// carried[2 i], carried[2 i + 1], and only the last segment is left.
template <class Row>
KOKKOS_INLINE_FUNCTION double graph_sum(const Graph& g, const Row& theta, std::int64_t i, const Dynamics& d,
                                        const double* carried = nullptr) {
  double s = 0, c = 0;
  std::int64_t e0 = g.row(i);
  if (carried) {
    s = carried[2 * i];
    c = carried[2 * i + 1];
    e0 = g.segment(g.blocks - 1, i);
  }
  edge_sums(g, theta, theta(i), e0, g.row(i + 1), s, c);
  return s * d.cos_a - c * d.sin_a;  // sum w sin(diff - alpha)
}
// Segments 0 .. blocks - 2 of every row of every unit, one pass per segment
// (the step itself adds the last): carried[(u rows + i) 2 + {0, 1}] holds
// row i's running sums.
template <class Exec>
void gather_segments(Exec const& space, const Graph& g, const Phases& theta,
                     Kokkos::View<double*> const& carried) {
  const std::int64_t rows = g.rows, total = std::int64_t(theta.extent(0)) * rows;
  for (int b = 0; b + 1 < g.blocks; ++b)
    Kokkos::parallel_for(
        "oscillators::gather_segment", Kokkos::RangePolicy<Exec>(space, 0, total),
        KOKKOS_LAMBDA(const std::int64_t t) {
          const std::int64_t u = t / rows, i = t - u * rows;
          const auto row = Kokkos::subview(theta, u, Kokkos::ALL);
          double s = b ? carried(2 * t) : 0.0, c = b ? carried(2 * t + 1) : 0.0;
          edge_sums(g, row, row(i), g.segment(b, i), g.segment(b + 1, i), s, c);
          carried(2 * t) = s;
          carried(2 * t + 1) = c;
        });
}

// The step of the oscillators of one unit (its order parameter and coupling
// in registers): Euler-Maruyama (first order) or BAOAB (second).  `lo` is
// the global index of local oscillator 0.  Sparse is a template argument,
// not a run-time branch: in one kernel for both, the graph's gather made
// the loop over a draw's oscillators too large to unroll, and its small
// per-oscillator arrays went to local memory for the all-to-all step too
// (docs/performance-notes.md, "oscillators: a regression").
template <bool Sparse>
struct UnitStep {
  Dynamics d;
  Graph g;
  const double* from;
  double* to;
  double* vel;          // second order
  const double* omega;  // null: every oscillator's is omega0
  double omega0, zc, zs, K;
  std::int64_t lo;
  const double* carried;  // the unit's sums of its rows' first segments (gather_segments), or null
  // What a draw's oscillators read before their step: phases, frequencies,
  // velocities (second order).
  struct Loaded {
    double th[4], om[4], w[4];
  };
  KOKKOS_INLINE_FUNCTION double operator()(std::int64_t li) const { return from[li]; }  // graph_sum's row
  // Oscillators first + 32 k, k < n <= 4 (one draw's): their state into x.
  // All loads come before the first store of the step, so the four are in
  // flight together: the compiler cannot know that `to` and `from` differ.
  KOKKOS_INLINE_FUNCTION void load(std::int64_t first, int n, Loaded& x) const {
    const std::int64_t l0 = first - lo;  // local index; the noise is keyed by the global one
    for (int k = 0; k < 4; ++k)
      if (k < n) {
        x.th[k] = from[l0 + 32 * k];
        x.om[k] = omega ? omega[l0 + 32 * k] : omega0;
        x.w[k] = d.second ? vel[l0 + 32 * k] : 0.0;
      }
  }
  // Their step, given their state x (load) and normals xi; acc gets the
  // sums of the cos and sin of their new phases (all-to-all, for the next Z).
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t first, int n, const float* xi, const Loaded& x,
                                         double* acc) const {
    const std::int64_t l0 = first - lo;
    for (int k = 0; k < 4; ++k) {
      if (k >= n) break;
      const std::int64_t li = l0 + 32 * k;
      double s;
      if constexpr (Sparse)
        s = graph_sum(g, *this, li, d, carried);
      else
        s = mean_field_sum(x.th[k], zc, zs, d);
      const double force = x.om[k] + K * s;
      double next;
      if (!d.second) {
        next = x.th[k] + d.dt * force + d.noise * double(xi[k]);
      } else {
        double v = x.w[k] + d.dt * d.inv_m * force;  // last half kick of the step before, first of this
        next = x.th[k] + 0.5 * d.dt * v;
        v = d.c1 * v + d.c2 * double(xi[k]);
        next += 0.5 * d.dt * v;
        vel[li] = v;
      }
      to[li] = next;
      if constexpr (!Sparse) {
        double sn, cs;
        kmath::sincos(next, &sn, &cs);
        acc[0] += cs;
        acc[1] += sn;
      }
    }
  }
};
// A step of every unit: unit u's UnitStep.
template <bool Sparse>
struct Step {
  Dynamics d;
  Graph g;
  Phases from, to, vel;
  NaturalFrequencies omega;
  Kokkos::View<double*> K;
  Kokkos::View<double**, Kokkos::LayoutRight> Z;
  std::int64_t lo;
  Kokkos::View<double*> carried;  // gather_segments' sums, where the graph has several blocks
  KOKKOS_INLINE_FUNCTION UnitStep<Sparse> operator()(std::int64_t u) const {
    return UnitStep<Sparse>{d,
                            g,
                            &from(u, 0),
                            &to(u, 0),
                            d.second ? &vel(u, 0) : nullptr,
                            omega.each.extent(0) ? omega.each.data() : nullptr,
                            omega.all,
                            Z(u, 0),
                            Z(u, 1),
                            K(u),
                            lo,
                            g.blocks > 1 ? &carried(2 * u * g.rows) : nullptr};
  }
};

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

// The team's sums of acc[0..M) to partial(at + m).
template <int M, class Team>
KOKKOS_INLINE_FUNCTION void team_sums(const Team& team, const double* acc,
                                      Kokkos::View<double*> const& partial, std::int64_t at) {
  for (int m = 0; m < M; ++m) {
    double total = acc[m];
    team.team_reduce(Kokkos::Sum<double>(total));
    if (team.team_rank() == 0) partial(at + m) = total;
  }
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
        team_sums<M>(team, acc, partial, (u * chunks + c) * M);
      });
}

// When a thread loads the state of a draw's oscillators (the results are
// the same bits in each order): after drawing their noise, before it, or
// one draw ahead (the next draw's loads in flight during this one's step).
enum class Loads { after_noise, before_noise, ahead };

// A step: like chunk_sums, with the thermal noise drawn here, four normals a
// draw (noise_quad).  unit(u) runs once per team and returns the step of
// unit u's oscillators, with load(first, n, x) and step(first, n, xi, x, acc)
// for the n <= 4 oscillators of a draw, so what is per unit (the order
// parameter, the coupling) is read once into registers.  Thread q of a team
// takes the draws of quads q, q + team size, ...; quad q of a chunk holds the
// oscillators lo + (q / 32) * 128 + q % 32 + 32 k, k = 0..3.
template <int M, Loads L = Loads::after_noise, class Exec, class Replica, class U>
void noisy_chunk_sums(Exec const& space, std::int64_t units, std::int64_t N, std::int64_t c0, std::int64_t c1,
                      std::uint64_t seed, std::int64_t step, Replica const& replica, U const& unit,
                      Kokkos::View<double*> const& partial, const char* label) {
  static_assert(kChunk % 128 == 0, "a chunk holds whole blocks of four draws' oscillators");
  const std::int64_t chunks = c1 - c0;
  constexpr int threads = team_threads<Exec>();
  using Policy = Kokkos::TeamPolicy<
      Exec, Kokkos::LaunchBounds<PRISM_OSCILLATORS_MIN_TEAMS ? threads : 0, PRISM_OSCILLATORS_MIN_TEAMS>>;
  using Team = typename Policy::member_type;
  Kokkos::parallel_for(
      label, Policy(space, units * chunks, threads), KOKKOS_LAMBDA(const Team& team) {
        const std::int64_t u = team.league_rank() / chunks, c = team.league_rank() - u * chunks;
        const std::int64_t lo = (c0 + c) * kChunk, hi = lo + kChunk < N ? lo + kChunk : N;
        const auto oscillator = unit(u);
        const auto r = std::uint32_t(replica(u));
        double acc[M > 0 ? M : 1] = {};
        // Quad q's first oscillator, and how many of its four exist (0: none).
        const auto first_of = [&](int q) { return lo + (q >> 5) * 128 + (q & 31); };
        const auto count_of = [&](int q) {
          const std::int64_t left = q < kChunk / 4 ? (hi - first_of(q) + 31) / 32 : 0;
          return left <= 0 ? 0 : left < 4 ? int(left) : 4;
        };
        typename decltype(oscillator)::Loaded x, next;
        if constexpr (L == Loads::ahead) {
          const int n0 = count_of(team.team_rank());
          if (n0 > 0) oscillator.load(first_of(team.team_rank()), n0, x);
        }
        for (int q = team.team_rank(); q < kChunk / 4; q += team.team_size()) {
          const int n = count_of(q);
          if (n == 0) break;
          const std::int64_t first = first_of(q);
          if constexpr (L == Loads::before_noise) oscillator.load(first, n, x);
          int n2 = 0;  // the next draw's oscillators (ahead)
          if constexpr (L == Loads::ahead) {
            n2 = count_of(q + team.team_size());
            if (n2 > 0) oscillator.load(first_of(q + team.team_size()), n2, next);
          }
          float xi[4];
          noise_quad(seed, noise_draw(first), step, r, xi);
          if constexpr (L == Loads::after_noise) oscillator.load(first, n, x);
          oscillator(first, n, xi, x, acc);
          if constexpr (L == Loads::ahead)
            if (n2 > 0) x = next;  // else the loop ends here
        }
        team_sums<M>(team, acc, partial, (u * chunks + c) * M);
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
  constexpr std::int64_t kBlock = 512;
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
