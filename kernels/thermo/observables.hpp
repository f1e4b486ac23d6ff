#pragma once
// Exact integer observables of every local replica: the bond sum
// B = sum_<ij> J_ij s_i s_j and the magnetisation M = sum_i s_i, so that
// E = -J B - h M.  Integer sums make the result independent of the order of
// the reduction (threads, ranks, backends).
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdint>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/thermo/types.hpp"

namespace prism::thermo {

// Reduction functor over (replica, site): value[2r] += bond, value[2r+1] += spin.
struct GenericObservables {
  using value_type = std::int64_t[];
  using size_type = unsigned;
  unsigned value_count;
  Spins spins;
  Couplings couplings;
  Geometry geo;
  std::int64_t first_replica;  // replicas [first, first + value_count / 2)

  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t t, value_type acc) const {
    const std::int64_t rr = t / geo.sites;
    const std::int64_t i = t - rr * geo.sites;
    const std::int64_t r = first_replica + rr;
    const int L = geo.L;
    const int x = static_cast<int>(i % L);
    const int y = static_cast<int>((i / L) % L);
    const std::int64_t plane = std::int64_t(L) * L;
    const int s = spins(r, i);
    int bond = couplings(0, i) * spins(r, i - x + (x == L - 1 ? 0 : x + 1)) +
               couplings(1, i) * spins(r, i + std::int64_t((y == L - 1 ? 0 : y + 1) - y) * L);
    if (geo.dim == 3) {
      const int z = static_cast<int>(i / plane);
      bond += couplings(2, i) * spins(r, i + std::int64_t((z == L - 1 ? 0 : z + 1) - z) * plane);
    }
    acc[2 * rr] += s * bond;
    acc[2 * rr + 1] += s;
  }
  KOKKOS_INLINE_FUNCTION void init(value_type acc) const {
    for (unsigned j = 0; j < value_count; ++j) acc[j] = 0;
  }
  KOKKOS_INLINE_FUNCTION void join(value_type dst, const value_type src) const {
    for (unsigned j = 0; j < value_count; ++j) dst[j] += src[j];
  }
};

// Over the colour-0 words: every bond has exactly one colour-0 end, so each
// colour-0 word counts the 2D * 16 bonds of its 16 sites by XOR + popcount
// (a bond is unsatisfied, J s_i s_j = -1, when spin, spin and bond bits XOR
// to 0).
template <int Dim, bool Disorder>
struct MultispinObservables {
  using value_type = std::int64_t[];
  using size_type = unsigned;
  unsigned value_count;
  PackedSpins words;
  PackedBonds bonds;
  int L;
  std::int64_t first_replica;

  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t t, value_type acc) const {
    const int W = L / 32;
    const int rows = Dim == 2 ? L : L * L;
    const std::int64_t color_words = std::int64_t(rows) * W;
    const std::int64_t rr = t / color_words;
    const int rest = static_cast<int>(t - rr * color_words);
    const std::int64_t r = first_replica + rr;
    const int row = rest / W;
    const int w = rest - row * W;
    const int y = Dim == 2 ? row : row % L;
    const int z = Dim == 2 ? 0 : row / L;
    auto other = [&](int rw, int ww) { return words(r, color_words + std::int64_t(rw) * W + ww); };
    const std::uint64_t me = words(r, rest);
    const std::uint64_t same = other(row, w);
    const bool even = ((y + z) & 1) == 0;
    const int w_side = even ? (w == 0 ? W - 1 : w - 1) : (w == W - 1 ? 0 : w + 1);
    const std::uint64_t side =
        even ? (same << 4) | (other(row, w_side) >> 60) : (same >> 4) | (other(row, w_side) << 60);
    const int row_ym = row - y + (y == 0 ? L - 1 : y - 1);
    const int row_yp = row - y + (y == L - 1 ? 0 : y + 1);
    // Bits that flag an unsatisfied bond with neighbour word s and bond word j.
    auto unsatisfied = [&](std::uint64_t j, std::uint64_t s) {
      return popcount64((me ^ s ^ (Disorder ? j ^ nibble_mask : 0)) & nibble_mask);
    };
    auto bond = [&](int d, std::int64_t base, int rw, int ww) {
      return Disorder ? bonds(d, base + std::int64_t(rw) * W + ww) : std::uint64_t(0);
    };
    const std::uint64_t jx_mine = bond(0, 0, row, w), jx_other = bond(0, color_words, row, w);
    const std::uint64_t jx_side = !Disorder ? 0
                                  : even    ? (jx_other << 4) | (bond(0, color_words, row, w_side) >> 60)
                                            : jx_mine;
    int unlike = unsatisfied(even ? jx_mine : jx_other, same) + unsatisfied(jx_side, side) +
                 unsatisfied(bond(1, color_words, row_ym, w), other(row_ym, w)) +
                 unsatisfied(bond(1, 0, row, w), other(row_yp, w));
    if constexpr (Dim == 3) {
      const int row_zm = row + (z == 0 ? L - 1 : -1) * L;
      const int row_zp = row + (z == L - 1 ? 1 - L : 1) * L;
      unlike += unsatisfied(bond(2, color_words, row_zm, w), other(row_zm, w)) +
                unsatisfied(bond(2, 0, row, w), other(row_zp, w));
    }
    acc[2 * rr] += 32 * Dim - 2 * unlike;
    acc[2 * rr + 1] += 2 * (popcount64(me & nibble_mask) + popcount64(same & nibble_mask)) - 32;
  }
  KOKKOS_INLINE_FUNCTION void init(value_type acc) const {
    for (unsigned j = 0; j < value_count; ++j) acc[j] = 0;
  }
  KOKKOS_INLINE_FUNCTION void join(value_type dst, const value_type src) const {
    for (unsigned j = 0; j < value_count; ++j) dst[j] += src[j];
  }
};

// Bond and magnetisation sums of every local replica into `out` (host, 2R).
// Replicas are reduced in groups: the array reduction keeps 2 values per
// replica per thread, which must stay small for the GPU's shared memory.
inline constexpr std::int64_t replicas_per_reduction = 8;

template <class Exec>
void measure_generic(Exec const& space, Spins const& spins, Couplings const& couplings, Geometry const geo,
                     Kokkos::View<std::int64_t*, Kokkos::HostSpace> out) {
  const std::int64_t R = spins.extent(0);
  for (std::int64_t r0 = 0; r0 < R; r0 += replicas_per_reduction) {
    const std::int64_t n = std::min(replicas_per_reduction, R - r0);
    GenericObservables f{static_cast<unsigned>(2 * n), spins, couplings, geo, r0};
    auto part = Kokkos::subview(out, std::make_pair(2 * r0, 2 * (r0 + n)));
    Kokkos::parallel_reduce("thermo::measure_generic", RangePolicy64<Exec>(space, 0, n * geo.sites), f, part);
  }
}

template <int Dim, bool Disorder, class Exec>
void measure_multispin(Exec const& space, PackedSpins const& words, PackedBonds const& bonds, int L,
                       Kokkos::View<std::int64_t*, Kokkos::HostSpace> out) {
  const std::int64_t R = words.extent(0);
  const std::int64_t color_words = words.extent(1) / 2;
  for (std::int64_t r0 = 0; r0 < R; r0 += replicas_per_reduction) {
    const std::int64_t n = std::min(replicas_per_reduction, R - r0);
    MultispinObservables<Dim, Disorder> f{static_cast<unsigned>(2 * n), words, bonds, L, r0};
    auto part = Kokkos::subview(out, std::make_pair(2 * r0, 2 * (r0 + n)));
    Kokkos::parallel_reduce("thermo::measure_multispin", RangePolicy64<Exec>(space, 0, n * color_words), f,
                            part);
  }
}

// Unpack multi-spin words into one byte per site (for output and tests):
// `words` (rows of L/32 words per colour) into `spins` (rows of L sites, x
// fastest), for rows = L^(dim-1) numbered z * L + y.
template <class Exec>
void unpack_multispin(Exec const& space, PackedSpins const& words, int L, Spins const& spins) {
  const int W = L / 32;
  const std::int64_t sites = spins.extent(1);
  const std::int64_t color_words = words.extent(1) / 2;
  Kokkos::parallel_for(
      "thermo::unpack_multispin", RangePolicy64<Exec>(space, 0, std::int64_t(words.extent(0)) * sites),
      KOKKOS_LAMBDA(const std::int64_t t) {
        const std::int64_t r = t / sites;
        const std::int64_t i = t - r * sites;
        const std::int64_t row = i / L;
        const int x = static_cast<int>(i - row * L);
        const int color = static_cast<int>((x + row % L + row / L) & 1);  // (x + y + z) & 1
        const int jj = x >> 1;
        const std::uint64_t word = words(r, color * color_words + row * W + jj / 16);
        spins(r, i) = ((word >> (4 * (jj % 16))) & 1u) ? std::int8_t(1) : std::int8_t(-1);
      });
}

// The inverse: one byte per site (> 0: bit set) into multi-spin words, for a
// restart from a checkpoint and for the bond planes (rows of `spins` are then
// the directions).
template <class Exec>
void pack_multispin(Exec const& space, Spins const& spins, int L, PackedSpins const& words) {
  const int W = L / 32;
  const std::int64_t color_words = words.extent(1) / 2;
  Kokkos::parallel_for(
      "thermo::pack_multispin",
      RangePolicy64<Exec>(space, 0, std::int64_t(words.extent(0)) * 2 * color_words),
      KOKKOS_LAMBDA(const std::int64_t t) {
        const std::int64_t r = t / (2 * color_words);
        const std::int64_t rest = t - r * 2 * color_words;
        const int color = static_cast<int>(rest / color_words);
        const std::int64_t in_color = rest - color * color_words;
        const std::int64_t row = in_color / W;
        const int w = static_cast<int>(in_color - row * W);
        const int parity = static_cast<int>((row % L + row / L + color) & 1);  // (y + z + colour) & 1
        std::uint64_t word = 0;
        for (int n = 0; n < 16; ++n) {
          const int jj = 16 * w + n;
          const int x = 2 * jj + parity;
          if (spins(r, row * L + x) > 0) word |= std::uint64_t(1) << (4 * n);
        }
        words(r, rest) = word;
      });
}

}  // namespace prism::thermo
