#pragma once
// policy as a prism workload: a batch of active-inference agents, each in its
// own world (the model's own generative process), stepped T times: state
// inference, expected free energy of every policy, q(pi), action.  Agents
// are the work units, split over ranks; each agent's random numbers are
// keyed by (seed, agent, step), so trajectories do not depend on the split.
#include <memory>

#include "core/workload.hpp"
#include "policy/agent_rows.hpp"
#include "policy/model.hpp"
#include "policy/policy_config.hpp"

namespace prism::policy {

// For the first trace_agents agents (rank 0 after run(), agents in order),
// [agent][step] StepRows (chosen: -G of the chosen policy) and
// [agent][step][...]:
struct Trace : StepRows {
  std::vector<double> beliefs, q_pi, neg_efe;
  // Per agent and step, per factor f, q(pi)'s marginal over f's first-step
  // controls (what marginal sampling chooses from; pymdp's get_marginals).
  std::vector<double> action_marginals;
  std::vector<std::int32_t> actions, observations, world;
  std::int64_t traced = 0;
};

class PolicyWorkload final : public Workload {
 public:
  PolicyWorkload(Config cfg, Model model);

  std::string name() const override { return "policy"; }
  std::int64_t units() const override { return cfg_.agents; }
  std::string units_key() const override { return "agents"; }
  std::string units_name() const override { return "agents"; }

  void run(RunContext& ctx) override;
  void write(H5Writer& out) const override;
  Throughput throughput() const override;
  void print_summary(std::FILE* out) const override;
  RunStatus status() const override { return {}; }

  const Trace& trace() const { return trace_; }
  // Per step, over agents: G of the chosen policy, F of q(s), H[q(pi)], success (rank 0).
  struct StepMeans {
    std::vector<double> G, F, H, success;
  };
  StepMeans step_means() const;
  const Model& model() const { return model_; }
  // The policy evaluation the last run took: "general", "tiled" or "lanes".
  const std::string& evaluation() const { return evaluation_; }
  // The lane evaluation's products ("gemm" or "direct"; empty for the others).
  const std::string& lane_products() const { return lane_products_; }

 private:
  const Config cfg_;
  const Model model_;
  Trace trace_;
  StepSums means_;  // per step, over all agents (every rank)
  std::int64_t agent_steps_ = 0;
  std::string evaluation_, lane_products_;
};

std::unique_ptr<Workload> make_workload(Deck& deck);

// Empty if policy.evaluation = "lanes" applies to model m with settings cfg,
// else the reason it does not.
std::string lane_evaluation_unsupported(const Model& m, const Config& cfg);
// Whether policy.evaluation = "tiled" applies to model m with settings cfg.
bool tiled_evaluation_applies(const Model& m, const Config& cfg);

}  // namespace prism::policy
