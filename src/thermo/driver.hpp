#pragma once
// Device side of the thermo workload: the lattices of this rank's replicas
// in whichever layout the chosen kernel uses, their sweeps, exact integer
// observables and configurations.  The parallel-tempering loop that drives
// them is the workload's (workload.cpp).
#include <cstdint>
#include <memory>
#include <vector>

#include "thermo/thermo_config.hpp"

namespace prism::thermo {

// Couplings (+1/-1) of the model, shape (dim, sites), bond from each site to
// its +x, +y, +z neighbour: all +1 for the ferromagnets, drawn from
// disorder_seed for ea3d.
std::vector<std::int8_t> make_couplings(const Config& cfg);

class Lattices {
 public:
  // `count` replicas, cold start (every spin up).
  Lattices(const Config& cfg, std::int64_t count);
  ~Lattices();
  Lattices(const Lattices&) = delete;
  Lattices& operator=(const Lattices&) = delete;

  // The flip probabilities of each local replica at its inverse temperature.
  void set_temperatures(const std::vector<double>& beta_of_local_replica);
  // One sweep (both colours) of every local replica; `replica_offset` is the
  // global index of the first, which keys its random numbers.
  void sweep(std::uint32_t index, std::uint64_t seed, std::int64_t replica_offset);
  // (bond sum, magnetisation) of every local replica, interleaved.
  std::vector<std::int64_t> measure();
  // One byte (+1/-1) per site, replica-major, and back.
  std::vector<std::int8_t> configurations();
  void load_configurations(const std::vector<std::int8_t>& spins);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace prism::thermo
