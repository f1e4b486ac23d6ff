#pragma once
// Variational Monte Carlo of an RBM wave function: Metropolis sampling of
// many chains spread over ranks, local energies, and stochastic
// reconfiguration solved by conjugate gradients with the matrix-free
// product S v = Obar^T (Obar v) / Ns (one allreduce per product).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nqs/nqs_config.hpp"

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
IterationStats energy_statistics(const std::vector<double>& e, std::int64_t chains, std::int64_t samples_per_chain);

// Host evaluation of log psi for a parameter vector (tests, checks).
double log_psi(const std::vector<double>& params, int N, int M, const std::vector<std::int8_t>& spins);

class Vmc {
 public:
  Vmc(const Config& cfg, std::uint64_t seed, const MpiContext& mpi);
  ~Vmc();
  // One iteration: sample at the current parameters, update them by SR.
  IterationStats step(std::int64_t iteration, Timers& timers);
  // Sampling alone (no update); returns this rank's local energies.
  std::vector<double> sample(std::int64_t iteration);

  const std::vector<double>& parameters() const;
  void set_parameters(const std::vector<double>& p);
  // This rank's samples after sample(): spins (samples x N, row-major) and
  // tanh(theta) (samples x M, row-major).
  std::vector<std::int8_t> sample_spins() const;
  std::vector<double> sample_tanh() const;
  // This rank's chains: |theta_incremental - theta_scratch| max after sampling.
  double angle_drift() const;
  // psi(s')/psi(s) for sample row `row` and site k (single flip), on device.
  std::vector<double> flip_ratios(int row) const;
  // psi(s')/psi(s) for every bond's exchange (0 where the bond's spins are equal).
  std::vector<double> exchange_ratios(int row) const;
  // d log psi / d p for sample row `row`, as built for SR.
  std::vector<double> log_derivatives(int row) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct Results {
  std::vector<IterationStats> history;
  std::vector<double> parameters;
  std::string error;  // non-empty when the run stopped on a non-finite value
};

Results run(const Config& cfg, std::uint64_t seed, const MpiContext& mpi, Timers& timers, bool show_progress);
void write_results(H5Writer& out, const Config& cfg, std::uint64_t seed, const Results& res);

}  // namespace prism::nqs
