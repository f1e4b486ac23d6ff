#pragma once
// Neighbour lists of the gnn workload, built on the device by cell lists.
//
// Every atom i gets every (j, image) with |r_j + image . cell - r_i| < r_cut,
// images included (several images of one atom, and images of i itself, when
// the cell is thinner than the cutoff).  Atoms are binned in fractional
// coordinates with bins at least r_cut wide where the cell allows, and each
// atom scans the bins within reach; the edges of an atom come in a fixed
// order (bins, then atoms by index), so everything summed over them is the
// same on every run and every rank.
#include <Kokkos_Core.hpp>
#include <array>
#include <cstdint>
#include <vector>

namespace prism::gnn {

struct NeighbourList {
  std::int64_t atoms = 0, edges = 0;
  Kokkos::View<std::int64_t*> row;  // [atoms + 1]: atom i's edges are row(i) .. row(i+1)
  Kokkos::View<int*> nbr;           // [edges]: the neighbour j
  Kokkos::View<int* [3]> image;     // [edges]: lattice image of j (integers)
  Kokkos::View<double* [3]> d;      // [edges]: r_j + image . cell - r_i
  Kokkos::View<std::int64_t*> rev;  // [edges]: the edge j -> i with the opposite image
  double closest = 0;               // smallest distance found (r_cut when there are no edges)
  std::int64_t closest_i = -1, closest_j = -1;
};

// The binning frame: fractional coordinate f_a of a position x is
// sum_b (x_b - origin_b) inv[b][a]; bins along a are f_a * bins_a.  It is
// made from a whole structure, so that a rank's part of it (its atoms and
// their ghosts) is binned as the whole is, and each atom's edges come in
// the same order.
struct NeighbourFrame {
  double inv[9] = {};
  double origin[3] = {};
  double cell[9] = {};
  int bins[3] = {1, 1, 1};
  int reach[3] = {1, 1, 1};
  bool pbc = false;
  double r_cut = 0;
};

// pos: [atoms][3] on the host, row-major; cell rows are the lattice vectors
// (used when pbc).  Open boundaries when !pbc.
NeighbourFrame neighbour_frame(const std::vector<double>& pos, const std::array<double, 9>& cell, bool pbc,
                               double r_cut);

// pos: [atoms][3] on the device, the frame's structure or a part of it whose
// atoms keep their relative order.
NeighbourList build_neighbours(const Kokkos::View<const double* [3]>& pos, const NeighbourFrame& frame);

}  // namespace prism::gnn
