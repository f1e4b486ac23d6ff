#pragma once
// Counter-based random numbers (Random123 Philox4x32-10), callable on host and
// device.  A draw is a pure function of (seed, counter), so the numbers a site
// sees do not depend on which rank or thread updates it.
#include <Random123/philox.h>

#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstdint>

namespace prism::rng {

// Counter word 3 names the stream, so different uses never share numbers.
// The one table of streams for every workload: a new workload adds its
// streams here, with numbers not yet taken.  A number, once given, never
// changes: results are keyed by it.
enum Stream : std::uint32_t {
  // thermo
  sweep_color0 = 0,      // Metropolis sweep of checkerboard colour 0
  sweep_color1 = 1,      // ... and of colour 1
  replica_exchange = 2,  // replica-exchange decisions
  disorder = 3,          // Edwards-Anderson couplings
  // The low 24 bits of a site's uniform, drawn only when the top byte from its
  // sweep draw ties the threshold's (stream word 4 | colour << 8 | site << 9).
  sweep_tail = 4,
  // nqs
  nqs_proposals = 5,           // Metropolis proposals and acceptances of each chain
  nqs_initial_parameters = 6,  // the RBM's initial parameters
  nqs_initial_spins = 7,       // each chain's initial spins
  // te
  te_data = 8,        // the built-in generators' initial values and innovations
  te_surrogates = 9,  // source surrogates: permutations and circular shifts
  te_noise = 10,      // noise added to the data (te.noise)
  // classifier
  classifier_model = 11,    // the generator's class means and widths
  classifier_samples = 12,  // the generator's labels and features
  classifier_weights = 13,  // the network's initial weights
  classifier_batches = 14,  // the minibatch order of each epoch
  // policy
  policy_agents = 15,    // each agent's world, observations and sampled actions
  policy_model = 16,     // the random model's arrays
  policy_gaussian = 17,  // linear-Gaussian agents: world and observation noise, sampled policies
  // gnn
  gnn_velocities = 18,  // initial Maxwell-Boltzmann velocities of molecular dynamics
  // oscillators (stream word: stream | step high bits << 8)
  oscillator_noise = 19,        // the thermal noise of each oscillator and step
  oscillator_frequencies = 20,  // natural frequencies (keyed by frequency_seed)
  oscillator_initial = 21,      // initial phases and velocities
  oscillator_graph = 22,        // random graphs (keyed by graph_seed)
};

struct Draw4 {
  std::uint32_t v[4];
};

KOKKOS_FORCEINLINE_FUNCTION Draw4 philox(std::uint64_t seed, std::uint32_t c0, std::uint32_t c1,
                                         std::uint32_t c2, std::uint32_t c3) {
  r123::Philox4x32 gen;
  r123::Philox4x32::ctr_type ctr = {{c0, c1, c2, c3}};
  r123::Philox4x32::key_type key = {
      {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  const auto r = gen(ctr, key);
  return Draw4{{r.v[0], r.v[1], r.v[2], r.v[3]}};
}

// Uniform double in [0, 1) from 32 bits (host use: exchange decisions).
inline double to_unit(std::uint32_t x) {
  return static_cast<double>(x) * 0x1p-32;
}

// A standard normal from words 0 and 1 of a draw (Box-Muller, host use).
inline double standard_normal(const Draw4& u) {
  const double u1 = (u.v[0] + 1.0) * 0x1p-32, u2 = u.v[1] * 0x1p-32;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * M_PI * u2);
}

}  // namespace prism::rng
