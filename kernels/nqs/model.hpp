#pragma once
// The restricted Boltzmann machine wave function on device views: its
// parameters, the Hamiltonian it is sampled for, the sampler's tables and
// prefactors (build_tables), the chains' angles (refresh_angles), and the
// model as the lanes of one chain read it (SamplerCore).
//   log psi(s) = sum_i a_i s_i + sum_j log cosh(theta_j),  theta_j = b_j + sum_i W_ji s_i
// Parameters live in one flat vector p = [a (N), b (M), W (M x N, column-major)].
// Amplitude ratios, with C_k = prod_j cosh 2W_jk and the brackets of moves.hpp:
//   flip of site k (spin s):  psi'/psi = exp(log C_k - 2 a_k s) * prod_j bracket_j
//   exchange of k (s), l (-s): psi'/psi = exp(log C_k + log C_l - 2 s (a_k - a_l)) * prod_j bracket_j
#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/nqs/moves.hpp"
#include "kernels/nqs/types.hpp"

namespace prism::nqs {

// Largest |log prefactor| for which exp(prefactor) times a product of M
// brackets cannot overflow on its way to a finite ratio.
inline constexpr double linear_prefactor_limit = 300.0;

// The part of the model that does not depend on the sampler's precision:
// the Hamiltonian, the parameters and the per-site prefactors (double).
struct RbmCommon {
  int N = 0, M = 0, n_bonds = 0;
  int n_bonds2 = 0;  // next-nearest-neighbour bonds (J1-J2), after the n_bonds nearest in bond_i, bond_j
  // Rows of the sampler's tables and of the chains' angle rows: M rounded up
  // to a multiple of the lanes per chain.  Rows j >= M hold zeros, a unit
  // whose bracket is 1 and whose angle stays 0, so the lanes of a chain run
  // the same unit count with no bounds test.
  int Mp = 0;
  Move move = Move::single_flip;
  bool tfim = true;
  double J = 1, h = 0, Delta = 1, J2 = 0;
  double offdiag_sign = 1;  // -1 with the Marshall sign rule
  Vector a, b;
  Matrix W;                 // (M, N), unmanaged view into the parameter vector
  Matrix log_pref;          // (N, 2): log C_k - 2 a_k s, column 0 for s = +1, 1 for s = -1
  Matrix pref;              // (N, 2): exp(log_pref)
  bool log_domain = false;  // some |log_pref| > linear_prefactor_limit: combine in logs
  double widest_2w = 0;     // max |2 W|, from build_tables
  IndexVector bond_i, bond_j;
};

// Largest |2 W| for which the float tables are used.  1 - tanh 6 = 1.2e-5 is
// still 200 float roundings away from 1, so brackets near 0 keep a few
// digits; beyond it (or with prefactors too wide for linear products) the
// driver samples that iteration in double.
inline constexpr double float_table_limit = 6.0;
inline bool fits_float(RbmCommon const& m) {
  return !m.log_domain && m.widest_2w <= float_table_limit;
}

// Everything a chain needs to propose, accept and measure.  The tables the
// proposals read (T, and W for the angle updates) are in precision Real;
// parameters, prefactors and the products of brackets over all units stay
// in double.
template <class Real>
struct RbmModel : RbmCommon {
  Table<Real> Wr;  // (Mp, N): W in precision Real
  Table<Real> T;   // (Mp, N): tanh 2W

  KOKKOS_INLINE_FUNCTION static int column(double s) { return s > 0 ? 0 : 1; }
  // psi'/psi from the product of brackets over all hidden units.
  // The linear prefactors (used where !log_domain).
  KOKKOS_INLINE_FUNCTION double flip_prefactor(int k, double sk) const { return pref(k, column(sk)); }
  KOKKOS_INLINE_FUNCTION double exchange_prefactor(int k, int l, double sk) const {
    const int ck = column(sk);
    return pref(k, ck) * pref(l, 1 - ck);  // site l holds -sk
  }
  KOKKOS_INLINE_FUNCTION double flip_ratio_from(double product, int k, double sk) const {
    if (!log_domain) return product * flip_prefactor(k, sk);
    return kmath::exp(log_pref(k, column(sk)) + kmath::log(product > 0 ? product : 0.0));
  }
  KOKKOS_INLINE_FUNCTION double exchange_ratio_from(double product, int k, int l, double sk) const {
    if (!log_domain) return product * exchange_prefactor(k, l, sk);
    const int ck = column(sk);
    return kmath::exp(log_pref(k, ck) + log_pref(l, 1 - ck) + kmath::log(product > 0 ? product : 0.0));
  }

  // Serial ratios for one configuration (checks and tests), with the same
  // brackets as the sampler.
  template <class Spins, class Tanh>
  KOKKOS_INLINE_FUNCTION double flip_ratio(const Spins& s, const Tanh& t, int c, int k) const {
    const double sk = s(c, k);
    double p = 1.0;
    for (int j = 0; j < M; ++j) p *= flip_bracket<Real>(T(j, k), Real(sk * t(c, j)));
    return flip_ratio_from(p, k, sk);
  }
  // Exchange of sites k and l, whose spins differ (any pair, not only bonds).
  template <class Spins, class Tanh>
  KOKKOS_INLINE_FUNCTION double pair_exchange_ratio(const Spins& s, const Tanh& t, int c, int k,
                                                    int l) const {
    const double sk = s(c, k);
    double p = 1.0;
    for (int j = 0; j < M; ++j) p *= exchange_bracket<Real>(T(j, k), T(j, l), Real(sk * t(c, j)));
    return exchange_ratio_from(p, k, l, sk);
  }
  template <class Spins, class Tanh>
  KOKKOS_INLINE_FUNCTION double exchange_ratio(const Spins& s, const Tanh& t, int c, int bond) const {
    return pair_exchange_ratio(s, t, c, bond_i(bond), bond_j(bond));
  }
};

// theta = b + W s and tanh(theta) from scratch for every chain.  Work item
// c M + j: neighbouring threads take neighbouring j, so the loads of W(j, i)
// and the stores of a chain's row are contiguous.
template <class Exec, class Real, class Spins, class Angles>
void refresh_angles(Exec const& space, RbmModel<Real> const& m, Spins const& spins, Angles const& theta,
                    Angles const& tanh_theta) {
  static_assert(Kokkos::SpaceAccessibility<Exec, typename Spins::memory_space>::accessible &&
                    Kokkos::SpaceAccessibility<Exec, typename Angles::memory_space>::accessible,
                "nqs::refresh_angles: views not reachable from the execution space");
  using R = typename Angles::value_type;
  const int N = m.N, M = m.M;
  const auto W = m.W;
  const auto b = m.b;
  Kokkos::parallel_for(
      "nqs::refresh_angles",
      Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(space, 0, std::int64_t(spins.extent(0)) * M),
      KOKKOS_LAMBDA(const std::int64_t item) {
        const int c = int(item / M), j = int(item % M);
        double th = b(j);
        for (int i = 0; i < N; ++i) th += W(j, i) * spins(c, i);
        theta(c, j) = R(th);
        tanh_theta(c, j) = R(kmath::tanh(th));
      });
}

// T = tanh 2W and W in the sampler's precision (rows j < M; the padding
// rows stay zero from allocation) and the per-site
// prefactors, after every parameter update.  log C_k is summed over j in a
// fixed order, so every rank gets the same bits.
template <class Exec, class Real>
void build_tables(Exec const& space, RbmModel<Real>& m) {
  const auto W = m.W;
  const auto T = m.T;
  const auto Wr = m.Wr;
  const auto a = m.a;
  const auto lp = m.log_pref, pf = m.pref;
  const int N = m.N, M = m.M;
  Kokkos::parallel_for(
      "nqs::tanh_table", Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {M, N}),
      KOKKOS_LAMBDA(const int j, const int i) {
        T(j, i) = Real(kmath::tanh(2.0 * W(j, i)));
        Wr(j, i) = Real(W(j, i));
      });
  double widest = 0;
  Kokkos::parallel_reduce(
      "nqs::prefactors", Kokkos::RangePolicy<Exec>(space, 0, N),
      KOKKOS_LAMBDA(const int k, double& w) {
        double log_c = 0;  // sum_j log cosh 2W_jk, overflow-free
        for (int j = 0; j < M; ++j) {
          const double x = kmath::fabs(2.0 * W(j, k));
          log_c += x + kmath::log1p(kmath::exp(-2.0 * x)) - M_LN2;
        }
        for (int col = 0; col < 2; ++col) {
          const double s = col == 0 ? 1.0 : -1.0;
          lp(k, col) = log_c - 2.0 * a(k) * s;
          pf(k, col) = kmath::exp(lp(k, col));
          w = w > kmath::fabs(lp(k, col)) ? w : kmath::fabs(lp(k, col));
        }
      },
      Kokkos::Max<double>(widest));
  m.log_domain = !(widest <= linear_prefactor_limit);
  double widest_2w = 0;
  Kokkos::parallel_reduce(
      "nqs::widest_weight", Kokkos::RangePolicy<Exec>(space, 0, N),
      KOKKOS_LAMBDA(const int k, double& w) {
        for (int j = 0; j < M; ++j) w = w > kmath::fabs(2.0 * W(j, k)) ? w : kmath::fabs(2.0 * W(j, k));
      },
      Kokkos::Max<double>(widest_2w));
  m.widest_2w = widest_2w;
}

// The model as the V lanes of one chain read it, for one move type and
// compiled unit count U (see for_units): a lane's view of a table column,
// one unit's bracket and the ratio from a product.  The sampler and the
// local energies build on it.
template <class Exec, Move move, int U, class Real>
struct SamplerCore {
  static constexpr bool flip = move == Move::single_flip;
  static constexpr int V = lanes_per_chain<Exec>;
  using Lanes = LaneGroup<V>;
  // A lane's product of brackets: in Real over at most U (<= 16) units,
  // where each bracket lies in [0, 2]; in double over an unbounded count.
  // The product over lanes is always taken in double.
  using Acc = std::conditional_t<U == 0, double, Real>;

  RbmModel<Real> m;

  // This lane's first unit of column k of an (Mp, N) LayoutLeft table.
  KOKKOS_INLINE_FUNCTION const Real* column(Table<Real> const& t, int k, int lane) const {
    return t.data() + (std::size_t(k) * m.Mp + lane);
  }
  KOKKOS_INLINE_FUNCTION Real bracket(const Real* Tk, const Real* Tl, int o, Real s_t) const {
    if constexpr (flip) {
      (void)Tl;
      return flip_bracket(Tk[o], s_t);
    } else {
      return exchange_bracket(Tk[o], Tl[o], s_t);
    }
  }
  KOKKOS_INLINE_FUNCTION double linear_prefactor(int k, int l, double sk) const {
    if constexpr (flip) {
      (void)l;
      return m.flip_prefactor(k, sk);
    } else {
      return m.exchange_prefactor(k, l, sk);
    }
  }
  KOKKOS_INLINE_FUNCTION double ratio_from(double product, int k, int l, double sk) const {
    if constexpr (flip) {
      (void)l;
      return m.flip_ratio_from(product, k, sk);
    } else {
      return m.exchange_ratio_from(product, k, l, sk);
    }
  }
};

}  // namespace prism::nqs
