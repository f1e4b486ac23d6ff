#include "kernels/gnn/neighbours.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "gnn/cell.hpp"

namespace prism::gnn {

namespace {
using Frame = NeighbourFrame;
}  // namespace

NeighbourFrame neighbour_frame(const std::vector<double>& pos, const std::array<double, 9>& cell, bool pbc,
                               double rc) {
  Frame f;
  f.pbc = pbc;
  f.r_cut = rc;
  const std::int64_t n = std::int64_t(pos.size() / 3);
  double width[3];
  if (pbc) {
    if (!cell_inverse(cell, f.inv)) throw std::invalid_argument("the cell has zero volume");
    for (int k = 0; k < 9; ++k) f.cell[k] = cell[k];
    for (int a = 0; a < 3; ++a) width[a] = cell_width(f.inv, a);
  } else {
    double lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
    for (int a = 0; a < 3; ++a) {
      lo[a] = hi[a] = n ? pos[a] : 0.0;
      for (std::int64_t i = 1; i < n; ++i) {
        lo[a] = std::min(lo[a], pos[3 * i + a]);
        hi[a] = std::max(hi[a], pos[3 * i + a]);
      }
      width[a] = std::max(hi[a] - lo[a], 1e-9) * (1 + 1e-12);
      f.origin[a] = lo[a];
      f.inv[a * 3 + a] = 1.0 / width[a];
    }
  }
  // Bins at least rc wide, and not many more bins than atoms.
  std::int64_t total = 1;
  for (int a = 0; a < 3; ++a) {
    f.bins[a] = int(std::clamp(std::floor(width[a] / rc), 1.0, 1024.0));
    total *= f.bins[a];
  }
  while (total > std::max<std::int64_t>(8, 2 * n)) {
    const int a = int(std::max_element(f.bins, f.bins + 3) - f.bins);
    total = total / f.bins[a] * ((f.bins[a] + 1) / 2);
    f.bins[a] = (f.bins[a] + 1) / 2;
  }
  for (int a = 0; a < 3; ++a) {
    f.reach[a] = int(std::ceil(rc / (width[a] / f.bins[a]) - 1e-12));
    if (!pbc) f.reach[a] = std::min(f.reach[a], f.bins[a]);
  }
  return f;
}

namespace {
KOKKOS_INLINE_FUNCTION int floor_div(int a, int b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Visits every neighbour of atom i in a fixed order: visit(j, image, r^2).
struct Scanner {
  Frame f;
  double rc2;
  Kokkos::View<int*> bin;
  Kokkos::View<int* [3]> wrap;
  Kokkos::View<double* [3]> wpos;
  Kokkos::View<int*> bin_start, sorted;

  template <class Visit>
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t i, Visit&& visit) const {
    const int b[3] = {bin(i) / (f.bins[1] * f.bins[2]), bin(i) / f.bins[2] % f.bins[1], bin(i) % f.bins[2]};
    for (int o0 = -f.reach[0]; o0 <= f.reach[0]; ++o0)
      for (int o1 = -f.reach[1]; o1 <= f.reach[1]; ++o1)
        for (int o2 = -f.reach[2]; o2 <= f.reach[2]; ++o2) {
          const int o[3] = {o0, o1, o2};
          int nb[3], q[3];
          bool inside = true;
          for (int a = 0; a < 3; ++a) {
            nb[a] = b[a] + o[a];
            q[a] = 0;
            if (f.pbc) {
              q[a] = floor_div(nb[a], f.bins[a]);
              nb[a] -= q[a] * f.bins[a];
            } else if (nb[a] < 0 || nb[a] >= f.bins[a]) {
              inside = false;
            }
          }
          if (!inside) continue;
          double shift[3];
          for (int k = 0; k < 3; ++k)
            shift[k] = q[0] * f.cell[k] + q[1] * f.cell[3 + k] + q[2] * f.cell[6 + k];
          const int nbin = (nb[0] * f.bins[1] + nb[1]) * f.bins[2] + nb[2];
          for (int x = bin_start(nbin); x < bin_start(nbin + 1); ++x) {
            const int j = sorted(x);
            if (j == i && q[0] == 0 && q[1] == 0 && q[2] == 0) continue;
            double d[3], r2 = 0;
            for (int k = 0; k < 3; ++k) {
              d[k] = wpos(j, k) + shift[k] - wpos(i, k);
              r2 += d[k] * d[k];
            }
            if (r2 < rc2) {
              // The image of j as seen from the unwrapped positions.
              const int img[3] = {q[0] - wrap(j, 0) + wrap(i, 0), q[1] - wrap(j, 1) + wrap(i, 1),
                                  q[2] - wrap(j, 2) + wrap(i, 2)};
              visit(j, img, r2);
            }
          }
        }
  }
};
}  // namespace

NeighbourList build_neighbours(const Kokkos::View<const double* [3]>& pos, const NeighbourFrame& f) {
  using Exec = Kokkos::DefaultExecutionSpace;
  const std::int64_t n = pos.extent(0);
  const double rc = f.r_cut;
  const int nbins = f.bins[0] * f.bins[1] * f.bins[2];
  NeighbourList nl;
  nl.atoms = n;

  // Bin of every atom, its wrapped position and the image it was wrapped from.
  Kokkos::View<int*> bin("gnn::bin", n);
  Kokkos::View<int* [3]> wrap("gnn::wrap", n);
  Kokkos::View<double* [3]> wpos("gnn::wpos", n);
  Kokkos::parallel_for(
      "gnn::bin_atoms", Kokkos::RangePolicy<Exec>(0, n), KOKKOS_LAMBDA(std::int64_t i) {
        int b[3];
        double fr[3];
        for (int a = 0; a < 3; ++a) {
          fr[a] = 0;
          for (int k = 0; k < 3; ++k) fr[a] += (pos(i, k) - f.origin[k]) * f.inv[k * 3 + a];
          int w = 0;
          if (f.pbc) {
            w = int(fr[a]);
            if (fr[a] < w) --w;  // floor
            fr[a] -= w;
          }
          wrap(i, a) = w;
          const int k = int(fr[a] * f.bins[a]);
          b[a] = k < 0 ? 0 : k >= f.bins[a] ? f.bins[a] - 1 : k;
        }
        for (int k = 0; k < 3; ++k)
          wpos(i, k) =
              pos(i, k) - (wrap(i, 0) * f.cell[k] + wrap(i, 1) * f.cell[3 + k] + wrap(i, 2) * f.cell[6 + k]);
        bin(i) = (b[0] * f.bins[1] + b[1]) * f.bins[2] + b[2];
      });
  // Counting sort into bins, then each bin's atoms by index (deterministic order).
  Kokkos::View<int*> bin_start("gnn::bin_start", nbins + 1), fill("gnn::bin_fill", nbins),
      sorted("gnn::sorted", n);
  Kokkos::parallel_for(
      "gnn::bin_count", Kokkos::RangePolicy<Exec>(0, n),
      KOKKOS_LAMBDA(std::int64_t i) { Kokkos::atomic_increment(&bin_start(bin(i) + 1)); });
  Kokkos::parallel_scan(
      "gnn::bin_scan", Kokkos::RangePolicy<Exec>(0, nbins + 1), KOKKOS_LAMBDA(int b, int& acc, bool final) {
        acc += bin_start(b);
        if (final) bin_start(b) = acc;
      });
  Kokkos::parallel_for(
      "gnn::bin_fill", Kokkos::RangePolicy<Exec>(0, n), KOKKOS_LAMBDA(std::int64_t i) {
        const int slot = Kokkos::atomic_fetch_add(&fill(bin(i)), 1);
        sorted(bin_start(bin(i)) + slot) = int(i);
      });
  Kokkos::parallel_for(
      "gnn::bin_order", Kokkos::RangePolicy<Exec>(0, nbins), KOKKOS_LAMBDA(int b) {
        for (int x = bin_start(b) + 1; x < bin_start(b + 1); ++x) {
          const int v = sorted(x);
          int y = x - 1;
          while (y >= bin_start(b) && sorted(y) > v) {
            sorted(y + 1) = sorted(y);
            --y;
          }
          sorted(y + 1) = v;
        }
      });

  // Two passes over the same scan: count, then fill.
  const Scanner scan{f, rc * rc, bin, wrap, wpos, bin_start, sorted};
  nl.row = Kokkos::View<std::int64_t*>("gnn::row", n + 1);
  auto row = nl.row;
  Kokkos::MinLoc<double, std::int64_t>::value_type closest;
  Kokkos::parallel_reduce(
      "gnn::count_edges", Kokkos::RangePolicy<Exec>(0, n),
      KOKKOS_LAMBDA(std::int64_t i, Kokkos::MinLoc<double, std::int64_t>::value_type & best) {
        std::int64_t count = 0;
        scan(i, [&](int, const int*, double r2) {
          ++count;
          if (r2 < best.val) {
            best.val = r2;
            best.loc = i;
          }
        });
        row(i + 1) = count;
      },
      Kokkos::MinLoc<double, std::int64_t>(closest));
  Kokkos::parallel_scan(
      "gnn::edge_scan", Kokkos::RangePolicy<Exec>(0, n + 1),
      KOKKOS_LAMBDA(std::int64_t i, std::int64_t & acc, bool final) {
        acc += row(i);
        if (final) row(i) = acc;
      });
  auto last = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                  Kokkos::subview(nl.row, std::make_pair(n, n + 1)));
  nl.edges = last(0);
  nl.nbr = Kokkos::View<int*>("gnn::nbr", nl.edges);
  nl.image = Kokkos::View<int* [3]>("gnn::image", nl.edges);
  nl.d = Kokkos::View<double* [3]>("gnn::d", nl.edges);
  nl.rev = Kokkos::View<std::int64_t*>("gnn::rev", nl.edges);
  auto nbr = nl.nbr;
  auto image = nl.image;
  auto dvec = nl.d;
  auto rev = nl.rev;
  Kokkos::parallel_for(
      "gnn::fill_edges", Kokkos::RangePolicy<Exec>(0, n), KOKKOS_LAMBDA(std::int64_t i) {
        std::int64_t e = row(i);
        scan(i, [&](int j, const int* img, double) {
          nbr(e) = j;
          for (int a = 0; a < 3; ++a) image(e, a) = img[a];
          for (int k = 0; k < 3; ++k)
            dvec(e, k) = pos(j, k) - pos(i, k) +
                         (img[0] * f.cell[k] + img[1] * f.cell[3 + k] + img[2] * f.cell[6 + k]);
          ++e;
        });
      });
  Kokkos::parallel_for(
      "gnn::reverse_edges", Kokkos::RangePolicy<Exec>(0, n), KOKKOS_LAMBDA(std::int64_t i) {
        for (std::int64_t e = row(i); e < row(i + 1); ++e) {
          const int j = nbr(e);
          rev(e) = -1;
          for (std::int64_t x = row(j); x < row(j + 1); ++x)
            if (nbr(x) == i && image(x, 0) == -image(e, 0) && image(x, 1) == -image(e, 1) &&
                image(x, 2) == -image(e, 2)) {
              rev(e) = x;
              break;
            }
        }
      });
  Kokkos::fence();
  nl.closest = n && nl.edges ? std::sqrt(closest.val) : rc;
  nl.closest_i = nl.edges ? closest.loc : -1;
  if (nl.edges) {
    // The partner of the closest pair, for the error message.
    const std::int64_t i = nl.closest_i;
    auto span = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                    Kokkos::subview(nl.row, std::make_pair(i, i + 2)));
    const auto edges = std::make_pair(span(0), span(1));
    // Contiguous copies first: a strided subview has no direct device-to-host copy.
    Kokkos::View<double* [3]> d("gnn::closest_d", edges.second - edges.first);
    Kokkos::View<int*> j("gnn::closest_j", edges.second - edges.first);
    Kokkos::deep_copy(d, Kokkos::subview(nl.d, edges, Kokkos::ALL));
    Kokkos::deep_copy(j, Kokkos::subview(nl.nbr, edges));
    auto hd = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
    auto hn = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), j);
    double best = INFINITY;
    for (std::int64_t e = 0; e < span(1) - span(0); ++e) {
      const double r = std::sqrt(hd(e, 0) * hd(e, 0) + hd(e, 1) * hd(e, 1) + hd(e, 2) * hd(e, 2));
      if (r < best) {
        best = r;
        nl.closest_j = hn(e);
      }
    }
  }
  return nl;
}

}  // namespace prism::gnn
