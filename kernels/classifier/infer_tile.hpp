#pragma once
// Fused inference of a four-layer network whose widths are known at compile
// time (the default 100-64-32-16-5): one team per tile of observations, the
// weights staged once per team into team scratch (shared memory on a GPU),
// and each thread carrying its observations' activations in registers
// through all four layers, the Gaussian log likelihoods, softmax, F and the
// exact posterior, so that nothing but the features is read from memory and
// nothing but the outputs is written.
//
// Every sum is taken in the same order, in the same type and with the same
// expression as the general kernel (Infer in mlp.hpp): the two give the same
// outputs, which tests/physics/test_classifier.cpp checks.
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdint>

#include "kernels/classifier/mlp.hpp"

// nvcc reads "#pragma unroll" in both its passes; g++ has its own spelling.
#if defined(__CUDACC__)
#define PRISM_UNROLL _Pragma("unroll")
#elif defined(__GNUC__) && !defined(__clang__)
#define PRISM_UNROLL _Pragma("GCC unroll 64")
#else
#define PRISM_UNROLL
#endif

namespace prism::classifier {

// The layout of the transposed parameters the tile kernel reads: per layer
// W_l as [in][out] (so that the outputs a thread updates for one input are
// contiguous) followed by b_l.
template <int D, int H1, int H2, int H3, int C>
struct TileLayout {
  static constexpr int w0 = 0, b0 = w0 + D * H1, w1 = b0 + H1, b1 = w1 + H1 * H2, w2 = b1 + H2,
                       b2 = w2 + H2 * H3, w3 = b2 + H3, b3 = w3 + H3 * C, size = b3 + C;
  static constexpr int widths[5] = {D, H1, H2, H3, C};
  static constexpr int w_at[4] = {w0, w1, w2, w3}, b_at[4] = {b0, b1, b2, b3};
};

// Sixteen bytes of Real: one vector load where the address allows.
template <class Real>
struct alignas(16) Pack {
  static constexpr int n = int(16 / sizeof(Real));
  Real v[n];
};

// K: observations per thread; MinBlocks: teams per SM the register
// allocation must allow (0: the compiler's choice).
template <class Real, int D, int H1, int H2, int H3, int C, int K = 1, int MinBlocks = 0>
struct InferTile {
  using L = TileLayout<D, H1, H2, H3, C>;
  using Exec = Kokkos::DefaultExecutionSpace;
  static constexpr int kTile = 128;  // observations per tile
  using Policy = Kokkos::TeamPolicy<Exec, Kokkos::IndexType<std::int64_t>,
                                    Kokkos::LaunchBounds<MinBlocks ? kTile / K : 0, MinBlocks>>;
  using Member = typename Policy::member_type;
  using Scratch = Kokkos::View<double*, typename Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;
  static_assert(H1 % Pack<Real>::n == 0, "the first hidden width must fill whole 16-byte packs");
  static_assert(C <= kMaxClasses, "too many classes");
  static_assert(D % 2 == 0, "the features are read in pairs");

  Kokkos::View<const Real*> pt;       // TileLayout order
  Kokkos::View<const double*> gauss;  // [D][C][2]: mu_sd, 1 / sigma_sd^2
  Kokkos::View<const double*> log_norm;
  Rows x;                         // double features; the network sees Real(x)
  std::int64_t first = 0, n = 0;  // observations [first, first + n) into slots [0, n)
  InferOutputs out;
  bool exact_logits = false, stage = false;

  // Team scratch: the Gaussian's constants (double) then the weights (Real).
  static constexpr std::size_t gauss_bytes = std::size_t(D) * C * 2 * sizeof(double);
  static constexpr std::size_t scratch_bytes = gauss_bytes + std::size_t(L::size) * sizeof(Real);

  // Observations slot, slot + 1, ..., slot + K - 1 (clamped to the last; only the valid stored).
  KOKKOS_INLINE_FUNCTION void observations(const Real* w, const double* gs, std::int64_t slot) const {
    std::int64_t r[K];
    for (int k = 0; k < K; ++k) r[k] = slot + k < n ? slot + k : n - 1;
    Real h1[K][H1];
    double g[K][C];
    for (int k = 0; k < K; ++k) {
      PRISM_UNROLL
      for (int o = 0; o < H1; ++o) h1[k][o] = w[L::b0 + o];
      PRISM_UNROLL
      for (int s = 0; s < C; ++s) g[k][s] = 0;
    }
    // The features two at a time: one 16-byte load per observation.
    const Pack<double>* xr[K];
    for (int k = 0; k < K; ++k) xr[k] = reinterpret_cast<const Pack<double>*>(&x(first + r[k], 0));
    for (int d2 = 0; d2 < D / 2; ++d2) {
      Pack<double> xp[K];
      for (int k = 0; k < K; ++k) xp[k] = xr[k][d2];
      PRISM_UNROLL
      for (int e2 = 0; e2 < 2; ++e2) {
        const int d = 2 * d2 + e2;
        const Pack<Real>* wd = reinterpret_cast<const Pack<Real>*>(w + L::w0 + d * H1);
        PRISM_UNROLL
        for (int o = 0; o < H1 / Pack<Real>::n; ++o) {
          const Pack<Real> p = wd[o];
          PRISM_UNROLL
          for (int e = 0; e < Pack<Real>::n; ++e)
            for (int k = 0; k < K; ++k) h1[k][o * Pack<Real>::n + e] += p.v[e] * Real(xp[k].v[e2]);
        }
        const Pack<double>* gd = reinterpret_cast<const Pack<double>*>(gs + 2 * C * d);
        PRISM_UNROLL
        for (int s = 0; s < C; ++s) {
          const Pack<double> m = gd[s];
          for (int k = 0; k < K; ++k) {
            const double dr = xp[k].v[e2] - m.v[0];
            g[k][s] += dr * dr * m.v[1];
          }
        }
      }
    }
    Real h2[K][H2];
    layer<H1, H2, L::w1, L::b1>(w, h1, h2);
    Real h3[K][H3];
    layer<H2, H3, L::w2, L::b2>(w, h2, h3);
    Real z[K][C];
    layer<H3, C, L::w3, L::b3>(w, h3, z);
    for (int k = 0; k < K; ++k) {
      if (slot + k >= n) break;
      double joint[C], logits[C];
      for (int s = 0; s < C; ++s) {
        joint[s] = log_norm(s) - 0.5 * g[k][s];
        logits[s] = exact_logits ? double(Real(joint[s])) : double(z[k][s]);
      }
      infer_outputs<C>(out, slot + k, logits, joint, C);
    }
  }

  // out = W in + b, with ReLU applied to the inputs (the previous layer's
  // outputs); the weights read in 16-byte packs where OUT fills them.
  template <int IN, int OUT, int W, int B>
  KOKKOS_INLINE_FUNCTION static void layer(const Real* w, const Real (&in)[K][IN], Real (&out)[K][OUT]) {
    constexpr int n = OUT % Pack<Real>::n == 0 ? Pack<Real>::n : 1;
    for (int k = 0; k < K; ++k) PRISM_UNROLL
    for (int o = 0; o < OUT; ++o) out[k][o] = w[B + o];
    PRISM_UNROLL
    for (int j = 0; j < IN; ++j) {
      Real a[K];
      for (int k = 0; k < K; ++k) a[k] = in[k][j] < 0 ? Real(0) : in[k][j];
      PRISM_UNROLL
      for (int o = 0; o < OUT / n; ++o) {
        Real v[n];
        if constexpr (n > 1) {
          const Pack<Real> p = reinterpret_cast<const Pack<Real>*>(w + W + j * OUT)[o];
          for (int e = 0; e < n; ++e) v[e] = p.v[e];
        } else {
          v[0] = w[W + j * OUT + o];
        }
        PRISM_UNROLL
        for (int e = 0; e < n; ++e)
          for (int k = 0; k < K; ++k) out[k][o * n + e] += v[e] * a[k];
      }
    }
  }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& m) const {
    const Real* w = pt.data();
    const double* gs = gauss.data();
    if (stage) {
      // Scratch is only 8-byte aligned; the packs need 16.
      Scratch s(m.team_scratch(0), scratch_bytes / sizeof(double) + 2);
      double* sg =
          reinterpret_cast<double*>((reinterpret_cast<std::uintptr_t>(s.data()) + 15) & ~std::uintptr_t(15));
      Real* sw = reinterpret_cast<Real*>(sg + gauss_bytes / sizeof(double));
      Kokkos::parallel_for(Kokkos::TeamThreadRange(m, int(2 * C * D)),
                           [&](const int t) { sg[t] = gauss(t); });
      Kokkos::parallel_for(Kokkos::TeamThreadRange(m, int(L::size)), [&](const int t) { sw[t] = pt(t); });
      m.team_barrier();
      w = sw;
      gs = sg;
    }
    const std::int64_t tiles = (n + kTile - 1) / kTile;
    for (std::int64_t tile = m.league_rank(); tile < tiles; tile += m.league_size()) {
      const std::int64_t begin = tile * kTile;
      const int count = int(n - begin < kTile ? n - begin : kTile);
      Kokkos::parallel_for(Kokkos::TeamThreadRange(m, (count + K - 1) / K),
                           [&](const int t) { observations(w, gs, begin + std::int64_t(t) * K); });
    }
  }

  // Launches the kernel on `space`: teams of 128 threads (one on a host
  // backend) looping over tiles, the weights in scratch where they fit.
  void launch(const Exec& space) {
    constexpr bool host = compat::kHostBackend;
    const int team = host ? 1 : kTile / K;
    const std::int64_t tiles = (n + kTile - 1) / kTile;
    // About as many teams as are resident at once (a quarter of the thread
    // slots, as registers and scratch allow), each looping over tiles, so the
    // weights are staged once per team rather than once per tile.
    const std::int64_t league = std::max<std::int64_t>(
        1, std::min<std::int64_t>(tiles,
                                  std::max<std::int64_t>(1, space.concurrency() / (host ? 1 : 4 * team))));
    // Kokkos 3.4 caps level-0 scratch below the 48 KiB a block may use without opting in.
    stage = !host && scratch_bytes + 16 + sizeof(double) * (team + 2) <= 48 * 1024;
    Policy policy(space, league, team, 1);
    if (stage) policy.set_scratch_size(0, Kokkos::PerTeam(scratch_bytes + 16));
    Kokkos::parallel_for("classifier::infer_tile", policy, *this);
  }
};

// Whether the network is the one the tile kernel is compiled for.
inline bool default_tile_shape(const Net& net) {
  using L = TileLayout<100, 64, 32, 16, 5>;
  if (net.layers != 4) return false;
  for (int l = 0; l <= 4; ++l)
    if (net.widths[l] != L::widths[l]) return false;
  return true;
}

}  // namespace prism::classifier
