#pragma once
// Fused float inference of the default 100-64-32-16-5 network on CUDA, with
// the first two layers register-tiled: a team of 128 threads takes a tile of
// 128 observations; for the first layer each thread owns an 8 x 8 block
// (8 observations x 8 units), so that one shared-memory read of a weight
// serves eight observations rather than one (InferTile's one observation
// per thread reads a weight per multiply-add). The features are staged ten
// at a time through shared memory with coalesced reads, as double (for the
// Gaussian log likelihoods) and float (for the network), together with the
// first layer's weights and the Gaussian's constants for those ten inputs.
//
// The second layer takes its inputs from the eight threads of a group by
// warp shuffles; each thread then owns 8 observations x 4 units. Its
// outputs go through shared memory to one thread per observation for the
// last two layers, the outputs and F (as in InferTile).
//
// Every sum is the general kernel's, in the same order and the same
// expressions (bias first, inputs in ascending order, one fused
// multiply-add each), so the outputs equal InferTile's bit for bit, which
// tests/physics/test_classifier.cpp checks on a GPU.
#include <Kokkos_Core.hpp>
#include <cstdint>

#include "kernels/classifier/infer_tile.hpp"

namespace prism::classifier {

#if defined(KOKKOS_ENABLE_CUDA)
// MinBlocks: the teams per SM the register allocation must allow.
template <int MinBlocks = 4>
struct InferGemm {
  static constexpr int D = 100, H1 = 64, H2 = 32, H3 = 16, C = 5;
  using L = TileLayout<D, H1, H2, H3, C>;
  static constexpr int kTile = 128, kTeam = 128;  // observations per tile; threads per team
  static constexpr int kChunk = 10;               // features staged at a time
  static_assert(D % kChunk == 0, "whole chunks of features");
  using Exec = Kokkos::Cuda;
  using Policy =
      Kokkos::TeamPolicy<Exec, Kokkos::IndexType<std::int64_t>, Kokkos::LaunchBounds<kTeam, MinBlocks>>;
  using Member = typename Policy::member_type;
  using Scratch = Kokkos::View<double*, typename Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;

  Kokkos::View<const float*> pt;      // TileLayout order
  Kokkos::View<const double*> gauss;  // [D][C][2]: mu_sd, 1 / sigma_sd^2
  Kokkos::View<const double*> log_norm;
  Rows x;
  std::int64_t first = 0, n = 0;
  InferOutputs out;
  bool exact_logits = false;

  // Scratch, in doubles: the layers after the first (from b0 on), the
  // staged features (double then float) or, after the first layer, the
  // second layer's outputs [observation][H2 + 1], the chunk of first-layer
  // weights and of Gaussian constants.
  static constexpr int kRest = L::size - L::b0;                   // floats
  static constexpr int kRestD = (kRest + 3) / 4 * 2;              // in doubles, 16-byte multiple
  static constexpr int kX = kChunk * kTile + kChunk * kTile / 2;  // double + float copies, in doubles
  static constexpr int kH2 = (kTile * (H2 + 1) + 3) / 4 * 2;      // floats, in doubles
  static constexpr int kShared = kX > kH2 ? kX : kH2;
  static constexpr int kW1 = kChunk * H1 / 2;  // floats, in doubles
  static constexpr int kG = kChunk * C * 2;
  static constexpr int kScratch = kRestD + kShared + kW1 + kG + 2;  // + 16-byte alignment

  KOKKOS_INLINE_FUNCTION void operator()(const Member& m) const {
#ifdef __CUDA_ARCH__
    Scratch s(m.team_scratch(0), kScratch);
    double* base =
        reinterpret_cast<double*>((reinterpret_cast<std::uintptr_t>(s.data()) + 15) & ~std::uintptr_t(15));
    float* rest = reinterpret_cast<float*>(base);  // rest[i] is pt(L::b0 + i)
    double* xd = base + kRestD;                    // [feature][observation]
    float* xf = reinterpret_cast<float*>(xd + kChunk * kTile);
    float* h2 = reinterpret_cast<float*>(xd);  // [observation][H2 + 1], after the first layer
    float* w1 = reinterpret_cast<float*>(base + kRestD + kShared);  // [feature][H1]
    double* gc = base + kRestD + kShared + kW1;                     // [feature][C][2]
    const int t = m.team_rank();
    for (int i = t; i < kRest; i += kTeam) rest[i] = pt(L::b0 + i);
    m.team_barrier();
    const int og = t / 8, cg = t % 8;  // first layer: observations 8 og.., units 8 cg..
    const int group = (t & 31) & ~7;   // the lane of this group's unit block 0
    const std::int64_t tiles = (n + kTile - 1) / kTile;
    for (std::int64_t tile = m.league_rank(); tile < tiles; tile += m.league_size()) {
      const std::int64_t begin = tile * kTile;
      float acc[8][8];
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = rest[8 * cg + j];
      double g[C];
#pragma unroll
      for (int c = 0; c < C; ++c) g[c] = 0;
      for (int chunk = 0; chunk < D / kChunk; ++chunk) {
        m.team_barrier();  // the buffers' last readers are done
        const int d0 = chunk * kChunk;
        for (int e = t; e < kChunk * kTile; e += kTeam) {
          const int r = e / kChunk, k = e % kChunk;
          const std::int64_t row = begin + r < n ? begin + r : n - 1;
          const double v = x(first + row, d0 + k);
          xd[k * kTile + r] = v;
          xf[k * kTile + r] = float(v);
        }
        for (int e = t; e < kChunk * H1; e += kTeam) w1[e] = pt(L::w0 + d0 * H1 + e);
        for (int e = t; e < kG; e += kTeam) gc[e] = gauss(d0 * C * 2 + e);
        m.team_barrier();
#pragma unroll
        for (int k = 0; k < kChunk; ++k) {
          const float4 xa = reinterpret_cast<const float4*>(xf + k * kTile + 8 * og)[0];
          const float4 xb = reinterpret_cast<const float4*>(xf + k * kTile + 8 * og)[1];
          const float4 wa = reinterpret_cast<const float4*>(w1 + k * H1 + 8 * cg)[0];
          const float4 wb = reinterpret_cast<const float4*>(w1 + k * H1 + 8 * cg)[1];
          const float xv[8] = {xa.x, xa.y, xa.z, xa.w, xb.x, xb.y, xb.z, xb.w};
          const float wv[8] = {wa.x, wa.y, wa.z, wa.w, wb.x, wb.y, wb.z, wb.w};
#pragma unroll
          for (int i = 0; i < 8; ++i)
#pragma unroll
            for (int j = 0; j < 8; ++j) acc[i][j] += wv[j] * xv[i];
          const double xk = xd[k * kTile + t];  // thread t: observation t's likelihoods
#pragma unroll
          for (int c = 0; c < C; ++c) {
            const double dr = xk - gc[(k * C + c) * 2];
            g[c] += dr * dr * gc[(k * C + c) * 2 + 1];
          }
        }
      }
      // Second layer: inputs j of the group's 8 observations from lane group + j / 8.
      float acc2[8][4];
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int o = 0; o < 4; ++o) acc2[i][o] = rest[L::b1 - L::b0 + 4 * cg + o];
#pragma unroll
      for (int j = 0; j < H1; ++j) {
        const float4 w = reinterpret_cast<const float4*>(rest + (L::w1 - L::b0) + j * H2 + 4 * cg)[0];
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          const float v = __shfl_sync(0xffffffffu, acc[i][j % 8], group + j / 8);
          const float a = v < 0 ? 0.0f : v;
          acc2[i][0] += w.x * a;
          acc2[i][1] += w.y * a;
          acc2[i][2] += w.z * a;
          acc2[i][3] += w.w * a;
        }
      }
      m.team_barrier();  // every thread is past its reads of the features
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int o = 0; o < 4; ++o) h2[(8 * og + i) * (H2 + 1) + 4 * cg + o] = acc2[i][o];
      m.team_barrier();
      if (begin + t >= n) continue;
      // One thread per observation for the last two layers and the outputs.
      float a2[H2], a3[H3], z[C];
#pragma unroll
      for (int j = 0; j < H2; ++j) a2[j] = h2[t * (H2 + 1) + j];
#pragma unroll
      for (int o = 0; o < H3; ++o) a3[o] = rest[L::b2 - L::b0 + o];
#pragma unroll
      for (int j = 0; j < H2; ++j) {
        const float a = a2[j] < 0 ? 0.0f : a2[j];
#pragma unroll
        for (int o = 0; o < H3; ++o) a3[o] += rest[L::w2 - L::b0 + j * H3 + o] * a;
      }
#pragma unroll
      for (int o = 0; o < C; ++o) z[o] = rest[L::b3 - L::b0 + o];
#pragma unroll
      for (int j = 0; j < H3; ++j) {
        const float a = a3[j] < 0 ? 0.0f : a3[j];
#pragma unroll
        for (int o = 0; o < C; ++o) z[o] += rest[L::w3 - L::b0 + j * C + o] * a;
      }
      double joint[C], logits[C];
#pragma unroll
      for (int c = 0; c < C; ++c) {
        joint[c] = log_norm(c) - 0.5 * g[c];
        logits[c] = exact_logits ? double(float(joint[c])) : double(z[c]);
      }
      infer_outputs<C>(out, begin + t, logits, joint, C);
    }
#else
    (void)m;
#endif
  }

  void launch(const Exec& space) {
    const std::int64_t tiles = (n + kTile - 1) / kTile;
    // As many teams as are resident at once (MinBlocks of 128 threads per
    // SM, of its 2048 thread slots), each looping over tiles.
    const std::int64_t league = std::max<std::int64_t>(
        1, std::min<std::int64_t>(tiles, space.concurrency() * MinBlocks / (2048 / kTeam * kTeam)));
    Policy policy(space, league, kTeam, 1);
    policy.set_scratch_size(0, Kokkos::PerTeam(std::size_t(kScratch) * sizeof(double)));
    Kokkos::parallel_for("classifier::infer_gemm", policy, *this);
  }
};
#endif

}  // namespace prism::classifier
