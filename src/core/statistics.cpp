#include "core/statistics.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace prism {

BlockSums::BlockSums(std::int64_t series, std::int64_t blocks, std::int64_t samples, int moments)
    : blocks_(blocks),
      samples_(samples),
      moments_(moments),
      sums_(static_cast<std::size_t>(series * blocks * moments), 0.0),
      counts_(static_cast<std::size_t>(series * blocks), 0) {
  if (blocks < 2 || samples < blocks) throw std::invalid_argument("BlockSums: need samples >= blocks >= 2");
}

void BlockSums::add(std::int64_t series, std::int64_t sample, const double* values) {
  const std::int64_t b = sample * blocks_ / samples_;
  double* s = &sums_[(series * blocks_ + b) * moments_];
  for (int k = 0; k < moments_; ++k) s[k] += values[k];
  counts_[series * blocks_ + b] += 1;
}

void BlockSums::restore(const std::vector<double>& sums, const std::vector<std::int64_t>& counts) {
  if (sums.size() != sums_.size() || counts.size() != counts_.size())
    throw std::invalid_argument("block sums of the wrong size");
  for (double x : sums)
    if (!std::isfinite(x)) throw std::invalid_argument("block sums are not finite");
  std::int64_t total = 0;
  for (auto c : counts) {
    if (c < 0) throw std::invalid_argument("block counts are negative");
    total += c;
  }
  sums_ = sums;
  counts_ = counts;
}

double block_standard_error(const std::vector<double>& block_means, double mean) {
  const double nb = double(block_means.size());
  double s = 0;
  for (double x : block_means) s += (x - mean) * (x - mean);
  return std::sqrt(s / (nb * (nb - 1.0)));
}

double jackknife_error(const std::vector<double>& leave_one_out, double full) {
  const double nb = double(leave_one_out.size());
  double v = 0;
  for (double x : leave_one_out) v += (x - full) * (x - full);
  return std::sqrt((nb - 1.0) / nb * v);
}

ChainStatistics chain_statistics(const std::vector<double>& e, std::int64_t chains, std::int64_t spc) {
  ChainStatistics st;
  const double ns = double(e.size());
  double sum = 0;
  for (double x : e) sum += x;
  st.mean = sum / ns;
  double var = 0;
  for (double x : e) var += (x - st.mean) * (x - st.mean);
  st.variance = var / ns;
  // Each chain's mean is one block: their spread gives the error bar.
  if (chains > 1) {
    double v = 0;
    for (std::int64_t c = 0; c < chains; ++c) {
      double m = 0;
      for (std::int64_t k = 0; k < spc; ++k) m += e[c * spc + k];
      m /= double(spc);
      v += (m - st.mean) * (m - st.mean);
    }
    st.error = std::sqrt(v / (chains - 1.0) / chains);
  } else {
    st.error = std::sqrt(st.variance / ns);
  }
  const std::int64_t n = spc / 2, m = 2 * chains;
  double w = 0, mean_of_means = 0;
  std::vector<double> means(m);
  for (std::int64_t h = 0; h < m; ++h) {
    const std::int64_t start = (h / 2) * spc + (h % 2) * n;
    double mu = 0;
    for (std::int64_t k = 0; k < n; ++k) mu += e[start + k];
    mu /= double(n);
    double s2 = 0;
    for (std::int64_t k = 0; k < n; ++k) s2 += (e[start + k] - mu) * (e[start + k] - mu);
    w += s2 / (n - 1.0);
    means[h] = mu;
    mean_of_means += mu;
  }
  w /= double(m);
  mean_of_means /= double(m);
  double b = 0;
  for (double mu : means) b += (mu - mean_of_means) * (mu - mean_of_means);
  b *= double(n) / (m - 1.0);
  // Frozen chains that disagree (w = 0, b > 0) are not converged.
  st.r_hat = w > 0 ? std::sqrt(((n - 1.0) / n * w + b / n) / w)
                   : (b > 0 ? std::numeric_limits<double>::infinity() : 1.0);
  return st;
}

}  // namespace prism
