#pragma once
// Validated settings of the nqs workload (RBM variational Monte Carlo).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace prism {
class Deck;
}

namespace prism::nqs {

enum class Hamiltonian { tfim, heisenberg };
enum class LatticeKind { chain, square };
// Arithmetic of the sampler's tables and brackets; SR is always in double.
enum class Precision { double_precision, single_precision };

struct Config {
  Hamiltonian hamiltonian = Hamiltonian::tfim;
  LatticeKind lattice = LatticeKind::chain;
  std::int64_t Lx = 0, Ly = 1;  // chain: Lx = N, Ly = 1
  bool periodic = true;
  double J = 1.0, h = 1.0, Delta = 1.0;
  double J2 = 0.0;  // heisenberg: next-nearest-neighbour exchange (J1-J2 model)
  bool marshall_sign = true;
  // Complex RBM parameters (kernels/nqs/complex_rbm.hpp): the network
  // learns the signs and phases of the amplitudes itself.
  bool complex_parameters = false;
  // symmetry = "translation": the RBM's hidden units come in alpha feature
  // maps, each one filter of N weights and one bias applied at every
  // translation of the periodic lattice (Carleo & Troyer 2017), so psi is
  // translation-invariant and SR updates 1 + alpha + alpha N parameters.
  bool translation_symmetry = false;
  double alpha = 2.0;
  double init_scale = 0.01;
  std::int64_t chains = 256;
  std::int64_t thermalization = 50;    // sweeps before the first sample of each iteration
  std::int64_t sweeps_per_sample = 1;  // a sweep is N proposals
  std::int64_t samples_per_chain = 8;
  std::int64_t iterations = 100;
  double learning_rate = 0.05;
  double learning_rate_decay = 0.0;  // eta_t = eta / (1 + decay * t)
  // Complex parameters: the imaginary parts' step is this times the real
  // parts' (the imaginary parts carry most of the phase of psi).
  double phase_step_ratio = 1.0;
  double diag_shift = 0.01;
  std::int64_t cg_max_iterations = 200;
  double cg_tolerance = 1e-5;
  // CG preconditioner: none, or jacobi (diag(S) + shift, exact over ranks).
  bool cg_jacobi = false;
  // sr_solver = "cholesky": S formed explicitly and solved exactly (the
  // cg_* keys then do nothing); "cg" (the default): conjugate gradients.
  bool sr_cholesky = false;
  // sr_precision = "float": CG's products read a float copy of the centred
  // log-derivatives (half the bytes per step); the force and everything
  // else stay double.  CG only.
  bool sr_float = false;
  std::optional<double> reference_energy;
  Precision precision = Precision::double_precision;
  std::int64_t checkpoint_every = 0;
  // iterations between checkpoints (0: at the end and on signals)
  // Sampling iterations at the final parameters that measure the
  // observables (src/nqs/observables.hpp); 0: none.
  std::int64_t observables_iterations = 0;

  std::int64_t sites() const { return Lx * Ly; }
  std::int64_t hidden() const;
  // Network weights a, b, W (complex numbers with complex_parameters).
  std::int64_t parameters() const { return sites() + hidden() + sites() * hidden(); }
  // Feature maps of a translation-symmetric RBM (hidden units per site).
  std::int64_t features() const { return hidden() / sites(); }
  // Real parameters that SR updates: the weights, or with translation
  // symmetry the shared a, the alpha biases and the alpha filters of N
  // weights; twice as many when they are complex.
  std::int64_t real_parameters() const {
    const std::int64_t weights = translation_symmetry ? 1 + features() + features() * sites() : parameters();
    return (complex_parameters ? 2 : 1) * weights;
  }
  std::int64_t total_samples() const { return chains * samples_per_chain; }
};

Config parse_config(Deck& deck);
const char* hamiltonian_name(Hamiltonian h);
const char* lattice_name(LatticeKind l);
const char* precision_name(Precision p);
// sr_solver = "cholesky": the largest P whose P x P matrix S is formed and
// factorised (a host Cholesky costs P^3 / 6 multiply-adds per iteration).
constexpr std::int64_t kCholeskyMaxParameters = 4096;
inline const char* parameters_name(const Config& c) {
  return c.complex_parameters ? "complex" : "real";
}
inline const char* symmetry_name(const Config& c) {
  return c.translation_symmetry ? "translation" : "none";
}

// Nearest-neighbour bonds (i, j), each counted once, the next-nearest ones
// when J2 != 0 (chain: i, i + 2; square: both diagonals of every plaquette),
// and the sublattice of every site (0/1; meaningful on bipartite lattices).
struct Lattice {
  std::vector<std::int32_t> bond_i, bond_j;
  std::vector<std::int32_t> bond2_i, bond2_j;
  std::vector<std::int8_t> sublattice;
  bool bipartite = true;
};
Lattice make_lattice(const Config& cfg);

}  // namespace prism::nqs
