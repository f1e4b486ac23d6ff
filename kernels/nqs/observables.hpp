#pragma once
// Per-sample values of the correlation observables of an RBM state: one
// column per spin pair or site, one row per recorded sample.  Their means
// over samples drawn from |psi|^2 are the expectation values
//   <sigma^z_i sigma^z_j>            = mean of s_i s_j
//   <S^+_i S^-_j + S^-_i S^+_j>      = mean of [s_i != s_j] sign_ij psi(s^ij)/psi(s)
//   <sigma^x_i>                      = mean of psi(s^i)/psi(s)
// where s^ij has sites i and j exchanged, s^i has site i flipped, and sign_ij
// is the factor a sign rule (Marshall) gives the exchange of i and j.  The
// driver sums the columns exactly over all ranks' samples
// (common::fixed_point_projection) and src/nqs/observables.cpp turns the
// means into correlations, structure factors and magnetisations.
#include <Kokkos_Core.hpp>
#include <cstdint>

#include "kernels/nqs/model.hpp"
#include "kernels/nqs/types.hpp"

namespace prism::nqs {

enum class ObservableKind : std::int8_t { zz = 0, exchange = 1, flip = 2 };

// The columns, on the device: column c is kind(c) of sites i(c), j(c)
// (j unused for flips), with sign(c) the sign rule's factor of an exchange.
struct ObservableColumns {
  Kokkos::View<std::int8_t*> kind;
  Kokkos::View<std::int32_t*> i, j;
  Kokkos::View<double*> sign;
};

// out(s, c - first) for every local sample s and the columns c in
// [first, first + count) (out has at least count columns).  Work item (column, sample) with the
// sample fastest: neighbouring threads store neighbouring rows of the
// LayoutLeft out and read neighbouring rows of the sample buffers, while
// the table columns T(:, i) they read are the same for all of them.
template <class Exec, class Real>
void observable_values(Exec const& space, RbmModel<Real> const& m, SampleBuffers const& smp,
                       ObservableColumns const& cols, int first, int count, Matrix const& out) {
  static_assert(Kokkos::SpaceAccessibility<Exec, Matrix::memory_space>::accessible,
                "nqs::observable_values: views not reachable from the execution space");
  const auto S = std::int64_t(out.extent(0));
  const auto n = std::int64_t(count);
  const auto spins = smp.spins;
  const auto tanh_theta = smp.tanh_theta;
  const auto kind = cols.kind;
  const auto ci = cols.i, cj = cols.j;
  const auto sign = cols.sign;
  Kokkos::parallel_for(
      "nqs::observable_values", Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(space, 0, S * n),
      KOKKOS_LAMBDA(const std::int64_t item) {
        const int s = int(item % S), c = int(item / S);
        const int col = first + c;
        const int i = ci(col);
        double v;
        switch (ObservableKind(kind(col))) {
          case ObservableKind::zz:
            v = double(spins(s, i) * spins(s, cj(col)));
            break;
          case ObservableKind::exchange: {
            const int j = cj(col);
            v = spins(s, i) == spins(s, j) ? 0.0
                                           : sign(col) * m.pair_exchange_ratio(spins, tanh_theta, s, i, j);
            break;
          }
          default:
            v = m.flip_ratio(spins, tanh_theta, s, i);
        }
        out(s, c) = v;
      });
}

}  // namespace prism::nqs
