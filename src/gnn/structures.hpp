#pragma once
// The atomic structures a gnn run evaluates: read on the host from extended
// XYZ (as ASE writes it) or from HDF5, and replicated into supercells.  No
// Kokkos here, so tests and tools can use it alone.
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace prism::gnn {

struct Structure {
  // extxyz: the comment line's name=..., else "frame<k>" (k from 0); HDF5: the group's name.
  std::string name;
  std::vector<int> z;            // atomic numbers, one per atom
  std::vector<double> pos;       // [N][3] row-major, Angstrom
  std::array<double, 9> cell{};  // rows are the lattice vectors a, b, c; all zero when no Lattice is given
  std::array<bool, 3> pbc{};     // periodic along a, b, c
  // Reference values given with the structure (extxyz: energy= and a forces:R:3
  // property; HDF5: datasets energy and forces), for parity plots; NaN / empty when absent.
  double ref_energy = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> ref_forces;  // [N][3]
  std::int64_t atoms() const { return std::int64_t(z.size()); }
};

// Periodic along any lattice vector: the neighbour search, the input checks
// and the spatial split then treat it as periodic along all three (mixed
// periodicity is refused when the structures are read).
inline bool any_pbc(const Structure& s) {
  return s.pbc[0] || s.pbc[1] || s.pbc[2];
}

// Every frame of an extended XYZ file, in file order.  Per frame: a line with
// the atom count, a comment line of key=value pairs (values bare or
// double-quoted; the keys Lattice, Properties and pbc in any case), then one
// line per atom with the columns Properties describes (default
// species:S:1:pos:R:3; atomic numbers from Z:I:1 when there is no species).
// Lattice is 9 numbers, a then b then c.  pbc is 1 or 3 of T/F, True/False,
// true/false, TRUE/FALSE, 1/0; absent it is T T T with a Lattice and F F F
// without, and a periodic direction without a Lattice is an error.  Atom
// lines must have exactly the columns Properties gives, coordinates finite.
// Blank lines may end the file.  Errors throw std::runtime_error
// "PATH:LINE: rule" (LINE from 1).
//
// Both readers also require, for periodic structures, a nonzero lattice
// vector along each periodic direction and, when all three are periodic, a
// cell with volume (neighbour images are undefined otherwise).
std::vector<Structure> read_extxyz(const std::string& path);

// Every structure of an HDF5 file laid out as
//   /structures/<name>/pos   float64 [N][3]
//   /structures/<name>/z     integer [N]     atomic numbers
//   /structures/<name>/cell  float64 [3][3]  rows a, b, c; optional when nothing is periodic
//   attribute pbc on /structures/<name>: integer 0 or 1 (all three directions), or 3 of them
// in HDF5's name order of the groups: ascending byte-wise, so "B" before "a"
// and "s10" before "s2" (not creation order).  Errors throw
// std::runtime_error "PATH: /structures/<name>/<dataset>: rule".
std::vector<Structure> read_structures_h5(const std::string& path);

// By extension (any case): .h5/.hdf5 -> read_structures_h5, .xyz/.extxyz ->
// read_extxyz; anything else throws naming the path.
std::vector<Structure> read_structures(const std::string& path);

// The n[0] x n[1] x n[2] supercell, with the order of ASE's Atoms.repeat:
// image-major, images (ia, ib, ic) with ia slowest and ic fastest, and within
// an image the atoms of `s` in order, so atom i of image (ia, ib, ic) is
// atom ((ia * n[1] + ib) * n[2] + ic) * N + i at pos_i + ia a + ib b + ic c.
// Cell rows are scaled by n; name and pbc are kept.  Every n must be >= 1,
// and n > 1 needs pbc along that direction (throws std::runtime_error).
Structure replicate(const Structure& s, std::array<int, 3> n);

// Element symbol <-> atomic number for 1..118 (symbols case-sensitive, as
// ASE's); both throw std::runtime_error for anything else.
int atomic_number(const std::string& symbol);
const char* element_symbol(int z);
// Standard atomic weight in g/mol (CIAAW; the conventional value where IUPAC
// gives an interval, the most stable isotope's mass number for elements
// without one); throws std::runtime_error outside 1..118.
double atomic_mass(int z);

}  // namespace prism::gnn
