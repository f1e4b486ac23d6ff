#pragma once
// Settings of the policy workload's continuous form (model = "gaussian"),
// read from the deck; the shapes are checked here, the covariances'
// symmetry and positive definiteness by validate() in policy/gaussian.hpp.
#include <cstdint>
#include <string>
#include <vector>

#include "policy/policy_config.hpp"

namespace prism::policy {

inline constexpr int kMaxGaussDim = 8;  // state, observation and control dimensions

// Settings and model; the defaults are the built-in task: a point mass on a
// line (position, velocity; time step 0.5) pushed by one of five
// accelerations, its position observed in noise, preferring position 1.
struct GaussConfig : AgentSettings {
  std::int64_t steps = 20, policy_len = 3;
  bool constant_policies = true;  // "constant": each action held over the horizon; "all": every sequence
  double success_radius = 0.2;
  int n = 2, k = 1, d = 1;                             // state, control, observation dimensions
  std::vector<double> A{1, 0.5, 0, 1}, B{0.125, 0.5};  // dynamics n x n, control matrix n x k
  std::vector<double> Q{1e-3, 0, 0, 1e-2};             // process noise n x n
  std::vector<double> C{1, 0}, R{0.05};                // observation matrix d x n, noise d x d
  std::vector<double> mu{1.0}, Sigma{0.05};            // preferred observations: mean, covariance
  std::vector<double> m0{0, 0}, P0{0.05, 0, 0, 0.01};  // initial belief (and the world's law)
  std::vector<double> actions{-1, -0.5, 0, 0.5, 1};    // [action][k]

  std::int64_t action_count() const { return std::int64_t(actions.size()) / k; }
  // [policy][tau]: action indices, in odometer order (the last step fastest).
  std::vector<int> policies() const;
};

// Reads the [policy] section of a model = "gaussian" deck; errors name the
// key, its line and the rule its value breaks.
GaussConfig parse_gaussian(Deck& deck);

}  // namespace prism::policy
