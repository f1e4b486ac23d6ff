#pragma once
// Statistics every Monte Carlo workload needs (host only, no Kokkos, no MPI):
// block sums of several moments of several series with binned standard
// errors and jackknife over the same blocks, and the statistics of many
// Markov chains (error from the chain means, split-R-hat).
#include <cstdint>
#include <vector>

namespace prism {

// Sums of `moments` values per (series, block) for a known number of
// samples per series, sample s going to block s * blocks / samples.  Samples
// of one series arrive in order on one rank, so the sums do not depend on how
// many ranks produced them.
class BlockSums {
 public:
  BlockSums(std::int64_t series, std::int64_t blocks, std::int64_t samples, int moments);
  // values[0 .. moments) of sample `sample` of `series`.
  void add(std::int64_t series, std::int64_t sample, const double* values);

  std::int64_t blocks() const { return blocks_; }
  int moments() const { return moments_; }
  double sum(std::int64_t series, std::int64_t block, int moment) const {
    return sums_[(series * blocks_ + block) * moments_ + moment];
  }
  std::int64_t count(std::int64_t series, std::int64_t block) const {
    return counts_[series * blocks_ + block];
  }

  // Samples that map to `block` in a complete run.
  std::int64_t capacity(std::int64_t block) const {
    auto first = [&](std::int64_t b) { return (b * samples_ + blocks_ - 1) / blocks_; };  // ceil(b S / B)
    return first(block + 1) - first(block);
  }
  // The whole state, for checkpoints: sums [series][block][moment], counts [series][block].
  const std::vector<double>& all_sums() const { return sums_; }
  const std::vector<std::int64_t>& all_counts() const { return counts_; }
  // Throws std::invalid_argument when the sizes do not fit or a value is not finite.
  void restore(const std::vector<double>& sums, const std::vector<std::int64_t>& counts);

 private:
  std::int64_t blocks_, samples_;
  int moments_;
  std::vector<double> sums_;  // [series][block][moment]
  std::vector<std::int64_t> counts_;
};

// Standard error of a mean from the means of nb equal-weight blocks.
double block_standard_error(const std::vector<double>& block_means, double mean);
// Jackknife error of a derived quantity from its full-sample value and its
// nb leave-one-block-out values.
double jackknife_error(const std::vector<double>& leave_one_out, double full);

// Many chains of equal length, samples chain-major (chain c's samples are
// x[c*n .. c*n+n-1]).
struct ChainStatistics {
  double mean = 0, error = 0, variance = 0;
  // Split-R-hat (Gelman et al.): the halves of every chain as chains; 1 for
  // mixed chains, infinite for frozen chains that disagree.
  double r_hat = 0;
};
ChainStatistics chain_statistics(const std::vector<double>& x, std::int64_t chains, std::int64_t per_chain);

}  // namespace prism
