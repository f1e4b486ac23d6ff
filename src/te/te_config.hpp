#pragma once
// Validated settings of the te workload (transfer entropy by the KSG
// estimator).  The data themselves are read by the workload (te/data.cpp).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace prism {
class Deck;
}

namespace prism::te {

enum class Source { linear, logistic, hdf5, text };
enum class Surrogate { shuffle, shift };
// The neighbour search (kernels/te/types.hpp); automatic picks by observation count.
enum class SearchChoice { automatic, brute, window };

struct Config {
  // Where the series come from.
  Source source = Source::linear;
  std::int64_t series = 2;        // generators
  std::int64_t length = 1000;     // generators: samples per series
  std::int64_t transient = 1000;  // generators: steps discarded first
  double coupling = 0.4;          // generators: weight of a parent's past
  double noise_std = 1.0;         // linear generator: innovation standard deviation
  std::uint64_t data_seed = 1;    // generators
  std::vector<std::pair<std::int64_t, std::int64_t>> edges;  // generators: (source, target); default a chain
  std::string file, dataset;                                 // hdf5 / text
  bool time_major = false;  // hdf5 layout [time][series] instead of [series][time]

  // The estimator (JIDT's TransferEntropyCalculatorKraskov conventions).
  int algorithm = 1;              // KSG 1 or 2
  std::int64_t K = 4;             // nearest neighbours in the joint space
  std::int64_t k = 1, k_tau = 1;  // target history length and spacing
  std::int64_t l = 1, l_tau = 1;  // source history length and spacing
  std::int64_t delay = 1;         // source-target delay
  bool normalise = false;         // each observation column to mean 0, standard deviation 1 (as JIDT)
  double noise = 0.0;             // Gaussian noise of this standard deviation added after normalising
  SearchChoice search = SearchChoice::automatic;
  std::int64_t batch = 0;  // estimates per device launch; 0: enough to fill a GPU

  // What is computed.
  bool matrix = true;                                        // every ordered pair, else `pairs`
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;  // (source, target)
  std::int64_t surrogates = 0;
  Surrogate surrogate = Surrogate::shuffle;
  bool fdr = true;      // Benjamini-Hochberg over the tested pairs
  double alpha = 0.05;  // significance level (the FDR level with fdr)

  int joint_dims() const { return int(1 + k + l); }
  // First observation's time index and the number of observations of a
  // series of n samples.
  std::int64_t first_time() const;
  std::int64_t observations(std::int64_t n) const { return n - first_time(); }
};

Config parse_config(Deck& deck);
const char* source_name(Source s);

}  // namespace prism::te
