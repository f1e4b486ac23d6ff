#pragma once
// View aliases of the thermo workload.
#include <Kokkos_Core.hpp>
#include <cstdint>

namespace prism::thermo {

// One byte per spin (+1/-1), one row per local replica, sites in x-fastest order.
using Spins = Kokkos::View<std::int8_t**, Kokkos::LayoutRight>;
// Bond couplings (+1/-1) from each site to its +x, +y, +z neighbour: (dim, sites).
using Couplings = Kokkos::View<std::int8_t**, Kokkos::LayoutRight>;
// Multi-spin coding: 16 spins per word, one nibble each (bit 0 = up); per
// replica, colour 0 then colour 1, each L^(dim-1) rows (z, y) of L/32 words.
using PackedSpins = Kokkos::View<std::uint64_t**, Kokkos::LayoutRight>;
// +-J bonds to the +x, +y, +z neighbour in the same layout, one plane per
// direction: (dim, words of both colours), nibble bit 0 set for J = +1.
using PackedBonds = Kokkos::View<std::uint64_t**, Kokkos::LayoutRight>;
// Acceptance thresholds in units of 2^-32, per replica:
// index (spin_up ? 4D+1 : 0) + local_field + 2D, local_field = sum_j J_ij s_j;
// then two words of their top bytes for the multispin kernels (see
// fill_threshold_row).
using Thresholds = Kokkos::View<std::uint64_t**, Kokkos::LayoutRight>;

// Columns of a Thresholds row: 2 (4D + 1) thresholds and two byte tables.
KOKKOS_INLINE_FUNCTION constexpr int threshold_columns(int dim) {
  return 2 * (4 * dim + 1) + 2;
}

// Geometry of an L^dim periodic lattice with checkerboard colours (x+y+z)&1.
// A colour's sites are numbered k = row * (L/2) + jj with row = z*L + y and
// x = 2*jj + ((y + z + colour) & 1): both kernels use this numbering to key the
// random numbers, so they produce bitwise the same trajectory.
struct Geometry {
  std::int32_t L = 0;
  std::int32_t dim = 2;
  std::int64_t sites = 0;
  KOKKOS_INLINE_FUNCTION std::int64_t half() const { return sites / 2; }
  KOKKOS_INLINE_FUNCTION int field_offset() const { return 2 * dim; }
  KOKKOS_INLINE_FUNCTION int table_size() const { return threshold_columns(dim); }
};

// 64-bit loop indices: on CUDA, Kokkos 3.4's default index type is 32-bit
// unsigned and silently truncates ranges of 2^32 or more.
template <class Exec>
using RangePolicy64 = Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>;

inline constexpr std::uint64_t nibble_mask = 0x1111111111111111ull;

}  // namespace prism::thermo
