#include "nqs/nqs_config.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

#include "core/deck.hpp"

namespace prism::nqs {

const char* hamiltonian_name(Hamiltonian h) {
  return h == Hamiltonian::tfim ? "tfim" : "heisenberg";
}
const char* lattice_name(LatticeKind l) {
  return l == LatticeKind::chain ? "chain" : "square";
}

const char* precision_name(Precision p) {
  return p == Precision::single_precision ? "float" : "double";
}

std::int64_t Config::hidden() const {
  return static_cast<std::int64_t>(std::llround(alpha * double(sites())));
}

Config parse_config(Deck& deck) {
  Config c;
  const std::string s = "nqs";
  c.hamiltonian = deck.get_string(s, "hamiltonian", std::nullopt, {"tfim", "heisenberg"}) == "tfim"
                      ? Hamiltonian::tfim
                      : Hamiltonian::heisenberg;
  c.lattice = deck.get_string(s, "lattice", "chain", {"chain", "square"}) == "chain" ? LatticeKind::chain
                                                                                     : LatticeKind::square;
  if (c.lattice == LatticeKind::chain) {
    c.Lx = deck.get_int(s, "N", std::nullopt, 2, 4096);
    c.Ly = 1;
  } else {
    c.Lx = deck.get_int(s, "Lx", std::nullopt, 2, 256);
    c.Ly = deck.get_int(s, "Ly", std::nullopt, 2, 256);
    if (c.Lx * c.Ly > 4096) deck.fail(s, "Ly", "Lx * Ly must be <= 4096");
  }
  c.periodic = deck.get_string(s, "boundary", "periodic", {"periodic", "open"}) == "periodic";
  if (c.periodic) {
    const char* key = c.lattice == LatticeKind::chain ? "N" : "Lx";
    if (c.Lx < 3) deck.fail(s, key, "a periodic lattice needs at least 3 sites per direction");
    if (c.lattice == LatticeKind::square && c.Ly < 3)
      deck.fail(s, "Ly", "a periodic lattice needs at least 3 sites per direction");
  }
  // Bounded so that local energies, their variance and the SR matrix stay finite.
  c.J = deck.get_double(s, "J", 1.0, -1e6, 1e6);
  c.h = deck.get_double(s, "h", 1.0, -1e6, 1e6);
  c.Delta = deck.get_double(s, "Delta", 1.0, -1e6, 1e6);
  c.J2 = deck.get_double(s, "J2", 0.0, -1e6, 1e6);
  if (c.J2 != 0.0) {
    if (c.hamiltonian != Hamiltonian::heisenberg)
      deck.fail(s, "J2",
                "next-nearest-neighbour exchange is for hamiltonian = \"heisenberg\" (the J1-J2 model)");
    if (c.periodic && c.lattice == LatticeKind::chain && c.Lx < 5)
      deck.fail(s, "N", "a periodic J1-J2 chain needs N >= 5 (else next-nearest pairs repeat)");
  }
  c.complex_parameters = deck.get_string(s, "parameters", "real", {"real", "complex"}) == "complex";
  // A complex RBM learns the signs itself, so the sign rule is off unless asked for.
  c.marshall_sign = deck.get_bool(
      s, "marshall_sign", c.hamiltonian == Hamiltonian::heisenberg && c.J > 0 && !c.complex_parameters);
  // A real RBM has positive amplitudes: sign structures it cannot carry are refused.
  if (c.hamiltonian == Hamiltonian::heisenberg && c.marshall_sign && c.J < 0)
    deck.fail(s, "marshall_sign",
              "the Marshall sign rule is for the antiferromagnet (J > 0); set it false for J < 0");
  if (c.hamiltonian == Hamiltonian::tfim && c.h < 0 && !c.complex_parameters)
    deck.fail(
        s, "h",
        "must be >= 0 with parameters = \"real\" (a positive RBM cannot represent h < 0; the spectrum is "
        "the same as for |h|)");
  if (c.hamiltonian == Hamiltonian::heisenberg && c.Delta < -1)
    deck.fail(s, "Delta",
              "must be >= -1 (for Delta < -1 the ground state leaves the S^z = 0 sector sampled here)");
  c.alpha = deck.get_double(s, "alpha", 2.0, 0.0, 64.0, true);
  if (c.hidden() < 1) deck.fail(s, "alpha", "alpha * sites must round to at least one hidden unit");
  c.translation_symmetry = deck.get_string(s, "symmetry", "none", {"none", "translation"}) == "translation";
  if (c.translation_symmetry) {
    if (!c.periodic) deck.fail(s, "symmetry", "translation symmetry needs boundary = \"periodic\"");
    if (c.alpha != std::round(c.alpha))
      deck.fail(s, "alpha", "must be a whole number with symmetry = \"translation\" (alpha feature maps)");
  }
  c.init_scale = deck.get_double(s, "init_scale", 0.01, 0.0, 10.0);
  c.chains = deck.get_int(s, "chains", 256, 1, 1 << 24);
  c.thermalization = deck.get_int(s, "thermalization", 50, 0, 1'000'000);
  c.sweeps_per_sample = deck.get_int(s, "sweeps_per_sample", 1, 1, 1'000'000);
  c.samples_per_chain = deck.get_int(s, "samples_per_chain", 8, 4, 1'000'000);
  c.iterations = deck.get_int(s, "iterations", 100, 1, 100'000'000);
  c.learning_rate = deck.get_double(s, "learning_rate", 0.05, 0.0, 10.0, true);
  c.learning_rate_decay = deck.get_double(s, "learning_rate_decay", 0.0, 0.0, 1e6);
  c.phase_step_ratio = deck.get_double(s, "phase_step_ratio", 1.0, 0.0, 100.0, true);
  if (c.phase_step_ratio != 1.0 && !c.complex_parameters)
    deck.fail(s, "phase_step_ratio",
              "scales the steps of the imaginary parts: it needs parameters = \"complex\"");
  // A shared parameter's log-derivative sums N terms, so S is larger by up
  // to N^2 in those directions and a shift of 0.01 regularises too little:
  // from the tiny initial weights, one step can freeze every chain.
  c.diag_shift = deck.get_double(s, "diag_shift", c.translation_symmetry ? 0.05 : 0.01, 0.0, 1e6, true);
  c.cg_max_iterations = deck.get_int(s, "cg_max_iterations", 200, 1, 100'000);
  c.cg_tolerance = deck.get_double(s, "cg_tolerance", 1e-5, 0.0, 1.0, true);
  c.cg_jacobi = deck.get_string(s, "cg_preconditioner", "none", {"none", "jacobi"}) == "jacobi";
  c.sr_cholesky = deck.get_string(s, "sr_solver", "cg", {"cg", "cholesky"}) == "cholesky";
  c.sr_float = deck.get_string(s, "sr_precision", "double", {"double", "float"}) == "float";
  if (c.sr_float && c.sr_cholesky)
    deck.fail(s, "sr_precision",
              "\"float\" stores the matrix that CG's products read; sr_solver = \"cholesky\" "
              "forms S in double (use sr_precision = \"double\")");
  if (deck.has(s, "reference_energy"))
    c.reference_energy = deck.get_double(s, "reference_energy", std::nullopt);
  c.precision = deck.get_string(s, "precision", "double", {"double", "float"}) == "float"
                    ? Precision::single_precision
                    : Precision::double_precision;
  if (c.precision == Precision::single_precision && c.complex_parameters)
    deck.fail(s, "precision",
              "float tables are for parameters = \"real\"; the complex RBM samples in double");
  c.checkpoint_every = deck.get_int(s, "checkpoint_every", 0, 0, 100'000'000);
  c.observables_iterations = deck.get_int(s, "observables_iterations", 0, 0, 1'000'000);
  // Every pair of sites is a column, each costing M brackets per sample.
  if (c.observables_iterations > 0 && c.sites() > 1024)
    deck.fail(s, "observables_iterations",
              "observables are measured for at most 1024 sites (every pair of sites is measured)");
  const auto lat = make_lattice(c);
  if (c.hamiltonian == Hamiltonian::heisenberg) {
    if (c.sites() % 2 != 0)
      deck.fail(s, c.lattice == LatticeKind::chain ? "N" : "Lx",
                "heisenberg samples S^z = 0: needs an even number of sites");
    if (c.marshall_sign && !lat.bipartite)
      deck.fail(s, "marshall_sign",
                "the Marshall sign rule needs a bipartite lattice (even lengths when periodic)");
  }
  // Every rank holds all ranks' log-derivatives and the P x P matrix S.
  if (c.sr_cholesky && c.real_parameters() > kCholeskyMaxParameters)
    deck.fail(s, "sr_solver",
              "\"cholesky\" forms the P x P matrix S; this network has P = " +
                  std::to_string(c.real_parameters()) + " real parameters, above the limit of " +
                  std::to_string(kCholeskyMaxParameters) + " (use \"cg\")");
  if (c.sr_cholesky &&
      c.total_samples() * (c.complex_parameters ? 2 : 1) * c.real_parameters() >= (std::int64_t(1) << 31))
    deck.fail(s, "sr_solver",
              "\"cholesky\" gathers every sample's log-derivatives on every rank: samples x parameters "
              "must be < 2^31 (use \"cg\")");
  if (c.total_samples() >= (std::int64_t(1) << 31))
    deck.fail(s, "samples_per_chain", "chains * samples_per_chain must be < 2^31");
  if (c.chains * c.sites() >= (std::int64_t(1) << 31))
    deck.fail(s, "chains", "chains * sites must be < 2^31 (chain states are gathered for checkpoints)");
  // Proposals per chain per iteration are counted in 32-bit integers.
  if ((c.thermalization + c.samples_per_chain * c.sweeps_per_sample) * c.sites() >= (std::int64_t(1) << 31))
    deck.fail(s, "thermalization",
              "(thermalization + samples_per_chain * sweeps_per_sample) * sites must be < 2^31 proposals");
  return c;
}

Lattice make_lattice(const Config& cfg) {
  Lattice lat;
  const auto Lx = static_cast<std::int32_t>(cfg.Lx), Ly = static_cast<std::int32_t>(cfg.Ly);
  auto id = [&](int x, int y) { return y * Lx + x; };
  lat.sublattice.resize(static_cast<std::size_t>(Lx * Ly));
  for (int y = 0; y < Ly; ++y)
    for (int x = 0; x < Lx; ++x) lat.sublattice[id(x, y)] = static_cast<std::int8_t>((x + y) & 1);
  for (int y = 0; y < Ly; ++y) {
    for (int x = 0; x < Lx; ++x) {
      if (x + 1 < Lx || cfg.periodic) {
        lat.bond_i.push_back(id(x, y));
        lat.bond_j.push_back(id((x + 1) % Lx, y));
      }
      if (cfg.lattice == LatticeKind::square && (y + 1 < Ly || cfg.periodic)) {
        lat.bond_i.push_back(id(x, y));
        lat.bond_j.push_back(id(x, (y + 1) % Ly));
      }
    }
  }
  if (cfg.J2 != 0.0) {
    if (cfg.lattice == LatticeKind::chain) {
      for (int x = 0; x < Lx; ++x)
        if (x + 2 < Lx || cfg.periodic) {
          lat.bond2_i.push_back(id(x, 0));
          lat.bond2_j.push_back(id((x + 2) % Lx, 0));
        }
    } else {
      for (int y = 0; y < Ly; ++y)
        for (int x = 0; x < Lx; ++x)
          if ((x + 1 < Lx && y + 1 < Ly) || cfg.periodic) {  // the plaquette (x, y)..(x + 1, y + 1)
            const int x1 = (x + 1) % Lx, y1 = (y + 1) % Ly;
            lat.bond2_i.push_back(id(x, y));
            lat.bond2_j.push_back(id(x1, y1));
            lat.bond2_i.push_back(id(x1, y));
            lat.bond2_j.push_back(id(x, y1));
          }
    }
  }
  if (cfg.periodic) lat.bipartite = (Lx % 2 == 0) && (cfg.lattice == LatticeKind::chain || Ly % 2 == 0);
  return lat;
}

}  // namespace prism::nqs
