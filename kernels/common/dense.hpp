#pragma once
// Small dense linear algebra that runs anywhere (a host loop or one device
// thread): the Cholesky factor of a symmetric positive-definite matrix and
// the solve with it.  Row-major; each entry is one dot product of two
// contiguous rows in a fixed order, so the bits depend only on the input.
#include <Kokkos_Core.hpp>
#include <cmath>

#include "kernels/common/kokkos_compat.hpp"

namespace prism::dense {

// Entry (i, j), j < i, of the lower Cholesky factor L of S, from the rows
// of L above it: (S_ij - sum_{l<j} L_il L_jl) / L_jj.
KOKKOS_INLINE_FUNCTION double cholesky_below(const double* S, const double* L, int n, int i, int j) {
  const double* li = L + std::size_t(i) * n;
  const double* lj = L + std::size_t(j) * n;
  double v = S[std::size_t(i) * n + j];
  for (int l = 0; l < j; ++l) v -= li[l] * lj[l];
  return v / lj[j];
}
// The square of the diagonal entry L_jj: S_jj - sum_{l<j} L_jl^2.
KOKKOS_INLINE_FUNCTION double cholesky_pivot(const double* S, const double* L, int n, int j) {
  const double* lj = L + std::size_t(j) * n;
  double v = S[std::size_t(j) * n + j];
  for (int l = 0; l < j; ++l) v -= lj[l] * lj[l];
  return v;
}

// Lower Cholesky factor L of the symmetric positive-definite S (n x n, only
// its lower triangle is read); returns ln det S, or NaN when S is not
// positive definite.  Entry by entry, row after row.
KOKKOS_INLINE_FUNCTION double cholesky(const double* S, double* L, int n) {
  double logdet = 0;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < i; ++j) L[std::size_t(i) * n + j] = cholesky_below(S, L, n, i, j);
    const double v = cholesky_pivot(S, L, n, i);
    if (!(v > 0)) return 0.0 / 0.0;
    L[std::size_t(i) * n + i] = kmath::sqrt(v);
    logdet += kmath::log(v);
  }
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) L[std::size_t(i) * n + j] = 0;
  return logdet;
}

// The same factor (the same bits) from the host's threads, column after
// column: the entries below the pivot of one column are independent.  For
// the larger matrices (n in the thousands) of a host-side solve.
inline double cholesky_host_parallel(const double* S, double* L, int n) {
  using Host = Kokkos::DefaultHostExecutionSpace;
  for (std::size_t k = 0; k < std::size_t(n) * n; ++k) L[k] = 0;
  double logdet = 0;
  for (int j = 0; j < n; ++j) {
    const double v = cholesky_pivot(S, L, n, j);
    if (!(v > 0)) return 0.0 / 0.0;
    L[std::size_t(j) * n + j] = std::sqrt(v);
    logdet += std::log(v);
    Kokkos::parallel_for("dense::cholesky_column", Kokkos::RangePolicy<Host>(j + 1, n),
                         [=](const int i) { L[std::size_t(i) * n + j] = cholesky_below(S, L, n, i, j); });
  }
  Host().fence();
  return logdet;
}

// x = S^-1 b in place, from the Cholesky factor L of S.
KOKKOS_INLINE_FUNCTION void cholesky_solve(const double* L, double* x, int n) {
  for (int i = 0; i < n; ++i) {
    for (int l = 0; l < i; ++l) x[i] -= L[std::size_t(i) * n + l] * x[l];
    x[i] /= L[std::size_t(i) * n + i];
  }
  for (int i = n - 1; i >= 0; --i) {
    for (int l = i + 1; l < n; ++l) x[i] -= L[std::size_t(l) * n + i] * x[l];
    x[i] /= L[std::size_t(i) * n + i];
  }
}

}  // namespace prism::dense
