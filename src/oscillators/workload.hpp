#pragma once
// oscillators as a prism workload: Langevin dynamics of phase-oscillator
// networks (noisy Kuramoto, first or second order) for R noise realisations
// at each of a list of coupling strengths.  The runs ("units": coupling-major,
// unit = k R + replica) are split over ranks; a run's random numbers are
// keyed by (seed, replica, oscillator, step), so results do not depend on the
// split, and the replicas of different couplings share their noise.
#include <memory>
#include <vector>

#include "core/workload.hpp"
#include "oscillators/osc_config.hpp"

namespace prism::oscillators {

// A sparse coupling graph on the host (both directions of every edge).
struct HostGraph {
  std::vector<std::int64_t> row;  // N + 1
  std::vector<std::int32_t> col;
  std::vector<double> weight;
  double mean_degree = 0, max_degree = 0;  // weighted
};
HostGraph build_graph(const Config& c);  // throws std::invalid_argument / runtime_error with the reason
std::vector<double> natural_frequencies(const Config& c);

// Per unit and record (rank 0 after run()): time, r, psi, and per oscillator
// the kinetic energy m<v^2>/2 (second order), the coupling energy, and the
// power of the drive sum_i omega_i dtheta_i/dt / N over the last record interval.
struct Records {
  std::vector<double> r, psi, kinetic, potential, power;  // [unit][record]
  std::vector<double>
      velocity_spread;  // [unit]: std over oscillators of the mean phase velocity after the transient
  std::vector<double> final_phases;  // [unit][oscillator], when asked
};
// Time averages after the transient, per coupling strength (mean over
// replicas, errors from binning each replica's series).
struct Averages {
  std::vector<double> r, r_err, kinetic, kinetic_err, temperature, temperature_err, potential, potential_err,
      power, power_err, entropy_production, entropy_production_err, velocity_spread, velocity_spread_err;
};

class OscillatorsWorkload final : public Workload {
 public:
  OscillatorsWorkload(Config cfg, HostGraph graph, std::vector<double> omega);

  std::string name() const override { return "oscillators"; }
  // decompose = "oscillators": the work units are the chunks of oscillators.
  std::int64_t units() const override { return cfg_.spatial ? chunks() : cfg_.units(); }
  std::string units_key() const override { return cfg_.spatial ? "oscillators" : "replicas"; }
  std::string units_name() const override {
    return cfg_.spatial ? "chunks of 2048 oscillators" : "runs (replicas x coupling strengths)";
  }
  std::int64_t chunks() const;

  void run(RunContext& ctx) override;
  void write(H5Writer& out) const override;
  Throughput throughput() const override;
  void print_summary(std::FILE* out) const override;

  const Config& config() const { return cfg_; }
  const Records& records() const { return rec_; }
  const Averages& averages() const { return avg_; }
  std::vector<double> record_times() const;

 private:
  const Config cfg_;
  const HostGraph graph_;
  const std::vector<double> omega_;
  Records rec_;
  Averages avg_;
  int gather_blocks_ = 1;  // as resolved on this rank (graphs)
};

std::unique_ptr<Workload> make_workload(Deck& deck);

}  // namespace prism::oscillators
