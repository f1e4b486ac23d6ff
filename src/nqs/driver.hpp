#pragma once
// Variational Monte Carlo of an RBM wave function: Metropolis sampling of
// many chains spread over ranks, local energies, and stochastic
// reconfiguration solved by conjugate gradients with the matrix-free
// product S v = Obar^T (Obar v) / Ns (one allreduce per product).
#include <complex>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nqs/nqs_config.hpp"
#include "nqs/observables.hpp"

namespace prism {
class MpiContext;
class Timers;
class H5Writer;
}  // namespace prism

namespace prism::nqs {

struct IterationStats {
  double energy_mean = 0, energy_err = 0, energy_variance = 0;
  double acceptance = 0, r_hat = 0, seconds = 0;
  std::int64_t cg_iterations = 0;
};

// Energy statistics of samples ordered chain-major (chain c's samples are
// e[c*spc .. c*spc+spc-1]): mean, standard error from the chain means,
// variance, split-R-hat across chains.
IterationStats energy_statistics(const std::vector<double>& e, std::int64_t chains,
                                 std::int64_t samples_per_chain);

// Host evaluation of log psi for a parameter vector (tests, checks).
double log_psi(const std::vector<double>& params, int N, int M, const std::vector<std::int8_t>& spins);
// The same for complex parameters: params = [Re w, Im w] (Config::complex_parameters).
std::complex<double> log_psi_complex(const std::vector<double>& params, int N, int M,
                                     const std::vector<std::int8_t>& spins);

// Translation symmetry (Config::translation_symmetry): the site k + t of the
// periodic lattice at k * N + t, and the network weights [a, b, W] of the
// shared parameters [a, b_0 .. b_{F-1}, w_0(0 .. N-1), ...], hidden unit
// f N + t being feature map f at translation t.
std::vector<std::int32_t> translation_table(const Config& cfg);
// `table`: translation_table(cfg), when the caller keeps one.
std::vector<double> expand_symmetric_parameters(const Config& cfg, const std::vector<double>& sym,
                                                const std::vector<std::int32_t>* table = nullptr);
// The network's weights of the parameters SR updates: the same vector, or
// with translation symmetry its expansion (each half, Re and Im, when complex).
std::vector<double> network_weights(const Config& cfg, const std::vector<double>& params,
                                    const std::vector<std::int32_t>* table = nullptr);

// Everything needed to continue a run exactly: the random numbers are keyed
// by (chain, iteration, proposal), so the iteration is the generator counter.
struct Checkpoint {
  std::int64_t next_iteration = 0;
  std::vector<double> parameters;
  std::vector<double> last_update;       // warm start of the next CG solve
  std::vector<std::int8_t> chain_spins;  // all chains, chain-major (chains x N); rank 0 only
};

// One sampling iteration's estimates of the observables: the mean local
// energy and the mean of every column of an ObservableList, over all ranks'
// samples (the same bits on any number of ranks).
struct Measurement {
  double energy = 0;
  std::vector<double> column_means;
};

class VmcInspector;  // nqs/inspect.hpp: tests and benchmarks look inside

class Vmc {
 public:
  Vmc(const Config& cfg, std::uint64_t seed, const MpiContext& mpi);
  ~Vmc();
  // One iteration: sample at the current parameters, update them by SR.
  IterationStats step(std::int64_t iteration, Timers& timers);
  // Sampling alone (no update); returns this rank's local energies (valid
  // until the next call).  Collective (the acceptance rate is summed over
  // all ranks).
  const std::vector<double>& sample(std::int64_t iteration);
  // Sampling at the current parameters (no update) and the observables of
  // `list` on those samples.  Collective.
  Measurement measure(std::int64_t iteration, const ObservableList& list);

  // The parameters SR updates (what checkpoints hold), and the network's
  // weights [a, b, W] (the same, except with translation symmetry: the
  // shared parameters expanded over the translations).
  const std::vector<double>& parameters() const;
  std::vector<double> weights() const;
  void set_parameters(const std::vector<double>& p);
  // Acceptance rate of the last sample(), over all ranks (< 0 before one).
  // On GPUs it chooses the sampler kernel of the next sample(): the
  // speculative one (same results, faster where most proposals are
  // accepted) from speculation_threshold(move) on.
  double acceptance() const;
  // On a restart: the acceptance of the iteration before the checkpoint, so
  // that the next sample() chooses the kernel an uninterrupted run would.
  void resume_acceptance(double a);
  // Collective: the state to continue from iteration `next`.
  Checkpoint checkpoint(std::int64_t next) const;
  void restore(const Checkpoint& c);

 private:
  friend class VmcInspector;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace prism::nqs
