#pragma once
// Device form of the gnn model (src/gnn/model.hpp) and its kernels: the
// interaction layers forward, and by hand backward for the forces.
//
// One team per atom i walks i's edges in their fixed order.  Per edge the
// team computes the harmonics and the radial basis, runs the radial MLP
// (threads over its units) and adds the edge's tensor-product message into
// the atom's accumulator.  The work items of the last step are the per-edge
// weights w[q], q = (path, copy u): item q alone writes the output rows
// (path, u), so no two threads add to one number and no atomics are needed.
// Sums therefore run in the same order on every run, backend and rank count.
//
// Backward (forces): E depends on positions only through the edge vectors
// d_e = r_j - r_i, so the kernels accumulate g_e = dE/dd_e per edge and the
// forces are F_k = sum over k's edges e of g_e - g_rev(e).
// The gradient with respect to the sender's features h_j of edge i <- j is
// gathered at j from j's own edge j <- i, which has the same radial weights
// and harmonics of opposite parity: no scatter.
#include <Kokkos_Core.hpp>
#include <cstdint>

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

// Team scratch of one layer's edge loop, carved from one block of Reals.
template <class Real>
struct EdgeScratch {
  Real *Y, *dY, *B, *dB, *gB, *pre, *post, *gpre, *w, *gw, *acc, *gYpart, *vec;
  static std::size_t count(const DevCommon<Real>& c, const DevLayer<Real>& L, int team_size) {
    int hidden = 0;
    for (int k = 1; k < L.radial_layers; ++k) hidden += L.radial_width[k];
    const int acc = L.tp_dim > L.in_dim ? L.tp_dim : L.in_dim;
    return 16 + 48 + 3 * std::size_t(c.n_basis) + 3 * std::size_t(hidden) + 2 * std::size_t(L.numel) + acc +
           std::size_t(team_size) * 16 + 8 + L.gate_dim + 16;
  }
  KOKKOS_INLINE_FUNCTION EdgeScratch(Real* s, const DevCommon<Real>& c, const DevLayer<Real>& L,
                                     int team_size) {
    int hidden = 0;
    for (int k = 1; k < L.radial_layers; ++k) hidden += L.radial_width[k];
    const int acc_n = L.tp_dim > L.in_dim ? L.tp_dim : L.in_dim;
    Y = s;
    dY = Y + 16;
    B = dY + 48;
    dB = B + c.n_basis;
    gB = dB + c.n_basis;
    pre = gB + c.n_basis;
    post = pre + hidden;
    gpre = post + hidden;
    w = gpre + hidden;
    gw = w + L.numel;
    acc = gw + L.numel;
    gYpart = acc + acc_n;
    vec = gYpart + team_size * 16;  // d[3], r, scratch for the node step (gate_dim)
  }
};

// The radial MLP of one edge up to its last hidden layer (pre- and
// post-activations kept for the backward pass); B must be filled.
template <class Real, class Member>
KOKKOS_INLINE_FUNCTION void radial_hidden(const Member& m, const DevCommon<Real>& c, const DevLayer<Real>& L,
                                          EdgeScratch<Real>& s) {
  const Real* x = s.B;
  int off = 0;
  for (int k = 0; k + 1 < L.radial_layers; ++k) {
    const int nin = L.radial_width[k], nout = L.radial_width[k + 1];
    const Real* W = L.radial.data() + L.radial_offset[k];
    Real* pre = s.pre + off;
    Real* post = s.post + off;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nout), [&](int o) {
      Real a = 0;
      for (int i = 0; i < nin; ++i) a += x[i] * W[i * nout + o];
      pre[o] = a;
      post[o] = c.radial_cst * silu(a);
    });
    m.team_barrier();
    x = post;
    off += nout;
  }
}

// Weight q of the last radial layer.
template <class Real>
KOKKOS_INLINE_FUNCTION Real radial_out(const DevLayer<Real>& L, const EdgeScratch<Real>& s, int q) {
  const int k = L.radial_layers - 1;
  const int nin = L.radial_width[k];
  const Real* x = L.last_hidden_offset < 0 ? s.B : s.post + L.last_hidden_offset;
  const Real* W = L.radial.data() + L.radial_offset[k];
  Real a = 0;
  for (int i = 0; i < nin; ++i) a += x[i] * W[i * L.numel + q];
  return a;
}

}  // namespace prism::gnn
