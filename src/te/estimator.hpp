#pragma once
// Transfer-entropy estimates TE(Y -> X) = I(X_t ; Y_past | X_past) by KSG
// algorithm 1 or 2, and the plain host loop over the definition they are
// tested against.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "te/te_config.hpp"

namespace prism::te {

// psi(n) for an integer n >= 1 (to a few ulp).
double digamma_exact(std::int64_t n);
// psi(n) as JIDT computes it (what the estimators use): see estimator.cpp.
double digamma(std::int64_t n);

// digamma(n) for 1 <= n <= max (the counts of N observations stay below N + 1).
class DigammaTable {
 public:
  explicit DigammaTable(std::int64_t max);
  double operator()(std::int64_t n) const { return psi_[std::size_t(n)]; }

 private:
  std::vector<double> psi_;
};

// The neighbour counts of one estimate, for tests: per observation n_xz, n_yz, n_z.
struct Neighbours {
  std::vector<std::int32_t> xz, yz, z;
};

// Which search an estimator of `observations` uses for the deck's choice.
bool window_search(SearchChoice choice, std::int64_t observations);

// Estimates on the default execution space, in batches that share a target:
// the observations are built on the host (on `threads` threads, one estimate
// each), sorted by the target's first past coordinate, searched on the
// device, and the digamma terms summed on the host in observation order, so
// a value depends on neither the batch, the thread count nor the rank count.
class Estimator {
 public:
  // `cfg.batch` (0: automatic) estimates per launch for series of `length` samples.
  Estimator(const Config& cfg, std::int64_t length, int threads = 1);
  ~Estimator();
  Estimator(const Estimator&) = delete;
  Estimator& operator=(const Estimator&) = delete;

  // Fills, for estimate `member` of a batch, its source series (`length`
  // samples) and either no rows or, per observation r, the observation whose
  // source past r takes (a shuffled surrogate).  Called concurrently.
  using SourceFn =
      std::function<void(std::int64_t member, std::vector<double>& series, std::vector<std::int64_t>& rows)>;
  // TE in nats to `target` from `count` (<= batch()) sources.
  std::vector<double> estimate(const std::vector<double>& target, std::int64_t count, const SourceFn& source);
  // TE in nats from `source` to `target`; non-empty `source_rows` as above.
  double estimate(const std::vector<double>& source, const std::vector<double>& target,
                  const std::vector<std::int64_t>& source_rows = {});
  // The counts of the first estimate of the last batch, in observation order.
  const Neighbours& last_neighbours() const { return last_; }
  std::int64_t observations() const { return n_; }
  std::int64_t batch() const { return batch_; }
  bool window() const { return window_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const Config cfg_;
  std::int64_t n_, batch_;
  int threads_;
  bool window_;
  DigammaTable psi_;
  Neighbours last_;
};

// The TE of the definition by a plain O(N^2) host loop (tests).
double reference_te(const Config& cfg, const std::vector<double>& source, const std::vector<double>& target,
                    Neighbours* counts = nullptr);

// Observations of (source, target): row r = [x_t, x_past (k), y_past (l)] for t = first + r.
std::vector<double> observation_rows(const Config& cfg, const std::vector<double>& source,
                                     const std::vector<double>& target,
                                     const std::vector<std::int64_t>& source_rows);

// TE from the counts: the KSG 1 or 2 formula, summed in observation order.
double te_from_counts(const Config& cfg, const Neighbours& c, const DigammaTable& psi);

}  // namespace prism::te
