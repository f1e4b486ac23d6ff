#pragma once
// The Cholesky factor of a matrix that lives on a device, by blocks: each
// diagonal block (nb x nb) is factorised on the host (dense.hpp) and
// inverted there, and the two large steps of every block column, the panel
// L21 = A21 L11^-T and the trailing update A22 -= L21 L21^T, are matrix
// products of the GEMM library (cuBLAS on a GPU) on sub-blocks of A, which
// stay LayoutLeft views the library takes as they are.  The result has the
// same bits whenever A is the same, on the same kind of device.
#include <KokkosBlas3_gemm.hpp>
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/common/dense.hpp"

namespace prism::dense {

// Lower-triangular inverse of the lower factor L (n x n, row-major), by
// forward substitution column by column.
inline void lower_inverse(const double* L, double* inv, int n) {
  std::fill(inv, inv + std::size_t(n) * n, 0.0);
  for (int c = 0; c < n; ++c) {
    inv[std::size_t(c) * n + c] = 1.0 / L[std::size_t(c) * n + c];
    for (int i = c + 1; i < n; ++i) {
      double v = 0;
      for (int l = c; l < i; ++l) v -= L[std::size_t(i) * n + l] * inv[std::size_t(l) * n + c];
      inv[std::size_t(i) * n + c] = v / L[std::size_t(i) * n + i];
    }
  }
}

// A(k, k) += shift for every k.
template <class Exec, class Matrix>
void add_to_diagonal(Exec const& space, Matrix const& A, double shift) {
  Kokkos::parallel_for(
      "dense::add_to_diagonal", Kokkos::RangePolicy<Exec>(space, 0, A.extent(0)),
      KOKKOS_LAMBDA(const int k) { A(k, k) += shift; });
}

// What cholesky_blocked works in besides A: the diagonal block and the
// transpose of its inverse (device and host copies), the panel L21, and the
// host's arrays.  A caller that factorises every iteration keeps one, so
// that no step allocates memory or synchronises for an allocation.
template <class MemorySpace>
struct BlockedWorkspace {
  using Block = Kokkos::View<double**, Kokkos::LayoutLeft, MemorySpace>;
  int n = -1, nb = 0;
  Block diag, inv_t, panel;
  typename Block::HostMirror diag_h, inv_h;
  std::vector<double> s, l, li;

  // Sized for an n x n matrix and blocks of nb; a no-op when it already is.
  void reserve(int n_, int nb_) {
    if (n_ == n && nb_ == nb) return;
    n = n_;
    nb = nb_;
    diag = Block("dense::diagonal_block", nb, nb);
    inv_t = Block("dense::inverse_block", nb, nb);
    panel = Block("dense::panel", n, nb);
    diag_h = Kokkos::create_mirror_view(diag);
    inv_h = Kokkos::create_mirror_view(inv_t);
    s.assign(std::size_t(nb) * nb, 0.0);
    l.assign(s.size(), 0.0);
    li.assign(s.size(), 0.0);
  }
};

// In place: the lower triangle of A (n x n, LayoutLeft, in Exec's memory)
// becomes its Cholesky factor L; the upper triangle is left undefined.
// Returns false when A is not positive definite (a diagonal block fails).
// Blocks of 64: a block costs the host 2 nb^3 / 6 multiply-adds (factor and
// inverse) and two small copies, so small blocks keep the host's share
// below the device products' for the n of a few hundred to a few thousand
// that this serves.
template <class Exec, class Matrix>
bool cholesky_blocked(Exec const& space, Matrix const& A, BlockedWorkspace<typename Matrix::memory_space>& ws,
                      int nb = 64) {
  static_assert(std::is_same_v<typename Matrix::array_layout, Kokkos::LayoutLeft>);
  const int n = int(A.extent(0));
  ws.reserve(n, nb);
  const auto diag = ws.diag, inv_t = ws.inv_t, panel = ws.panel;
  const auto diag_h = ws.diag_h, inv_h = ws.inv_h;
  auto &s = ws.s, &l = ws.l, &li = ws.li;
  for (int k = 0; k < n; k += nb) {
    const int b = std::min(nb, n - k), m = n - k - b;
    // The diagonal block to the host, factorised and inverted there.
    Kokkos::parallel_for(
        "dense::copy_diagonal", Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {b, b}),
        KOKKOS_LAMBDA(const int i, const int j) { diag(i, j) = A(k + i, k + j); });
    Kokkos::deep_copy(space, diag_h, diag);
    space.fence();
    for (int i = 0; i < b; ++i)
      for (int j = 0; j < b; ++j) s[std::size_t(i) * b + j] = diag_h(i, j);
    if (!std::isfinite(cholesky(s.data(), l.data(), b))) return false;
    lower_inverse(l.data(), li.data(), b);
    for (int i = 0; i < b; ++i)
      for (int j = 0; j < b; ++j) {
        diag_h(i, j) = l[std::size_t(i) * b + j];
        inv_h(i, j) = li[std::size_t(j) * b + i];  // (L11^-1)^T
      }
    Kokkos::deep_copy(space, diag, diag_h);
    Kokkos::deep_copy(space, inv_t, inv_h);
    Kokkos::parallel_for(
        "dense::write_diagonal", Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {b, b}),
        KOKKOS_LAMBDA(const int i, const int j) { A(k + i, k + j) = diag(i, j); });
    if (m == 0) break;
    // Panel L21 = A21 L11^-T, then the trailing update A22 -= L21 L21^T (both
    // triangles of A22; only the lower one is read later).  Sub-blocks of a
    // LayoutLeft matrix stay LayoutLeft, with A's leading dimension.
    const auto a21 = Kokkos::subview(A, Kokkos::make_pair(k + b, n), Kokkos::make_pair(k, k + b));
    const auto a22 = Kokkos::subview(A, Kokkos::make_pair(k + b, n), Kokkos::make_pair(k + b, n));
    const auto l21 = Kokkos::subview(panel, Kokkos::make_pair(0, m), Kokkos::make_pair(0, b));
    const auto t = Kokkos::subview(inv_t, Kokkos::make_pair(0, b), Kokkos::make_pair(0, b));
    static_assert(std::is_same_v<typename decltype(a22)::array_layout, Kokkos::LayoutLeft> &&
                      std::is_same_v<typename decltype(l21)::array_layout, Kokkos::LayoutLeft>,
                  "dense::cholesky_blocked: the GEMM library's fast path takes LayoutLeft blocks");
    space.fence();
    KokkosBlas::gemm("N", "N", 1.0, a21, t, 0.0, l21);
    Kokkos::fence();
    Kokkos::deep_copy(space, a21, l21);
    space.fence();
    KokkosBlas::gemm("N", "T", -1.0, l21, l21, 1.0, a22);
    Kokkos::fence();
  }
  return true;
}

// The same with a workspace of its own (tests, one-off factors).
template <class Exec, class Matrix>
bool cholesky_blocked(Exec const& space, Matrix const& A, int nb = 64) {
  BlockedWorkspace<typename Matrix::memory_space> ws;
  return cholesky_blocked(space, A, ws, nb);
}

// x = (L L^T)^-1 b in place, for the lower factor L stored column-major
// with leading dimension ld (what cholesky_blocked leaves): both
// substitutions walk down contiguous columns.
inline void cholesky_solve_column_major(const double* L, std::size_t ld, double* x, int n) {
  for (int c = 0; c < n; ++c) {
    const double* col = L + std::size_t(c) * ld;
    x[c] /= col[c];
    for (int i = c + 1; i < n; ++i) x[i] -= col[i] * x[c];
  }
  for (int c = n - 1; c >= 0; --c) {
    const double* col = L + std::size_t(c) * ld;
    double v = x[c];
    for (int i = c + 1; i < n; ++i) v -= col[i] * x[i];
    x[c] = v / col[c];
  }
}

}  // namespace prism::dense
