#pragma once
// Checkerboard sweeps (Metropolis or heat bath, by table) of Ising-type lattices: a generic kernel
// (any dimension, bond disorder, one byte per spin) and a multi-spin coded
// kernel for the ferromagnetic ising2d model (16 spins per 64-bit word).
// Both key the random number of a site by (seed; colour-site block, sweep,
// global replica, colour), so they make identical moves.
#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/common/philox.hpp"
#include "kernels/thermo/types.hpp"

namespace prism::thermo {

// Host side of the kernels' contract: row r of `table` (a host view) gets the
// flip probabilities times 2^32 for every spin s and local field
// f = sum_j J_ij s_j, at the kernels' index (s > 0 ? 4D+1 : 0) + f + 2D, with
// dE = 2 s (J f + h): Metropolis min(1, exp(-beta dE)), or heat bath
// 1 / (1 + exp(beta dE)).  Both satisfy detailed balance at beta.
template <class HostTable>
void fill_threshold_row(HostTable const& table, std::size_t r, int dim, double beta, double J, double h,
                        bool heat_bath) {
  for (int up = 0; up < 2; ++up) {
    for (int f = -2 * dim; f <= 2 * dim; ++f) {
      const double dE = 2.0 * (up ? 1.0 : -1.0) * (J * f + h);
      double p;
      if (!heat_bath) {
        p = dE <= 0 ? 1.0 : std::exp(-beta * dE);
      } else {
        const double x = std::exp(-beta * std::fabs(dE));  // in (0, 1]: no overflow
        p = dE > 0 ? x / (1.0 + x) : 1.0 / (1.0 + x);
      }
      table(r, up * (4 * dim + 1) + f + 2 * dim) =
          p >= 1.0 ? (std::uint64_t(1) << 32) : static_cast<std::uint64_t>(std::ldexp(p, 32));
    }
  }
}

// Update every site of one colour of every local replica.
template <class Exec>
void sweep_generic(Exec const& space, Spins const& spins, Couplings const& couplings,
                   Thresholds const& thresholds, Geometry const geo, int color, std::uint32_t sweep,
                   std::uint64_t seed, std::int64_t replica_offset) {
  static_assert(Kokkos::SpaceAccessibility<Exec, typename Spins::memory_space>::accessible,
                "spins must be reachable from the execution space");
  const std::int64_t replicas = spins.extent(0);
  const std::int64_t blocks = (geo.half() + 3) / 4;  // four sites per Philox draw
  const std::int64_t half_row = geo.L / 2;
  const int L = geo.L;
  const int dim = geo.dim;
  const std::int64_t plane = std::int64_t(L) * L;
  const int stride = 4 * dim + 1;
  Kokkos::parallel_for(
      "thermo::sweep_generic", RangePolicy64<Exec>(space, 0, replicas * blocks),
      KOKKOS_LAMBDA(const std::int64_t t) {
        const std::int64_t r = t / blocks;
        const std::int64_t b = t - r * blocks;
        const auto u =
            rng::philox(seed, static_cast<std::uint32_t>(b), sweep,
                        static_cast<std::uint32_t>(replica_offset + r), static_cast<std::uint32_t>(color));
        for (int q = 0; q < 4; ++q) {
          const std::int64_t k = 4 * b + q;
          if (k >= geo.half()) break;
          const std::int64_t row = k / half_row;
          const int jj = static_cast<int>(k - row * half_row);
          const int y = static_cast<int>(row % L);
          const int z = static_cast<int>(row / L);
          const int x = 2 * jj + ((y + z + color) & 1);
          const std::int64_t base = row * L;
          const std::int64_t site = base + x;
          const std::int64_t xm = base + (x == 0 ? L - 1 : x - 1);
          const std::int64_t xp = base + (x == L - 1 ? 0 : x + 1);
          const std::int64_t ym = z * plane + std::int64_t(y == 0 ? L - 1 : y - 1) * L + x;
          const std::int64_t yp = z * plane + std::int64_t(y == L - 1 ? 0 : y + 1) * L + x;
          int field = couplings(0, site) * spins(r, xp) + couplings(0, xm) * spins(r, xm) +
                      couplings(1, site) * spins(r, yp) + couplings(1, ym) * spins(r, ym);
          if (dim == 3) {
            const std::int64_t zm = std::int64_t(z == 0 ? L - 1 : z - 1) * plane + y * L + x;
            const std::int64_t zp = std::int64_t(z == L - 1 ? 0 : z + 1) * plane + y * L + x;
            field += couplings(2, site) * spins(r, zp) + couplings(2, zm) * spins(r, zm);
          }
          const std::int8_t s = spins(r, site);
          const int index = (s > 0 ? stride : 0) + field + 2 * dim;
          if (static_cast<std::uint64_t>(u.v[q]) < thresholds(r, index)) spins(r, site) = -s;
        }
      });
}

// Multi-spin coded update of one colour of ferromagnetic ising2d (L % 32 == 0).
// Each thread owns one word: 16 sites of one colour in one row.  Their four
// neighbours are in the other colour: the same word in rows y-1, y, y+1 and
// the same-row word shifted by one nibble, so adding the four words counts,
// per nibble, the up neighbours (0..4) without carries between nibbles.
template <class Exec>
void sweep_multispin(Exec const& space, PackedSpins const& words, Thresholds const& thresholds, int L,
                     int color, std::uint32_t sweep, std::uint64_t seed, std::int64_t replica_offset) {
  static_assert(Kokkos::SpaceAccessibility<Exec, typename PackedSpins::memory_space>::accessible,
                "packed spins must be reachable from the execution space");
  const std::int64_t replicas = words.extent(0);
  const int W = L / 32;  // words per row per colour
  const std::int64_t color_words = std::int64_t(L) * W;
  const std::int64_t mine_base = color * color_words;
  const std::int64_t other_base = (1 - color) * color_words;
  const std::uint32_t blocks_per_row = static_cast<std::uint32_t>(L / 8);
  Kokkos::parallel_for(
      "thermo::sweep_multispin", RangePolicy64<Exec>(space, 0, replicas * color_words),
      KOKKOS_LAMBDA(const std::int64_t t) {
        const std::int64_t r = t / color_words;
        const std::int64_t rest = t - r * color_words;
        const int row = static_cast<int>(rest / W);
        const int w = static_cast<int>(rest - std::int64_t(row) * W);
        const int up_row = row == 0 ? L - 1 : row - 1;
        const int down_row = row == L - 1 ? 0 : row + 1;
        const std::uint64_t me = words(r, mine_base + rest);
        const std::uint64_t same = words(r, other_base + rest);
        const std::uint64_t up = words(r, other_base + std::int64_t(up_row) * W + w);
        const std::uint64_t down = words(r, other_base + std::int64_t(down_row) * W + w);
        std::uint64_t side;
        if (((row + color) & 1) == 0) {
          // x = 2jj: the other neighbour is site jj-1 of the other colour.
          const std::uint64_t prev = words(r, other_base + std::int64_t(row) * W + (w == 0 ? W - 1 : w - 1));
          side = (same << 4) | (prev >> 60);
        } else {
          // x = 2jj+1: the other neighbour is site jj+1 of the other colour.
          const std::uint64_t next = words(r, other_base + std::int64_t(row) * W + (w == W - 1 ? 0 : w + 1));
          side = (same >> 4) | (next << 60);
        }
        const std::uint64_t up_count = up + down + same + side;
        std::uint64_t flips = 0;
        const std::uint32_t block0 = static_cast<std::uint32_t>(row) * blocks_per_row + 4u * w;
        const auto rep = static_cast<std::uint32_t>(replica_offset + r);
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          const auto u = rng::philox(seed, block0 + q, sweep, rep, static_cast<std::uint32_t>(color));
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int shift = 4 * (4 * q + e);
            const int spin_up = static_cast<int>((me >> shift) & 1u);
            const int n_up = static_cast<int>((up_count >> shift) & 0xFu);
            // local field 2*n_up - 4, offset by 2D = 4; stride 4D+1 = 9
            const int index = spin_up * 9 + 2 * n_up;
            if (static_cast<std::uint64_t>(u.v[e]) < thresholds(r, index)) flips |= std::uint64_t(1) << shift;
          }
        }
        words(r, mine_base + rest) = me ^ flips;
      });
}

}  // namespace prism::thermo
