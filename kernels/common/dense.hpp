#pragma once
// Small dense linear algebra that runs anywhere (a host loop or one device
// thread): the Cholesky factor of a symmetric positive-definite matrix and
// the solve with it.  Row-major; each entry is one dot product of two
// contiguous rows in a fixed order, so the bits depend only on the input.
#include <Kokkos_Core.hpp>

#include "kernels/common/kokkos_compat.hpp"

namespace prism::dense {

// Lower Cholesky factor L of the symmetric positive-definite S (n x n, only
// its lower triangle is read); returns ln det S, or NaN when S is not
// positive definite.
KOKKOS_INLINE_FUNCTION double cholesky(const double* S, double* L, int n) {
  double logdet = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j) {
      const double* li = L + std::size_t(i) * n;
      const double* lj = L + std::size_t(j) * n;
      double v = S[std::size_t(i) * n + j];
      for (int l = 0; l < j; ++l) v -= li[l] * lj[l];
      if (i == j) {
        if (!(v > 0)) return 0.0 / 0.0;
        L[std::size_t(i) * n + i] = kmath::sqrt(v);
        logdet += kmath::log(v);
      } else {
        L[std::size_t(i) * n + j] = v / lj[j];
      }
    }
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) L[std::size_t(i) * n + j] = 0;
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
