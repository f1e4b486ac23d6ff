#pragma once
// Driver of the thermo workload: owns the lattices of this rank's replicas,
// runs checkerboard Metropolis sweeps, measures, and exchanges temperatures
// between all replicas (parallel tempering) through src/core.
#include <cstdint>
#include <vector>

#include "thermo/statistics.hpp"
#include "thermo/thermo_config.hpp"

namespace prism {
class MpiContext;
class Timers;
class H5Writer;
}  // namespace prism

namespace prism::thermo {

struct Results {  // complete on rank 0; other ranks hold only the counters
  std::vector<double> temperature;
  std::vector<BlockAccumulator::Estimate> estimates;       // per temperature
  std::vector<std::int64_t> swap_attempts, swap_accepted;  // per neighbouring pair (t, t+1)
  std::vector<std::int64_t> round_trips;                   // per replica
  std::vector<std::int64_t> replica_of_temperature;        // at the end
  std::vector<std::int8_t> configurations;                 // [temperature][site] if saved
  std::int64_t spin_updates = 0;                           // all ranks, all sweeps
};

// Couplings (+1/-1) of the model, shape (dim, sites), bond from each site to
// its +x, +y, +z neighbour: all +1 for the ferromagnets, drawn from
// disorder_seed for ea3d.
std::vector<std::int8_t> make_couplings(const Config& cfg);

Results run(const Config& cfg, std::uint64_t seed, const MpiContext& mpi, Timers& timers, bool show_progress);

void write_results(H5Writer& out, const Config& cfg, std::uint64_t seed, const Results& res);

}  // namespace prism::thermo
