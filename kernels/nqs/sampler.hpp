#pragma once
// Metropolis sampling of many RBM chains for one iteration (sample_chains):
// the plain kernel and the speculative GPU kernel (ChainSampler), which
// store the same bits, dispatched on the move type and on the compiled
// number of hidden units per lane.
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/nqs/local_energy.hpp"
#include "kernels/nqs/model.hpp"
#include "kernels/nqs/moves.hpp"
#include "kernels/nqs/tuning.hpp"
#include "kernels/nqs/types.hpp"

namespace prism::nqs {

// Whether the speculative sampler exists: GPUs, compiled unit counts.
template <class Exec, int U>
inline constexpr bool has_speculative_sampler = U > 0 && 1 < lanes_per_chain<Exec>;

// Runs `thermalization` sweeps, then samples_per_chain samples each
// `sweeps_per_sample` sweeps apart (a sweep is N proposals), recording the
// spins and tanh(theta) of every sample, and its local energy (or leaving
// that to LocalEnergies: see separate_energies).
// Each chain is V consecutive work items (lanes); lane `lane` owns hidden
// units j = lane, lane + V, ...  of the chain's theta and tanh rows, which
// stay in L1.  The kernel is compiled per move type, so neither carries
// the other's branches.
//
// Speculative (GPU, compiled unit count): the ratio also forms the move's
// new angles and tanh values, keeping them in registers, so that their
// loads and divisions fill the latency of the lane reduction and an
// accepted move only stores them.  That pays where most proposals are
// accepted and costs where few are (the work for a rejected move is
// wasted), so the driver asks for it by the last acceptance rate
// (speculation_threshold).  Both kernels store the same bits.
template <class Exec, Move move, int U, class Real, bool Speculative = false>
struct ChainSampler : SamplerCore<Exec, move, U, Real> {
  using Core = SamplerCore<Exec, move, U, Real>;
  using Core::flip, Core::V, Core::m, Core::column, Core::bracket, Core::ratio_from;
  using typename Core::Lanes, typename Core::Acc;
  static_assert(!Speculative || has_speculative_sampler<Exec, U>);
  using Policy = BoundedRange<Exec, Speculative ? speculative_min_blocks : sampler_min_blocks>;
  // Local energies by the LocalEnergies kernel (GPU, compiled unit count),
  // or here, right after each sample is recorded.
  static constexpr bool separate_energies = V > 1 && U > 0;
  static constexpr Real limit = Real(tanh_update_limit<Real>);

  // A proposal's new angles and tanh values (speculative kernel), and the
  // units whose |theta| is too large for the tanh update (one bit each).
  struct Pending {
    Real th[Speculative ? U : 1];
    Real t[Speculative ? U : 1];
    std::uint32_t exact = 0;
  };

  ChainState<Real> st;
  SampleBuffers out;
  std::uint64_t seed;
  std::uint32_t iteration;
  std::int64_t chain_offset;
  int thermalization, sweeps_per_sample, samples_per_chain;
  int C;

  // psi'/psi of moving site k (and l) with spin sk: product of the brackets
  // over this lane's units, then over the lanes.  `tt` is this lane's first
  // unit of the chain's tanh row.
  // The speculative kernel also fills `next` (this lane's units).
  KOKKOS_INLINE_FUNCTION double ratio(Lanes const& g, const Real* th, const Real* tt, int k, int l, Real sk,
                                      Pending& next) const {
    const Real* Tk = column(m.T, k, g.lane);
    const Real* Tl = flip ? Tk : column(m.T, l, g.lane);
    if constexpr (!Speculative) {
      (void)th;
      (void)next;
      Acc p = 1;
      for_units<V, U>(g.lane, m.Mp, [&](int o) { p *= Acc(bracket(Tk, Tl, o, sk * tt[o])); });
      return ratio_from(g.product(double(p)), k, l, sk);
    } else {
      const Real* Wk = column(m.Wr, k, g.lane);
      const Real* Wl = flip ? Wk : column(m.Wr, l, g.lane);
      // The prefactor's loads go out before the unit loop, not after the reduction.
      const double pf = m.log_domain ? 0.0 : this->linear_prefactor(k, l, sk);
      Acc p = 1;
      for_units<V, U>(g.lane, m.Mp, [&](int o) {
        const Real t = tt[o], tk = Tk[o], tl = flip ? Real(0) : Tl[o];
        p *= Acc(bracket(Tk, Tl, o, sk * t));
        next.t[o / V] = moved_tanh(tk, tl, sk, t);
        const Real old = th[o];
        next.th[o / V] = moved_angle(old, Wk, Wl, o, sk);
        next.exact |= std::uint32_t(!(kmath::fabs(old) < limit)) << (o / V);
      });
      const double q = g.product(double(p));
      return m.log_domain ? ratio_from(q, k, l, sk) : q * pf;
    }
  }

  // theta_j and its tanh (from tanh theta_j = t, for small |theta_j|)
  // after moving site k (and l) with spin sk; both kernels call these.
  KOKKOS_INLINE_FUNCTION static Real moved_angle(Real old, const Real* Wk, const Real* Wl, int o, Real sk) {
    return old - Real(2) * sk * (flip ? Wk[o] : Wk[o] - Wl[o]);
  }
  // (tk, tl: the unit's table entries, tl = 0 for flips.)
  KOKKOS_INLINE_FUNCTION static Real moved_tanh(Real tk, Real tl, Real sk, const Real& t) {
    return tanh_after_move<Real>(flip ? Real(1) : Real(1) - tk * tl, tk - tl, sk, t);
  }

  // Moves site k (and l) of chain c: angles, their tanh (from the bracket,
  // or exactly where |theta| was too large for the update) and the spins.
  KOKKOS_INLINE_FUNCTION void accept(Lanes const& g, Real* th, Real* tt, int c, int k, int l, Real sk,
                                     Pending const& next) const {
    // Units that need the exact tanh, one bit per unit of this lane, taken
    // after the loop, so that the loop stays straight code (U > 0).
    std::uint32_t exact = next.exact;
    if constexpr (Speculative) {
      for_units<V, U>(g.lane, m.Mp, [&](int o) {
        th[o] = next.th[o / V];
        tt[o] = next.t[o / V];
      });
    } else {
      const Real* Tk = column(m.T, k, g.lane);
      const Real* Wk = column(m.Wr, k, g.lane);
      const Real* Tl = flip ? Tk : column(m.T, l, g.lane);
      const Real* Wl = flip ? Wk : column(m.Wr, l, g.lane);
      for_units<V, U>(g.lane, m.Mp, [&](int o) {
        const Real old = th[o];
        const Real tk = Tk[o], tl = flip ? Real(0) : Tl[o];  // loaded before the store to th
        th[o] = moved_angle(old, Wk, Wl, o, sk);
        if (kmath::fabs(old) < limit) {
          tt[o] = moved_tanh(tk, tl, sk, tt[o]);
        } else if constexpr (U == 0) {
          tt[o] = kmath::tanh(th[o]);
        } else {
          exact |= 1u << (o / V);
        }
      });
    }
    if constexpr (U > 0) {
      static_assert(U <= 32, "one bit per unit of a lane");
      for (int i = 0; exact != 0; ++i, exact >>= 1)
        if (exact & 1u) tt[i * V] = kmath::tanh(th[i * V]);
    }
    // Every lane writes the same values; each lane reads only what it wrote.
    st.spins(c, k) = static_cast<std::int8_t>(-sk);
    if constexpr (!flip) st.spins(c, l) = static_cast<std::int8_t>(sk);
  }

  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t item) const {
    const Lanes g(item);
    const int c = int(item / V);
    // This lane's first unit of the chain's angle rows.
    Real* th = &st.theta(c, 0) + g.lane;
    Real* tt = &st.tanh_theta(c, 0) + g.lane;
    ProposalStream rs{seed, static_cast<std::uint32_t>(chain_offset + c), iteration};
    const auto s = st.spins;
    const int N = m.N;
    const auto range = static_cast<std::uint32_t>(flip ? N : m.n_bonds);
    std::uint32_t q = 0;
    std::int64_t n_acc = 0;
    auto propose = [&]() {
      int k, l;
      double u;
      rs.next_move(g, q++, range, flip, m.bond_i, m.bond_j, k, l, u);
      const Real sk = s(c, k);
      if (!flip && sk == s(c, l)) return;  // exchange of equal spins: no move
      Pending next;
      const double r = ratio(g, th, tt, k, l, sk, next);
      if (u < r * r) {
        accept(g, th, tt, c, k, l, sk, next);
        ++n_acc;
      }
    };
    for (int p = 0; p < thermalization * N; ++p) propose();
    for (int k = 0; k < samples_per_chain; ++k) {
      for (int p = 0; p < sweeps_per_sample * N; ++p) propose();
      // Exact tanh for the record and the local energy.
      const int row = c * samples_per_chain + k;
      for_units<V, U>(g.lane, m.Mp, [&](int o) {
        tt[o] = kmath::tanh(th[o]);
        if (g.lane + o < m.M) out.tanh_theta(row, g.lane + o) = double(tt[o]);
      });
      for (int i = g.lane; i < N; i += V) out.spins(row, i) = s(c, i);
      if constexpr (!separate_energies)
        out.local_energy(row) = nqs::local_energy(
            *this, g, [&](int i) { return s(c, i); }, [&](int o) { return tt[o]; });
    }
    if (g.lane == 0) {
      st.accepted(c) = n_acc;
      st.proposed(c) = std::int64_t(q);
    }
  }

  void launch(Exec const& space) const {
    Kokkos::parallel_for("nqs::sample_chains", Policy(space, 0, std::int64_t(C) * V), *this);
  }
};

// Samples every chain of this rank for one iteration with U units per lane
// (see ChainSampler), speculatively where `speculate` and the kernel exists
// (returns whether it did), then takes the local energies (LocalEnergies)
// where the sampler leaves them.
template <class Exec, Move move, int U, class Real>
bool launch_bounded(Exec const& space, RbmModel<Real> const& m, ChainState<Real> const& st,
                    SampleBuffers const& out, std::uint64_t seed, std::uint32_t iteration,
                    std::int64_t chain_offset, int thermalization, int sweeps_per_sample,
                    int samples_per_chain, bool speculate) {
  const auto run = [&](auto spec) {
    ChainSampler<Exec, move, U, Real, decltype(spec)::value>{{m},
                                                             st,
                                                             out,
                                                             seed,
                                                             iteration,
                                                             chain_offset,
                                                             thermalization,
                                                             sweeps_per_sample,
                                                             samples_per_chain,
                                                             int(st.spins.extent(0))}
        .launch(space);
  };
  bool speculated = false;
  if constexpr (has_speculative_sampler<Exec, U>) {
    if (speculate)
      run(std::true_type{});
    else
      run(std::false_type{});
    speculated = speculate;
  } else {
    (void)speculate;
    run(std::false_type{});
  }
  if constexpr (ChainSampler<Exec, move, U, Real>::separate_energies)
    LocalEnergies<Exec, move, U, Real>{{m}, out}.launch(space);
  return speculated;
}

// The same for one move type, with the unit count compiled for the model's
// padded units (unit_bound), or the general loop.
template <class Exec, Move move, class Real>
bool launch_sampler(Exec const& space, RbmModel<Real> const& m, ChainState<Real> const& st,
                    SampleBuffers const& out, std::uint64_t seed, std::uint32_t iteration,
                    std::int64_t chain_offset, int thermalization, int sweeps_per_sample,
                    int samples_per_chain, bool speculate) {
  constexpr int V = lanes_per_chain<Exec>;
  // The tables and angle rows must have been padded for this space's lanes.
  if (m.Mp % V != 0 || m.Mp < m.M || int(m.T.extent(0)) != m.Mp || int(m.Wr.extent(0)) != m.Mp ||
      int(st.theta.extent(1)) != m.Mp || int(st.tanh_theta.extent(1)) != m.Mp)
    throw std::logic_error("nqs sampler: tables not padded to the lanes per chain");
  const auto go = [&](auto bound) {
    return launch_bounded<Exec, move, decltype(bound)::value, Real>(
        space, m, st, out, seed, iteration, chain_offset, thermalization, sweeps_per_sample,
        samples_per_chain, speculate);
  };
  const int U = unit_bound<V>(m.Mp);
  if constexpr (V == 1) {
    if (U == 16) return go(std::integral_constant<int, 16>{});
  } else {
    // U = 1 ... max_unit_count, one compiled kernel each.
    bool done = false, speculated = false;
    [&]<int... u>(std::integer_sequence<int, u...>) {
      ((U == u + 1 ? (speculated = go(std::integral_constant<int, u + 1>{}), done = true) : false), ...);
    }
    (std::make_integer_sequence<int, max_unit_count>{});
    if (done) return speculated;
  }
  return go(std::integral_constant<int, 0>{});
}

// Samples every chain of this rank for one iteration (see ChainSampler).
// The random numbers of chain g at proposal q of iteration `iteration` do
// not depend on the rank that runs the chain.  `speculate` asks for the
// speculative GPU kernel (same results; faster where most proposals are
// accepted; ignored where there is none); returns whether it ran.
template <class Exec, class Real>
bool sample_chains(Exec const& space, RbmModel<Real> const& m, ChainState<Real> const& st,
                   SampleBuffers const& out, std::uint64_t seed, std::uint32_t iteration,
                   std::int64_t chain_offset, int thermalization, int sweeps_per_sample,
                   int samples_per_chain, bool speculate = false) {
  static_assert(Kokkos::SpaceAccessibility<Exec, typename ChainSpins::memory_space>::accessible,
                "nqs::sample_chains: views not reachable from the execution space");
  if (m.move == Move::single_flip)
    return launch_sampler<Exec, Move::single_flip>(space, m, st, out, seed, iteration, chain_offset,
                                                   thermalization, sweeps_per_sample, samples_per_chain,
                                                   speculate);
  else
    return launch_sampler<Exec, Move::neighbour_exchange>(space, m, st, out, seed, iteration, chain_offset,
                                                          thermalization, sweeps_per_sample,
                                                          samples_per_chain, speculate);
}

}  // namespace prism::nqs
