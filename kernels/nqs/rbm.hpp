#pragma once
// Restricted Boltzmann machine wave function on device views, and the
// Metropolis sampler with per-chain effective-angle tables.
//   log psi(s) = sum_i a_i s_i + sum_j log cosh(theta_j),  theta_j = b_j + sum_i W_ji s_i
// Parameters live in one flat vector p = [a (N), b (M), W (M x N, column-major)].
// Since s = +-1, cosh(theta - 2 W s)/cosh(theta) = cosh 2W - s tanh(theta) sinh 2W,
// so with tanh(theta) kept per chain a proposal costs three flops per hidden unit.
#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstdint>

#include "core/kokkos_compat.hpp"
#include "kernels/common/philox.hpp"

namespace prism::nqs {

using Vector = Kokkos::View<double*>;
using Matrix = Kokkos::View<double**, Kokkos::LayoutLeft>;
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
  Matrix W;                 // (M, N), unmanaged view into the parameter vector
  Matrix cosh2W, sinh2W;    // (M, N)
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
  template <class Spins, class Tanh>
  KOKKOS_INLINE_FUNCTION double local_energy(const Spins& s, const Tanh& t, int c) const {
    double diag = 0, off = 0;
    for (int e = 0; e < n_bonds; ++e) diag += s(c, bond_i(e)) * s(c, bond_j(e));
    if (tfim) {
      for (int k = 0; k < N; ++k) off += flip_ratio(s, t, c, k);
      return -J * diag - h * off;
    }
    for (int e = 0; e < n_bonds; ++e)
      if (s(c, bond_i(e)) != s(c, bond_j(e))) off += exchange_ratio(s, t, c, e);
    return 0.25 * J * Delta * diag + 0.5 * J * offdiag_sign * off;
  }
};

// theta = b + W s and tanh(theta) from scratch for every chain.
template <class Exec>
void refresh_angles(Exec const& space, RbmModel const& m, SpinMatrix const& spins, Matrix const& theta,
                    Matrix const& tanh_theta) {
  const int N = m.N, M = m.M;
  const auto W = m.W;
  const auto b = m.b;
  Kokkos::parallel_for(
      "nqs::refresh_angles", Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {int(spins.extent(0)), M}),
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
  SpinMatrix spins;  // (chains * samples_per_chain, N), sample = chain * spc + k
  Matrix tanh_theta; // (samples, M)
  Vector local_energy;  // (samples)
};

struct ChainState {
  SpinMatrix spins;   // (chains, N)
  Matrix theta, tanh_theta;  // (chains, M)
  CountVector accepted, proposed;  // per chain, this iteration
};

// Runs `thermalization` sweeps, then samples_per_chain samples each
// `sweeps_per_sample` sweeps apart (a sweep is N proposals), recording the
// spins, tanh(theta) and the local energy of every sample.  The random
// numbers of chain g at proposal q of iteration it are Philox(seed;
// g, it, q, stream): the same whatever rank runs the chain.
template <class Exec>
void sample_chains(Exec const& space, RbmModel const& m, ChainState const& st, SampleBuffers const& out,
                   std::uint64_t seed, std::uint32_t iteration, std::int64_t chain_offset, int thermalization,
                   int sweeps_per_sample, int samples_per_chain) {
  const auto spins = st.spins;
  const auto theta = st.theta;
  const auto tt = st.tanh_theta;
  const auto acc = st.accepted;
  const auto prop = st.proposed;
  const auto os = out.spins;
  const auto ot = out.tanh_theta;
  const auto oe = out.local_energy;
  Kokkos::parallel_for(
      "nqs::sample_chains", Kokkos::RangePolicy<Exec>(space, 0, spins.extent(0)), KOKKOS_LAMBDA(const int c) {
        const int N = m.N, M = m.M;
        const auto gid = static_cast<std::uint32_t>(chain_offset + c);
        std::uint32_t q = 0;
        std::int64_t n_acc = 0, n_prop = 0;
        auto propose = [&]() {
          const auto u = rng::philox(seed, gid, iteration, q++, nqs_stream);
          const double uniform = u.v[1] * 0x1p-32;
          ++n_prop;
          if (m.move == Move::single_flip) {
            const int k = static_cast<int>(u.v[0] % static_cast<std::uint32_t>(N));
            const double r = m.flip_ratio(spins, tt, c, k);
            if (uniform < r * r) {
              const double sk = spins(c, k);
              for (int j = 0; j < M; ++j) {
                theta(c, j) -= 2.0 * m.W(j, k) * sk;
                tt(c, j) = kmath::tanh(theta(c, j));
              }
              spins(c, k) = static_cast<std::int8_t>(-sk);
              ++n_acc;
            }
          } else {
            const int e = static_cast<int>(u.v[0] % static_cast<std::uint32_t>(m.n_bonds));
            const int k = m.bond_i(e), l = m.bond_j(e);
            if (spins(c, k) == spins(c, l)) return;  // exchange of equal spins: no move
            const double r = m.exchange_ratio(spins, tt, c, e);
            if (uniform < r * r) {
              const double sk = spins(c, k);  // s_l = -s_k
              for (int j = 0; j < M; ++j) {
                theta(c, j) -= 2.0 * (m.W(j, k) - m.W(j, l)) * sk;
                tt(c, j) = kmath::tanh(theta(c, j));
              }
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
          for (int i = 0; i < N; ++i) os(row, i) = spins(c, i);
          for (int j = 0; j < M; ++j) ot(row, j) = tt(c, j);
          oe(row) = m.local_energy(spins, tt, c);
        }
        acc(c) = n_acc;
        prop(c) = n_prop;
      });
}

// Log-derivatives O(s, k) = d log psi / d p_k of every sample:
// a: s_i, b: tanh theta_j, W(j,i): tanh theta_j * s_i.
template <class Exec>
void build_log_derivatives(Exec const& space, SampleBuffers const& smp, int N, int M, Matrix const& O) {
  const auto os = smp.spins;
  const auto ot = smp.tanh_theta;
  Kokkos::parallel_for(
      "nqs::log_derivatives", Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {int(O.extent(0)), N + M}),
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
