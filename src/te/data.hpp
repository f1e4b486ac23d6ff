#pragma once
// The time series of a te run: from a built-in generator with known
// couplings, an HDF5 dataset or a text file, then normalised and noised as
// the deck asks.  Every rank loads the same series.
#include <string>
#include <vector>

#include "te/te_config.hpp"

namespace prism {
class Deck;
}

namespace prism::te {

struct Series {
  std::vector<std::string> names;
  std::vector<std::vector<double>> values;  // [series][time]
  std::int64_t length() const { return values.empty() ? 0 : std::int64_t(values[0].size()); }
};

// Throws DeckError naming the deck key, or the data file and its line.
Series load_series(const Config& cfg, Deck& deck);

// The built-in generators (also used by tests): the linear Gaussian network
// x_i(t) = sum_{j -> i} c x_j(t-1) + noise_std z_i(t), and coupled logistic
// maps x_i(t+1) = (1 - e) f(x_i(t)) + e mean_{j -> i} f(x_j(t)), f(x) = 4x(1-x).
Series generate(const Config& cfg);

}  // namespace prism::te
