#pragma once
// Float inference of the default 100-64-32-16-5 network on the tensor cores
// of NVIDIA GPUs (sm_80 and later), at float accuracy.
//
// Each warp takes tiles of 16 observations.  A layer is a [16][in] x [in][out]
// product done by the warp-wide mma.m16n8k8 instruction on TF32 operands.
// TF32 keeps only 10 of float's 23 mantissa bits, so every operand v is split
// into hi = v rounded to TF32 and lo = v - hi (of which the tensor core reads
// the top 10 bits), and the product is taken as lo*hi + hi*lo + hi*hi (the
// "3xTF32" scheme): the neglected lo*lo term and the bits of lo the core
// drops are about 2^-21 of each operand, a few times float's own rounding,
// so the network agrees with a float evaluation to float accuracy (the tests
// bound it against the float tile kernel and against PyTorch's float32).
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
// features a lane loads anyway (its rows, a quarter of the columns), and
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

// The kernel needs TF32 mma (compute capability 8.0 and later): built for
// Kokkos's Ampere, Ada, Hopper and Blackwell architectures only.
#if defined(KOKKOS_ENABLE_CUDA) && (defined(KOKKOS_ARCH_AMPERE80) || defined(KOKKOS_ARCH_AMPERE86) || \
                                    defined(KOKKOS_ARCH_ADA89) || defined(KOKKOS_ARCH_HOPPER90) ||    \
                                    defined(KOKKOS_ARCH_BLACKWELL100) || defined(KOKKOS_ARCH_BLACKWELL120))
#define PRISM_CLASSIFIER_TENSOR_CORES 1
#endif

#if defined(PRISM_CLASSIFIER_TENSOR_CORES)

// MT: tiles of 16 observations a warp carries at once (1 or 2); with two,
// every weight operand is split once for both, and all 32 lanes finish rows.
template <int MT = 1>
struct InferTensor {
  static_assert(MT == 1 || MT == 2, "one or two tiles per warp");
  using T = TensorLayout;
  using Exec = Kokkos::DefaultExecutionSpace;
  static constexpr int D = 100, C = 5, kWarps = 8, kTeam = 32 * kWarps, kRows = 16 * MT;
  using Policy =
      Kokkos::TeamPolicy<Exec, Kokkos::IndexType<std::int64_t>, Kokkos::LaunchBounds<kTeam, MT == 1 ? 2 : 1>>;
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

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  // hi: v rounded to TF32's 10 mantissa bits (integer rounding, full rate,
  // where cvt.rna runs on the slower conversion pipe); lo: the exact rest,
  // whose low bits the tensor core ignores.
  __device__ static void split(float v, std::uint32_t& hi, std::uint32_t& lo) {
    hi = (__float_as_uint(v) + 0x1000u) & 0xffffe000u;
    lo = __float_as_uint(v - __uint_as_float(hi));
  }
  __device__ static void mma(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) {
    asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  // c[m] += a[m] * B for the k-block whose fragment-ordered weights start at
  // wk: the small products first, then the large one.
  template <int NB>
  __device__ static void multiply(float (&c)[MT][NB][4], const float (&a)[MT][4], const float2* wk,
                                  int lane) {
    std::uint32_t ah[MT][4], al[MT][4];
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
      for (int e = 0; e < 4; ++e) split(a[m][e], ah[m][e], al[m][e]);
#pragma unroll
    for (int j = 0; j < NB; ++j) {
      const float2 b = wk[j * 32 + lane];
      std::uint32_t bh0, bl0, bh1, bl1;
      split(b.x, bh0, bl0);
      split(b.y, bh1, bl1);
#pragma unroll
      for (int m = 0; m < MT; ++m) {
        mma(c[m][j], al[m], bh0, bh1);
        mma(c[m][j], ah[m], bl0, bl1);
        mma(c[m][j], ah[m], bh0, bh1);
      }
    }
  }
  // Accumulators set to the biases of the lane's columns.
  template <int NB>
  __device__ static void biases(float (&c)[MT][NB][4], const float* b, int t) {
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
      for (int j = 0; j < NB; ++j) {
        c[m][j][0] = c[m][j][2] = b[8 * j + 2 * t];
        c[m][j][1] = c[m][j][3] = b[8 * j + 2 * t + 1];
      }
  }
  // A hidden layer: the previous accumulators, through ReLU, as A operands.
  template <int L, int KB, int NB>
  __device__ static void dense(const float (&in)[MT][KB][4], float (&c)[MT][NB][4], const float* sw,
                               int lane) {
    constexpr int b_at = T::b_at[L], w_at = T::w_at[L];
    biases(c, sw + b_at, lane & 3);
    const float2* wl = reinterpret_cast<const float2*>(sw + w_at);
#pragma unroll
    for (int ks = 0; ks < KB; ++ks) {
      float a[MT][4];
#pragma unroll
      for (int m = 0; m < MT; ++m) {
        a[m][0] = fmaxf(in[m][ks][0], 0.f);
        a[m][1] = fmaxf(in[m][ks][2], 0.f);
        a[m][2] = fmaxf(in[m][ks][1], 0.f);
        a[m][3] = fmaxf(in[m][ks][3], 0.f);
      }
      multiply(c, a, wl + ks * NB * 32, lane);
    }
  }

  // Observation slots tile * kRows ... + kRows - 1, by the 32 lanes of one
  // warp: lane (g, t) holds rows g and g + 8 of each 16-row tile m.
  __device__ void rows(std::int64_t tile, const float* sw, const double* sg, int lane) const {
    __syncwarp();  // mma.sync needs the whole warp: lanes that left the last tile early rejoin
    const int g = lane >> 2, t = lane & 3;
    const double* xr[MT][2];
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const std::int64_t slot = tile * kRows + 16 * m + 8 * h + g;
        xr[m][h] = &x(first + (slot < n ? slot : n - 1), 0);
      }
    constexpr int KB = (D + 7) / 8, b_at = T::b_at[0], w_at = T::w_at[0];
    float h1[MT][8][4];
    biases(h1, sw + b_at, t);
    double gp[MT][2][C] = {};
    const float2* w0 = reinterpret_cast<const float2*>(sw + w_at);
#pragma unroll
    for (int ks = 0; ks < KB; ++ks) {
      const int d = 8 * ks + 2 * t;  // this lane's features d, d + 1 of its rows
      double2 u[MT][2];
#pragma unroll
      for (int m = 0; m < MT; ++m)
#pragma unroll
        for (int h = 0; h < 2; ++h)
          u[m][h] = d < D ? *reinterpret_cast<const double2*>(xr[m][h] + d) : double2{0, 0};
      if (d < D) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const double2* mv = reinterpret_cast<const double2*>(sg + 2 * C * (d + e));
#pragma unroll
          for (int s = 0; s < C; ++s) {
            const double2 mi = mv[s];
#pragma unroll
            for (int m = 0; m < MT; ++m)
#pragma unroll
              for (int h = 0; h < 2; ++h) {
                const double r = (e ? u[m][h].y : u[m][h].x) - mi.x;
                gp[m][h][s] += r * r * mi.y;
              }
          }
        }
      }
      float a[MT][4];
#pragma unroll
      for (int m = 0; m < MT; ++m) {
        a[m][0] = float(u[m][0].x);
        a[m][1] = float(u[m][1].x);
        a[m][2] = float(u[m][0].y);
        a[m][3] = float(u[m][1].y);
      }
      multiply(h1, a, w0 + ks * 8 * 32, lane);
    }
    float h2[MT][4][4], h3[MT][2][4], z[MT][1][4];
    dense<1>(h1, h2, sw, lane);
    dense<2>(h2, h3, sw, lane);
    dense<3>(h3, z, sw, lane);
    // The four lanes of a group hold a quarter of each row's sum: the same
    // total, bit for bit, in every lane (each pairwise sum is commutative).
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int s = 0; s < C; ++s) {
          gp[m][h][s] += __shfl_xor_sync(0xffffffffu, gp[m][h][s], 1);
          gp[m][h][s] += __shfl_xor_sync(0xffffffffu, gp[m][h][s], 2);
        }
    // Logit s of rows g, g + 8 sits in lane t = s / 2 of the group, column s % 2.
    float zs[MT][3][4];
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
      for (int src = 0; src < 3; ++src)
#pragma unroll
        for (int e = 0; e < 4; ++e) zs[m][src][e] = __shfl_sync(0xffffffffu, z[m][0][e], (lane & ~3) | src);
    // Lane t finishes row g + 8 (t & 1) of tile t >> 1 (with one tile, lanes 2 and 3 idle).
    const int mine = t >> 1, h = t & 1;
    const std::int64_t slot = tile * kRows + 16 * mine + 8 * h + g;
    if (mine >= MT || slot >= n) return;
    double joint[C], logits[C];
#pragma unroll
    for (int s = 0; s < C; ++s) {
      // Selects, not run-time indices, which would put the arrays in local memory.
      double q = 0;
      float zf = 0;
#pragma unroll
      for (int m = 0; m < MT; ++m)
#pragma unroll
        for (int hh = 0; hh < 2; ++hh)
          if (m == mine && hh == h) {
            q = gp[m][hh][s];
            zf = zs[m][s >> 1][2 * hh + (s & 1)];
          }
      joint[s] = log_norm(s) - 0.5 * q;
      logits[s] = exact_logits ? double(float(joint[s])) : double(zf);
    }
    infer_outputs<C>(out, slot, logits, joint, C);
  }
#endif

  KOKKOS_INLINE_FUNCTION void operator()(const Member& m) const {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    Scratch s(m.team_scratch(0), scratch_bytes / sizeof(double) + 2);
    double* sg =
        reinterpret_cast<double*>((reinterpret_cast<std::uintptr_t>(s.data()) + 15) & ~std::uintptr_t(15));
    float* sw = reinterpret_cast<float*>(sg + gauss_bytes / sizeof(double));
    Kokkos::parallel_for(Kokkos::TeamThreadRange(m, int(2 * C * D)), [&](const int i) { sg[i] = gauss(i); });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(m, int(T::size)), [&](const int i) { sw[i] = w(i); });
    m.team_barrier();
    const int lane = m.team_rank() & 31;
    const std::int64_t warps = std::int64_t(m.league_size()) * kWarps, tiles = (n + kRows - 1) / kRows;
    for (std::int64_t tile = std::int64_t(m.league_rank()) * kWarps + (m.team_rank() >> 5); tile < tiles;
         tile += warps)
      rows(tile, sw, sg, lane);
#else
    (void)m;
    Kokkos::abort("classifier::infer_tensor runs on CUDA devices of compute capability 8.0 or later");
#endif
  }

  // Whether the kernel's scratch fits the block (Kokkos 3.4 caps level-0
  // scratch below the 48 KiB a block may use without opting in).
  static bool fits() {
    return scratch_bytes + 16 + sizeof(double) * (kTeam + 2) <= 48 * 1024;
  }

  void launch(const Exec& space) {
    const std::int64_t tiles = (n + kRows - 1) / kRows;
    // As many teams as the launch bounds keep resident (concurrency() is 2048
    // threads per SM), each looping over tiles.
    const std::int64_t resident = space.concurrency() / 2048 * (MT == 1 ? 2 : 1);
    const std::int64_t league =
        std::max<std::int64_t>(1, std::min<std::int64_t>((tiles + kWarps - 1) / kWarps, resident));
    Policy policy(space, league, kTeam, 1);
    policy.set_scratch_size(0, Kokkos::PerTeam(scratch_bytes + 16));
    Kokkos::parallel_for("classifier::infer_tensor", policy, *this);
  }
};

#endif  // PRISM_CLASSIFIER_TENSOR_CORES

}  // namespace prism::classifier
