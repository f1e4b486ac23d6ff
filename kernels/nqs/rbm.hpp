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
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/kokkos_compat.hpp"
#include "kernels/common/philox.hpp"

namespace prism::nqs {

using Vector = Kokkos::View<double*>;
using Matrix = Kokkos::View<double**, Kokkos::LayoutLeft>;
// Per-chain tables, (chain, hidden or site): a chain's row is contiguous,
// because the vector lanes of one chain read it together.
using ChainMatrix = Kokkos::View<double**, Kokkos::LayoutRight>;
using ChainSpins = Kokkos::View<std::int8_t**, Kokkos::LayoutRight>;
using SpinMatrix = Kokkos::View<std::int8_t**, Kokkos::LayoutLeft>;  // (sample, site)
using IndexVector = Kokkos::View<std::int32_t*>;
using CountVector = Kokkos::View<std::int64_t*>;

inline constexpr std::uint32_t nqs_stream = 5;  // Philox counter word 3
// Below this |theta| the tanh of an accepted move comes from the bracket.
inline constexpr double tanh_update_limit = 2.5;
// Largest |log prefactor| for which exp(prefactor) times a product of M
// brackets cannot overflow on its way to a finite ratio.
inline constexpr double linear_prefactor_limit = 300.0;

enum class Move : int { single_flip = 0, neighbour_exchange = 1 };

// Everything a chain needs to propose, accept and measure.
struct RbmModel {
  int N = 0, M = 0, n_bonds = 0;
  Move move = Move::single_flip;
  bool tfim = true;
  double J = 1, h = 0, Delta = 1;
  double offdiag_sign = 1;  // -1 with the Marshall sign rule
  Vector a, b;
  Matrix W;         // (M, N), unmanaged view into the parameter vector
  Matrix T;         // (M, N): tanh 2W
  Matrix log_pref;  // (N, 2): log C_k - 2 a_k s, column 0 for s = +1, 1 for s = -1
  Matrix pref;      // (N, 2): exp(log_pref)
  bool log_domain = false;  // some |log_pref| > linear_prefactor_limit: combine in logs
  IndexVector bond_i, bond_j;

  KOKKOS_INLINE_FUNCTION static int column(double s) { return s > 0 ? 0 : 1; }
  // One hidden unit's bracket; s_t = s_k tanh theta_j.
  KOKKOS_INLINE_FUNCTION double flip_bracket(int j, int k, double s_t) const { return 1.0 - s_t * T(j, k); }
  KOKKOS_INLINE_FUNCTION double exchange_bracket(int j, int k, int l, double s_t) const {
    const double tk = T(j, k), tl = T(j, l);
    return (1.0 - tk * tl) - s_t * (tk - tl);
  }
  // tanh theta_j after the accepted move, from the bracket (|theta_j| small).
  KOKKOS_INLINE_FUNCTION double flip_tanh(int j, int k, double sk, double t) const {
    const double tk = T(j, k);
    return (t - sk * tk) / (1.0 - sk * t * tk);
  }
  KOKKOS_INLINE_FUNCTION double exchange_tanh(int j, int k, int l, double sk, double t) const {
    const double tk = T(j, k), tl = T(j, l);
    const double A = 1.0 - tk * tl, B = tk - tl;
    return (A * t - sk * B) / (A - sk * t * B);
  }
  // psi'/psi from the product of brackets over all hidden units.
  KOKKOS_INLINE_FUNCTION double flip_ratio_from(double product, int k, double sk) const {
    const int col = column(sk);
    if (!log_domain) return product * pref(k, col);
    return kmath::exp(log_pref(k, col) + kmath::log(product));
  }
  KOKKOS_INLINE_FUNCTION double exchange_ratio_from(double product, int k, int l, double sk) const {
    const int ck = column(sk), cl = 1 - ck;  // site l holds -sk
    if (!log_domain) return product * (pref(k, ck) * pref(l, cl));
    return kmath::exp(log_pref(k, ck) + log_pref(l, cl) + kmath::log(product));
  }

  // Serial ratios for one configuration (checks and tests), with the same
  // brackets as the sampler.
  template <class Spins, class Tanh>
  KOKKOS_INLINE_FUNCTION double flip_ratio(const Spins& s, const Tanh& t, int c, int k) const {
    const double sk = s(c, k);
    double p = 1.0;
    for (int j = 0; j < M; ++j) p *= flip_bracket(j, k, sk * t(c, j));
    return flip_ratio_from(p, k, sk);
  }
  template <class Spins, class Tanh>
  KOKKOS_INLINE_FUNCTION double exchange_ratio(const Spins& s, const Tanh& t, int c, int bond) const {
    const int k = bond_i(bond), l = bond_j(bond);
    const double sk = s(c, k);
    double p = 1.0;
    for (int j = 0; j < M; ++j) p *= exchange_bracket(j, k, l, sk * t(c, j));
    return exchange_ratio_from(p, k, l, sk);
  }
};

// theta = b + W s and tanh(theta) from scratch for every chain.  Work item
// c M + j: neighbouring threads take neighbouring j, so the loads of W(j, i)
// and the stores of a chain's row are contiguous.
template <class Exec, class Spins>
void refresh_angles(Exec const& space, RbmModel const& m, Spins const& spins, ChainMatrix const& theta,
                    ChainMatrix const& tanh_theta) {
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
        theta(c, j) = th;
        tanh_theta(c, j) = kmath::tanh(th);
      });
}

// T = tanh 2W and the per-site prefactors, after every parameter update.
// log C_k is summed over j in a fixed order, so every rank gets the same bits.
template <class Exec>
void build_tables(Exec const& space, RbmModel& m) {
  const auto W = m.W;
  const auto T = m.T;
  const auto a = m.a;
  const auto lp = m.log_pref, pf = m.pref;
  const int N = m.N, M = m.M;
  Kokkos::parallel_for(
      "nqs::tanh_table", Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {M, N}),
      KOKKOS_LAMBDA(const int j, const int i) { T(j, i) = kmath::tanh(2.0 * W(j, i)); });
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
}

struct SampleBuffers {
  SpinMatrix spins;     // (chains * samples_per_chain, N), sample = chain * spc + k
  Matrix tanh_theta;    // (samples, M)
  Vector local_energy;  // (samples)
};

struct ChainState {
  ChainSpins spins;                // (chains, N)
  ChainMatrix theta, tanh_theta;   // (chains, M)
  CountVector accepted, proposed;  // per chain, this iteration
};

// Lanes that share one chain's hidden units: a power of two up to 32 on
// CUDA, 1 on host backends.  `requested` = 0 picks the default, measured best
// on an H100 (BENCHMARKS.md).  Results are deterministic for a given backend
// and lane count.
template <class Exec>
int hidden_lanes(int requested) {
#ifdef KOKKOS_ENABLE_CUDA
  if constexpr (std::is_same_v<Exec, Kokkos::Cuda>) return requested > 0 ? requested : 32;
#endif
  (void)requested;
  return 1;
}

// The V lanes of one chain: work items i = V c + lane of a flat range, so on
// CUDA they are V consecutive threads of one warp (Kokkos runs a range in
// blocks of a multiple of 32 threads, in order), and they combine values with
// warp shuffles.  On host backends V = 1 and every operation is the identity.
struct LaneGroup {
  int lane = 0, width = 1;
  unsigned mask = 0xffffffffu;

  KOKKOS_INLINE_FUNCTION LaneGroup(int V, std::int64_t item) : lane(int(item % V)), width(V) {
    if (V < 32) mask = ((1u << V) - 1u) << (unsigned(item % 32) / unsigned(V) * unsigned(V));
  }
  // Product over the group, identical bits in every lane (multiplication
  // commutes exactly, so partners compute the same value at every stage).
  KOKKOS_INLINE_FUNCTION double product(double x) const {
#if defined(__CUDA_ARCH__)
    for (int o = width / 2; o > 0; o /= 2) x *= __shfl_xor_sync(mask, x, o, width);
#endif
    return x;
  }
  KOKKOS_INLINE_FUNCTION int sum(int x) const {
#if defined(__CUDA_ARCH__)
    for (int o = width / 2; o > 0; o /= 2) x += __shfl_xor_sync(mask, x, o, width);
#endif
    return x;
  }
  KOKKOS_INLINE_FUNCTION std::uint32_t from(std::uint32_t x, int src) const {
#if defined(__CUDA_ARCH__)
    return __shfl_sync(mask, x, src, width);
#else
    (void)src;
    return x;
#endif
  }
};

// A chain's hidden units as one lane holds them: units j = lane + V q.
// RegisterAngles keeps theta and tanh theta in registers (CUDA, M <= K V);
// GlobalAngles works in the chain's rows of the global tables (host backends,
// and wide layers on GPUs).
template <int K>
struct RegisterAngles {
  static constexpr int slots_max = K;
  double th[K], tt[K];
  int lane, V, M;
  KOKKOS_INLINE_FUNCTION RegisterAngles(ChainMatrix const& theta, ChainMatrix const& tanh_theta, int c,
                                        int lane_, int V_, int M_)
      : lane(lane_), V(V_), M(M_) {
    for (int q = 0; q < K; ++q) {
      const int j = unit(q);
      th[q] = j < M ? theta(c, j) : 0.0;
      tt[q] = j < M ? tanh_theta(c, j) : 0.0;
    }
  }
  KOKKOS_INLINE_FUNCTION int slots() const { return K; }
  KOKKOS_INLINE_FUNCTION int unit(int q) const { return lane + V * q; }
  KOKKOS_INLINE_FUNCTION double& theta(int q) { return th[q]; }
  KOKKOS_INLINE_FUNCTION double& tanh(int q) { return tt[q]; }
  KOKKOS_INLINE_FUNCTION void save(ChainMatrix const& theta, ChainMatrix const& tanh_theta, int c) const {
    for (int q = 0; q < K; ++q) {
      const int j = unit(q);
      if (j < M) {
        theta(c, j) = th[q];
        tanh_theta(c, j) = tt[q];
      }
    }
  }
};

struct GlobalAngles {
  static constexpr int slots_max = 1 << 30;
  ChainMatrix th, tt;
  int c, lane, V, M;
  KOKKOS_INLINE_FUNCTION GlobalAngles(ChainMatrix const& theta, ChainMatrix const& tanh_theta, int c_,
                                      int lane_, int V_, int M_)
      : th(theta), tt(tanh_theta), c(c_), lane(lane_), V(V_), M(M_) {}
  KOKKOS_INLINE_FUNCTION int slots() const { return (M + V - 1) / V; }
  KOKKOS_INLINE_FUNCTION int unit(int q) const { return lane + V * q; }
  KOKKOS_INLINE_FUNCTION double& theta(int q) const { return th(c, unit(q)); }
  KOKKOS_INLINE_FUNCTION double& tanh(int q) const { return tt(c, unit(q)); }
  KOKKOS_INLINE_FUNCTION void save(ChainMatrix const&, ChainMatrix const&, int) const {}
};

// The uniform number of proposal q of chain `gid` in an iteration: word
// q % 4 of Philox(seed; gid, iteration, q / 4, stream).  The V lanes generate
// V consecutive blocks at once and pass the words along, so one Philox
// evaluation per lane serves 4 V proposals; the numbers do not depend on V or
// on the rank that runs the chain.
struct ProposalStream {
  std::uint64_t seed;
  std::uint32_t gid, iteration;
  rng::Draw4 block{};
  KOKKOS_INLINE_FUNCTION double uniform(LaneGroup const& g, std::uint32_t q) {
    const std::uint32_t quad = q >> 2, span = std::uint32_t(g.width), word = q & 3u;
    if (word == 0 && quad % span == 0)
      block = rng::philox(seed, gid, iteration, quad + std::uint32_t(g.lane), nqs_stream);
    const std::uint32_t mine = word == 0 ? block.v[0] : word == 1 ? block.v[1] : word == 2 ? block.v[2] : block.v[3];
    return g.from(mine, int(quad % span)) * 0x1p-32;
  }
};

// Blocks of 128 threads per SM the sampler asks the compiler to fit (CUDA
// launch bounds); 0 leaves register allocation to the compiler.  A build-time
// knob for benchmarks (BENCHMARKS.md), not a deck key.
#ifndef PRISM_NQS_MIN_BLOCKS
#define PRISM_NQS_MIN_BLOCKS 0
#endif
// A flat range, not a team policy: Kokkos 3.4 launches team kernels with the
// cache split set to favour shared memory, which leaves little L1 for the
// tables that every proposal reads.
template <class Exec>
using SamplerPolicy = std::conditional_t<(PRISM_NQS_MIN_BLOCKS > 0),
                                         Kokkos::RangePolicy<Exec, Kokkos::LaunchBounds<128, PRISM_NQS_MIN_BLOCKS>,
                                                             Kokkos::IndexType<std::int64_t>>,
                                         Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>>;

// Runs `thermalization` sweeps, then samples_per_chain samples each
// `sweeps_per_sample` sweeps apart (a sweep is N proposals), recording the
// spins, tanh(theta) and the local energy of every sample.  Each chain is V
// consecutive work items (lanes); its hidden units are spread over them.
template <class Exec>
struct ChainSampler {
  using Policy = SamplerPolicy<Exec>;

  RbmModel m;
  ChainState st;
  SampleBuffers out;
  std::uint64_t seed;
  std::uint32_t iteration;
  std::int64_t chain_offset;
  int thermalization, sweeps_per_sample, samples_per_chain;
  int V, C;

  // Product of the brackets of a move over this lane's units, then over lanes.
  template <class Angles>
  KOKKOS_INLINE_FUNCTION double move_product(LaneGroup const& g, Angles& h, int k, int l, double sk) const {
    double p = 1.0;
    for (int q = 0; q < Angles::slots_max && q < h.slots(); ++q) {
      const int j = h.unit(q);
      if (j < m.M) p *= l < 0 ? m.flip_bracket(j, k, sk * h.tanh(q)) : m.exchange_bracket(j, k, l, sk * h.tanh(q));
    }
    return g.product(p);
  }

  template <class Angles>
  KOKKOS_INLINE_FUNCTION void accept(Angles& h, int c, int k, int l, double sk) const {
    for (int q = 0; q < Angles::slots_max && q < h.slots(); ++q) {
      const int j = h.unit(q);
      if (j >= m.M) continue;
      const double old = h.theta(q);
      const double dw = l < 0 ? m.W(j, k) : m.W(j, k) - m.W(j, l);
      h.theta(q) = old - 2.0 * sk * dw;
      if (kmath::fabs(old) < tanh_update_limit)
        h.tanh(q) = l < 0 ? m.flip_tanh(j, k, sk, h.tanh(q)) : m.exchange_tanh(j, k, l, sk, h.tanh(q));
      else
        h.tanh(q) = kmath::tanh(h.theta(q));
    }
    // Every lane writes the same values; each lane reads only what it wrote.
    st.spins(c, k) = static_cast<std::int8_t>(-sk);
    if (l >= 0) st.spins(c, l) = static_cast<std::int8_t>(sk);
  }

  // Local energy of the chain's current configuration: diagonal part plus
  // the amplitude ratios of every off-diagonal move, four moves at a time
  // (independent lane reductions overlap), summed in a fixed order.
  template <class Angles>
  KOKKOS_INLINE_FUNCTION double local_energy(LaneGroup const& g, Angles& h, int c) const {
    const auto s = st.spins;
    int aligned = 0;
    for (int e = g.lane; e < m.n_bonds; e += g.width) aligned += s(c, m.bond_i(e)) * s(c, m.bond_j(e));
    const double diag = g.sum(aligned);
    const int terms = m.tfim ? m.N : m.n_bonds;
    double off = 0;
    int next = 0;
    while (next < terms) {
      constexpr int B = 4;  // moves per pass: their lane reductions overlap
      int kk[B] = {}, ll[B] = {};
      double sg[B] = {}, p[B];
      int n = 0;
      // Next B terms; b is a compile-time index after unrolling, so the
      // arrays stay in registers.
      for (int b = 0; b < B; ++b) {
        while (next < terms && !m.tfim && s(c, m.bond_i(next)) == s(c, m.bond_j(next))) ++next;
        if (next < terms) {
          kk[b] = m.tfim ? next : m.bond_i(next);
          ll[b] = m.tfim ? -1 : m.bond_j(next);
          sg[b] = s(c, kk[b]);
          n = b + 1;
          ++next;
        }
      }
      for (int b = 0; b < B; ++b) p[b] = 1.0;
      for (int q = 0; q < Angles::slots_max && q < h.slots(); ++q) {
        const int j = h.unit(q);
        if (j >= m.M) continue;
        const double t = h.tanh(q);
        for (int b = 0; b < B; ++b)
          if (b < n)
            p[b] *= ll[b] < 0 ? m.flip_bracket(j, kk[b], sg[b] * t) : m.exchange_bracket(j, kk[b], ll[b], sg[b] * t);
      }
      for (int b = 0; b < B; ++b) p[b] = g.product(p[b]);
      for (int b = 0; b < B; ++b)
        if (b < n)
          off += ll[b] < 0 ? m.flip_ratio_from(p[b], kk[b], sg[b]) : m.exchange_ratio_from(p[b], kk[b], ll[b], sg[b]);
    }
    if (m.tfim) return -m.J * diag - m.h * off;
    return 0.25 * m.J * m.Delta * diag + 0.5 * m.J * m.offdiag_sign * off;
  }

  template <class Angles>
  KOKKOS_INLINE_FUNCTION void run_chain(std::int64_t item) const {
    const LaneGroup g(V, item);
    const int c = int(item / V);
    Angles h(st.theta, st.tanh_theta, c, g.lane, V, m.M);
    ProposalStream rs{seed, static_cast<std::uint32_t>(chain_offset + c), iteration};
    const auto s = st.spins;
    const int N = m.N;
    const auto range = static_cast<std::uint32_t>(m.move == Move::single_flip ? N : m.n_bonds);
    std::uint32_t q = 0;
    std::int64_t n_acc = 0;
    // Systematic scan: proposal q moves site (or bond) q mod range, the same
    // order in every chain, so the chains that share an SM read the same
    // table columns at about the same time and find them in L1.
    auto propose = [&]() {
      const double u = rs.uniform(g, q);
      const int pick = static_cast<int>(q++ % range);
      const int k = m.move == Move::single_flip ? pick : m.bond_i(pick);
      const int l = m.move == Move::single_flip ? -1 : m.bond_j(pick);
      const double sk = s(c, k);
      if (l >= 0 && sk == s(c, l)) return;  // exchange of equal spins: no move
      const double r = move_product(g, h, k, l, sk);
      const double ratio = l < 0 ? m.flip_ratio_from(r, k, sk) : m.exchange_ratio_from(r, k, l, sk);
      if (u < ratio * ratio) {
        accept(h, c, k, l, sk);
        ++n_acc;
      }
    };
    for (int p = 0; p < thermalization * N; ++p) propose();
    for (int k = 0; k < samples_per_chain; ++k) {
      for (int p = 0; p < sweeps_per_sample * N; ++p) propose();
      // Exact tanh for the record and the local energy.
      for (int q = 0; q < Angles::slots_max && q < h.slots(); ++q)
        if (h.unit(q) < m.M) h.tanh(q) = kmath::tanh(h.theta(q));
      const int row = c * samples_per_chain + k;
      for (int i = g.lane; i < N; i += V) out.spins(row, i) = s(c, i);
      for (int q = 0; q < Angles::slots_max && q < h.slots(); ++q)
        if (h.unit(q) < m.M) out.tanh_theta(row, h.unit(q)) = h.tanh(q);
      const double energy = local_energy(g, h, c);
      if (g.lane == 0) out.local_energy(row) = energy;
    }
    h.save(st.theta, st.tanh_theta, c);
    if (g.lane == 0) {
      st.accepted(c) = n_acc;
      st.proposed(c) = std::int64_t(q);
    }
  }

  template <class Angles>
  struct Launch {
    ChainSampler self;
    KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t item) const { self.template run_chain<Angles>(item); }
  };

  template <class Angles>
  void launch(Exec const& space) const {
    Kokkos::parallel_for("nqs::sample_chains", Policy(space, 0, std::int64_t(C) * V), Launch<Angles>{*this});
  }
};

// Samples every chain of this rank for one iteration (see ChainSampler).
// The random numbers of chain g at proposal q of iteration `iteration` do
// not depend on the rank that runs the chain.
template <class Exec>
void sample_chains(Exec const& space, RbmModel const& m, ChainState const& st, SampleBuffers const& out,
                   std::uint64_t seed, std::uint32_t iteration, std::int64_t chain_offset, int thermalization,
                   int sweeps_per_sample, int samples_per_chain, int requested_lanes = 0,
                   bool register_angles = true) {
  const int V = hidden_lanes<Exec>(requested_lanes);
  ChainSampler<Exec> s{m,
                       st,
                       out,
                       seed,
                       iteration,
                       chain_offset,
                       thermalization,
                       sweeps_per_sample,
                       samples_per_chain,
                       V,
                       int(st.spins.extent(0))};
  // Registers hold up to 8 units per lane on GPUs; wider layers and host
  // backends work in the global tables.
#ifdef KOKKOS_ENABLE_CUDA
  if constexpr (std::is_same_v<Exec, Kokkos::Cuda>) {
    if (!register_angles) return s.template launch<GlobalAngles>(space);
    const int per_lane = (m.M + V - 1) / V;
    if (per_lane <= 2) return s.template launch<RegisterAngles<2>>(space);
    if (per_lane <= 4) return s.template launch<RegisterAngles<4>>(space);
    if (per_lane <= 8) return s.template launch<RegisterAngles<8>>(space);
  }
#endif
  s.template launch<GlobalAngles>(space);
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
