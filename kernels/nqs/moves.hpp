#pragma once
// The arithmetic of one Metropolis move of the RBM sampler, and how the
// lanes of one chain share it.
//
// With T = tanh 2W and t_j = tanh theta_j, flipping site k (spin s)
// multiplies cosh theta_j by cosh 2W_jk (1 - s t_j T_jk); exchanging the
// anti-aligned sites k (spin s) and l (spin -s) multiplies it by
// cosh 2W_jk cosh 2W_jl [(1 - T_jk T_jl) - s t_j (T_jk - T_jl)].  One table
// of M x N values serves both moves, and a proposal costs one or two loads
// and two or three flops per hidden unit.  After an accepted move the same
// bracket gives the new tanh without evaluating tanh:
//   t_j' = (A t_j - s B) / (A - s t_j B),  A = 1 - T_jk T_jl,  B = T_jk - T_jl
// (flip: A = 1, B = T_jk).  That update loses accuracy where |theta| is large
// (it amplifies errors by cosh^2 theta), so it is used for small |theta| and
// tanh is evaluated otherwise; theta itself is updated additively.
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <type_traits>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/common/philox.hpp"

namespace prism::nqs {

// Below this |theta| the tanh of an accepted move comes from the bracket.
// The update amplifies rounding errors by up to cosh^2 theta (37 at 2.5,
// 2.4 at 1): float, with 2^-24 to spare instead of 2^-53, keeps it to
// |theta| < 1.
template <class Real>
inline constexpr double tanh_update_limit = std::is_same_v<Real, float> ? 1.0 : 2.5;

// One hidden unit's bracket, from its table entries tk = T_jk (and tl = T_jl)
// and s_t = s_k tanh theta_j, in the sampler's precision R: the sampler and
// the serial checks share these.
template <class R>
KOKKOS_INLINE_FUNCTION R flip_bracket(R tk, R s_t) {
  return R(1) - s_t * tk;
}
template <class R>
KOKKOS_INLINE_FUNCTION R exchange_bracket(R tk, R tl, R s_t) {
  return (R(1) - tk * tl) - s_t * (tk - tl);
}

// a / b where b is a bracket (positive, of order one).  On CUDA, the
// hardware reciprocal estimate refined by two Newton steps (a few ulp, and
// no slow-path branch in the sampler's inner loop) instead of a correctly
// rounded division; elsewhere a plain division.  This choice sets the bits
// of GPU results, so it is not a tuning knob.  The update's result is
// replaced by an exact tanh at every sample, so the error does not build up.
template <class R>
KOKKOS_INLINE_FUNCTION R bracket_quotient(R a, R b) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<R, double>) {
    double r;
    asm("rcp.approx.ftz.f64 %0, %1;" : "=d"(r) : "d"(b));
    r = fma(r, fma(-b, r, 1.0), r);
    r = fma(r, fma(-b, r, 1.0), r);
    return a * r;
  } else {
    return __fdividef(a, b);
  }
#else
  return a / b;
#endif
}

// tanh theta_j after an accepted move, from the bracket's A and B (flip:
// A = 1, B = tk; exchange: A = 1 - tk tl, B = tk - tl); only for small
// |theta|.  Both GPU samplers (plain and speculative) call this with the
// same operands, so they store the same bits.
template <class R>
KOKKOS_INLINE_FUNCTION R tanh_after_move(R A, R B, R sk, R t) {
  const R u = bracket_quotient(A * t - sk * B, A - sk * t * B);
  return u > R(1) ? R(1) : (u < R(-1) ? R(-1) : u);  // rounding may step past +-1
}

// Lanes that share one chain's hidden units: a warp on CUDA, so that the
// lane reductions are warp shuffles and a chain's rows stay in the L1 of
// one SM; 1 on host backends (warp_lanes, kernels/common/kokkos_compat.hpp).
// The lane count sets the order of the products over units, so results are
// deterministic for a given backend, not across them.
template <class Exec>
inline constexpr int lanes_per_chain = warp_lanes<Exec>;

// The V lanes of one chain: work items i = V c + lane of a flat range, so on
// CUDA they are the 32 threads of one warp (Kokkos runs a range in blocks of
// a multiple of 32 threads, in order), and they combine values with warp
// shuffles.  On host backends V = 1 and every operation is the identity.
template <int V>
struct LaneGroup {
  static constexpr int width = V;
  int lane = 0;

  KOKKOS_INLINE_FUNCTION explicit LaneGroup(std::int64_t item) : lane(int(item % V)) {}
  // Product over the group, identical bits in every lane (multiplication
  // commutes exactly, so partners compute the same value at every stage).
  KOKKOS_INLINE_FUNCTION double product(double x) const {
#if defined(__CUDA_ARCH__)
    for (int o = V / 2; o > 0; o /= 2) x *= __shfl_xor_sync(0xffffffffu, x, o, V);
#endif
    return x;
  }
  KOKKOS_INLINE_FUNCTION int sum(int x) const {
#if defined(__CUDA_ARCH__)
    for (int o = V / 2; o > 0; o /= 2) x += __shfl_xor_sync(0xffffffffu, x, o, V);
#endif
    return x;
  }
  // Sum over the group, identical bits in every lane (each stage adds the
  // same two values in either order).
  KOKKOS_INLINE_FUNCTION double sum(double x) const {
#if defined(__CUDA_ARCH__)
    for (int o = V / 2; o > 0; o /= 2) x += __shfl_xor_sync(0xffffffffu, x, o, V);
#endif
    return x;
  }
  KOKKOS_INLINE_FUNCTION std::uint32_t from(std::uint32_t x, int src) const {
#if defined(__CUDA_ARCH__)
    if constexpr (V > 1) return __shfl_sync(0xffffffffu, x, src, V);
#endif
    (void)src;
    return x;
  }
};
static_assert(32 % lanes_per_chain<Kokkos::DefaultExecutionSpace> == 0);

// Rows of the sampler tables for M hidden units on V lanes per chain.
template <int V>
inline int padded_units(int M) {
  return (M + V - 1) / V * V;
}

// Calls f(o) for the hidden units j = lane + o, o = 0, V, 2V, ... < Mp of
// one lane; the bodies index per-lane base pointers with o.  U > 0 is a
// compile-time count of units per lane: on CUDA U V = Mp exactly, so the
// loop unrolls into straight code whose loads take constant offsets from
// the base pointers, with no bounds test; on host backends (V = 1) U is an
// upper bound.  U = 0 is the general loop for any Mp.
template <int V, int U, class F>
KOKKOS_FORCEINLINE_FUNCTION void for_units(int lane, int Mp, F&& f) {
  if constexpr (U == 0) {
    for (int o = 0; lane + o < Mp; o += V) f(o);
  } else if constexpr (V == 1) {
    for (int i = 0; i < U; ++i)
      if (i < Mp) f(i);
  } else {
    (void)lane;
    (void)Mp;
#pragma unroll
    for (int i = 0; i < U; ++i) f(i * V);
  }
}

// The compiled unit count U for Mp padded units on V lanes (0: the general
// loop).  CUDA compiles U = 1 ... 8 (Mp <= 256); host backends compile one
// bound, 16 units, so the sampler histogram tests (8 sites, alpha 2) run
// the bounded loop in CI and the optimisation tests the general one.  The
// bounded loops multiply a lane's brackets in the sampler's precision and
// the general one in double, so these bounds set result bits.
inline constexpr int max_unit_count = 8;
template <int V>
inline int unit_bound(int Mp) {
  if constexpr (V == 1) return Mp <= 16 ? 16 : 0;
  return Mp / V <= max_unit_count ? Mp / V : 0;
}

// The random words of proposal q of chain `gid` in an iteration: words
// 2 (q % 2) and 2 (q % 2) + 1 of Philox(seed; gid, iteration, q / 2, stream),
// the first choosing the site (or bond), the second the acceptance.  The V
// lanes generate V consecutive blocks at once and pass the words along, so
// one Philox evaluation per lane serves 2 V proposals; the numbers do not
// depend on V or on the rank that runs the chain.
struct ProposalStream {
  std::uint64_t seed;
  std::uint32_t gid, iteration;
  rng::Draw4 block{};
  template <class Lanes>
  KOKKOS_INLINE_FUNCTION void next(Lanes const& g, std::uint32_t q, std::uint32_t& pick, double& uniform) {
    const std::uint32_t pair = q >> 1, span = std::uint32_t(g.width);
    const bool odd = (q & 1u) != 0;
    if (!odd && pair % span == 0)
      block = rng::philox(seed, gid, iteration, pair + std::uint32_t(g.lane), rng::nqs_proposals);
    const int src = int(pair % span);
    pick = g.from(odd ? block.v[2] : block.v[0], src);
    uniform = g.from(odd ? block.v[3] : block.v[1], src) * 0x1p-32;
  }
  // Proposal q as sites: site k (a flip, l = k) or the two sites k, l of a
  // bond (an exchange), chosen uniformly among `range` sites or bonds, and
  // the uniform for the acceptance test.  A site (or bond) chosen at random:
  // a fixed scan order mixes badly when nearly every move is accepted (a
  // TFIM sweep then just reverses the configuration).
  template <class Lanes, class Index>
  KOKKOS_INLINE_FUNCTION void next_move(Lanes const& g, std::uint32_t q, std::uint32_t range, bool flip,
                                        Index const& bond_i, Index const& bond_j, int& k, int& l,
                                        double& uniform) {
    std::uint32_t word;
    next(g, q, word, uniform);
    // floor(word range / 2^32): a multiply instead of a division by a
    // run-time range, with the same tiny bias as word % range.
    const auto pick = static_cast<int>((std::uint64_t(word) * range) >> 32);
    k = flip ? pick : bond_i(pick);
    l = flip ? k : bond_j(pick);
  }
};

}  // namespace prism::nqs
