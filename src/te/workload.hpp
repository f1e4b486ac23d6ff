#pragma once
// te as a prism workload: transfer entropy between time series, for a list
// of (source, target) pairs or every ordered pair, with source surrogates
// for significance.  Work units are (pair, surrogate) estimates spread over
// ranks; each runs whole on one rank, so values do not depend on the split.
#include <cmath>
#include <memory>

#include "core/workload.hpp"
#include "te/data.hpp"
#include "te/te_config.hpp"

namespace prism::te {

struct PairResult {
  std::int64_t source = 0, target = 0;
  double te = 0;         // nats
  double p_value = NAN;  // (1 + #{surrogate >= te}) / (S + 1); NaN without surrogates
  double surrogate_mean = NAN, surrogate_std = NAN;
  bool significant = false;  // after Benjamini-Hochberg when te.fdr
};

// p-values of the pairs at FDR level alpha: which are significant
// (Benjamini-Hochberg step-up).
std::vector<bool> benjamini_hochberg(const std::vector<double>& p, double alpha);

class TeWorkload final : public Workload {
 public:
  TeWorkload(Config cfg, Series data);

  std::string name() const override { return "te"; }
  std::int64_t units() const override { return std::int64_t(pairs_.size()) * (1 + cfg_.surrogates); }
  std::string units_key() const override { return cfg_.matrix ? "surrogates" : "pairs"; }
  std::string units_name() const override { return "estimates"; }

  void run(RunContext& ctx) override;
  void write(H5Writer& out) const override;
  Throughput throughput() const override;
  void print_summary(std::FILE* out) const override;
  RunStatus status() const override;

  const std::vector<PairResult>& results() const { return results_; }  // rank 0 after run()

 private:
  const Config cfg_;
  const Series data_;
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs_;  // (source, target)
  std::vector<PairResult> results_;
  std::int64_t done_ = 0;
  std::string error_;
};

std::unique_ptr<Workload> make_workload(Deck& deck);

}  // namespace prism::te
