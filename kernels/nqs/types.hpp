#pragma once
// View aliases of the nqs workload, and the view bundles its kernels share:
// the chains' state and the recorded samples.
#include <Kokkos_Core.hpp>
#include <cstdint>

namespace prism::nqs {

using Vector = Kokkos::View<double*>;
using Matrix = Kokkos::View<double**, Kokkos::LayoutLeft>;
// Tables in the sampler's precision (nqs.precision): double, or float.
template <class Real>
using Table = Kokkos::View<Real**, Kokkos::LayoutLeft>;
// Per-chain tables, (chain, hidden or site): a chain's row is contiguous,
// because the vector lanes of one chain read it together.
template <class Real>
using ChainTable = Kokkos::View<Real**, Kokkos::LayoutRight>;
using ChainMatrix = ChainTable<double>;
using ChainSpins = Kokkos::View<std::int8_t**, Kokkos::LayoutRight>;
using SpinMatrix = Kokkos::View<std::int8_t**, Kokkos::LayoutLeft>;  // (sample, site)
using IndexVector = Kokkos::View<std::int32_t*>;
using CountVector = Kokkos::View<std::int64_t*>;

enum class Move : int { single_flip = 0, neighbour_exchange = 1 };

// What a sampling iteration records, one row per sample.
struct SampleBuffers {
  SpinMatrix spins;     // (chains * samples_per_chain, N), sample = chain * spc + k
  Matrix tanh_theta;    // (samples, M)
  Vector local_energy;  // (samples)
};

// The chains between iterations, in the sampler's precision Real.
template <class Real>
struct ChainState {
  ChainSpins spins;                    // (chains, N)
  ChainTable<Real> theta, tanh_theta;  // (chains, Mp); columns j >= M stay zero
  CountVector accepted, proposed;      // per chain, this iteration
};

}  // namespace prism::nqs
