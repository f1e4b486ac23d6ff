#pragma once
// Exact, rank-independent reductions over the rows of a matrix (samples,
// replicas, batch rows) split over ranks: their results have the same bits
// for any split of the rows over ranks, teams or threads, so a run gives the
// same numbers on any number of GPUs.
//   fixed_point_projection  column sums of A(s,k) x(s) (or A(s,k)^2 x(s)) in 64-bit fixed point, per block of
//   rows row_products            y = A v, each row summed in an order fixed by the columns max_abs max
//   |x(s)|, +inf where some x(s) is not finite
// Labels are "common::..."; a caller times them inside its own regions.
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "kernels/common/kokkos_compat.hpp"

namespace prism::common {

// One term of fixed_point_projection's sums.
template <bool Squares, class Matrix, class Vector>
KOKKOS_INLINE_FUNCTION double projection_term(Matrix const& a, int s, int k, Vector const& v) {
  // In double whatever A holds (a float A's squares too).
  const double ask = a(s, k);
  if constexpr (Squares)
    return ask * ask * v(s);
  else
    return ask * v(s);
}

// fixed_point_projection's scale of column k: one for all, or one per column.
KOKKOS_INLINE_FUNCTION double scale_of(double scale, int) {
  return scale;
}
template <class Scales>
KOKKOS_INLINE_FUNCTION double scale_of(Scales const& scales, int k) {
  return scales(k);
}

// Exact, order-independent column sums over blocks of `block` consecutive
// rows: out(k) = sum_b round(scale * sum_{s in b} A(s,k) x(s)) in 64-bit
// integers.  Within a block the rows are summed in double, in row order;
// the blocks' sums are rounded to fixed point and added as integers, which
// is associative, so the result is the same for any split of whole blocks
// over ranks, teams or threads.  A block is a unit that never straddles two
// ranks (one Markov chain's samples); rounding once per block rather than
// once per element keeps the conversion a small part of the work.  The
// caller chooses `scale` so that no sum leaves the int64 range (round half
// away from zero); the row count must be a multiple of `block`.  With
// Squares the terms are A(s,k)^2 x(s) (the diagonal of A^T diag(x) A).
// `scale` is a double, or a view of one scale per column.
template <bool Squares = false, class Exec, class Matrix, class Vector, class Scale, class Sums>
void fixed_point_projection(Exec const& space, Matrix const& A, Vector const& x, Scale const& scale,
                            Sums const& out, int block = 1) {
  static_assert(Matrix::rank == 2 && Vector::rank == 1 && Sums::rank == 1);
  static_assert(std::is_same_v<typename Sums::non_const_value_type, std::int64_t>);
  static_assert(Kokkos::SpaceAccessibility<Exec, typename Matrix::memory_space>::accessible &&
                    Kokkos::SpaceAccessibility<Exec, typename Vector::memory_space>::accessible &&
                    Kokkos::SpaceAccessibility<Exec, typename Sums::memory_space>::accessible,
                "common::fixed_point_projection: views not reachable from the execution space");
  const int S = int(A.extent(0));
  if (block < 1 || S % block != 0)
    throw std::invalid_argument("common::fixed_point_projection: rows must be whole blocks");
  const int blocks = S / block;
  const int P = int(A.extent(1));

  if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Exec::memory_space>::accessible) {
    // Host: one work item sums kTile columns side by side, so that their
    // block sums are independent chains of additions the core overlaps.
    // Each column's blocks and rows are summed in the same order as below.
    constexpr int kTile = 4;
    const int tiles = (P + kTile - 1) / kTile;
    Kokkos::parallel_for(
        "common::fixed_point_projection", Kokkos::RangePolicy<Exec>(space, 0, tiles),
        KOKKOS_LAMBDA(const int tile) {
          const int k0 = tile * kTile, cols = P - k0 < kTile ? P - k0 : kTile;
          std::int64_t sum[kTile] = {};
          for (int b = 0; b < blocks; ++b) {
            double partial[kTile] = {};
            if (cols == kTile) {  // a compile-time trip count keeps the partials in registers
              for (int s = b * block; s < (b + 1) * block; ++s)
                for (int c = 0; c < kTile; ++c) partial[c] += projection_term<Squares>(A, s, k0 + c, x);
            } else {
              for (int s = b * block; s < (b + 1) * block; ++s)
                for (int c = 0; c < cols; ++c) partial[c] += projection_term<Squares>(A, s, k0 + c, x);
            }
            for (int c = 0; c < cols; ++c) {
              const double v = partial[c] * scale_of(scale, k0 + c);
              sum[c] += static_cast<std::int64_t>(v >= 0 ? v + 0.5 : v - 0.5);
            }
          }
          for (int c = 0; c < cols; ++c) out(k0 + c) = sum[c];
        });
    return;
  }
  using Team = typename Kokkos::TeamPolicy<Exec>::member_type;
  if (block == 1) {
    // One term per block: the loop without its inner loop (the common case on GPUs).
    Kokkos::parallel_for(
        "common::fixed_point_projection", Kokkos::TeamPolicy<Exec>(space, P, Kokkos::AUTO),
        KOKKOS_LAMBDA(const Team& team) {
          const int k = team.league_rank();
          const double sk = scale_of(scale, k);
          std::int64_t sum = 0;
          Kokkos::parallel_reduce(
              Kokkos::TeamThreadRange(team, S),
              [&](const int s, std::int64_t& acc) {
                const double v = projection_term<Squares>(A, s, k, x) * sk;
                acc += static_cast<std::int64_t>(v >= 0 ? v + 0.5 : v - 0.5);
              },
              sum);
          Kokkos::single(Kokkos::PerTeam(team), [&]() { out(k) = sum; });
        });
    return;
  }
  Kokkos::parallel_for(
      "common::fixed_point_projection", Kokkos::TeamPolicy<Exec>(space, P, Kokkos::AUTO),
      KOKKOS_LAMBDA(const Team& team) {
        const int k = team.league_rank();
        const double sk = scale_of(scale, k);
        std::int64_t sum = 0;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, blocks),
            [&](const int b, std::int64_t& acc) {
              double partial = 0;
              for (int s = b * block; s < (b + 1) * block; ++s)
                partial += projection_term<Squares>(A, s, k, x);
              const double v = partial * sk;
              acc += static_cast<std::int64_t>(v >= 0 ? v + 0.5 : v - 0.5);
            },
            sum);
        Kokkos::single(Kokkos::PerTeam(team), [&]() { out(k) = sum; });
      });
}

// A power-of-two scale for fixed-point sums of `rows` values of magnitude
// <= vmax that keeps every partial sum inside int64; 1 where vmax is 0 or not
// finite (the caller treats a non-finite vmax itself).
inline double fixed_point_scale(double vmax, std::int64_t rows) {
  if (!(vmax > 0) || !(vmax <= DBL_MAX)) return 1.0;
  const double n = double(rows > 1 ? rows : 1), bound = 2.0 * vmax * n;
  // Where the bound itself overflows, its exponent from its factors'.
  const int e = bound <= DBL_MAX ? std::ilogb(bound) : std::ilogb(vmax) + std::ilogb(2.0 * n) + 1;
  return std::ldexp(1.0, std::min(62 - e - 1, 1000));
}

// |a|, +inf where a is not finite (NaN included): the terms of the maxima
// below, which then tell a non-finite value by an infinite maximum.
KOKKOS_INLINE_FUNCTION double finite_abs(double a) {
  const double m = kmath::fabs(a);
  return m <= DBL_MAX ? m : std::numeric_limits<double>::infinity();  // false for NaN
}

// max_s |x(s)|, +inf where some x(s) is not finite (NaN included); 0 for
// an empty x.  Exact, so the same for any split (combine ranks with max).
template <class Exec, class Vector>
double max_abs(Exec const& space, Vector const& x) {
  static_assert(Vector::rank == 1);
  static_assert(Kokkos::SpaceAccessibility<Exec, typename Vector::memory_space>::accessible,
                "common::max_abs: view not reachable from the execution space");
  double m = 0;
  Kokkos::parallel_reduce(
      "common::max_abs", Kokkos::RangePolicy<Exec>(space, 0, x.extent(0)),
      KOKKOS_LAMBDA(const int s, double& acc) {
        const double v = finite_abs(x(s));
        acc = acc > v ? acc : v;
      },
      Kokkos::Max<double>(m));
  return x.extent(0) > 0 ? m : 0.0;  // the reducer's identity is the lowest double
}

// out(k) = max_s |A(s,k)|, +inf where some A(s,k) is not finite; 0 for no
// rows.  Exact, so the same for any split of the rows (combine ranks with
// max).  One team per column.
template <class Exec, class Matrix, class Out>
void column_max_abs(Exec const& space, Matrix const& A, Out const& out) {
  static_assert(Matrix::rank == 2 && Out::rank == 1);
  const int S = int(A.extent(0)), P = int(A.extent(1));
  using Team = typename Kokkos::TeamPolicy<Exec>::member_type;
  constexpr bool host =
      Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Exec::memory_space>::accessible;
  Kokkos::parallel_for(
      "common::column_max_abs", Kokkos::TeamPolicy<Exec>(space, P, host ? 1 : 128),
      KOKKOS_LAMBDA(const Team& team) {
        const int k = team.league_rank();
        double m = 0;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, S),
            [&](const int s, double& acc) {
              const double v = finite_abs(A(s, k));
              acc = acc > v ? acc : v;
            },
            Kokkos::Max<double>(m));
        Kokkos::single(Kokkos::PerTeam(team), [&]() { out(k) = S > 0 ? m : 0.0; });
      });
}

// Columns per block of row_products: depends on the column count P only, so
// every rank sums a row in the same order.
inline int row_block(int P) {
  return std::max(64, (P + 127) / 128);
}
// Blocks per row: the second extent of row_products' `partial`.
inline int row_block_count(int P) {
  return (P + row_block(P) - 1) / row_block(P);
}

// y(s) = sum_k A(s,k) v(k).  The columns are cut into fixed blocks; one
// thread sums one (row, block) pair, with threads of neighbouring rows
// reading neighbouring addresses of a LayoutLeft A, and a second pass adds
// the blocks of each row in order.  The blocks give every GPU enough threads
// when the rows are split over many ranks; the order depends only on P, so
// y(s) is the same for any split.  `partial` holds (rows, row_block_count(P)).
template <class Exec, class Matrix, class Vector, class Out, class Partial>
void row_products(Exec const& space, Matrix const& A, Vector const& v, Out const& y, Partial const& partial) {
  static_assert(Matrix::rank == 2 && Vector::rank == 1 && Out::rank == 1 && Partial::rank == 2);
  static_assert(Kokkos::SpaceAccessibility<Exec, typename Matrix::memory_space>::accessible &&
                    Kokkos::SpaceAccessibility<Exec, typename Vector::memory_space>::accessible &&
                    Kokkos::SpaceAccessibility<Exec, typename Out::memory_space>::accessible &&
                    Kokkos::SpaceAccessibility<Exec, typename Partial::memory_space>::accessible,
                "common::row_products: views not reachable from the execution space");
  const int S = int(A.extent(0)), P = int(A.extent(1)), width = row_block(P), blocks = row_block_count(P);
  if (int(partial.extent(0)) < S || int(partial.extent(1)) < blocks)
    throw std::invalid_argument("common::row_products: partial must hold (rows, row_block_count(columns))");
  if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Exec::memory_space>::accessible) {
    // Host: a work item takes kTile neighbouring rows of one block, so the
    // innermost loop runs down a column of a LayoutLeft A (contiguous, and
    // vectorised).  Every row still adds its products in column order, so
    // the bits are those of the one-row-per-thread loop below.
    constexpr int kTile = 8;
    const int tiles = (S + kTile - 1) / kTile;
    Kokkos::parallel_for(
        "common::row_products",
        Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(space, 0, std::int64_t(tiles) * blocks),
        KOKKOS_LAMBDA(const std::int64_t item) {
          const int tile = int(item % tiles), blk = int(item / tiles);
          const int s0 = tile * kTile, rows = S - s0 < kTile ? S - s0 : kTile;
          const int end = blk * width + width < P ? blk * width + width : P;
          double acc[kTile] = {};
          for (int k = blk * width; k < end; ++k) {
            const double vk = v(k);
            for (int r = 0; r < rows; ++r) acc[r] += A(s0 + r, k) * vk;
          }
          for (int r = 0; r < rows; ++r) partial(s0 + r, blk) = acc[r];
        });
  } else {
    Kokkos::parallel_for(
        "common::row_products",
        Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(space, 0, std::int64_t(S) * blocks),
        KOKKOS_LAMBDA(const std::int64_t item) {
          const int s = int(item % S), blk = int(item / S);
          const int end = blk * width + width < P ? blk * width + width : P;
          double acc = 0;
          for (int k = blk * width; k < end; ++k) acc += A(s, k) * v(k);
          partial(s, blk) = acc;
        });
  }
  Kokkos::parallel_for(
      "common::row_sums", Kokkos::RangePolicy<Exec>(space, 0, S), KOKKOS_LAMBDA(const int s) {
        double acc = 0;
        for (int blk = 0; blk < blocks; ++blk) acc += partial(s, blk);
        y(s) = acc;
      });
}

}  // namespace prism::common
