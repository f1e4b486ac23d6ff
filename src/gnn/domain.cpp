#include "gnn/domain.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/mpi_context.hpp"
#include "gnn/cell.hpp"

namespace prism::gnn {

namespace {
// Every atom's coordinate across the slabs, in length units: the distance
// along the normal of the widest pair of lattice planes, wrapped into one
// period (the cell's width there) with periodic boundaries; x with open
// ones (period 0).  Two atoms within r of each other differ by at most r in
// it (modulo the period).
struct Across {
  std::vector<double> u;
  double period = 0;
};

Across across(const Structure& s) {
  const std::int64_t n = s.atoms();
  Across a;
  a.u.resize(std::size_t(n));
  double inv[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  int axis = 0;
  const bool pbc = any_pbc(s);
  if (pbc && cell_inverse(s.cell, inv, 1e-12)) {
    double widest = 0;
    for (int k = 0; k < 3; ++k) {
      const double w = cell_width(inv, k);
      if (w > widest) {
        widest = w;
        axis = k;
      }
    }
    a.period = widest;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    double x = 0;
    for (int k = 0; k < 3; ++k) x += s.pos[std::size_t(3 * i + k)] * inv[3 * k + axis];
    a.u[std::size_t(i)] = a.period > 0 ? (x - std::floor(x)) * a.period : x;
  }
  return a;
}
}  // namespace

std::vector<int> slab_owners(const Structure& s, int parts) {
  const std::int64_t n = s.atoms();
  const Across a = across(s);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t x, std::int64_t y) { return a.u[std::size_t(x)] < a.u[std::size_t(y)]; });
  std::vector<int> owner(std::size_t(n), 0);
  for (int p = 0; p < parts; ++p) {
    const Block b = block_partition(n, parts, p);
    for (std::int64_t k = b.begin; k < b.begin + b.count; ++k) owner[std::size_t(order[std::size_t(k)])] = p;
  }
  return owner;
}

std::vector<std::int64_t> halo_atoms(const Structure& s, const std::vector<int>& owner, int part,
                                     double r_cut) {
  const std::int64_t n = s.atoms();
  const Across a = across(s);
  // Bins of about r_cut / 4 across the slabs; a rank's halo is every bin
  // within reach of one of its atoms' bins.  Two atoms closer than r_cut lie
  // at most ceil(r_cut / h) bins apart; one bin more absorbs rounding in u.
  double lo = 0, span = a.period;
  if (a.period <= 0 && n > 0) {
    lo = *std::min_element(a.u.begin(), a.u.end());
    span = *std::max_element(a.u.begin(), a.u.end()) - lo;
  }
  const double want = r_cut / 4;
  const std::int64_t bins =
      std::max<std::int64_t>(1, std::int64_t(std::floor(span / want)) + (a.period > 0 ? 0 : 1));
  const double h = a.period > 0 ? span / double(bins) : want;
  const std::int64_t reach = std::int64_t(std::ceil(r_cut / h)) + 1;
  auto bin_of = [&](std::int64_t i) {
    return std::clamp<std::int64_t>(std::int64_t(std::floor((a.u[std::size_t(i)] - lo) / h)), 0, bins - 1);
  };
  std::vector<char> mine(std::size_t(bins), 0), near(std::size_t(bins), 0);
  for (std::int64_t i = 0; i < n; ++i)
    if (owner[std::size_t(i)] == part) mine[std::size_t(bin_of(i))] = 1;
  const bool everything = a.period > 0 && 2 * reach + 1 >= bins;
  for (std::int64_t b = 0; b < bins; ++b) {
    if (!mine[std::size_t(b)]) continue;
    for (std::int64_t o = -reach; o <= reach; ++o) {
      std::int64_t c = b + o;
      if (a.period > 0)
        c = ((c % bins) + bins) % bins;
      else if (c < 0 || c >= bins)
        continue;
      near[std::size_t(c)] = 1;
    }
  }
  std::vector<std::int64_t> local;
  for (std::int64_t i = 0; i < n; ++i)
    if (owner[std::size_t(i)] == part || everything || near[std::size_t(bin_of(i))]) local.push_back(i);
  return local;
}

}  // namespace prism::gnn
