#pragma once
// Validated settings of the policy workload: batched active-inference
// agents on discrete generative models (pymdp 1.0 conventions), each in its
// own environment, choosing actions by expected free energy.
#include <cstdint>
#include <string>
#include <vector>

namespace prism {
class Deck;
}

namespace prism::policy {

enum class Task { tmaze, grid, random, hdf5, inline_arrays };

// The keys both forms (discrete and linear-Gaussian) read alike.
struct AgentSettings {
  std::int64_t agents = 1024;
  double gamma = 1.0, alpha = 1.0;  // policy precision, action precision (pymdp's defaults)
  bool stochastic = false;          // action_selection: "deterministic" (argmax) or "stochastic"
  std::int64_t trace_agents = 4;    // agents whose full traces are written,
  std::int64_t trace_first = 0;     // from this one on
};
// Reads them from the [policy] section.
void read_agent_settings(Deck& deck, AgentSettings& a);

struct Config : AgentSettings {
  Task task = Task::tmaze;
  std::int64_t steps = 3;
  std::int64_t policy_len = 2;
  bool marginal = false;       // sampling_mode: "full" (a policy's first step) or "marginal"
  std::int64_t num_iter = 16;  // fixed-point iterations of multi-factor state inference
  bool use_utility = true, use_states_info_gain = true;
  std::int64_t team_size = 0;  // GPU threads per agent (0: chosen by the agent count)
  // The policy evaluation (docs/policy.md): chosen by the model and the agent
  // count, or forced (general and tiled: one team per agent; lanes: one
  // thread per agent and tree node).
  enum class Evaluation { automatic, general, tiled, lanes };
  Evaluation evaluation = Evaluation::automatic;
  // The lane evaluation's rows per chunk of agents (0: chosen by the backend
  // and the run's agents).  Each agent's sums follow the GEMM's shape, so
  // the last bits of the results depend on it (not on the rank count).
  std::int64_t lane_chunk = 0;
  // The lane evaluation's GPU lanes per agent in inference and acting (0:
  // automatic); the last bits of the results depend on it, as on lane_chunk.
  std::int64_t lane_width = 0;
  // The lane evaluation's products: the GEMMs per chunk of agents, or one
  // warp per agent and tree node (direct); automatic: direct for runs of at
  // most kDirectAgents agents (the run's, so the same on every rank).  The
  // last bits of the results depend on it, as on lane_chunk.
  enum class Products { automatic, gemm, direct };
  Products lane_products = Products::automatic;
  // Fence between the phases of every step and time them (/timings:
  // infer, evaluate, act; the single-kernel evaluations: step), so that the
  // kernels' time can be told from the time between them.  Off by default:
  // the fences cost a little and change nothing in the results.
  bool profile_phases = false;
  // Dirichlet learning (pymdp's online rule): concentrations start at
  // prior_concentration x the model's A and B.
  bool learn_A = false, learn_B = false;
  double learning_rate = 1.0, prior_concentration = 1.0;

  // T-maze (four locations, every location one move from every other).
  double cue_validity = 0.95, reward_probability = 1.0, punishment_probability = 1.0;
  double reward = 2.0, punishment = -3.0;  // C of the reward modality: [0, reward, punishment]
  std::int64_t reward_condition = -1;      // 0 left, 1 right, -1: drawn per agent

  // Grid foraging: a rows x cols grid, moves up/right/down/left/stay; the
  // agent starts at `start` and prefers the cell `goal` (cells row-major).
  std::int64_t rows = 5, cols = 5, start = 0, goal = 24;
  double goal_reward = 4.0,
         distance_cost = 1.0;  // C: goal_reward at the goal, -distance_cost x Manhattan distance elsewhere

  // A model (and its world) from an HDF5 file (docs/policy.md).
  std::string file;

  // Random model (its own generative process).
  std::vector<std::int64_t> states{4}, observations{3}, controls{2};
  std::uint64_t model_seed = 1;
  double preference_scale = 1.0;  // C_m entries ~ preference_scale * N(0, 1)
};

Config parse_config(Deck& deck);

}  // namespace prism::policy
