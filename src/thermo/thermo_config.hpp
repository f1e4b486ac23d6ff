#pragma once
// Validated, immutable settings of the thermo workload.
#include <cstdint>
#include <string>
#include <vector>

namespace prism {
class Deck;

namespace thermo {

enum class Model { ising2d, ising3d, ea3d };
enum class KernelChoice { automatic, generic, multispin };
// How a spin is updated.  Metropolis accepts every move that does not raise
// the energy, so where nearly every move is accepted (J = h = 0, or T far
// above the couplings) each checkerboard half-sweep flips nearly its whole
// colour and the chain does not mix; heat bath (Glauber) flips with
// probability 1 / (1 + exp(beta dE)) and mixes there.  `automatic` takes heat
// bath at the temperatures where Metropolis would accept even the largest
// energy increase with probability above 1/2.
enum class UpdateChoice { automatic, metropolis, heat_bath };
enum class UpdateRule { metropolis, heat_bath };

struct Config {
  Model model = Model::ising2d;
  std::int64_t L = 0;
  double J = 1.0;
  double h = 0.0;
  std::vector<double> temperatures;  // strictly increasing
  std::int64_t thermalization = 0;
  std::int64_t sweeps = 0;         // measurement sweeps
  std::int64_t measure_every = 1;  // sweeps per sample of the statistics
  std::int64_t exchange_every = 1;
  std::uint64_t disorder_seed = 0;
  bool save_configurations = false;
  std::int64_t error_blocks = 32;
  KernelChoice kernel = KernelChoice::automatic;
  UpdateChoice update = UpdateChoice::automatic;
  std::int64_t checkpoint_every = 0;  // sweeps between checkpoints (0: at the end and on signals)

  int dim() const { return model == Model::ising2d ? 2 : 3; }
  std::int64_t sites() const { return dim() == 2 ? L * L : L * L * L; }
  // Samples in the statistics: the last sweep of every measure_every.
  std::int64_t samples() const { return sweeps / measure_every; }
  std::int64_t replicas() const { return static_cast<std::int64_t>(temperatures.size()); }
  // Multi-spin coding packs 16 spins per 64-bit word of one checkerboard
  // colour, so each half-row must hold whole words: L % 32 == 0 (any model).
  bool multispin_possible() const { return L % 32 == 0; }
  // Largest energy change of one flip: 2 (2 dim |J| + |h|).
  double largest_delta_e() const;
  // The rule used at inverse temperature beta.
  UpdateRule update_rule(double beta) const;
  bool use_multispin() const {
    return kernel == KernelChoice::multispin || (kernel == KernelChoice::automatic && multispin_possible());
  }
};

Config parse_config(Deck& deck);
const char* model_name(Model m);
const char* kernel_name(const Config& c);
const char* update_name(UpdateRule r);

}  // namespace thermo
}  // namespace prism
