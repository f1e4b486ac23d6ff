#pragma once
// The gnn workload's model on the host: the architecture read from prism's
// HDF5 weights file (tools/gnn_e3nn.py writes it from an e3nn model), the
// e3nn instruction lists rebuilt from it, and the Clebsch-Gordan tables.
// kernels/gnn/potential.hpp copies this into device views.
//
// Conventions are e3nn 0.6's (docs/gnn.md gives the maths):
//   irreps "8x0e+4x1o+2x2e": blocks of `mul` copies of irrep l with parity
//   p; a feature vector holds the blocks in order, each copy-major
//   ([mul][2l+1]).  Spherical harmonics are concatenated l = 0..lmax.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace prism::gnn {

struct Irrep {
  int mul = 0, l = 0, p = 1;  // p = +1 even, -1 odd
  int dim() const { return 2 * l + 1; }
  bool same(const Irrep& o) const { return l == o.l && p == o.p; }
};
using Irreps = std::vector<Irrep>;

// "8x0e+4x1o+2x2e" (e3nn's str(Irreps)); "0e" means one copy.  Throws
// std::invalid_argument naming the text.
Irreps parse_irreps(const std::string& text);
std::string irreps_string(const Irreps& irreps);
int irreps_dim(const Irreps& irreps);
std::vector<int> block_offsets(const Irreps& irreps);  // feature offset of every block

// e3nn's o3.Linear with its default instructions: every (input block, output
// block) pair of the same irrep, input-major; each path scaled by
// 1/sqrt(sum of the input multiplicities that reach the same output block).
struct LinearPath {
  int in_block = 0, out_block = 0;
  int in_offset = 0, out_offset = 0, mul_in = 0, mul_out = 0, dim = 1;
  std::int64_t w_offset = 0;  // weights [mul_in][mul_out] from here
  double alpha = 1.0;
};
struct Linear {
  Irreps in, out;
  std::vector<LinearPath> paths;
  std::int64_t numel = 0;
  std::vector<double> weight;  // e3nn's flat weight vector
};
Linear make_linear(const Irreps& in, const Irreps& out);

// One sparse Clebsch-Gordan entry C[i][j][k] of a (l1, l2, l3) table.
struct CgEntry {
  int i = 0, j = 0, k = 0;
  double c = 0;
};
// e3nn's o3.wigner_3j(l1, l2, l3): the real-basis coupling tensor, unit
// Frobenius norm, [2l1+1][2l2+1][2l3+1] row-major (dense, for tests).
std::vector<double> wigner_3j(int l1, int l2, int l3);

// A "uvu" tensor-product path: input block (mul x l1) times harmonic l2 into
// its own output block (mul x l3), weight per copy u.
struct TpPath {
  int in_block = 0, l1 = 0, l2 = 0, l3 = 0, mul = 0;
  int in_offset = 0, sh_offset = 0, out_offset = 0;
  std::int64_t w_offset = 0;  // per-edge weights [mul] from here
  double path_weight = 1.0;   // e3nn's normalisation: sqrt(2 l3 + 1) for these paths
  int cg_begin = 0, cg_end = 0;
};

struct Layer {
  Irreps in, tp_out, gate_in, out;
  std::vector<TpPath> tp;
  std::int64_t tp_numel = 0;
  std::vector<CgEntry> cg;  // the paths' tables, one after another
  // Radial MLP n_basis -> radial_hidden... -> tp_numel: weights [in][out]
  // row-major as e3nn stores them (unscaled).
  std::vector<std::vector<double>> radial;
  std::vector<int> radial_widths;
  Linear linear, self;
  int scalars = 0, gates = 0;  // gate input: [scalars | gates | gated blocks]
};

struct Model {
  std::string path;          // the file it came from
  std::vector<int> species;  // atomic numbers; a species' index is its position here
  double r_cut = 0, avg_num_neighbors = 1;
  int n_basis = 0, envelope_p = 6, lmax = 0;
  Irreps hidden, sh;
  // The first layer's input, which the species embedding fills: its scalar
  // block (the first) from the species, any other block zero.  "Cx0e" (C the
  // hidden scalars) unless the file says otherwise; a wider input makes the
  // first layer the shape of a layer deep inside a network (bench_gnn's
  // single-layer comparison with e3nn).
  Irreps input;
  std::vector<int> radial_hidden;
  double gate_silu_cst = 1, gate_sigmoid_cst = 1, radial_silu_cst = 1;
  Linear embed, readout;
  std::vector<Layer> layers;
  std::vector<double> shift;  // per-species energy added to every atom's

  int species_index(int z) const;  // -1 when the model has no such species
};

// Builds the architecture from its hyperparameters (the same rules as
// tools/gnn_e3nn.py's build_model); the weights are left zero.  input ""
// means "Cx0e".
Model make_model(std::vector<int> species, double r_cut, int n_basis, int envelope_p, int lmax,
                 const std::string& hidden, std::vector<int> radial_hidden, int layers,
                 double avg_num_neighbors, const std::string& input = "");
// Reads a weights file; throws std::runtime_error "PATH: ..." when it is not
// one, or when its stored irreps or weight shapes differ from the
// architecture its attributes describe.
Model read_model(const std::string& path);

}  // namespace prism::gnn
