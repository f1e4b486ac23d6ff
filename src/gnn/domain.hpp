#pragma once
// The spatial decomposition of one structure over ranks (decompose =
// "space"): slabs of equal atom count along the structure's widest lattice
// direction (x with open boundaries), and each rank's halo, the atoms within
// r_cut of one of its own (periodic images included), whose features it
// receives from their owners layer by layer.
#include <cstdint>
#include <vector>

#include "gnn/structures.hpp"

namespace prism::gnn {

// The rank that computes each atom: parts slabs, each of n / parts atoms
// (the first n % parts one more), in order of the coordinate across them.
std::vector<int> slab_owners(const Structure& s, int parts);

// The atoms rank `part` holds, ascending: its own (owner[i] == part) and
// every atom within r_cut of one of them.  A superset: the halo is taken in
// bins of r_cut / 4 along the slab direction, up to r_cut / 2 wider than
// r_cut; every atom of the structure where the slabs are thinner than that.
std::vector<std::int64_t> halo_atoms(const Structure& s, const std::vector<int>& owner, int part,
                                     double r_cut);

}  // namespace prism::gnn
