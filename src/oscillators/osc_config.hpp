#pragma once
// Validated settings of the oscillators workload: networks of phase
// oscillators (Kuramoto) with thermal noise, first order (overdamped) or
// second order (inertia and damping), for R noise realisations at each of a
// list of coupling strengths.
#include <cstdint>
#include <string>
#include <vector>

namespace prism {
class Deck;
}

namespace prism::oscillators {

enum class Order { first, second };
// all: K/N to every other oscillator, through the order parameter (O(N) per
// step).  The others are sparse graphs (CSR), K_ij = K w_ij / (mean weighted degree).
enum class Coupling { all, complete, ring, lattice2d, lattice3d, random, file };
enum class Frequencies { identical, gaussian, lorentzian, file };
enum class Initial { random, synchronized, twisted };

struct Config {
  Order order = Order::first;
  std::int64_t N = 1024;
  Coupling coupling = Coupling::all;
  std::int64_t neighbours = 1;  // ring: k on each side
  double mean_degree = 10;      // random (Erdos-Renyi)
  std::uint64_t graph_seed = 1;
  std::string file;  // coupling = "file": HDF5 /edges [E][2], optional /weights [E]
  // Graphs: passes over the rows per step, each gathering from 1/gather_blocks
  // of the phases (langevin.hpp, Graph); the same bits for any value.  0:
  // "auto" (gather_blocks_for).
  std::int64_t gather_blocks = 0;
  std::vector<double> K{1.0};
  double alpha = 0;  // phase lag: sin(theta_j - theta_i - alpha)
  double T = 0;      // noise temperature (k_B = 1)
  double m = 1, gamma = 1;
  double dt = 0.01;
  Frequencies frequencies = Frequencies::identical;
  double omega = 0, spread = 1;  // centre; standard deviation (gaussian) or half-width (lorentzian)
  std::uint64_t frequency_seed = 1;
  std::string frequency_file;  // frequencies = "file": HDF5 /frequencies [N]
  Initial initial = Initial::random;
  std::int64_t winding = 1;  // twisted: theta_i = 2 pi q i / N
  std::int64_t steps = 1000, transient = 200, record_every = 10;
  std::int64_t replicas = 1;
  bool final_phases = false;
  // decompose = "runs": whole runs over ranks; "oscillators": every run split
  // over all ranks by blocks of oscillators (one large network on several GPUs).
  bool spatial = false;

  std::int64_t units() const { return replicas * std::int64_t(K.size()); }
  std::int64_t records() const { return steps / record_every; }
  bool sparse() const { return coupling != Coupling::all; }
};

Config parse_config(Deck& deck);

// gather_blocks = "auto": one block on host backends; on GPUs, slices of at
// most kGatherSlice bytes of the phase array of `phases` doubles (all units),
// which stay in the L2 cache of an H100 or H200 (docs/oscillators.md).
inline constexpr double kGatherSlice = 28.0 * 1024 * 1024;
int gather_blocks_for(const Config& c, double phases, bool gpu);

// The stability rule the deck is checked against (docs/oscillators.md):
// with kappa the largest coupling curvature (K for all-to-all; K x 2 x max
// weighted degree / mean weighted degree for a graph), first order needs
// dt kappa < 1 and second order dt sqrt(kappa / m) < 1.  `max_over_mean` is
// the graph's max / mean weighted degree (1 for all-to-all).
std::string stability_violation(const Config& c, double max_over_mean);

}  // namespace prism::oscillators
