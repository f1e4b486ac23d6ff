#pragma once
// Restricted Boltzmann machine wave function on device views, and the
// Metropolis sampler with per-chain effective angles.
//   log psi(s) = sum_i a_i s_i + sum_j log cosh(theta_j),  theta_j = b_j + sum_i W_ji s_i
// Parameters live in one flat vector p = [a (N), b (M), W (M x N, column-major)].
//
// Amplitude ratios.  With T = tanh 2W, C_k = prod_j cosh 2W_jk and t_j = tanh theta_j,
// flipping site k (spin s) multiplies cosh theta_j by cosh 2W_jk (1 - s t_j T_jk), so
//   psi'/psi = exp(log C_k - 2 a_k s) * prod_j (1 - s t_j T_jk).
// Exchanging the anti-aligned sites k (spin s) and l (spin -s):
//   psi'/psi = exp(log C_k + log C_l - 2 s (a_k - a_l))
//              * prod_j [(1 - T_jk T_jl) - s t_j (T_jk - T_jl)].
// One table of M x N values serves both moves, and a proposal costs one or
// two loads and two or three flops per hidden unit.  After an accepted move
// the same bracket gives the new tanh without evaluating tanh:
//   t_j' = (A t_j - s B) / (A - s t_j B),  A = 1 - T_jk T_jl,  B = T_jk - T_jl
// (flip: A = 1, B = T_jk).  That update loses accuracy where |theta| is large
// (it amplifies errors by cosh^2 theta), so it is used for |theta| < 2.5 and
// tanh is evaluated otherwise; theta itself is updated additively.
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/common/philox.hpp"

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

inline constexpr std::uint32_t nqs_stream = 5;  // Philox counter word 3
// Below this |theta| the tanh of an accepted move comes from the bracket.
// The update amplifies rounding errors by up to cosh^2 theta (37 at 2.5,
// 2.4 at 1): float, with 2^-24 to spare instead of 2^-53, keeps it to
// |theta| < 1.
template <class Real>
inline constexpr double tanh_update_limit = std::is_same_v<Real, float> ? 1.0 : 2.5;
// Largest |log prefactor| for which exp(prefactor) times a product of M
// brackets cannot overflow on its way to a finite ratio.
inline constexpr double linear_prefactor_limit = 300.0;

enum class Move : int { single_flip = 0, neighbour_exchange = 1 };

// The acceptance rate (accepted moves over all proposals) from which the
// driver runs the speculative GPU sampler.  Measured on an H100
// (BENCHMARKS.md), speculation pays once about 0.69 of the proposals whose
// ratio is taken are accepted: every flip, and exchanges of opposite spins,
// which were half the bonds (0.50-0.52) in the benchmark's states.
inline double speculation_threshold(Move move) {
  return move == Move::single_flip ? 0.69 : 0.35;
}

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
// a / b where b is a bracket (positive, of order one): on CUDA, the
// hardware reciprocal estimate refined by two Newton steps (a few ulp, and
// no slow-path branch) instead of a correctly rounded division, measured
// 1.06x faster sweeps on an H100 (BENCHMARKS.md); elsewhere, or built with
// -DPRISM_NQS_FAST_RCP=0, a plain division.  The update's result is
// replaced by an exact tanh at every sample, so the error does not build up.
#ifndef PRISM_NQS_FAST_RCP
#define PRISM_NQS_FAST_RCP 1
#endif
template <class R>
KOKKOS_INLINE_FUNCTION R bracket_quotient(R a, R b) {
#if defined(__CUDA_ARCH__) && PRISM_NQS_FAST_RCP
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

// The part of the model that does not depend on the sampler's precision:
// the Hamiltonian, the parameters and the per-site prefactors (double).
struct RbmCommon {
  int N = 0, M = 0, n_bonds = 0;
  // Rows of the sampler's tables and of the chains' angle rows: M rounded up
  // to a multiple of the lanes per chain.  Rows j >= M hold zeros, a unit
  // whose bracket is 1 and whose angle stays 0, so the lanes of a chain run
  // the same unit count with no bounds test.
  int Mp = 0;
  Move move = Move::single_flip;
  bool tfim = true;
  double J = 1, h = 0, Delta = 1;
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
  template <class Spins, class Tanh>
  KOKKOS_INLINE_FUNCTION double exchange_ratio(const Spins& s, const Tanh& t, int c, int bond) const {
    const int k = bond_i(bond), l = bond_j(bond);
    const double sk = s(c, k);
    double p = 1.0;
    for (int j = 0; j < M; ++j) p *= exchange_bracket<Real>(T(j, k), T(j, l), Real(sk * t(c, j)));
    return exchange_ratio_from(p, k, l, sk);
  }
};

// theta = b + W s and tanh(theta) from scratch for every chain.  Work item
// c M + j: neighbouring threads take neighbouring j, so the loads of W(j, i)
// and the stores of a chain's row are contiguous.
template <class Exec, class Real, class Spins, class Angles>
void refresh_angles(Exec const& space, RbmModel<Real> const& m, Spins const& spins, Angles const& theta,
                    Angles const& tanh_theta) {
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

struct SampleBuffers {
  SpinMatrix spins;     // (chains * samples_per_chain, N), sample = chain * spc + k
  Matrix tanh_theta;    // (samples, M)
  Vector local_energy;  // (samples)
};

template <class Real>
struct ChainState {
  ChainSpins spins;                    // (chains, N)
  ChainTable<Real> theta, tanh_theta;  // (chains, Mp); columns j >= M stay zero
  CountVector accepted, proposed;      // per chain, this iteration
};

// Lanes that share one chain's hidden units: a warp on CUDA, 1 on host
// backends.  A compile-time constant, so the lane loops and shuffles unroll.
// Measured on an H100 (BENCHMARKS.md): 32 lanes beat 8 and 16.  Results are
// deterministic for a given backend.
template <class Exec>
inline constexpr int lanes_per_chain =
#ifdef KOKKOS_ENABLE_CUDA
    std::is_same_v<Exec, Kokkos::Cuda> ? 32 :
#endif
                                       1;

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
// the bounded loop in CI and the optimisation tests the general one.
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
      block = rng::philox(seed, gid, iteration, pair + std::uint32_t(g.lane), nqs_stream);
    const int src = int(pair % span);
    pick = g.from(odd ? block.v[2] : block.v[0], src);
    uniform = g.from(odd ? block.v[3] : block.v[1], src) * 0x1p-32;
  }
};

// Blocks of 128 threads per SM the sampler asks the compiler to fit (CUDA
// launch bounds): 8 caps it at 64 registers, for 32 warps per SM, measured
// 1.2x faster on an H100 than the compiler's own choice of 96 registers
// (BENCHMARKS.md); 0 leaves register allocation to the compiler.  A
// build-time knob for benchmarks, not a deck key.
#ifndef PRISM_NQS_MIN_BLOCKS
#define PRISM_NQS_MIN_BLOCKS 8
#endif
// Off-diagonal terms of the local energy whose products are formed in one
// pass over the hidden units (their lane reductions overlap), and the
// blocks per SM of the local-energy kernel (as PRISM_NQS_MIN_BLOCKS).
#ifndef PRISM_NQS_ENERGY_BATCH
#define PRISM_NQS_ENERGY_BATCH 2
#endif
#ifndef PRISM_NQS_ENERGY_MIN_BLOCKS
#define PRISM_NQS_ENERGY_MIN_BLOCKS 8
#endif
// A flat range, not a team policy (Kokkos 3.4 launches team kernels with the
// cache split set to favour shared memory, which leaves little L1 for the
// tables that every proposal reads), with launch bounds for `min_blocks`
// blocks of 128 threads per SM (0: none).
template <class Exec, int min_blocks>
using BoundedRange = std::conditional_t<
    (min_blocks > 0),
    Kokkos::RangePolicy<Exec, Kokkos::LaunchBounds<128, min_blocks>, Kokkos::IndexType<std::int64_t>>,
    Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>>;
template <class Exec>
using SamplerPolicy = BoundedRange<Exec, PRISM_NQS_MIN_BLOCKS>;
// The speculative sampler (see ChainSampler) keeps a proposal's new angles
// and tanh in registers across the lane reduction: 80 registers at 6
// blocks per SM, where 8 blocks (64 registers) would spill.
#ifndef PRISM_NQS_SPEC_MIN_BLOCKS
#define PRISM_NQS_SPEC_MIN_BLOCKS 6
#endif
// Benchmark builds of one model: ONLY_UNITS > 0 compiles the GPU samplers
// for that unit count alone (the general loop serves the others), which
// builds variants several times faster.
#ifndef PRISM_NQS_ONLY_UNITS
#define PRISM_NQS_ONLY_UNITS 0
#endif
template <class Exec>
using EnergyPolicy = BoundedRange<Exec, PRISM_NQS_ENERGY_MIN_BLOCKS>;
// Whether the speculative sampler exists: GPUs, compiled unit counts.
template <class Exec, int U>
inline constexpr bool has_speculative_sampler = U > 0 && 1 < lanes_per_chain<Exec>;

// What the sampler and the local energies share: the model, a lane's view
// of a table column, one unit's bracket and the ratio from a product.
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

  // Local energy of one configuration: diagonal part plus the amplitude
  // ratios of every off-diagonal move, B moves per pass over the units
  // (their lane reductions overlap), summed in a fixed order.  spin(i) and
  // tanh_at(o) (unit lane + o) read the configuration.
  template <class Spin, class Tanh>
  KOKKOS_INLINE_FUNCTION double local_energy(Lanes const& g, Spin const& spin, Tanh const& tanh_at) const {
    int aligned = 0;
    for (int e = g.lane; e < m.n_bonds; e += V) aligned += spin(m.bond_i(e)) * spin(m.bond_j(e));
    const double diag = g.sum(aligned);
    const int terms = flip ? m.N : m.n_bonds;
    constexpr int B = PRISM_NQS_ENERGY_BATCH;
    double off = 0;
    int next = 0;
    while (next < terms) {
      int kk[B] = {}, ll[B] = {};
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
          n = b + 1;
          ++next;
        }
        Tk[b] = column(m.T, kk[b], g.lane);
        Tl[b] = column(m.T, ll[b], g.lane);
        p[b] = Acc(1);
      }
      for_units<V, U>(g.lane, m.Mp, [&](int o) {
        const Real t = tanh_at(o);
        for (int b = 0; b < B; ++b) p[b] *= Acc(bracket(Tk[b], Tl[b], o, sg[b] * t));
      });
      double q[B];
      for (int b = 0; b < B; ++b) q[b] = g.product(double(p[b]));
      for (int b = 0; b < B; ++b)
        if (b < n) off += ratio_from(q[b], kk[b], ll[b], sg[b]);
    }
    if constexpr (flip) return -m.J * diag - m.h * off;
    return 0.25 * m.J * m.Delta * diag + 0.5 * m.J * m.offdiag_sign * off;
  }
};

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
// accepted (1.15x sweeps on an H100 at weights of width 0.01) and costs
// where few are (0.53x at width 0.1), so the driver asks for it by the
// last acceptance rate (speculation_threshold; BENCHMARKS.md).  Both
// kernels store the same bits.
template <class Exec, Move move, int U, class Real, bool Speculative = false>
struct ChainSampler : SamplerCore<Exec, move, U, Real> {
  using Core = SamplerCore<Exec, move, U, Real>;
  using Core::flip, Core::V, Core::m, Core::column, Core::bracket, Core::ratio_from;
  using typename Core::Lanes, typename Core::Acc;
  static_assert(!Speculative || has_speculative_sampler<Exec, U>);
  using Policy =
      std::conditional_t<Speculative, BoundedRange<Exec, PRISM_NQS_SPEC_MIN_BLOCKS>, SamplerPolicy<Exec>>;
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
    // A site (or bond) chosen at random: a fixed scan order, tried on the way,
    // gained 1 % on an H100 and mixes badly when nearly every move is accepted
    // (a TFIM sweep then just reverses the configuration).
    auto propose = [&]() {
      std::uint32_t word;
      double u;
      rs.next(g, q++, word, u);
      // floor(word range / 2^32): a multiply instead of a division by a
      // run-time range, with the same tiny bias as word % range.
      const auto pick = static_cast<int>((std::uint64_t(word) * range) >> 32);
      const int k = flip ? pick : m.bond_i(pick);
      const int l = flip ? k : m.bond_j(pick);
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
        out.local_energy(row) = this->local_energy(
            g, [&](int i) { return s(c, i); }, [&](int o) { return tt[o]; });
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

// Local energy of every recorded sample on GPUs with a compiled unit count
// (M <= 256): one sample per V lanes, the lane's tanh values in registers.
// A kernel of its own, so that the sweeps do not carry its registers.
// Host backends, and the general loop for larger M, take the energy in the
// sampler, from the chain's own contiguous rows (the column-major sample
// buffers would cost a strided load per unit and move).
template <class Exec, Move move, int U, class Real>
struct LocalEnergies : SamplerCore<Exec, move, U, Real> {
  static_assert(U > 0 && lanes_per_chain<Exec> > 1, "see separate_energies");
  using Core = SamplerCore<Exec, move, U, Real>;
  using Core::V, Core::m;
  using typename Core::Lanes;
  using Policy = EnergyPolicy<Exec>;

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
    const double energy = this->local_energy(
        g, [&](int i) { return s(row, i); }, tanh_at);
    if (g.lane == 0) out.local_energy(row) = energy;
  }

  void launch(Exec const& space) const {
    const auto S = std::int64_t(out.local_energy.extent(0));
    Kokkos::parallel_for("nqs::local_energies", Policy(space, 0, S * V), *this);
  }
};

// Samples every chain of this rank for one iteration (see ChainSampler),
// speculatively where `speculate` and the kernel exists (returns whether it
// did), then takes the local energies (LocalEnergies) where the sampler
// leaves them.
// The random numbers of chain g at proposal q of iteration `iteration` do
// not depend on the rank that runs the chain.
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
  } else if constexpr (PRISM_NQS_ONLY_UNITS > 0) {
    if (U == PRISM_NQS_ONLY_UNITS) return go(std::integral_constant<int, PRISM_NQS_ONLY_UNITS>{});
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
  if (m.move == Move::single_flip)
    return launch_sampler<Exec, Move::single_flip>(space, m, st, out, seed, iteration, chain_offset,
                                                   thermalization, sweeps_per_sample, samples_per_chain,
                                                   speculate);
  else
    return launch_sampler<Exec, Move::neighbour_exchange>(space, m, st, out, seed, iteration, chain_offset,
                                                          thermalization, sweeps_per_sample,
                                                          samples_per_chain, speculate);
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

// max_s |x(s)|, +inf where some x(s) is not finite (NaN included).
template <class Exec>
double max_abs(Exec const& space, Vector const& x) {
  const double inf = std::numeric_limits<double>::infinity();
  double m = 0;
  Kokkos::parallel_reduce(
      "nqs::max_abs", Kokkos::RangePolicy<Exec>(space, 0, x.extent(0)),
      KOKKOS_LAMBDA(const int s, double& acc) {
        const double a = kmath::fabs(x(s));
        const double v = a <= DBL_MAX ? a : inf;  // false for NaN
        acc = acc > v ? acc : v;
      },
      Kokkos::Max<double>(m));
  return m;
}

// Columns per block of row_products: depends on P only, so every rank sums
// a row in the same order.
inline int row_block(int P) {
  return std::max(64, (P + 127) / 128);
}
inline int row_block_count(int P) {
  return (P + row_block(P) - 1) / row_block(P);
}

// y(s) = sum_k O(s,k) v(k).  The columns are cut into fixed blocks; one
// thread sums one (sample, block) pair, with threads of neighbouring samples
// reading neighbouring addresses of LayoutLeft O, and a second pass adds the
// blocks of each row in order.  The blocks give every GPU enough threads
// when the samples are split over many ranks; the order depends only on P,
// so y is the same for any split.  `partial` holds (samples, blocks).
template <class Exec>
void row_products(Exec const& space, Matrix const& O, Vector const& v, Vector const& y,
                  Matrix const& partial) {
  const int S = int(O.extent(0)), P = int(O.extent(1)), width = row_block(P), blocks = row_block_count(P);
  Kokkos::parallel_for(
      "nqs::row_products",
      Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(space, 0, std::int64_t(S) * blocks),
      KOKKOS_LAMBDA(const std::int64_t item) {
        const int s = int(item % S), blk = int(item / S);
        const int end = blk * width + width < P ? blk * width + width : P;
        double acc = 0;
        for (int k = blk * width; k < end; ++k) acc += O(s, k) * v(k);
        partial(s, blk) = acc;
      });
  Kokkos::parallel_for(
      "nqs::row_sums", Kokkos::RangePolicy<Exec>(space, 0, S), KOKKOS_LAMBDA(const int s) {
        double acc = 0;
        for (int blk = 0; blk < blocks; ++blk) acc += partial(s, blk);
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
