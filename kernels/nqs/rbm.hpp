#pragma once
// Restricted Boltzmann machine wave function on device views, and the
// Metropolis sampler with per-chain effective-angle tables.
//   log psi(s) = sum_i a_i s_i + sum_j log cosh(theta_j),  theta_j = b_j + sum_i W_ji s_i
// Parameters live in one flat vector p = [a (N), b (M), W (M x N, column-major)].
// Since s = +-1, cosh(theta - 2 W s)/cosh(theta) = cosh 2W - s tanh(theta) sinh 2W,
// so with tanh(theta) kept per chain a proposal costs three flops per hidden unit.
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/kokkos_compat.hpp"
#include "kernels/common/philox.hpp"

namespace prism::nqs {

using Vector = Kokkos::View<double*>;
using Matrix = Kokkos::View<double**, Kokkos::LayoutLeft>;
// Per-chain hidden-unit tables, (chain, hidden): a chain's units are
// contiguous, because the vector lanes of one chain read them together.
using ChainMatrix = Kokkos::View<double**, Kokkos::LayoutRight>;
using SpinMatrix = Kokkos::View<std::int8_t**, Kokkos::LayoutLeft>;  // (chain or sample, site)
using IndexVector = Kokkos::View<std::int32_t*>;
using CountVector = Kokkos::View<std::int64_t*>;

inline constexpr std::uint32_t nqs_stream = 5;  // Philox counter word 3

enum class Move : int { single_flip = 0, neighbour_exchange = 1 };

// Everything a chain needs to propose, accept and measure.
struct RbmModel {
  int N = 0, M = 0, n_bonds = 0;
  Move move = Move::single_flip;
  bool tfim = true;
  double J = 1, h = 0, Delta = 1;
  double offdiag_sign = 1;  // -1 with the Marshall sign rule
  Vector a, b;
  Matrix W;                     // (M, N), unmanaged view into the parameter vector
  Matrix cosh2W, sinh2W;        // (M, N)
  Matrix bond_cosh, bond_sinh;  // (M, n_bonds): cosh, sinh of 2 (W_jk - W_jl)
  IndexVector bond_i, bond_j;

  // psi(s with site k flipped) / psi(s) for chain/sample c, spins and tanh tables given.
  template <class Spins, class Tanh>
  KOKKOS_INLINE_FUNCTION double flip_ratio(const Spins& s, const Tanh& t, int c, int k) const {
    const double sk = s(c, k);
    double r = kmath::exp(-2.0 * a(k) * sk);
    for (int j = 0; j < M; ++j) r *= cosh2W(j, k) - sk * t(c, j) * sinh2W(j, k);
    return r;
  }
  // psi(s with the anti-aligned sites of bond `bond` exchanged) / psi(s).
  template <class Spins, class Tanh>
  KOKKOS_INLINE_FUNCTION double exchange_ratio(const Spins& s, const Tanh& t, int c, int bond) const {
    const int k = bond_i(bond), l = bond_j(bond);
    const double sk = s(c, k);
    double r = kmath::exp(-2.0 * (a(k) - a(l)) * sk);
    for (int j = 0; j < M; ++j) r *= bond_cosh(j, bond) - sk * t(c, j) * bond_sinh(j, bond);
    return r;
  }
};

// theta = b + W s and tanh(theta) from scratch for every chain.
template <class Exec>
void refresh_angles(Exec const& space, RbmModel const& m, SpinMatrix const& spins, ChainMatrix const& theta,
                    ChainMatrix const& tanh_theta) {
  const int N = m.N, M = m.M;
  const auto W = m.W;
  const auto b = m.b;
  Kokkos::parallel_for(
      "nqs::refresh_angles",
      Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {int(spins.extent(0)), M}),
      KOKKOS_LAMBDA(const int c, const int j) {
        double th = b(j);
        for (int i = 0; i < N; ++i) th += W(j, i) * spins(c, i);
        theta(c, j) = th;
        tanh_theta(c, j) = kmath::tanh(th);
      });
}

// cosh/sinh tables, recomputed after every parameter update.
template <class Exec>
void build_tables(Exec const& space, RbmModel const& m) {
  const auto W = m.W;
  const auto c2 = m.cosh2W, s2 = m.sinh2W, bc = m.bond_cosh, bs = m.bond_sinh;
  const auto bi = m.bond_i, bj = m.bond_j;
  const int N = m.N, nb = m.n_bonds;
  Kokkos::parallel_for(
      "nqs::build_tables", Kokkos::RangePolicy<Exec>(space, 0, m.M), KOKKOS_LAMBDA(const int j) {
        for (int i = 0; i < N; ++i) {
          c2(j, i) = kmath::cosh(2.0 * W(j, i));
          s2(j, i) = kmath::sinh(2.0 * W(j, i));
        }
        for (int e = 0; e < nb; ++e) {
          const double d = 2.0 * (W(j, bi(e)) - W(j, bj(e)));
          bc(j, e) = kmath::cosh(d);
          bs(j, e) = kmath::sinh(d);
        }
      });
}

struct SampleBuffers {
  SpinMatrix spins;     // (chains * samples_per_chain, N), sample = chain * spc + k
  Matrix tanh_theta;    // (samples, M)
  Vector local_energy;  // (samples)
};

struct ChainState {
  SpinMatrix spins;                // (chains, N)
  ChainMatrix theta, tanh_theta;   // (chains, M)
  CountVector accepted, proposed;  // per chain, this iteration
};

// Vector lanes that share one chain's hidden units (a power of two up to 32
// on CUDA, 1 on host backends) and chains per team.  `requested` = 0 picks
// the default, measured best on an H100 (BENCHMARKS.md).  Results are
// deterministic for a given backend and lane count.
template <class Exec>
int hidden_lanes(int requested) {
#ifdef KOKKOS_ENABLE_CUDA
  if constexpr (std::is_same_v<Exec, Kokkos::Cuda>) return requested > 0 ? requested : 32;
#endif
  (void)requested;
  return 1;
}
template <class Exec>
int chains_per_team(int lanes) {
#ifdef KOKKOS_ENABLE_CUDA
  if constexpr (std::is_same_v<Exec, Kokkos::Cuda>) return std::max(1, 128 / lanes);
#endif
  (void)lanes;
  return 1;
}

struct Proposal {
  int site;        // site (single flip) or bond (exchange)
  double uniform;  // in [0, 1)
};

// Runs `thermalization` sweeps, then samples_per_chain samples each
// `sweeps_per_sample` sweeps apart (a sweep is N proposals), recording the
// spins, tanh(theta) and the local energy of every sample.  The random
// numbers of chain g at proposal q of iteration it are Philox(seed;
// g, it, q, stream): the same whatever rank runs the chain.  Each chain is
// one team thread; its hidden units are spread over vector lanes, and the
// amplitude ratio is a product reduction over them.
template <class Exec>
void sample_chains(Exec const& space, RbmModel const& m, ChainState const& st, SampleBuffers const& out,
                   std::uint64_t seed, std::uint32_t iteration, std::int64_t chain_offset, int thermalization,
                   int sweeps_per_sample, int samples_per_chain, int requested_lanes = 0) {
  const auto spins = st.spins;
  const auto theta = st.theta;
  const auto tt = st.tanh_theta;
  const auto acc = st.accepted;
  const auto prop = st.proposed;
  const auto os = out.spins;
  const auto ot = out.tanh_theta;
  const auto oe = out.local_energy;
  const int C = int(spins.extent(0));
  const int V = hidden_lanes<Exec>(requested_lanes);
  const int T = chains_per_team<Exec>(V);
  using Policy = Kokkos::TeamPolicy<Exec>;
  using Member = typename Policy::member_type;
  Kokkos::parallel_for(
      "nqs::sample_chains", Policy(space, (C + T - 1) / T, T, V), KOKKOS_LAMBDA(const Member& team) {
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, T), [&](const int slot) {
          const int c = team.league_rank() * T + slot;
          if (c >= C) return;
          const int N = m.N, M = m.M;
          const auto gid = static_cast<std::uint32_t>(chain_offset + c);
          std::uint32_t q = 0;
          std::int64_t n_acc = 0, n_prop = 0;
          auto ratio_flip = [&](int k) {
            const double sk = spins(c, k);
            double r = 1.0;
            Kokkos::parallel_reduce(
                Kokkos::ThreadVectorRange(team, M),
                [&](const int j, double& p) { p *= m.cosh2W(j, k) - sk * tt(c, j) * m.sinh2W(j, k); },
                Kokkos::Prod<double>(r));
            return r * kmath::exp(-2.0 * m.a(k) * sk);
          };
          auto ratio_exchange = [&](int e) {
            const int k = m.bond_i(e), l = m.bond_j(e);
            const double sk = spins(c, k);
            double r = 1.0;
            Kokkos::parallel_reduce(
                Kokkos::ThreadVectorRange(team, M),
                [&](const int j, double& p) { p *= m.bond_cosh(j, e) - sk * tt(c, j) * m.bond_sinh(j, e); },
                Kokkos::Prod<double>(r));
            return r * kmath::exp(-2.0 * (m.a(k) - m.a(l)) * sk);
          };
          auto propose = [&]() {
            Proposal pr;
            Kokkos::single(
                Kokkos::PerThread(team),
                [&](Proposal& out) {
                  const auto u = rng::philox(seed, gid, iteration, q, nqs_stream);
                  const auto range = static_cast<std::uint32_t>(m.move == Move::single_flip ? N : m.n_bonds);
                  out.site = static_cast<int>(u.v[0] % range);
                  out.uniform = u.v[1] * 0x1p-32;
                },
                pr);
            ++q;
            ++n_prop;
            // Spins are read before the ratio's reduction (a lane barrier) and
            // written after it, so no lane reads a value another lane changed.
            if (m.move == Move::single_flip) {
              const int k = pr.site;
              const double sk = spins(c, k);
              const double r = ratio_flip(k);
              if (pr.uniform < r * r) {
                Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, M), [&](const int j) {
                  theta(c, j) -= 2.0 * m.W(j, k) * sk;
                  tt(c, j) = kmath::tanh(theta(c, j));
                });
                spins(c, k) = static_cast<std::int8_t>(-sk);  // every lane writes the same value
                ++n_acc;
              }
            } else {
              const int e = pr.site;
              const int k = m.bond_i(e), l = m.bond_j(e);
              const double sk = spins(c, k);  // s_l = -s_k when the move is possible
              if (sk == spins(c, l)) return;  // exchange of equal spins: no move
              const double r = ratio_exchange(e);
              if (pr.uniform < r * r) {
                Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, M), [&](const int j) {
                  theta(c, j) -= 2.0 * (m.W(j, k) - m.W(j, l)) * sk;
                  tt(c, j) = kmath::tanh(theta(c, j));
                });
                spins(c, k) = static_cast<std::int8_t>(-sk);
                spins(c, l) = static_cast<std::int8_t>(sk);
                ++n_acc;
              }
            }
          };
          for (int s = 0; s < thermalization * N; ++s) propose();
          for (int k = 0; k < samples_per_chain; ++k) {
            for (int s = 0; s < sweeps_per_sample * N; ++s) propose();
            const int row = c * samples_per_chain + k;
            Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, N),
                                 [&](const int i) { os(row, i) = spins(c, i); });
            Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, M),
                                 [&](const int j) { ot(row, j) = tt(c, j); });
            // Local energy: diagonal part plus the amplitude ratios of every
            // off-diagonal move, summed in a fixed order.
            double diag = 0, off = 0;
            for (int e = 0; e < m.n_bonds; ++e) diag += spins(c, m.bond_i(e)) * spins(c, m.bond_j(e));
            double energy;
            if (m.tfim) {
              for (int i = 0; i < N; ++i) off += ratio_flip(i);
              energy = -m.J * diag - m.h * off;
            } else {
              for (int e = 0; e < m.n_bonds; ++e)
                if (spins(c, m.bond_i(e)) != spins(c, m.bond_j(e))) off += ratio_exchange(e);
              energy = 0.25 * m.J * m.Delta * diag + 0.5 * m.J * m.offdiag_sign * off;
            }
            Kokkos::single(Kokkos::PerThread(team), [&]() { oe(row) = energy; });
          }
          Kokkos::single(Kokkos::PerThread(team), [&]() {
            acc(c) = n_acc;
            prop(c) = n_prop;
          });
        });
      });
}

// Log-derivatives O(s, k) = d log psi / d p_k of every sample:
// a: s_i, b: tanh theta_j, W(j,i): tanh theta_j * s_i.
template <class Exec>
void build_log_derivatives(Exec const& space, SampleBuffers const& smp, int N, int M, Matrix const& O) {
  const auto os = smp.spins;
  const auto ot = smp.tanh_theta;
  Kokkos::parallel_for(
      "nqs::log_derivatives",
      Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {int(O.extent(0)), N + M}),
      KOKKOS_LAMBDA(const int s, const int q) {
        if (q < N) {
          O(s, q) = os(s, q);
          // the W columns of site q: W(j, q) for all j
          for (int j = 0; j < M; ++j) O(s, N + M + j + M * q) = ot(s, j) * os(s, q);
        } else {
          O(s, q) = ot(s, q - N);
        }
      });
}

}  // namespace prism::nqs

namespace prism::nqs {

// Exact, order-independent column sums: out(k) = sum_s round(O(s,k) x(s) * scale)
// in 64-bit integers.  Integer addition is associative, so the result is the
// same for any split of the samples over ranks, teams or threads.
template <class Exec>
void fixed_point_projection(Exec const& space, Matrix const& O, Vector const& x, double scale,
                            Kokkos::View<std::int64_t*> const& out) {
  const int S = int(O.extent(0));
  using Team = typename Kokkos::TeamPolicy<Exec>::member_type;
  Kokkos::parallel_for(
      "nqs::fixed_point_projection", Kokkos::TeamPolicy<Exec>(space, int(O.extent(1)), Kokkos::AUTO),
      KOKKOS_LAMBDA(const Team& team) {
        const int k = team.league_rank();
        std::int64_t sum = 0;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, S),
            [&](const int s, std::int64_t& acc) {
              const double v = O(s, k) * x(s) * scale;
              acc += static_cast<std::int64_t>(v >= 0 ? v + 0.5 : v - 0.5);
            },
            sum);
        Kokkos::single(Kokkos::PerTeam(team), [&]() { out(k) = sum; });
      });
}

// y(s) = sum_k O(s,k) v(k), one sample per thread, columns in a fixed order
// (threads of neighbouring samples read neighbouring addresses of LayoutLeft O).
template <class Exec>
void row_products(Exec const& space, Matrix const& O, Vector const& v, Vector const& y) {
  const int P = int(O.extent(1));
  Kokkos::parallel_for(
      "nqs::row_products", Kokkos::RangePolicy<Exec>(space, 0, O.extent(0)), KOKKOS_LAMBDA(const int s) {
        double acc = 0;
        for (int k = 0; k < P; ++k) acc += O(s, k) * v(k);
        y(s) = acc;
      });
}

}  // namespace prism::nqs

namespace prism::nqs {
// O(s, k) -= mean(k) for every sample s.
template <class Exec>
void centre_columns(Exec const& space, Matrix const& O, Vector const& mean) {
  Kokkos::parallel_for(
      "nqs::centre_columns",
      Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {int(O.extent(0)), int(O.extent(1))}),
      KOKKOS_LAMBDA(const int s, const int k) { O(s, k) -= mean(k); });
}
}  // namespace prism::nqs
