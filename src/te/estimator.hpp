#pragma once
// One transfer-entropy estimate TE(Y -> X) = I(X_t ; Y_past | X_past) by
// KSG algorithm 1 or 2 on the default execution space: the observations are
// built on the host, searched on the device, and the digamma terms summed on
// the host in observation order (so a value does not depend on the thread
// or rank count).
#include <cstdint>
#include <memory>
#include <vector>

#include "te/te_config.hpp"

namespace prism::te {

// psi(n) for an integer n >= 1 (to a few ulp).
double digamma_exact(std::int64_t n);
// psi(n) as JIDT computes it (what the estimators use): see estimator.cpp.
double digamma(std::int64_t n);

// The neighbour counts of one estimate, for tests: per observation n_xz, n_yz, n_z.
struct Neighbours {
  std::vector<std::int32_t> xz, yz, z;
};

class Estimator {
 public:
  Estimator(const Config& cfg, std::int64_t length);
  ~Estimator();
  Estimator(const Estimator&) = delete;
  Estimator& operator=(const Estimator&) = delete;

  // TE in nats from `source` to `target` (series of `length` samples).  A
  // non-empty `source_rows` takes observation r's source past from
  // observation source_rows[r] (a shuffled surrogate).
  double estimate(const std::vector<double>& source, const std::vector<double>& target,
                  const std::vector<std::int64_t>& source_rows = {});
  const Neighbours& last_neighbours() const { return last_; }
  std::int64_t observations() const { return n_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const Config cfg_;
  std::int64_t n_;
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
double te_from_counts(const Config& cfg, const Neighbours& c);

}  // namespace prism::te
