#pragma once
// thermo as a prism workload: parallel tempering of lattice spin models.
// Replicas (one lattice each) are spread over ranks; temperatures move
// between them by replica exchange.  Restartable: on a signal it finishes
// the current exchange interval and writes its results so far and a
// checkpoint.
#include <memory>
#include <optional>

#include "core/workload.hpp"
#include "thermo/statistics.hpp"
#include "thermo/thermo_config.hpp"

namespace prism::thermo {

// Everything a run carries from one sweep to the next on the host; with the
// lattices' spins it is the checkpoint.  Identical on every rank, except the
// statistics, which only rank 0 accumulates.
struct State {
  State(const Config& cfg);
  std::int64_t next_sweep = 0;
  std::vector<std::int64_t> temp_of_replica, replica_of_temp;
  std::vector<std::int64_t> swap_attempts, swap_accepted;  // per neighbouring pair (t, t+1), measured sweeps
  BlockAccumulator stats;
  RoundTripCounter trips;
};

class ThermoWorkload final : public Workload {
 public:
  explicit ThermoWorkload(Config cfg);
  ~ThermoWorkload() override;

  std::string name() const override { return "thermo"; }
  std::int64_t units() const override { return cfg_.replicas(); }
  std::string units_key() const override { return "temperatures"; }
  std::string units_name() const override { return "replicas"; }

  bool restartable() const override;
  std::vector<std::string> restart_free_keys() const override { return {"checkpoint_every"}; }
  std::string restore(const H5Reader& in) override;
  void run(RunContext& ctx) override;
  void write(H5Writer& out) const override;
  Throughput throughput() const override;
  void print_summary(std::FILE* out) const override;
  RunStatus status() const override;

  // Rank 0: per temperature, nullopt before two error blocks hold samples.
  std::vector<std::optional<BlockAccumulator::Estimate>> estimates() const;
  const State& state() const { return state_; }
  // Rank 0 after run(): [temperature][site], when save_configurations.
  const std::vector<std::int8_t>& configurations() const { return configurations_; }

 private:
  const Config cfg_;
  std::uint64_t seed_ = 0;
  State state_;
  std::int64_t first_sweep_ = 0;               // > 0 on a restart
  std::vector<std::int8_t> restored_spins_;    // all replicas, from a checkpoint
  std::vector<std::int8_t> checkpoint_spins_;  // rank 0: all replicas at the last save
  std::vector<std::int8_t> configurations_;
  bool interrupted_ = false;
  std::string error_;
};

std::unique_ptr<Workload> make_workload(Deck& deck);

}  // namespace prism::thermo
