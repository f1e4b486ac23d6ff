#pragma once
// Validated settings of the gnn workload (an E(3)-equivariant interatomic
// potential).  The model and the structures are read by the workload.
#include <array>
#include <cstdint>
#include <string>

namespace prism {
class Deck;
}

namespace prism::gnn {

enum class Mode { single_point, md };

struct Config {
  std::string model;       // weights file (tools/gnn_e3nn.py writes one)
  std::string structures;  // extended XYZ or HDF5
  std::array<int, 3> replicate{1, 1, 1};
  bool single = false;        // precision = "float"
  bool forces = true;         // compute forces and virials
  bool write_forces = true;   // per-atom forces (and energies) in the output
  double min_distance = 0.5;  // Angstrom: closer atoms are an input error
  int team_size = 0;          // 0: automatic
  bool spatial = false;       // decompose = "space": every structure split over all ranks by slabs
  Mode mode = Mode::single_point;
  // NVE molecular dynamics (velocity Verlet), units eV, Angstrom, amu, fs.
  std::int64_t md_steps = 1000;
  double md_dt = 0.5;           // fs
  double md_temperature = 300;  // K, initial Maxwell-Boltzmann velocities (zero total momentum)
  std::int64_t md_every = 10;   // steps between recorded energies
};

Config parse_config(Deck& deck);

}  // namespace prism::gnn
