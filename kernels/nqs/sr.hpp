#pragma once
// The nqs-specific algebra of stochastic reconfiguration: the log-derivatives
// O(s, k) = d log psi(s) / d p_k of every sample, and their centring.  The
// exact sums over samples of all ranks are kernels/common/reductions.hpp.
#include <Kokkos_Core.hpp>

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

// Log-derivatives of the translation-symmetric RBM (nqs.symmetry =
// "translation"): hidden unit j = f N + t is feature map f at translation t,
// with theta_j = b_f + sum_k w_f(k) s(k + t), so each shared parameter's
// derivative sums the plain RBM's over the units that share it:
// a: sum_i s_i, b_f: sum_t tanh theta_{f,t},
// w_f(k): sum_t tanh theta_{f,t} s(k + t), where shift(k * N + t) is the
// site k + t.  Columns [a, b_0 .. b_{F-1}, w_0(0 .. N-1), w_1(...), ...].
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
        double sum = 0;
        if (q == 0) {
          for (int i = 0; i < N; ++i) sum += os(s, i);
        } else if (q <= F) {
          for (int t = 0; t < N; ++t) sum += ot(s, (q - 1) * N + t);
        } else {
          const int f = (q - 1 - F) / N, k = (q - 1 - F) % N;
          for (int t = 0; t < N; ++t) sum += ot(s, f * N + t) * os(s, shift(k * N + t));
        }
        O(s, q) = sum;
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

}  // namespace prism::nqs
