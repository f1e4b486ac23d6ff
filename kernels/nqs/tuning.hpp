#pragma once
// Performance knobs of the nqs kernels, in one place.  Nothing here may
// change a result: each knob chooses how fast the same bits are computed
// (launch bounds, batching that keeps the order of every sum, which of two
// kernels that store the same bits runs).  A choice that changes rounding
// is not a knob; it is hard-wired in the kernel, with its reason.
//
// The macros may be set at build time (-DPRISM_NQS_MIN_BLOCKS=0, ...) to
// compare variants in benchmarks; they are not deck keys.
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <type_traits>

#include "kernels/nqs/types.hpp"

// Blocks of 128 threads per SM the plain sampler asks the compiler to fit
// (CUDA launch bounds): 8 caps it at 64 registers, for 32 warps per SM, more
// warps to hide the latency of the table loads than the compiler's own
// register choice leaves; 0 leaves register allocation to the compiler.
#ifndef PRISM_NQS_MIN_BLOCKS
#define PRISM_NQS_MIN_BLOCKS 8
#endif
// The same for the speculative sampler, which keeps a proposal's new angles
// and tanh in registers across the lane reduction: 6 blocks (80 registers),
// where 8 blocks (64 registers) would spill.
#ifndef PRISM_NQS_SPEC_MIN_BLOCKS
#define PRISM_NQS_SPEC_MIN_BLOCKS 6
#endif
// The same for the local-energy kernel.
#ifndef PRISM_NQS_ENERGY_MIN_BLOCKS
#define PRISM_NQS_ENERGY_MIN_BLOCKS 8
#endif
// Off-diagonal terms of the local energy whose products are formed in one
// pass over the hidden units, so that their lane reductions overlap.  Every
// term's product and the sum over terms keep their order for any batch.
#ifndef PRISM_NQS_ENERGY_BATCH
#define PRISM_NQS_ENERGY_BATCH 2
#endif

namespace prism::nqs {

inline constexpr int sampler_min_blocks = PRISM_NQS_MIN_BLOCKS;
inline constexpr int speculative_min_blocks = PRISM_NQS_SPEC_MIN_BLOCKS;
inline constexpr int energy_min_blocks = PRISM_NQS_ENERGY_MIN_BLOCKS;
inline constexpr int energy_batch = PRISM_NQS_ENERGY_BATCH;
static_assert(sampler_min_blocks >= 0 && speculative_min_blocks >= 0 && energy_min_blocks >= 0);
static_assert(energy_batch >= 1);

// A flat range, not a team policy (Kokkos 3.4 launches team kernels with the
// cache split set to favour shared memory, which leaves little L1 for the
// tables that every proposal reads), with launch bounds for `min_blocks`
// blocks of 128 threads per SM (0: none).
template <class Exec, int min_blocks>
using BoundedRange = std::conditional_t<
    (min_blocks > 0),
    Kokkos::RangePolicy<Exec, Kokkos::LaunchBounds<128, min_blocks>, Kokkos::IndexType<std::int64_t>>,
    Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>>;

// The acceptance rate (accepted moves over all proposals) from which the
// driver runs the speculative GPU sampler, which stores the same bits as the
// plain one.  Speculation forms the new angles of every proposal whose ratio
// is taken, so it pays once most of those are accepted.  Flips take a ratio
// for every proposal; exchanges of equal spins are rejected without one, and
// they are about half the bonds, hence half the threshold.
inline double speculation_threshold(Move move) {
  return move == Move::single_flip ? 0.69 : 0.35;
}

}  // namespace prism::nqs
