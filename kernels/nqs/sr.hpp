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
