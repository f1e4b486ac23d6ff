#pragma once
// The policy workload's continuous form (model = "gaussian"): agents with
// linear-Gaussian worlds, Kalman-filter beliefs and the closed-form expected
// free energy of every policy (kernels/policy/gaussian.hpp; docs/policy.md).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/workload.hpp"
#include "policy/agent_rows.hpp"
#include "policy/gaussian_config.hpp"

namespace prism::policy {

// The rules of a usable model (sizes, finite entries, symmetric positive-
// definite covariances, at most 65536 policies): the first one broken, as
// (deck key, rule), or an empty key.
std::pair<std::string, std::string> first_problem(const GaussConfig& c);
// Throws std::invalid_argument "key: rule" for the first broken rule.
void validate(const GaussConfig& c);

// For the first trace_agents agents (rank 0 after run(), agents in order),
// [agent][step] StepRows (chosen: G of the chosen policy) and
// [agent][step][...]:
struct GaussTrace : StepRows {
  std::vector<double> mean, cov, world, observations, q_pi, G;
  std::vector<std::int32_t> actions;
  std::int64_t traced = 0;
};

class GaussianPolicyWorkload final : public Workload {
 public:
  explicit GaussianPolicyWorkload(GaussConfig cfg);

  std::string name() const override { return "policy"; }
  std::int64_t units() const override { return cfg_.agents; }
  std::string units_key() const override { return "agents"; }
  std::string units_name() const override { return "agents"; }

  void run(RunContext& ctx) override;
  void write(H5Writer& out) const override;
  Throughput throughput() const override;
  void print_summary(std::FILE* out) const override;

  const GaussTrace& trace() const { return trace_; }
  // Per step, over all agents: G of the chosen policy, F, H[q(pi)], success.
  const StepSums& step_means() const { return means_; }
  const GaussConfig& config() const { return cfg_; }

 private:
  const GaussConfig cfg_;
  const std::vector<int> policies_;
  GaussTrace trace_;
  StepSums means_;  // per step, over all agents (every rank)
  std::int64_t agent_steps_ = 0;
};

std::unique_ptr<Workload> make_gaussian_workload(Deck& deck);

}  // namespace prism::policy
