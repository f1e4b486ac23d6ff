// The Cholesky factor of kernels/common/dense.hpp: L L^T reproduces a
// random symmetric positive-definite S, the solve inverts S, the host's
// threads give the serial factor's bits, and a matrix that is not positive
// definite is reported as NaN.  The blocked factor of dense_blocked.hpp
// (run here on the host's execution space) agrees with it.
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/common/dense.hpp"
#include "kernels/common/dense_blocked.hpp"

namespace dense = prism::dense;

namespace {

// S = G G^T / n + I / 10 for a random G: positive definite, condition ~ 10^2.
std::vector<double> random_spd(int n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> g(std::size_t(n) * n), s(std::size_t(n) * n);
  for (auto& x : g) x = normal(rng);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      long double v = i == j ? 0.1L : 0.0L;
      for (int k = 0; k < n; ++k) v += (long double)g[std::size_t(i) * n + k] * g[std::size_t(j) * n + k] / n;
      s[std::size_t(i) * n + j] = double(v);
    }
  return s;
}

TEST(DenseCholesky, FactorSolveAndThreadsAgree) {
  for (const int n : {1, 7, 96}) {
    const auto s = random_spd(n, 11 + n);
    std::vector<double> l(s.size()), lp(s.size());
    const double logdet = dense::cholesky(s.data(), l.data(), n);
    ASSERT_TRUE(std::isfinite(logdet));
    EXPECT_DOUBLE_EQ(dense::cholesky_host_parallel(s.data(), lp.data(), n), logdet);
    for (std::size_t k = 0; k < l.size(); ++k) ASSERT_EQ(lp[k], l[k]) << "n " << n << " entry " << k;
    double worst = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        double v = 0;
        for (int k = 0; k < n; ++k) v += l[std::size_t(i) * n + k] * l[std::size_t(j) * n + k];
        worst = std::max(worst, std::fabs(v - s[std::size_t(i) * n + j]));
      }
    EXPECT_LT(worst, 1e-12) << "L L^T - S, n " << n;
    // Solve S x = b for b = S e (e = 1, 2, ...): x must be e.
    std::vector<double> x(n, 0.0);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) x[i] += s[std::size_t(i) * n + j] * (j + 1);
    dense::cholesky_solve(l.data(), x.data(), n);
    for (int i = 0; i < n; ++i) EXPECT_NEAR(x[i], i + 1, 1e-9 * (i + 1)) << "n " << n;
  }
}

// Blocks of 64 over 150 rows (two whole blocks and a ragged one) and a
// single block: the factor agrees with the serial one to rounding, and the
// column-major solve inverts S.  One workspace serves every call, as in a
// run: across block sizes, a failed factor and another matrix size.
TEST(DenseCholesky, BlockedFactorAgrees) {
  using Host = Kokkos::DefaultHostExecutionSpace;
  dense::BlockedWorkspace<Host::memory_space> ws;
  for (const int nb : {64, 256, 64}) {
    const int n = 150;
    const auto s = random_spd(n, 5);
    std::vector<double> l(s.size());
    ASSERT_TRUE(std::isfinite(dense::cholesky(s.data(), l.data(), n)));
    Kokkos::View<double**, Kokkos::LayoutLeft, Host::memory_space> a("a", n, n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) a(i, j) = s[std::size_t(i) * n + j] - (i == j ? 0.5 : 0.0);
    dense::add_to_diagonal(Host(), a, 0.5);
    Host().fence();
    ASSERT_TRUE(dense::cholesky_blocked(Host(), a, ws, nb));
    double worst = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j <= i; ++j) worst = std::max(worst, std::fabs(a(i, j) - l[std::size_t(i) * n + j]));
    EXPECT_LT(worst, 1e-12) << "block " << nb;
    std::vector<double> x(n, 0.0);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) x[i] += s[std::size_t(i) * n + j] * (j + 1);
    dense::cholesky_solve_column_major(a.data(), a.stride(1), x.data(), n);
    for (int i = 0; i < n; ++i) EXPECT_NEAR(x[i], i + 1, 1e-9 * (i + 1)) << "block " << nb;
  }
  // Not positive definite: the first diagonal block fails.
  Kokkos::View<double**, Kokkos::LayoutLeft, Host::memory_space> bad("bad", 2, 2);
  bad(0, 0) = bad(1, 1) = 1.0;
  bad(0, 1) = bad(1, 0) = 2.0;
  EXPECT_FALSE(dense::cholesky_blocked(Host(), bad, 64));
  EXPECT_FALSE(dense::cholesky_blocked(Host(), bad, ws, 64));
  // After the failure, the workspace (now sized for n = 2) factors a 70 x 70
  // matrix to the bits of a fresh one.
  const int n = 70;
  const auto s = random_spd(n, 6);
  Kokkos::View<double**, Kokkos::LayoutLeft, Host::memory_space> a("a", n, n), b("b", n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) a(i, j) = b(i, j) = s[std::size_t(i) * n + j];
  ASSERT_TRUE(dense::cholesky_blocked(Host(), a, ws, 64));
  ASSERT_TRUE(dense::cholesky_blocked(Host(), b, 64));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j) EXPECT_EQ(a(i, j), b(i, j)) << i << ", " << j;
}

TEST(DenseCholesky, NotPositiveDefiniteIsNaN) {
  const std::vector<double> s = {1.0, 2.0, 2.0, 1.0};  // eigenvalues 3 and -1
  std::vector<double> l(4);
  EXPECT_TRUE(std::isnan(dense::cholesky(s.data(), l.data(), 2)));
  EXPECT_TRUE(std::isnan(dense::cholesky_host_parallel(s.data(), l.data(), 2)));
}

}  // namespace
