#pragma once
// Float inference of the default 100-64-32-16-5 network on the tensor cores
// of NVIDIA GPUs (sm_80 and later), at float accuracy.
//
// Each warp takes tiles of 16 observations.  A layer is a [16][in] x [in][out]
// product done by the warp-wide mma.m16n8k8 instruction on TF32 operands.
// TF32 keeps only 10 of float's 23 mantissa bits, so every operand v is split
// into hi = tf32(v) and lo = tf32(v - hi), and the product is taken as
// lo*hi + hi*lo + hi*hi (the "3xTF32" scheme): the neglected lo*lo term and
// the rounding of lo are below float's own rounding error, so the network
// agrees with a float evaluation to float accuracy (the tests bound it
// against the float tile kernel and against PyTorch's float32).
//
// The instruction's accumulator gives a lane two neighbouring output columns
// (2t, 2t+1) of rows g and g + 8; its A operand wants columns t and t + 4.
// Instead of moving data between lanes, the inputs of every layer are taken
// in a permuted order: the A operand's column t is input 2t of the k-block
// and column t + 4 is input 2t + 1, and the weights are stored in the same
// order (tensor_weight_order below).  A layer's accumulators then are the
// next layer's A operand as they stand, after ReLU; the features are read
// the same way, two neighbours in one 16-byte load.
//
// The Gaussian log likelihoods are summed in double from the double
// features a lane loads anyway (its two rows, a quarter of the columns), and
// the four partial sums of a row are added across the lane group.  Every
// observation's outputs depend on its own features only, computed in an
// order fixed by the kernel, so they do not depend on how observations are
// split into chunks or over ranks.  They differ in the last bits from the
// other kernels (a different order of the sums), within the tolerances of
// tests/physics/test_classifier.cpp.
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <vector>

#include "kernels/classifier/mlp.hpp"

namespace prism::classifier {

// The fragment-ordered weights: per layer, per (k-block ks, n-block j), per
// lane (g = lane / 4, t = lane % 4) the pair W[in 8ks + 2t][out 8j + g],
// W[in 8ks + 2t + 1][out 8j + g] (zero outside the layer), then the biases
// padded to whole n-blocks.
namespace tensor_detail {
inline constexpr int widths[5] = {100, 64, 32, 16, 5};
constexpr int blocks(int w) {
  return (w + 7) / 8;
}
constexpr int w_size(int l) {
  return blocks(widths[l]) * blocks(widths[l + 1]) * 64;
}
}  // namespace tensor_detail

struct TensorLayout {
  static constexpr int layers = 4;
  static constexpr const int (&widths)[5] = tensor_detail::widths;
  static constexpr int blocks(int w) { return tensor_detail::blocks(w); }
  static constexpr int w_at[4] = {
      0, tensor_detail::w_size(0), tensor_detail::w_size(0) + tensor_detail::w_size(1),
      tensor_detail::w_size(0) + tensor_detail::w_size(1) + tensor_detail::w_size(2)};
  static constexpr int b_base = w_at[3] + tensor_detail::w_size(3);
  static constexpr int b_at[4] = {
      b_base, b_base + 8 * tensor_detail::blocks(64),
      b_base + 8 * (tensor_detail::blocks(64) + tensor_detail::blocks(32)),
      b_base + 8 * (tensor_detail::blocks(64) + tensor_detail::blocks(32) + tensor_detail::blocks(16))};
  static constexpr int size = b_at[3] + 8 * tensor_detail::blocks(5);
};

// The fragment order of parameters p (nn.Linear order: W_l [out][in], b_l per layer).
inline std::vector<float> tensor_weight_order(const std::vector<double>& p) {
  using T = TensorLayout;
  std::vector<float> f(T::size, 0.0f);
  std::int64_t at = 0;
  for (int l = 0; l < T::layers; ++l) {
    const int in = T::widths[l], out = T::widths[l + 1], nb = T::blocks(out);
    for (int ks = 0; ks < T::blocks(in); ++ks)
      for (int j = 0; j < nb; ++j)
        for (int lane = 0; lane < 32; ++lane) {
          const int g = lane / 4, t = lane % 4, o = 8 * j + g;
          for (int e = 0; e < 2; ++e) {
            const int i = 8 * ks + 2 * t + e;
            if (i < in && o < out)
              f[T::w_at[l] + ((ks * nb + j) * 32 + lane) * 2 + e] = float(p[at + std::int64_t(o) * in + i]);
          }
        }
    at += std::int64_t(in) * out;
    for (int o = 0; o < out; ++o) f[T::b_at[l] + o] = float(p[at + o]);
    at += out;
  }
  return f;
}

#if defined(KOKKOS_ENABLE_CUDA)

struct InferTensor {
  using T = TensorLayout;
  using Exec = Kokkos::DefaultExecutionSpace;
  static constexpr int D = 100, C = 5, kWarps = 8, kTeam = 32 * kWarps;
  using Policy = Kokkos::TeamPolicy<Exec, Kokkos::IndexType<std::int64_t>, Kokkos::LaunchBounds<kTeam, 2>>;
  using Member = typename Policy::member_type;
  using Scratch = Kokkos::View<double*, typename Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;

  Kokkos::View<const float*> w;       // TensorLayout order
  Kokkos::View<const double*> gauss;  // [D][C][2]: mu_sd, 1 / sigma_sd^2
  Kokkos::View<const double*> log_norm;
  Rows x;
  std::int64_t first = 0, n = 0;
  InferOutputs out;
  bool exact_logits = false;

  static constexpr std::size_t gauss_bytes = std::size_t(D) * C * 2 * sizeof(double);
  static constexpr std::size_t scratch_bytes = gauss_bytes + std::size_t(T::size) * sizeof(float);

#if defined(__CUDA_ARCH__)
  __device__ static std::uint32_t tf32(float v) {
    std::uint32_t r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(v));
    return r;
  }
  __device__ static void split(float v, std::uint32_t& hi, std::uint32_t& lo) {
    hi = tf32(v);
    lo = tf32(v - __uint_as_float(hi));
  }
  __device__ static void mma(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) {
    asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  // c += a * B for the k-block whose fragment-ordered weights start at wk:
  // the small products first, then the large one.
  template <int NB>
  __device__ static void multiply(float (&c)[NB][4], const float (&a)[4], const float2* wk, int lane) {
    std::uint32_t ah[4], al[4];
#pragma unroll
    for (int e = 0; e < 4; ++e) split(a[e], ah[e], al[e]);
#pragma unroll
    for (int j = 0; j < NB; ++j) {
      const float2 b = wk[j * 32 + lane];
      std::uint32_t bh0, bl0, bh1, bl1;
      split(b.x, bh0, bl0);
      split(b.y, bh1, bl1);
      mma(c[j], al, bh0, bh1);
      mma(c[j], ah, bl0, bl1);
      mma(c[j], ah, bh0, bh1);
    }
  }
  // Accumulators set to the biases of the lane's columns.
  template <int NB>
  __device__ static void biases(float (&c)[NB][4], const float* b, int t) {
#pragma unroll
    for (int j = 0; j < NB; ++j) {
      c[j][0] = c[j][2] = b[8 * j + 2 * t];
      c[j][1] = c[j][3] = b[8 * j + 2 * t + 1];
    }
  }
  // A hidden layer: the previous accumulators, through ReLU, as A operands.
  template <int L, int KB, int NB>
  __device__ static void dense(const float (&in)[KB][4], float (&c)[NB][4], const float* sw, int lane) {
    constexpr int b_at = T::b_at[L], w_at = T::w_at[L];
    biases(c, sw + b_at, lane & 3);
    const float2* wl = reinterpret_cast<const float2*>(sw + w_at);
#pragma unroll
    for (int ks = 0; ks < KB; ++ks) {
      const float a[4] = {fmaxf(in[ks][0], 0.f), fmaxf(in[ks][2], 0.f), fmaxf(in[ks][1], 0.f),
                          fmaxf(in[ks][3], 0.f)};
      multiply(c, a, wl + ks * NB * 32, lane);
    }
  }

  // Observations tile * 16 ... + 15 (slots), by the 32 lanes of one warp.
  __device__ void tile16(std::int64_t tile, const float* sw, const double* sg, int lane) const {
    __syncwarp();  // mma.sync needs the whole warp: lanes that left the last tile early rejoin
    const int g = lane >> 2, t = lane & 3;
    const std::int64_t slot0 = tile * 16 + g, slot1 = slot0 + 8;
    const double* x0 = &x(first + (slot0 < n ? slot0 : n - 1), 0);
    const double* x1 = &x(first + (slot1 < n ? slot1 : n - 1), 0);
    constexpr int KB = (D + 7) / 8, b_at = T::b_at[0], w_at = T::w_at[0];
    float h1[8][4];
    biases(h1, sw + b_at, t);
    double gp[2][C] = {};
    const float2* w0 = reinterpret_cast<const float2*>(sw + w_at);
#pragma unroll
    for (int ks = 0; ks < KB; ++ks) {
      const int d = 8 * ks + 2 * t;  // this lane's features d, d + 1 of rows g and g + 8
      double2 u = {0, 0}, v = {0, 0};
      if (d < D) {
        u = *reinterpret_cast<const double2*>(x0 + d);
        v = *reinterpret_cast<const double2*>(x1 + d);
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const double2* m = reinterpret_cast<const double2*>(sg + 2 * C * (d + e));
#pragma unroll
          for (int s = 0; s < C; ++s) {
            const double2 mi = m[s];
            const double r0 = (e ? u.y : u.x) - mi.x, r1 = (e ? v.y : v.x) - mi.x;
            gp[0][s] += r0 * r0 * mi.y;
            gp[1][s] += r1 * r1 * mi.y;
          }
        }
      }
      const float a[4] = {float(u.x), float(v.x), float(u.y), float(v.y)};
      multiply(h1, a, w0 + ks * 8 * 32, lane);
    }
    float h2[4][4], h3[2][4], z[1][4];
    dense<1>(h1, h2, sw, lane);
    dense<2>(h2, h3, sw, lane);
    dense<3>(h3, z, sw, lane);
    // The four lanes of a group hold a quarter of each row's sum: the same
    // total, bit for bit, in every lane (each pairwise sum is commutative).
#pragma unroll
    for (int r = 0; r < 2; ++r)
#pragma unroll
      for (int s = 0; s < C; ++s) {
        gp[r][s] += __shfl_xor_sync(0xffffffffu, gp[r][s], 1);
        gp[r][s] += __shfl_xor_sync(0xffffffffu, gp[r][s], 2);
      }
    // Logit s of rows g, g + 8 sits in lane t = s / 2 of the group, column s % 2.
    float zs[3][4];
#pragma unroll
    for (int src = 0; src < 3; ++src)
#pragma unroll
      for (int e = 0; e < 4; ++e) zs[src][e] = __shfl_sync(0xffffffffu, z[0][e], (lane & ~3) | src);
    // Lane t = 0 finishes row g, lane t = 1 row g + 8.
    const std::int64_t slot = t == 0 ? slot0 : slot1;
    if (t > 1 || slot >= n) return;
    double joint[C], logits[C];
#pragma unroll
    for (int s = 0; s < C; ++s) {
      // Selects, not run-time indices, which would put the arrays in local memory.
      joint[s] = log_norm(s) - 0.5 * (t == 0 ? gp[0][s] : gp[1][s]);
      const float zf = t == 0 ? zs[s >> 1][s & 1] : zs[s >> 1][2 + (s & 1)];
      logits[s] = exact_logits ? double(float(joint[s])) : double(zf);
    }
    infer_outputs<C>(out, slot, logits, joint, C);
  }
#endif

  KOKKOS_INLINE_FUNCTION void operator()(const Member& m) const {
#if defined(__CUDA_ARCH__)
    Scratch s(m.team_scratch(0), scratch_bytes / sizeof(double) + 2);
    double* sg =
        reinterpret_cast<double*>((reinterpret_cast<std::uintptr_t>(s.data()) + 15) & ~std::uintptr_t(15));
    float* sw = reinterpret_cast<float*>(sg + gauss_bytes / sizeof(double));
    Kokkos::parallel_for(Kokkos::TeamThreadRange(m, int(2 * C * D)), [&](const int i) { sg[i] = gauss(i); });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(m, int(T::size)), [&](const int i) { sw[i] = w(i); });
    m.team_barrier();
    const int lane = m.team_rank() & 31;
    const std::int64_t warps = std::int64_t(m.league_size()) * kWarps, tiles = (n + 15) / 16;
    for (std::int64_t tile = std::int64_t(m.league_rank()) * kWarps + (m.team_rank() >> 5); tile < tiles;
         tile += warps)
      tile16(tile, sw, sg, lane);
#else
    (void)m;
    Kokkos::abort("classifier::infer_tensor runs on CUDA devices only");
#endif
  }

  // Whether the kernel's scratch fits the block (Kokkos 3.4 caps level-0
  // scratch below the 48 KiB a block may use without opting in).
  static bool fits() {
    return scratch_bytes + 16 + sizeof(double) * (kTeam + 2) <= 48 * 1024;
  }

  void launch(const Exec& space) {
    const std::int64_t tiles = (n + 15) / 16;
    // Two teams per SM (the launch bounds; concurrency() is 2048 threads per
    // SM), each looping over tiles.
    const std::int64_t league = std::max<std::int64_t>(
        1, std::min<std::int64_t>((tiles + kWarps - 1) / kWarps, space.concurrency() / (4 * kTeam)));
    Policy policy(space, league, kTeam, 1);
    policy.set_scratch_size(0, Kokkos::PerTeam(scratch_bytes + 16));
    Kokkos::parallel_for("classifier::infer_tensor", policy, *this);
  }
};

#endif  // KOKKOS_ENABLE_CUDA

}  // namespace prism::classifier
