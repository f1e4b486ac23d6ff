#pragma once
// Device form of the gnn model (src/gnn/model.hpp) and its kernels: the
// interaction layers forward, and by hand backward for the forces.
//
// One team per atom i walks i's edges in their fixed order, a tile of
// edges at a time.  Per tile the team computes the harmonics and the radial
// basis, stages the neighbours' features, runs the radial MLP (threads over
// its units, the tile's edges side by side) and adds the tile's
// tensor-product messages into the atom's accumulator.  The work items of
// the last step are the weights w[q], q = (path, copy u): item q alone
// writes the output rows (path, u), so no two threads add to one number and
// no atomics are needed.  Tiles start at the atom's first edge, so sums run
// in the same order on every run and rank count (and on every backend for a
// given tile width).
//
// Backward (forces): E depends on positions only through the edge vectors
// d_e = r_j - r_i, so the kernels accumulate g_e = dE/dd_e per edge and the
// forces are F_k = sum over k's edges e of g_e - g_rev(e).
// The gradient with respect to the sender's features h_j of edge i <- j is
// gathered at j from j's own edge j <- i, which has the same radial weights
// and harmonics of opposite parity: no scatter.
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <type_traits>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/gnn/geometry.hpp"

namespace prism::gnn {

template <class Real>
struct DevLinear {
  int in_dim = 0, out_dim = 0;
  // Per output element o: its block's offset, irrep dim, output multiplicity,
  // and the range of paths into that block; paths: in_offset, mul_in, w_offset.
  Kokkos::View<int*> out_block;           // [out_dim]
  Kokkos::View<int* [4]> out_info;        // [blocks]: offset, dim, mul_out, -
  Kokkos::View<int*> by_out_begin;        // [blocks + 1] into by_out
  Kokkos::View<int*> by_out;              // path indices grouped by output block
  Kokkos::View<int*> in_block;            // [in_dim]
  Kokkos::View<int* [4]> in_info;         // [in blocks]: offset, dim, mul_in, -
  Kokkos::View<int*> by_in_begin, by_in;  // path indices grouped by input block
  Kokkos::View<int* [6]> path;            // in_offset, out_offset, mul_in, mul_out, dim, w_offset
  Kokkos::View<Real*> alpha;              // per path
  Kokkos::View<Real*> w;

  // y[o] for one output element.
  KOKKOS_INLINE_FUNCTION Real apply(int o, const Real* x) const {
    const int b = out_block(o);
    const int wo = (o - out_info(b, 0)) / out_info(b, 1), m = (o - out_info(b, 0)) % out_info(b, 1);
    Real y = 0;
    for (int k = by_out_begin(b); k < by_out_begin(b + 1); ++k) {
      const int p = by_out(k);
      const int io = path(p, 0), mul_in = path(p, 2), mul_out = path(p, 3), d = path(p, 4), wof = path(p, 5);
      Real s = 0;
      for (int u = 0; u < mul_in; ++u) s += x[io + u * d + m] * w(wof + u * mul_out + wo);
      y += alpha(p) * s;
    }
    return y;
  }
  // (dL/dx)[i] from dL/dy, for one input element.
  KOKKOS_INLINE_FUNCTION Real apply_t(int i, const Real* gy) const {
    const int b = in_block(i);
    const int u = (i - in_info(b, 0)) / in_info(b, 1), m = (i - in_info(b, 0)) % in_info(b, 1);
    Real g = 0;
    for (int k = by_in_begin(b); k < by_in_begin(b + 1); ++k) {
      const int p = by_in(k);
      const int oo = path(p, 1), mul_out = path(p, 3), d = path(p, 4), wof = path(p, 5);
      Real s = 0;
      for (int wo = 0; wo < mul_out; ++wo) s += gy[oo + wo * d + m] * w(wof + u * mul_out + wo);
      g += alpha(p) * s;
    }
    return g;
  }
};

template <class Real>
struct DevLayer {
  int in_dim = 0, tp_dim = 0, gate_dim = 0, out_dim = 0, numel = 0, scalars = 0, gates = 0;
  // Tensor-product paths: in_offset, d1, sh_offset, out_offset, d3, w_offset, cg_begin, cg_end, l2
  Kokkos::View<int* [9]> tp;
  Kokkos::View<Real*> tp_weight;      // path weight
  Kokkos::View<int* [3]> cg_index;    // i, j, k
  Kokkos::View<Real*> cg;             // C[i][j][k]
  Kokkos::View<int*> item_path;       // [numel]: path of weight q
  Kokkos::View<int* [2]> channel;     // [input channels]: block, copy u
  Kokkos::View<int*> tp_by_in_begin;  // [in blocks + 1] into tp_by_in
  Kokkos::View<int*> tp_by_in;        // path indices grouped by input block
  int radial_layers = 0;
  int radial_width[8] = {};  // n_basis, hidden..., numel
  int radial_offset[8] = {};
  Kokkos::View<Real*> radial;         // every radial matrix [in][out], scaled by 1/sqrt(in)
  Kokkos::View<Real*> radial_t;       // the same matrices transposed, [out][in], for the backward pass
  int last_hidden_offset = -1;        // where the last hidden layer's outputs start in `post` (-1: none)
  Kokkos::View<int*> gate_of;         // [out_dim - scalars]: the gate that multiplies that gated element
  Kokkos::View<int* [2]> gate_range;  // [gates]: the gated elements [begin, end) a gate multiplies
  DevLinear<Real> linear, self;
};

template <class Real>
struct DevCommon {
  int species = 0, channels = 0, lmax = 0, n_sh = 1, n_basis = 0, envelope_p = 6;
  Real r_cut = 0, inv_avg = 1, silu_cst = 1, sigmoid_cst = 1, radial_cst = 1;
  int radial_max = 0;  // widest hidden radial layer
};

template <class Real>
KOKKOS_INLINE_FUNCTION Real silu(Real x) {
  return x / (1 + kmath::exp(-x));
}
template <class Real>
KOKKOS_INLINE_FUNCTION Real silu_prime(Real x) {
  const Real s = 1 / (1 + kmath::exp(-x));
  return s * (1 + x * (1 - s));
}
template <class Real>
KOKKOS_INLINE_FUNCTION Real sigmoid(Real x) {
  return 1 / (1 + kmath::exp(-x));
}

// Edges per pass of a team (a tile).  Each radial weight a thread reads
// serves every edge of the tile, whose values sit side by side in registers,
// and a tile needs one set of barriers instead of one per edge.  The
// backward tile is narrower: its per-thread dE/dY shares grow with it.
template <class Real>
inline constexpr int kForwardTile = 8;
template <class Real>
inline constexpr int kBackwardTile = sizeof(Real) == 4 ? 4 : 2;

// 16-byte vector loads and stores of team memory on a GPU (CUDA's float4
// and double2); plain loops elsewhere.
#if defined(KOKKOS_ENABLE_CUDA)
template <class Real>
struct Vector16;
template <>
struct Vector16<float> {
  using type = float4;
  static constexpr int n = 4;
  KOKKOS_INLINE_FUNCTION static void split(const float4& v, float* x) {
    x[0] = v.x;
    x[1] = v.y;
    x[2] = v.z;
    x[3] = v.w;
  }
  KOKKOS_INLINE_FUNCTION static float4 join(const float* x) { return float4{x[0], x[1], x[2], x[3]}; }
};
template <>
struct Vector16<double> {
  using type = double2;
  static constexpr int n = 2;
  KOKKOS_INLINE_FUNCTION static void split(const double2& v, double* x) {
    x[0] = v.x;
    x[1] = v.y;
  }
  KOKKOS_INLINE_FUNCTION static double2 join(const double* x) { return double2{x[0], x[1]}; }
};
#endif

// Whether this is the device pass of a GPU build: the 16-byte path applies.
template <int NE, class Real>
KOKKOS_INLINE_FUNCTION constexpr bool vector_tiles() {
#if defined(KOKKOS_ENABLE_CUDA) && defined(__CUDA_ARCH__)
  return NE % Vector16<Real>::n == 0;
#else
  return false;
#endif
}

// x[0 .. NE) = p[0 .. NE) for p aligned to 16 bytes: on a GPU in 16-byte
// loads, so that a tile of a broadcast row costs NE / 4 (float) or NE / 2
// (double) shared-memory instructions instead of NE.
template <int NE, class Real>
KOKKOS_INLINE_FUNCTION void load_tile(const Real* p, Real (&x)[NE]) {
  if constexpr (vector_tiles<NE, Real>()) {
#if defined(KOKKOS_ENABLE_CUDA)
    using V = Vector16<Real>;
    for (int t = 0; t < NE; t += V::n) V::split(*reinterpret_cast<const typename V::type*>(p + t), x + t);
#endif
  } else {
    for (int t = 0; t < NE; ++t) x[t] = p[t];
  }
}

// p[0 .. NE) = x[0 .. NE), p aligned as for load_tile.
template <int NE, class Real>
KOKKOS_INLINE_FUNCTION void store_tile(Real* p, const Real (&x)[NE]) {
  if constexpr (vector_tiles<NE, Real>()) {
#if defined(KOKKOS_ENABLE_CUDA)
    using V = Vector16<Real>;
    for (int t = 0; t < NE; t += V::n) *reinterpret_cast<typename V::type*>(p + t) = V::join(x + t);
#endif
  } else {
    for (int t = 0; t < NE; ++t) p[t] = x[t];
  }
}

// a[t] = sum over i < n of x[i * NE + t] W[i * stride + col], for the
// tile's NE edges side by side, each sum in the order of i: one read of a
// weight serves every edge.
//
// How the index is formed steers the compiler, and the two passes want it
// differently.  With W + col passed as a pointer (col 0), the backward
// kernel in float came out with 130 registers instead of 168 and ran 37 %
// slower on an H200, while the forward kernel ran faster that way; with the
// index formed in 32 bits from W (Indexed), the backward kernel gets its 168
// back (docs/performance-notes.md, "gnn: a register count lost").  Same
// sums, same bits either way.
template <int NE, class Real>
KOKKOS_INLINE_FUNCTION void tile_matvec(const Real* W, int col, int stride, const Real* x, int n,
                                        Real (&a)[NE]) {
  for (int t = 0; t < NE; ++t) a[t] = 0;
  for (int i = 0; i < n; ++i) {
    const Real w = W[i * stride + col];
    Real xi[NE];
    load_tile<NE>(x + i * NE, xi);
    for (int t = 0; t < NE; ++t) a[t] += xi[t] * w;
  }
}

// Edge t's sum of tile_matvec alone, in the same order: sum over i < n of
// x[i * NE + t] W[i * stride + col].
template <int NE, class Real>
KOKKOS_INLINE_FUNCTION Real tile_dot(const Real* W, int col, int stride, const Real* x, int t, int n) {
  Real a = 0;
  for (int i = 0; i < n; ++i) a += x[i * NE + t] * W[i * stride + col];
  return a;
}

// Rows of v[n][width] for the tile's neighbours into s[f * NE + t] (zero
// past ne), each row read whole: consecutive threads, consecutive slots.
template <int NE, class Real, class Member, class Rows, class Neighbours>
KOKKOS_INLINE_FUNCTION void stage_rows(const Member& m, Real* s, const Rows& v, int width,
                                       const Neighbours& nbr, std::int64_t e0, int ne) {
  Kokkos::parallel_for(Kokkos::TeamThreadRange(m, NE * width), [&](int x) {
    const int f = x / NE, t = x % NE;
    s[x] = t < ne ? v(nbr(e0 + t), f) : Real(0);
  });
}

// Team scratch of one layer's edge loop for tiles of `ne` edges, carved from
// one block of Reals.  Arrays read across a tile are stored [unit][edge of
// the tile] (Y, B, pre, post, gpre, gw, the neighbours' rows hj: features,
// then in the backward pass dE/dm, and the dE/dY shares), so that one unit's
// tile is one aligned load; the others are [edge][...].  Every array starts
// on a 16-byte boundary.  The forward pass takes only what it uses: its
// radial weights stay in registers, and it has no gradients.
template <class Real>
struct TileScratch {
  Real *Y = nullptr, *dY = nullptr, *B = nullptr, *dB = nullptr, *gB = nullptr, *pre = nullptr,
       *post = nullptr, *gpre = nullptr, *w = nullptr, *gw = nullptr, *hj = nullptr, *acc = nullptr,
       *gYpart = nullptr, *gY = nullptr, *r = nullptr, *vec = nullptr;

  // Bytes of the block for a team of `team` threads, with the slack to align it.
  static std::size_t bytes(const DevCommon<Real>& c, const DevLayer<Real>& L, int team, int ne,
                           bool backward) {
    TileScratch s;
    return s.carve(nullptr, c, L, team, ne, backward) * sizeof(Real) + 16;
  }
  TileScratch() = default;
  KOKKOS_INLINE_FUNCTION TileScratch(void* raw, const DevCommon<Real>& c, const DevLayer<Real>& L, int team,
                                     int ne, bool backward) {
    const auto at = (reinterpret_cast<std::uintptr_t>(raw) + 15) & ~std::uintptr_t(15);
    carve(reinterpret_cast<Real*>(at), c, L, team, ne, backward);
  }
  // Sets the pointers into the block at s (s null: only counts); returns the
  // Reals it takes.
  KOKKOS_INLINE_FUNCTION std::size_t carve(Real* s, const DevCommon<Real>& c, const DevLayer<Real>& L,
                                           int team, int ne, bool backward) {
    int hidden = 0;
    for (int k = 1; k < L.radial_layers; ++k) hidden += L.radial_width[k];
    const std::size_t g = backward ? 1 : 0;
    std::size_t used = 0;
    auto take = [&](std::size_t n) {
      Real* p = s ? s + used : nullptr;
      used += (n + 3) / 4 * 4;  // 16 bytes at least, for float and double
      return p;
    };
    Y = take(std::size_t(ne) * 16);
    dY = take(g * ne * 48);
    B = take(std::size_t(ne) * c.n_basis);
    dB = take(g * ne * c.n_basis);
    gB = take(g * ne * c.n_basis);
    pre = take(std::size_t(ne) * hidden);
    post = take(std::size_t(ne) * hidden);
    gpre = take(g * ne * hidden);
    w = take(g * ne * L.numel);
    gw = take(g * ne * L.numel);
    hj = take(std::size_t(ne) * (backward && L.tp_dim > L.in_dim ? L.tp_dim : L.in_dim));
    acc = take(backward ? L.in_dim : L.tp_dim);  // messages forward, dE/dh_in backward
    gYpart = take(g * team * ne * c.n_sh);
    gY = take(g * ne * 16);
    r = take(g * ne);
    vec = take(backward ? 0 : std::size_t(L.gate_dim));  // the forward pass's gate inputs
    return used;
  }
};

// Harmonics and radial basis of the tile's edges e0 .. e0 + ne, with their
// derivatives when `grad`, and the neighbours' features h(j) of the layer's
// input; the slots of a short tile past ne get zeros, which make their
// radial weights, messages and gradients zero.
template <int NE, class Real, class Member, class Vectors, class Features, class Neighbours>
KOKKOS_INLINE_FUNCTION void edge_geometry(const Member& m, const DevCommon<Real>& c, const DevLayer<Real>& L,
                                          const TileScratch<Real>& s, const Vectors& dvec,
                                          const Features& hin, const Neighbours& nbr, std::int64_t e0, int ne,
                                          bool grad) {
  const int nb = c.n_basis;
  stage_rows<NE>(m, s.hj, hin, L.in_dim, nbr, e0, ne);
  Kokkos::parallel_for(Kokkos::TeamThreadRange(m, NE * (nb + 1)), [&](int x) {
    const int t = x / (nb + 1), k = x % (nb + 1);
    if (t >= ne) {
      if (k == nb) {
        for (int y = 0; y < 16; ++y) s.Y[y * NE + t] = 0;
        if (grad) {
          for (int y = 0; y < 48; ++y) s.dY[48 * t + y] = 0;
          s.r[t] = 1;
        }
      } else {
        s.B[k * NE + t] = 0;
        if (grad) s.dB[t * nb + k] = 0;
      }
      return;
    }
    const Real d[3] = {dvec(e0 + t, 0), dvec(e0 + t, 1), dvec(e0 + t, 2)};
    const Real r = kmath::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    if (k == nb) {
      Real Y[16];
      spherical_harmonics(c.lmax, d, Y, grad ? s.dY + 48 * t : static_cast<Real*>(nullptr));
      for (int y = 0; y < c.n_sh; ++y) s.Y[y * NE + t] = Y[y];
      if (grad) s.r[t] = r;
    } else {
      s.B[k * NE + t] = radial_term(k + 1, c.envelope_p, c.r_cut, r,
                                    grad ? s.dB + t * nb + k : static_cast<Real*>(nullptr));
    }
  });
}

// The radial MLP of a tile up to its last hidden layer (pre- and
// post-activations kept for the backward pass); B must be filled.  Each
// edge's sums run in the order of a one-edge loop.  Indexed: the backward
// pass's form of tile_matvec's index.
template <int NE, bool Indexed, class Real, class Member>
KOKKOS_INLINE_FUNCTION void radial_hidden(const Member& m, const DevCommon<Real>& c, const DevLayer<Real>& L,
                                          const TileScratch<Real>& s) {
  const Real* x = s.B;
  int off = 0;
  for (int k = 0; k + 1 < L.radial_layers; ++k) {
    const int nin = L.radial_width[k], nout = L.radial_width[k + 1];
    const Real* W = L.radial.data() + L.radial_offset[k];
    Real* pre = s.pre + off * NE;
    Real* post = s.post + off * NE;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nout), [&](int o) {
      Real a[NE];
      if constexpr (Indexed)
        tile_matvec<NE>(W, o, nout, x, nin, a);
      else
        tile_matvec<NE>(W + o, 0, nout, x, nin, a);
      for (int t = 0; t < NE; ++t) {
        pre[o * NE + t] = a[t];
        post[o * NE + t] = c.radial_cst * silu(a[t]);
      }
    });
    m.team_barrier();
    x = post;
    off += nout;
  }
}

// Weight q of the last radial layer for every edge of the tile (Indexed as
// for radial_hidden).
template <int NE, bool Indexed, class Real>
KOKKOS_INLINE_FUNCTION void radial_out(const DevLayer<Real>& L, const TileScratch<Real>& s, int q,
                                       Real (&a)[NE]) {
  const int k = L.radial_layers - 1;
  const int nin = L.radial_width[k];
  const Real* x = L.last_hidden_offset < 0 ? s.B : s.post + L.last_hidden_offset * NE;
  const Real* W = L.radial.data() + L.radial_offset[k];
  if constexpr (Indexed)
    tile_matvec<NE>(W, q, L.numel, x, nin, a);
  else
    tile_matvec<NE>(W + q, 0, L.numel, x, nin, a);
}

}  // namespace prism::gnn
