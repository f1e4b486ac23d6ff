#pragma once
// The nqs-specific algebra of stochastic reconfiguration: the log-derivatives
// O(s, k) = d log psi(s) / d p_k of every sample, their centring, and the
// explicit matrix S of the exact solve.  The exact sums over samples of all
// ranks are kernels/common/reductions.hpp.
#include <KokkosBlas3_gemm.hpp>
#include <Kokkos_Core.hpp>
#include <cstdint>
#include <type_traits>

#include "kernels/nqs/types.hpp"

namespace prism::nqs {

// Log-derivatives O(s, k) = d log psi / d p_k of every sample:
// a: s_i, b: tanh theta_j, W(j,i): tanh theta_j * s_i.
template <class Exec>
void build_log_derivatives(Exec const& space, SampleBuffers const& smp, int N, int M, Matrix const& O) {
  static_assert(Kokkos::SpaceAccessibility<Exec, Matrix::memory_space>::accessible,
                "nqs::build_log_derivatives: views not reachable from the execution space");
  const auto os = smp.spins;
  const auto ot = smp.tanh_theta;
  Kokkos::parallel_for(
      "nqs::log_derivatives",
      Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {int(O.extent(0)), N + M}),
      KOKKOS_LAMBDA(const int s, const int q) {
        if (q < N) {
          O(s, q) = os(s, q);
          // the W columns of site q: W(j, q) for all j
          for (int j = 0; j < M; ++j) O(s, N + M + j + M * q) = ot(s, j) * os(s, q);
        } else {
          O(s, q) = ot(s, q - N);
        }
      });
}

// Translation symmetry (nqs.symmetry = "translation"): hidden unit
// j = f N + t is feature map f at translation t, with
// theta_j = b_f + sum_k w_f(k) s(k + t), so each shared parameter's
// derivative sums the plain RBM's over the units that share it:
// q = 0 (a): sum_i s_i; q = 1 + f (b_f): sum_t tanh theta_{f,t};
// q = 1 + F + f N + k (w_f(k)): sum_t tanh theta_{f,t} s(k + t), where
// shift(k * N + t) is the site k + t.  `tanh_theta` (samples, M) holds
// tanh theta of every sample and unit, real (T = double) or complex.
template <class T, class Tanh>
KOKKOS_INLINE_FUNCTION T shared_log_derivative(SpinMatrix const& spins, Tanh const& tanh_theta,
                                               IndexVector const& shift, int N, int F, int s, int q) {
  T sum = 0;
  if (q == 0) {
    for (int i = 0; i < N; ++i) sum += double(spins(s, i));
  } else if (q <= F) {
    for (int t = 0; t < N; ++t) sum += tanh_theta(s, (q - 1) * N + t);
  } else {
    const int f = (q - 1 - F) / N, k = (q - 1 - F) % N;
    for (int t = 0; t < N; ++t) sum += tanh_theta(s, f * N + t) * double(spins(s, shift(k * N + t)));
  }
  return sum;
}

// Log-derivatives of the translation-symmetric RBM, columns
// [a, b_0 .. b_{F-1}, w_0(0 .. N-1), w_1(...), ...].
template <class Exec>
void build_symmetric_log_derivatives(Exec const& space, SampleBuffers const& smp, int N, int F,
                                     IndexVector const& shift, Matrix const& O) {
  static_assert(Kokkos::SpaceAccessibility<Exec, Matrix::memory_space>::accessible,
                "nqs::build_symmetric_log_derivatives: views not reachable from the execution space");
  const auto os = smp.spins;
  const auto ot = smp.tanh_theta;
  Kokkos::parallel_for(
      "nqs::symmetric_log_derivatives",
      Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {int(O.extent(0)), 1 + F + F * N}),
      KOKKOS_LAMBDA(const int s, const int q) {
        O(s, q) = shared_log_derivative<double>(os, ot, shift, N, F, s, q);
      });
}

// O(s, k) -= mean(k) for every sample s.
template <class Exec>
void centre_columns(Exec const& space, Matrix const& O, Vector const& mean) {
  static_assert(Kokkos::SpaceAccessibility<Exec, Matrix::memory_space>::accessible,
                "nqs::centre_columns: views not reachable from the execution space");
  Kokkos::parallel_for(
      "nqs::centre_columns",
      Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {int(O.extent(0)), int(O.extent(1))}),
      KOKKOS_LAMBDA(const int s, const int k) { O(s, k) -= mean(k); });
}

// Of = O, rounded to float (sr_precision = "float": the copy CG's products
// read).  Elementwise, so the same bits on any split of the rows.
template <class Exec, class FloatMatrix>
void round_to_float(Exec const& space, Matrix const& O, FloatMatrix const& Of) {
  static_assert(std::is_same_v<typename FloatMatrix::non_const_value_type, float>);
  Kokkos::parallel_for(
      "nqs::round_to_float",
      Kokkos::MDRangePolicy<Exec, Kokkos::Rank<2>>(space, {0, 0}, {int(O.extent(0)), int(O.extent(1))}),
      KOKKOS_LAMBDA(const int s, const int k) { Of(s, k) = float(O(s, k)); });
}

// S = scale * A^T A for the explicit SR solve (sr_solver = "cholesky"),
// with the same bits whenever A is the same: on a GPU the GEMM library's
// product (deterministic for one matrix on one kind of card); on a host
// each entry is one sum over the rows in a fixed order (four interleaved
// partial sums added in a fixed order), whatever the thread count.
template <class Exec>
void sr_matrix(Exec const& space, Matrix const& A, double scale, Matrix const& S) {
  static_assert(Kokkos::SpaceAccessibility<Exec, Matrix::memory_space>::accessible,
                "nqs::sr_matrix: views not reachable from the execution space");
  if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Exec::memory_space>::accessible) {
    const std::int64_t rows = std::int64_t(A.extent(0));
    Kokkos::parallel_for(
        "nqs::sr_matrix", Kokkos::RangePolicy<Exec, Kokkos::Schedule<Kokkos::Dynamic>>(space, 0, A.extent(1)),
        KOKKOS_LAMBDA(const int k) {
          const double* ck = &A(0, k);  // a column is contiguous (LayoutLeft)
          for (int l = 0; l <= k; ++l) {
            const double* cl = &A(0, l);
            double v[4] = {0, 0, 0, 0};
            std::int64_t r = 0;
            for (; r + 4 <= rows; r += 4)
              for (int u = 0; u < 4; ++u) v[u] += ck[r + u] * cl[r + u];
            for (; r < rows; ++r) v[0] += ck[r] * cl[r];
            const double sum = ((v[0] + v[1]) + (v[2] + v[3])) * scale;
            S(k, l) = sum;
            S(l, k) = sum;
          }
        });
    space.fence();
  } else {
    KokkosBlas::gemm("T", "N", scale, A, A, 0.0, S);
  }
}

}  // namespace prism::nqs
