#pragma once
// Local energies of the spin Hamiltonians (TFIM, Heisenberg/XXZ) for an RBM:
// E_loc(s) = <s|H|psi> / <s|psi>, the diagonal part plus the amplitude
// ratio of every off-diagonal move, on the lanes of one chain; and the
// kernel that takes them for every recorded sample where the sampler
// leaves them (LocalEnergies).
#include <Kokkos_Core.hpp>
#include <cstdint>

#include "kernels/nqs/model.hpp"
#include "kernels/nqs/moves.hpp"
#include "kernels/nqs/tuning.hpp"
#include "kernels/nqs/types.hpp"

namespace prism::nqs {

// Local energy of one configuration: diagonal part plus the amplitude
// ratios of every off-diagonal move, energy_batch moves per pass over the
// units (their lane reductions overlap), summed in a fixed order.  spin(i)
// and tanh_at(o) (unit lane + o) read the configuration.
//   TFIM:       E = -J sum_<ij> s_i s_j - h sum_k psi(s^k)/psi(s)
//   Heisenberg: E = J Delta / 4 sum_<ij> s_i s_j + J sign / 2 sum_<ij>, s_i != s_j psi(s^ij)/psi(s)
//               + the same over the next-nearest bonds <<ij>> with J2 and sign +1
//               (J1-J2: a next-nearest pair is on one sublattice, so the
//               Marshall sign does not change under its exchange)
template <class Exec, Move move, int U, class Real, class Spin, class Tanh>
KOKKOS_INLINE_FUNCTION double local_energy(SamplerCore<Exec, move, U, Real> const& core,
                                           LaneGroup<lanes_per_chain<Exec>> const& g, Spin const& spin,
                                           Tanh const& tanh_at) {
  using Core = SamplerCore<Exec, move, U, Real>;
  using Acc = typename Core::Acc;
  constexpr bool flip = Core::flip;
  constexpr int V = Core::V;
  constexpr int B = energy_batch;
  auto const& m = core.m;
  int aligned = 0;
  for (int e = g.lane; e < m.n_bonds; e += V) aligned += spin(m.bond_i(e)) * spin(m.bond_j(e));
  const double diag = g.sum(aligned);
  double diag2 = 0;
  if (m.n_bonds2 > 0) {
    int aligned2 = 0;
    for (int e = m.n_bonds + g.lane; e < m.n_bonds + m.n_bonds2; e += V)
      aligned2 += spin(m.bond_i(e)) * spin(m.bond_j(e));
    diag2 = g.sum(aligned2);
  }
  const int terms = flip ? m.N : m.n_bonds + m.n_bonds2;
  double off = 0, off2 = 0;
  int next = 0;
  while (next < terms) {
    int kk[B] = {}, ll[B] = {};
    bool second[B] = {};  // a next-nearest (J2) bond
    Real sg[B] = {};
    Acc p[B];
    const Real* Tk[B];
    const Real* Tl[B];
    int n = 0;
    // The next B terms; b is a compile-time index after unrolling, so the
    // arrays stay in registers.
    for (int b = 0; b < B; ++b) {
      if constexpr (!flip)
        while (next < terms && spin(m.bond_i(next)) == spin(m.bond_j(next))) ++next;
      if (next < terms) {
        kk[b] = flip ? next : m.bond_i(next);
        ll[b] = flip ? next : m.bond_j(next);
        sg[b] = spin(kk[b]);
        second[b] = !flip && next >= m.n_bonds;
        n = b + 1;
        ++next;
      }
      Tk[b] = core.column(m.T, kk[b], g.lane);
      Tl[b] = core.column(m.T, ll[b], g.lane);
      p[b] = Acc(1);
    }
    for_units<V, U>(g.lane, m.Mp, [&](int o) {
      const Real t = tanh_at(o);
      for (int b = 0; b < B; ++b) p[b] *= Acc(core.bracket(Tk[b], Tl[b], o, sg[b] * t));
    });
    double q[B];
    for (int b = 0; b < B; ++b) q[b] = g.product(double(p[b]));
    for (int b = 0; b < B; ++b)
      if (b < n) (second[b] ? off2 : off) += core.ratio_from(q[b], kk[b], ll[b], sg[b]);
  }
  if constexpr (flip) return -m.J * diag - m.h * off;
  return 0.25 * m.J * m.Delta * diag + 0.5 * m.J * m.offdiag_sign * off +
         (m.n_bonds2 > 0 ? 0.25 * m.J2 * m.Delta * diag2 + 0.5 * m.J2 * off2 : 0.0);
}

// Local energy of every recorded sample on GPUs with a compiled unit count
// (M <= 256): one sample per V lanes, the lane's tanh values in registers.
// A kernel of its own, so that the sweeps do not carry its registers.
// Host backends, and the general loop for larger M, take the energy in the
// sampler, from the chain's own contiguous rows (the column-major sample
// buffers would cost a strided load per unit and move).
template <class Exec, Move move, int U, class Real>
struct LocalEnergies : SamplerCore<Exec, move, U, Real> {
  static_assert(U > 0 && lanes_per_chain<Exec> > 1, "see ChainSampler::separate_energies");
  using Core = SamplerCore<Exec, move, U, Real>;
  using Core::V, Core::m;
  using typename Core::Lanes;
  using Policy = BoundedRange<Exec, energy_min_blocks>;

  SampleBuffers out;

  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t item) const {
    const Lanes g(item);
    const int row = int(item / V);
    const auto s = out.spins;
    const auto ot = out.tanh_theta;
    // tanh theta of unit j = lane + o (0 in the padding), recorded in double
    // from the sampler's precision, so Real(...) gives back its exact bits.
    Real t_reg[U];
    for_units<V, U>(g.lane, m.Mp,
                    [&](int o) { t_reg[o / V] = g.lane + o < m.M ? Real(ot(row, g.lane + o)) : Real(0); });
    auto tanh_at = [&](int o) { return t_reg[o / V]; };
    const double energy = nqs::local_energy(
        *this, g, [&](int i) { return s(row, i); }, tanh_at);
    if (g.lane == 0) out.local_energy(row) = energy;
  }

  void launch(Exec const& space) const {
    const auto S = std::int64_t(out.local_energy.extent(0));
    Kokkos::parallel_for("nqs::local_energies", Policy(space, 0, S * V), *this);
  }
};

}  // namespace prism::nqs
