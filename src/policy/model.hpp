#pragma once
// The discrete generative model of the policy workload, in pymdp 1.0's
// layout: A[m] [outcome][states of its factors...] (first factor slowest),
// B[f] [next][previous][control], C[m] log-preferences, D[f], E over
// policies, and the policies themselves (every sequence of policy_len
// control tuples, the last factor of the last step varying fastest).
#include <cstdint>
#include <string>
#include <vector>

#include "policy/policy_config.hpp"

namespace prism {
class Deck;
}

namespace prism::policy {

struct Model {
  std::vector<std::int64_t> Ns, Nu, No;
  std::vector<std::vector<std::int64_t>> deps;  // A_dependencies: the factors of each modality
  std::vector<std::vector<double>> A, B, C, D;
  std::vector<double> E;
  std::vector<std::vector<double>> world_D;  // the world's initial states, if not D
  // The world's likelihoods and transitions, per modality / factor; an empty
  // (or missing) entry: the model's own A[m] / B[f].
  std::vector<std::vector<double>> world_A, world_B;
  std::vector<std::int64_t> policies;  // [policy][step][factor]
  std::int64_t policy_len = 1;
  std::vector<std::string> factor_names, modality_names;
  int success_modality = -1, success_outcome = 0;
  // Observations given for every agent, [step][modality] (an HDF5 model's
  // /observations: a recorded sequence replayed instead of the world's draws).
  std::vector<std::int64_t> given_obs;
  std::int64_t given_steps = 0;

  std::int64_t joint(std::int64_t m) const;  // states of modality m's factors, jointly
  std::int64_t policy_count() const { return std::int64_t(E.size()); }
};

// pymdp's construct_policies order.
std::vector<std::int64_t> all_policies(const std::vector<std::int64_t>& Nu, std::int64_t policy_len);

// The four-location T-maze (docs/policy.md) and a random model.
Model tmaze(const Config& cfg);
// Grid foraging: one factor (the cell), location observed exactly, moves
// 0 up, 1 right, 2 down, 3 left, 4 stay (off the grid: stay).
Model grid(const Config& cfg);
Model random_model(const Config& cfg);
// A model from cfg.file (layout in docs/policy.md); throws std::invalid_argument
// naming the file and the dataset.
Model read_model(const Config& cfg);

// The model written in the deck's [policy] section (task = "inline"): the
// arrays of a model file, each under the key of its dataset's name (A0, B0,
// C0, D0, E, A0_dependencies, world_D0, policies, success, ...) as nested
// arrays; a rule broken fails naming the deck's line and key.
Model inline_model(Deck& deck, const Config& cfg);

// Throws std::invalid_argument naming the array and index: A and B columns
// must be probabilities summing to 1, C finite, D, the world's arrays and E
// probabilities.  With a file, the message starts with its path; with a
// file or dataset_names, the arrays are named by their datasets (/A0,
// /world_D1, ...).
void validate(const Model& m, const std::string& file = "", bool dataset_names = false);

}  // namespace prism::policy
