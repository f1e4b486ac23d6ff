#pragma once
// The gnn potential on the device: energies, forces and virials of one
// structure at a time, in float or double (Real).  Construction copies the
// model into device views; evaluate() builds the neighbour list, runs the
// layers forward and, with forces, backward.
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/mpi_context.hpp"
#include "gnn/model.hpp"
#include "gnn/structures.hpp"

namespace prism::gnn {

struct Evaluation {
  double energy = 0;
  std::vector<double> atom_energies;  // [N]
  std::vector<double> forces;         // [N][3]: -dE/dr (empty without forces)
  std::array<double, 9> virial{};     // -dE/d(strain) of positions and cell, row-major (zero without forces)
  std::int64_t edges = 0;
  double closest = 0;  // shortest interatomic distance found within r_cut
  std::int64_t closest_i = -1, closest_j = -1;
  std::vector<std::vector<double>> features;  // [layer][N * dim], when asked (tests; not with a partition)
  std::int64_t local_atoms = 0;               // atoms this rank held: its own and, with a partition, its halo
  double seconds_neighbours = 0, seconds_forward = 0, seconds_backward = 0;
};

// Spatial decomposition of one structure over ranks (decompose = "space"):
// owner[i] is the rank that computes atom i.  Each rank holds its atoms and
// their halo (gnn/domain.hpp), builds their neighbour list in the frame of
// the whole structure (so each atom's edges come in the same order as on
// one rank), and receives from their owners the halo's features after every
// layer, its dE/dm rows in the backward pass, and the gradients of the
// halo's edges to its atoms before the forces.  Every atom is computed from
// the same edges and the same neighbour values as on one rank, so the
// results are those of one rank bit for bit.
struct Partition {
  const MpiContext* mpi = nullptr;
  std::vector<int> owner;  // [atoms]
};

template <class Real>
class Potential {
 public:
  // team_size 0: automatic (1 on host backends, 64 on GPUs).  max_tile 1:
  // one edge per pass of a team everywhere (tests); 0: the widest tile that
  // fits the device's team memory.
  explicit Potential(const Model& model, int team_size = 0, int max_tile = 0);
  ~Potential();
  Potential(const Potential&) = delete;
  Potential& operator=(const Potential&) = delete;

  // The structure's species must all be in the model (the workload checks).
  // With a partition, every rank calls it (collective) and gets the whole result.
  Evaluation evaluate(const Structure& s, bool forces, bool keep_features = false,
                      const Partition* part = nullptr) const;
  const Model& model() const { return model_; }

 private:
  struct Device;
  Model model_;
  int team_size_ = 1;
  std::unique_ptr<Device> dev_;
};

extern template class Potential<float>;
extern template class Potential<double>;

}  // namespace prism::gnn
