#pragma once
// Observables of the final wave function (nqs.observables_iterations):
// what is measured per sample (the columns of kernels/nqs/observables.hpp),
// the quantities derived from one iteration's column means (correlation
// matrices, translation averages, structure factors, magnetisations), their
// accumulation over iterations into means with error bars, and the
// /nqs/observables group of the output file.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nqs/nqs_config.hpp"

namespace prism {
class H5Writer;
}

namespace prism::nqs {

// The measured columns, on the host: column c is kind[c] (an ObservableKind)
// of sites i[c], j[c], with sign[c] the sign rule's factor of an exchange.
struct ObservableList {
  std::vector<std::int8_t> kind;
  std::vector<std::int32_t> i, j;
  std::vector<double> sign;
  std::size_t size() const { return kind.size(); }
};

// One derived quantity: a named block of the per-iteration vector.
struct Quantity {
  std::string name, description;
  std::vector<std::uint64_t> shape;  // {} for a scalar
  std::size_t offset = 0, size = 1;
};

// Means and errors over measured iterations, each iteration one bin: the
// sums are of x - x_first, so that a quantity whose spread is far below its
// size (the energy) keeps its digits in the variance.
struct ObservableSums {
  std::int64_t iterations = 0;
  std::int64_t samples_per_iteration = 0;
  std::vector<double> first, sum, sum_squares;
  void add(const std::vector<double>& x);
  double mean(std::size_t k) const;
  // Standard error of the mean over iterations; NaN with fewer than two.
  double error(std::size_t k) const;
};

class Observables {
 public:
  explicit Observables(const Config& cfg);

  // Pairs i < j in row order, zz then (heisenberg) exchange; (tfim) one
  // flip per site.
  const ObservableList& columns() const { return columns_; }
  const std::vector<Quantity>& quantities() const { return quantities_; }
  // The quantity called `name`, or nullptr where this model has none.
  const Quantity* find(std::string_view name) const;
  std::size_t size() const { return size_; }

  // One iteration's quantities, from its column means over all samples and
  // its mean local energy.
  std::vector<double> derive(const std::vector<double>& column_means, double energy) const;

  void write(H5Writer& out, const ObservableSums& sums) const;

 private:
  std::size_t pair(int i, int j) const;  // column of pair i < j within a block of pairs
  std::size_t add(std::string name, std::string description, std::vector<std::uint64_t> shape);
  Config cfg_;
  Lattice lat_;
  int N_ = 0;
  bool heisenberg_ = false;
  ObservableList columns_;
  std::vector<Quantity> quantities_;
  std::size_t size_ = 0;
};

}  // namespace prism::nqs
