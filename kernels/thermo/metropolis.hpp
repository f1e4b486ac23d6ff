#pragma once
// Checkerboard sweeps (Metropolis or heat bath, by table) of Ising-type
// lattices: a generic kernel (one byte per spin) and a multi-spin coded one
// (16 spins per 64-bit word), both for 2D and 3D, ferromagnetic or with +-J
// bond disorder.  Both key the random number of a site by (seed; 16-site
// block of its colour, sweep, global replica, colour), so they make
// identical moves.
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/common/philox.hpp"
#include "kernels/thermo/types.hpp"

namespace prism::thermo {

// Host side of the kernels' contract: row r of `table` (a host view) gets the
// flip probabilities times 2^32 for every spin s and local field
// f = sum_j J_ij s_j, at the kernels' index (s > 0 ? 4D+1 : 0) + f + 2D, with
// dE = 2 s (J f + h): Metropolis min(1, exp(-beta dE)), or heat bath
// 1 / (1 + exp(beta dE)).  Both satisfy detailed balance at beta.
//
// The last two columns serve the multispin kernels: byte n of column
// 2 (4D + 1) + s is min(255, top byte of the threshold) of a spin s (0 down,
// 1 up) with n agreeing neighbours (field 2n - 2D), so that a byte permute
// looks up four sites at once.  A sure move (top byte 256) is stored as 255:
// a draw of top byte 255 then ties and is decided by the full threshold.
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
  const int bytes = 2 * (4 * dim + 1);
  for (int up = 0; up < 2; ++up) {
    std::uint64_t packed = 0;
    for (int n = 0; n <= 2 * dim; ++n) {
      const std::uint64_t top = std::min<std::uint64_t>(table(r, up * (4 * dim + 1) + 2 * n) >> 24, 255);
      packed |= top << (8 * n);
    }
    table(r, bytes + up) = packed;
  }
}

// Word k of a draw by selects, not by indexing: a runtime index into the
// array would put the draw in local memory on the GPU.
KOKKOS_FORCEINLINE_FUNCTION std::uint32_t draw_word(const rng::Draw4& draw, int k) {
  return k < 2 ? (k == 0 ? draw.v[0] : draw.v[1]) : (k == 2 ? draw.v[2] : draw.v[3]);
}

// The acceptance test of site `i` (0..15) of a 16-site block.  A move is
// accepted when a uniform 32-bit number u is below the threshold p 2^32.  The
// block's one Philox draw gives each site the top byte of its u; only when
// that byte equals the threshold's top byte does the comparison depend on the
// rest, and then (probability 1/256, never when p = 1) the low 24 bits come
// from a draw of the site's own.  The decision is the same as comparing a
// full 32-bit uniform, so acceptance probabilities stay exact, while one draw
// serves 16 sites instead of 4.
KOKKOS_FORCEINLINE_FUNCTION std::uint32_t top_byte(const rng::Draw4& draw, int i) {
  return (draw_word(draw, i >> 2) >> (8 * (i & 3))) & 0xFFu;
}
KOKKOS_FORCEINLINE_FUNCTION bool tail_accepts(std::uint64_t threshold, std::uint64_t seed,
                                              std::uint32_t block, std::uint32_t sweep, std::uint32_t replica,
                                              int color, int i) {
  const auto tail = rng::philox(seed, block, sweep, replica,
                                rng::sweep_tail | (std::uint32_t(color) << 8) | (std::uint32_t(i) << 9));
  return (tail.v[0] & 0xFFFFFFu) < (threshold & 0xFFFFFFu);
}
KOKKOS_FORCEINLINE_FUNCTION bool accept_move(const rng::Draw4& draw, int i, std::uint64_t threshold,
                                             std::uint64_t seed, std::uint32_t block, std::uint32_t sweep,
                                             std::uint32_t replica, int color) {
  const std::uint32_t top = top_byte(draw, i);
  const std::uint64_t threshold_top = threshold >> 24;  // 0..256
  if (top != threshold_top) return top < threshold_top;
  return tail_accepts(threshold, seed, block, sweep, replica, color, i);
}

// Bytewise unsigned a < b and a == b of four bytes: the high bit of each
// byte of the result is set where it holds.  (a | H) - (b & ~H) compares the
// low seven bits without borrows between bytes; the high bits decide where
// they differ.
KOKKOS_FORCEINLINE_FUNCTION std::uint32_t bytes_less(std::uint32_t a, std::uint32_t b) {
  constexpr std::uint32_t H = 0x80808080u;
  const std::uint32_t low = (a | H) - (b & ~H);
  return ((~a & b) | (~(a ^ b) & ~low)) & H;
}
KOKKOS_FORCEINLINE_FUNCTION std::uint32_t bytes_equal(std::uint32_t a, std::uint32_t b) {
  constexpr std::uint32_t H = 0x80808080u;
  const std::uint32_t x = a ^ b;
  return ~(((x & ~H) + ~H) | x) & H;
}

// Update every site of one colour of every local replica: one thread per
// 16-site block of a colour.
template <class Exec>
void sweep_generic(Exec const& space, Spins const& spins, Couplings const& couplings,
                   Thresholds const& thresholds, Geometry const geo, int color, std::uint32_t sweep,
                   std::uint64_t seed, std::int64_t replica_offset) {
  static_assert(Kokkos::SpaceAccessibility<Exec, typename Spins::memory_space>::accessible,
                "spins must be reachable from the execution space");
  const std::int64_t replicas = spins.extent(0);
  const std::int64_t blocks = (geo.half() + 15) / 16;
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
        const auto block = static_cast<std::uint32_t>(b);
        const auto rep = static_cast<std::uint32_t>(replica_offset + r);
        const auto u = rng::philox(seed, block, sweep, rep, static_cast<std::uint32_t>(color));
        for (int q = 0; q < 16; ++q) {
          const std::int64_t k = 16 * b + q;
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
          if (accept_move(u, q, thresholds(r, index), seed, block, sweep, rep, color)) spins(r, site) = -s;
        }
      });
}

// Multi-spin coded update of one colour (L % 32 == 0), 2D or 3D, with the
// bonds as bit planes when `Disorder` (nibble bit 0 set: J = +1).  Each
// thread owns one word: 16 sites of one colour in one row (z, y).  Their
// neighbours are in the other colour: the same word in the rows y -+ 1 (and
// z -+ 1), and along x the same-row word and its neighbour shifted by one
// nibble.  A neighbour j adds 1 to a nibble when J_ij s_j = +1, i.e. when the
// bond and spin bits agree, so adding the words counts those neighbours
// (0..2D) per nibble without carries between nibbles.
template <int Dim, bool Disorder, class Exec>
void sweep_multispin(Exec const& space, PackedSpins const& words, PackedBonds const& bonds,
                     Thresholds const& thresholds, int L, int color, std::uint32_t sweep, std::uint64_t seed,
                     std::int64_t replica_offset) {
  static_assert(Dim == 2 || Dim == 3, "square and cubic lattices");
  static_assert(Kokkos::SpaceAccessibility<Exec, typename PackedSpins::memory_space>::accessible,
                "packed spins must be reachable from the execution space");
  const std::int64_t replicas = words.extent(0);
  const int W = L / 32;  // words per row per colour
  const int rows = Dim == 2 ? L : L * L;
  const std::int64_t color_words = std::int64_t(rows) * W;
  const std::int64_t mine_base = color * color_words;
  const std::int64_t other_base = (1 - color) * color_words;
  const FastDivisor by_W(W), by_L(L);
  Kokkos::parallel_for(
      "thermo::sweep_multispin", RangePolicy64<Exec>(space, 0, replicas * color_words),
      KOKKOS_LAMBDA(const std::int64_t t) {
        const std::int64_t r = replicas == 1 ? 0 : t / color_words;
        const int rest = static_cast<int>(t - r * color_words);  // rows * W < 2^31
        const int row = static_cast<int>(by_W.quotient(rest));
        const int w = rest - row * W;
        const int z = Dim == 2 ? 0 : static_cast<int>(by_L.quotient(row));
        const int y = row - z * L;
        const int row_ym = row - y + (y == 0 ? L - 1 : y - 1);
        const int row_yp = row - y + (y == L - 1 ? 0 : y + 1);
        // This replica's colours as pointers: the offsets below are 32-bit.
        std::uint64_t* const mine = &words(r, mine_base);
        const std::uint64_t* const theirs = &words(r, other_base);
        auto other = [&](int rw, int ww) { return theirs[rw * W + ww]; };
        const std::uint64_t me = mine[rest];
        const std::uint64_t same = theirs[rest];
        // x = 2jj + p.  p = 0: the -x neighbour is site jj-1 of the other
        // colour; p = 1: the +x neighbour is site jj+1.
        const bool even = ((y + z + color) & 1) == 0;
        const int w_side = even ? (w == 0 ? W - 1 : w - 1) : (w == W - 1 ? 0 : w + 1);
        const std::uint64_t side_word = other(row, w_side);
        const std::uint64_t side = even ? (same << 4) | (side_word >> 60) : (same >> 4) | (side_word << 60);
        std::uint64_t count;
        if (!Disorder) {
          count = same + side + other(row_ym, w) + other(row_yp, w);
          if (Dim == 3) {
            const int row_zm = row + (z == 0 ? L - 1 : -1) * L;
            const int row_zp = row + (z == L - 1 ? 1 - L : 1) * L;
            count += other(row_zm, w) + other(row_zp, w);
          }
        } else {
          auto bond = [&](int d, std::int64_t base, int rw, int ww) {
            return (&bonds(d, base))[rw * W + ww];
          };
          auto agree = [](std::uint64_t j, std::uint64_t s) { return (j ^ s ^ nibble_mask) & nibble_mask; };
          // Bond (site, +d) lives at the site; bond (site - d, +d) at the neighbour.
          const std::uint64_t jx_mine = bond(0, mine_base, row, w);
          const std::uint64_t jx_other = bond(0, other_base, row, w);
          const std::uint64_t jx_side =
              even ? (jx_other << 4) | (bond(0, other_base, row, w_side) >> 60) : jx_mine;
          count = agree(even ? jx_mine : jx_other, same) + agree(jx_side, side) +
                  agree(bond(1, other_base, row_ym, w), other(row_ym, w)) +
                  agree(bond(1, mine_base, row, w), other(row_yp, w));
          if (Dim == 3) {
            const int row_zm = row + (z == 0 ? L - 1 : -1) * L;
            const int row_zp = row + (z == L - 1 ? 1 - L : 1) * L;
            count += agree(bond(2, other_base, row_zm, w), other(row_zm, w)) +
                     agree(bond(2, mine_base, row, w), other(row_zp, w));
          }
        }
        const auto block = static_cast<std::uint32_t>(rest);  // = k / 16 of the generic kernel
        const auto rep = static_cast<std::uint32_t>(replica_offset + r);
        const auto u = rng::philox(seed, block, sweep, rep, static_cast<std::uint32_t>(color));
        const std::uint64_t* const table = &thresholds(r, 0);
        const std::uint64_t down_bytes = table[2 * (4 * Dim + 1)];
        const std::uint64_t up_bytes = table[2 * (4 * Dim + 1) + 1];
        const auto lo = [](std::uint64_t x) { return static_cast<std::uint32_t>(x); };
        const auto hi = [](std::uint64_t x) { return static_cast<std::uint32_t>(x >> 32); };
        // Four sites at a time, a byte each: site 4k + j is byte j of draw
        // word k.  Its count nibble (0..2D) selects its threshold byte from
        // the tables, its spin nibble (0/1) the table.  The byte tests are
        // exact except on a tie, which the full threshold decides below.
        std::uint32_t flips_low = 0, flips_high = 0;
        std::uint32_t ties = 0;  // bit 8j + k: site 4k + j
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          const int shift = 16 * (k & 1);
          const std::uint32_t n = (k < 2 ? lo(count) : hi(count)) >> shift;
          const std::uint32_t spin = (k < 2 ? lo(me) : hi(me)) >> shift;
          const std::uint32_t up = byte_perm(lo(up_bytes), hi(up_bytes), n);
          const std::uint32_t down = byte_perm(lo(down_bytes), hi(down_bytes), n);
          const std::uint32_t is_up = byte_perm(0x0000FF00u, 0, spin);
          const std::uint32_t limit = (up & is_up) | (down & ~is_up);
          const std::uint32_t draw = u.v[k];
          const std::uint32_t less = bytes_less(draw, limit), equal = bytes_equal(draw, limit);
          // The high bits of bytes 0..3 to bits 0, 4, 8, 12 (of the half word).
          const std::uint32_t gathered = (less >> 7) | (less >> 11);
          (k < 2 ? flips_low : flips_high) |= byte_perm(gathered, 0, (k & 1) ? 0x2044u : 0x4420u);
          ties |= equal >> (7 - k);
        }
        std::uint64_t flips = (std::uint64_t(flips_high) << 32) | flips_low;
        while (ties != 0) {
          const int b = lowest_set_bit(ties);
          ties &= ties - 1;
          const int i = 4 * (b & 7) + (b >> 3);
          const int spin_up = static_cast<int>((me >> (4 * i)) & 1u);
          const int n_agree = static_cast<int>((count >> (4 * i)) & 0xFu);
          // local field 2 n_agree - 2D, offset by 2D; stride 4D + 1
          const std::uint64_t threshold = table[spin_up * (4 * Dim + 1) + 2 * n_agree];
          if (accept_move(u, i, threshold, seed, block, sweep, rep, color))
            flips |= std::uint64_t(1) << (4 * i);
        }
        mine[rest] = me ^ flips;
      });
}

}  // namespace prism::thermo
