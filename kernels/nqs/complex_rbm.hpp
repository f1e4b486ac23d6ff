#pragma once
// The RBM with complex parameters (nqs.parameters = "complex"), which learns
// the signs and phases of the wave function instead of taking them from a
// sign rule:
//   log psi(s) = sum_i a_i s_i + sum_j log cosh(theta_j),  theta_j = b_j + sum_i W_ji s_i,
// with a, b, W complex.  The parameters live in one real vector
// p = [Re w (P), Im w (P)], where w = [a (N), b (M), W (M x N, column-major)]
// is laid out as the real RBM's parameter vector.
//
// Sampling from |psi|^2: a move is accepted with probability
// min(1, exp(2 Re[log psi(s') - log psi(s)])).  Each chain keeps its angles
// theta_j and log cosh(theta_j), so a proposal costs one complex log cosh per
// hidden unit.  The V lanes of a chain (a warp on CUDA) take the units
// j = lane, lane + V, ... and combine their sums with exact lane reductions.
//
// This path is separate from the real one (model.hpp, sampler.hpp), whose
// tanh tables rely on real angles; neither carries the other's branches.
#include <Kokkos_Complex.hpp>
#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstdint>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/nqs/model.hpp"
#include "kernels/nqs/moves.hpp"
#include "kernels/nqs/observables.hpp"
#include "kernels/nqs/sr.hpp"
#include "kernels/nqs/types.hpp"

namespace prism::nqs {

using Complex = Kokkos::complex<double>;
// Per-chain complex rows (chain, hidden unit), LayoutRight as ChainTable.
using ComplexChainTable = Kokkos::View<Complex**, Kokkos::LayoutRight>;
// Per-sample complex rows (sample, hidden unit).
using ComplexTable = Kokkos::View<Complex**, Kokkos::LayoutLeft>;

namespace cmath {
KOKKOS_INLINE_FUNCTION Complex exp(Complex z) {
  double s, c;
  kmath::sincos(z.imag(), &s, &c);
  const double r = kmath::exp(z.real());
  return Complex(r * c, r * s);
}
// log cosh z without overflow: cosh is even, so take Re z >= 0; then
// cosh z = e^z (1 + w) / 2 with w = e^{-2z}, |w| <= 1.  The imaginary part
// is a phase, defined modulo 2 pi; only differences enter exp().
KOKKOS_INLINE_FUNCTION Complex log_cosh(Complex z) {
  if (z.real() < 0) z = -z;
  const Complex w = exp(-2.0 * z);
  const double re = 1.0 + w.real(), im = w.imag();
  return Complex(z.real() - M_LN2 + 0.5 * kmath::log1p(2.0 * w.real() + w.real() * w.real() + im * im),
                 z.imag() + kmath::atan2(im, re));
}
// tanh z = (1 - w) / (1 + w) with w = e^{-2|z|} (sign restored), |w| <= 1.
KOKKOS_INLINE_FUNCTION Complex tanh(Complex z) {
  const bool negative = z.real() < 0;
  if (negative) z = -z;
  const Complex w = exp(-2.0 * z);
  const Complex t = (1.0 - w) / (1.0 + w);
  return negative ? -t : t;
}
}  // namespace cmath

// The model as the kernels read it: the Hamiltonian and bonds of
// RbmCommon, whose a, b, W views hold the real parts, and the imaginary
// parts beside them.
struct ComplexRbm : RbmCommon {
  Vector a_im, b_im;
  Matrix W_im;  // (M, N)

  KOKKOS_INLINE_FUNCTION Complex a_at(int i) const { return Complex(a(i), a_im(i)); }
  KOKKOS_INLINE_FUNCTION Complex b_at(int j) const { return Complex(b(j), b_im(j)); }
  KOKKOS_INLINE_FUNCTION Complex W_at(int j, int i) const { return Complex(W(j, i), W_im(j, i)); }

  // The change of theta_j under the move of site k (and l, holding -sk):
  // -2 sk W_jk for a flip, -2 sk (W_jk - W_jl) for an exchange.
  KOKKOS_INLINE_FUNCTION Complex angle_shift(int j, int k, int l, bool flip, double sk) const {
    const Complex w = flip ? W_at(j, k) : W_at(j, k) - W_at(j, l);
    return -2.0 * sk * w;
  }
  KOKKOS_INLINE_FUNCTION Complex visible_shift(int k, int l, bool flip, double sk) const {
    const Complex d = flip ? a_at(k) : a_at(k) - a_at(l);
    return -2.0 * sk * d;
  }

  // log psi(s') - log psi(s) on the V lanes of one chain, from the angles
  // th(j) and their log cosh lc(j); the same bits in every lane.
  template <int V, class Th, class Lc>
  KOKKOS_INLINE_FUNCTION Complex log_ratio(LaneGroup<V> const& g, Th const& th, Lc const& lc, int k, int l,
                                           bool flip, double sk) const {
    double re = 0, im = 0;
    for (int j = g.lane; j < M; j += V) {
      const Complex d = cmath::log_cosh(th(j) + angle_shift(j, k, l, flip, sk)) - lc(j);
      re += d.real();
      im += d.imag();
    }
    return Complex(g.sum(re), g.sum(im)) + visible_shift(k, l, flip, sk);
  }

  // The local energy E_loc(s) = <s|H|psi> / <s|psi> (complex), with the
  // Hamiltonians of local_energy.hpp; spin(i) reads the configuration.
  template <int V, class Spin, class Th, class Lc>
  KOKKOS_INLINE_FUNCTION Complex local_energy(LaneGroup<V> const& g, Spin const& spin, Th const& th,
                                              Lc const& lc) const {
    int aligned = 0, aligned2 = 0;
    for (int e = 0; e < n_bonds; ++e) aligned += spin(bond_i(e)) * spin(bond_j(e));
    for (int e = n_bonds; e < n_bonds + n_bonds2; ++e) aligned2 += spin(bond_i(e)) * spin(bond_j(e));
    Complex off(0, 0), off2(0, 0);
    if (tfim) {
      for (int k = 0; k < N; ++k) off += cmath::exp(log_ratio(g, th, lc, k, k, true, spin(k)));
      return Complex(-J * double(aligned), 0.0) - h * off;
    }
    for (int e = 0; e < n_bonds + n_bonds2; ++e) {
      const int k = bond_i(e), l = bond_j(e);
      if (spin(k) == spin(l)) continue;
      const Complex r = cmath::exp(log_ratio(g, th, lc, k, l, false, spin(k)));
      (e < n_bonds ? off : off2) += r;
    }
    return Complex(0.25 * J * Delta * double(aligned) + 0.25 * J2 * Delta * double(aligned2), 0.0) +
           (0.5 * J * offdiag_sign) * off + (0.5 * J2) * off2;
  }
};

// The chains between iterations: spins (shared with the real path's
// layout), angles and their log cosh, acceptance counters.
struct ComplexChainState {
  ChainSpins spins;                // (chains, N)
  ComplexChainTable theta, lcosh;  // (chains, M)
  CountVector accepted, proposed;
};

// What a complex sampling iteration records beyond SampleBuffers::spins and
// the real parts of the local energies: the angles of every sample and the
// imaginary parts of the local energies.
struct ComplexSamples {
  ComplexTable theta;      // (samples, M)
  Vector local_energy_im;  // (samples)
};

// theta = b + W s and log cosh theta from scratch for every chain.
template <class Exec>
void refresh_complex_angles(Exec const& space, ComplexRbm const& m, ComplexChainState const& st) {
  const int N = m.N, M = m.M;
  const auto spins = st.spins;
  const auto theta = st.theta, lc = st.lcosh;
  Kokkos::parallel_for(
      "nqs::complex_angles",
      Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(space, 0, std::int64_t(spins.extent(0)) * M),
      KOKKOS_LAMBDA(const std::int64_t item) {
        const int c = int(item / M), j = int(item % M);
        Complex th = m.b_at(j);
        for (int i = 0; i < N; ++i) th += double(spins(c, i)) * m.W_at(j, i);
        theta(c, j) = th;
        lc(c, j) = cmath::log_cosh(th);
      });
}

// Metropolis sampling of every chain for one iteration, as ChainSampler
// does for the real RBM: the same proposals (ProposalStream: the random
// numbers of chain g at proposal q do not depend on the rank or the lane
// count), `thermalization` sweeps, then samples_per_chain samples
// sweeps_per_sample sweeps apart, each recorded with its angles and its
// complex local energy.
template <class Exec>
struct ComplexChainSampler {
  static constexpr int V = lanes_per_chain<Exec>;
  using Lanes = LaneGroup<V>;

  ComplexRbm m;
  ComplexChainState st;
  SampleBuffers out;
  ComplexSamples cs;
  std::uint64_t seed;
  std::uint32_t iteration;
  std::int64_t chain_offset;
  int thermalization, sweeps_per_sample, samples_per_chain;

  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t item) const {
    const Lanes g(item);
    const int c = int(item / V);
    const bool flip = m.move == Move::single_flip;
    const auto s = st.spins;
    auto th = [&](int j) { return st.theta(c, j); };
    auto lc = [&](int j) { return st.lcosh(c, j); };
    ProposalStream rs{seed, static_cast<std::uint32_t>(chain_offset + c), iteration};
    const int N = m.N, M = m.M;
    const auto range = static_cast<std::uint32_t>(flip ? N : m.n_bonds);
    std::uint32_t q = 0;
    std::int64_t n_acc = 0;
    auto propose = [&]() {
      int k, l;
      double u;
      rs.next_move(g, q++, range, flip, m.bond_i, m.bond_j, k, l, u);
      const double sk = s(c, k);
      if (!flip && sk == s(c, l)) return;
      const double log_r = m.log_ratio(g, th, lc, k, l, flip, sk).real();
      // |psi'/psi|^2 = exp(2 Re log_r); u < that, written so that a huge
      // ratio is accepted without overflow.
      if (log_r >= 0 || u < kmath::exp(2.0 * log_r)) {
        for (int j = g.lane; j < M; j += V) {
          const Complex t = st.theta(c, j) + m.angle_shift(j, k, l, flip, sk);
          st.theta(c, j) = t;
          st.lcosh(c, j) = cmath::log_cosh(t);
        }
        // Every lane writes the same values; each lane reads only what it wrote.
        s(c, k) = static_cast<std::int8_t>(-sk);
        if (!flip) s(c, l) = static_cast<std::int8_t>(sk);
        ++n_acc;
      }
    };
    for (int p = 0; p < thermalization * N; ++p) propose();
    for (int k = 0; k < samples_per_chain; ++k) {
      for (int p = 0; p < sweeps_per_sample * N; ++p) propose();
      const int row = c * samples_per_chain + k;
      for (int j = g.lane; j < M; j += V) cs.theta(row, j) = st.theta(c, j);
      for (int i = g.lane; i < N; i += V) out.spins(row, i) = s(c, i);
      const Complex e = m.local_energy(
          g, [&](int i) { return double(s(c, i)); }, th, lc);
      if (g.lane == 0) {
        out.local_energy(row) = e.real();
        cs.local_energy_im(row) = e.imag();
      }
    }
    if (g.lane == 0) {
      st.accepted(c) = n_acc;
      st.proposed(c) = std::int64_t(q);
    }
  }

  void launch(Exec const& space) const {
    Kokkos::parallel_for("nqs::sample_complex_chains",
                         Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(
                             space, 0, std::int64_t(st.spins.extent(0)) * V),
                         *this);
  }
};

// The SR matrix of the complex RBM in its real form.  With O = A + iB the
// complex log-derivatives (samples x P) and real parameters x = Re w,
// y = Im w (d log psi / dx = O, d log psi / dy = i O), the energy gradient
// and the SR matrix over the 2P real parameters are those of the real matrix
//   R = [ A  -B ]   (rows 0 .. S-1:   real parts)
//       [ B   A ]   (rows S .. 2S-1:  imaginary parts)
// after centring A and B over the samples: S = R^T R / Ns and
// F = R^T [Re eps; Im eps] / Ns with eps = E_loc - <E>, so the real solver
// runs unchanged on R.  This fills A and B (columns 0 .. P-1) from the
// samples: a: s_i, b: tanh theta_j, W(j, i): tanh theta_j s_i.
template <class Exec>
void build_complex_log_derivatives(Exec const& space, SampleBuffers const& smp, ComplexSamples const& cs,
                                   int N, int M, Matrix const& R) {
  const int S = int(smp.spins.extent(0));
  const auto os = smp.spins;
  const auto th = cs.theta;
  Kokkos::parallel_for(
      "nqs::complex_log_derivatives", Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {S, N + M}),
      KOKKOS_LAMBDA(const int s, const int q) {
        if (q < N) {
          R(s, q) = os(s, q);
          R(S + s, q) = 0.0;
        } else {
          const Complex t = cmath::tanh(th(s, q - N));
          R(s, q) = t.real();
          R(S + s, q) = t.imag();
        }
      });
  Kokkos::parallel_for(
      "nqs::complex_log_derivatives_W", Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {S, M}),
      KOKKOS_LAMBDA(const int s, const int j) {
        const double tr = R(s, N + j), ti = R(S + s, N + j);
        for (int i = 0; i < N; ++i) {
          R(s, N + M + j + M * i) = tr * os(s, i);
          R(S + s, N + M + j + M * i) = ti * os(s, i);
        }
      });
}

// The same for the translation-symmetric complex RBM (nqs.symmetry =
// "translation"): the left half of R holds the 1 + F + F N shared
// derivatives (shared_log_derivative in sr.hpp), with tanh theta of every
// sample and unit first stored in `tanh_theta` (samples, M).
template <class Exec>
void build_symmetric_complex_log_derivatives(Exec const& space, SampleBuffers const& smp,
                                             ComplexSamples const& cs, int N, int F, IndexVector const& shift,
                                             ComplexTable const& tanh_theta, Matrix const& R) {
  const int S = int(smp.spins.extent(0)), M = F * N;
  const auto os = smp.spins;
  const auto th = cs.theta;
  Kokkos::parallel_for(
      "nqs::complex_tanh", Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {S, M}),
      KOKKOS_LAMBDA(const int s, const int j) { tanh_theta(s, j) = cmath::tanh(th(s, j)); });
  Kokkos::parallel_for(
      "nqs::symmetric_complex_log_derivatives",
      Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {S, 1 + F + F * N}),
      KOKKOS_LAMBDA(const int s, const int q) {
        const Complex sum = shared_log_derivative<Complex>(os, tanh_theta, shift, N, F, s, q);
        R(s, q) = sum.real();
        R(S + s, q) = sum.imag();
      });
}

// Centres A and B (column means mean_re, mean_im over all ranks' samples)
// and fills the right half of R = [A -B; B A].
template <class Exec>
void complete_real_form(Exec const& space, Matrix const& R, Vector const& mean_re, Vector const& mean_im) {
  const int S = int(R.extent(0)) / 2, P = int(R.extent(1)) / 2;
  Kokkos::parallel_for(
      "nqs::complex_real_form", Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {S, P}),
      KOKKOS_LAMBDA(const int s, const int k) {
        const double a = R(s, k) - mean_re(k), b = R(S + s, k) - mean_im(k);
        R(s, k) = a;
        R(S + s, k) = b;
        R(s, P + k) = -b;
        R(S + s, P + k) = a;
      });
}

// Per-sample values of the observable columns (kernels/nqs/observables.hpp)
// for the complex RBM: the real parts of the same ratios (the observables
// are Hermitian, so their means are real up to the sampling noise).
template <class Exec>
void complex_observable_values(Exec const& space, ComplexRbm const& m, SampleBuffers const& smp,
                               ComplexSamples const& cs, ObservableColumns const& cols, int first, int count,
                               Matrix const& out) {
  const auto S = std::int64_t(out.extent(0));
  const auto n = std::int64_t(count);
  const auto spins = smp.spins;
  const auto theta = cs.theta;
  const auto kind = cols.kind;
  const auto ci = cols.i, cj = cols.j;
  const auto sign = cols.sign;
  Kokkos::parallel_for(
      "nqs::complex_observable_values",
      Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(space, 0, S * n),
      KOKKOS_LAMBDA(const std::int64_t item) {
        const int s = int(item % S), c = int(item / S);
        const int col = first + c;
        const int i = ci(col), j = cj(col);
        const auto k = ObservableKind(kind(col));
        double v;
        if (k == ObservableKind::zz) {
          v = double(spins(s, i) * spins(s, j));
        } else if (k == ObservableKind::exchange && spins(s, i) == spins(s, j)) {
          v = 0.0;
        } else {
          const bool flip = k == ObservableKind::flip;
          const LaneGroup<1> one(0);
          auto th = [&](int u) { return theta(s, u); };
          auto lc = [&](int u) { return cmath::log_cosh(theta(s, u)); };
          const double f = flip ? 1.0 : sign(col);
          v = f * cmath::exp(m.log_ratio(one, th, lc, i, flip ? i : j, flip, spins(s, i))).real();
        }
        out(s, c) = v;
      });
}

}  // namespace prism::nqs
