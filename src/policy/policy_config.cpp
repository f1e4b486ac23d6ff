#include "policy/policy_config.hpp"

#include <toml++/toml.h>

#include <cmath>
#include <filesystem>

#include "core/deck.hpp"

namespace prism::policy {

namespace {
const std::string kSection = "policy";

std::vector<std::int64_t> sizes(Deck& deck, const char* key, std::vector<std::int64_t> fallback,
                                std::int64_t max) {
  if (!deck.has(kSection, key)) return fallback;
  const auto v = deck.get_numbers(kSection, key, "integer");
  if (v.empty() || v.size() > 6) deck.fail(kSection, key, "must be an array of 1 to 6 integers");
  std::vector<std::int64_t> out;
  for (double x : v) {
    if (x != std::floor(x) || x < 1 || x > double(max))
      deck.fail(kSection, key, "every entry must be an integer from 1 to " + std::to_string(max));
    out.push_back(std::int64_t(x));
  }
  return out;
}
}  // namespace

void read_agent_settings(Deck& deck, AgentSettings& a) {
  const auto& s = kSection;
  a.agents = deck.get_int(s, "agents", 1024, 1, 1'000'000'000);
  a.gamma = deck.get_double(s, "gamma", 1.0, 0.0, 1e6);
  a.alpha = deck.get_double(s, "alpha", 1.0, 0.0, 1e6);
  a.stochastic = deck.get_string(s, "action_selection", "deterministic", {"deterministic", "stochastic"}) ==
                 "stochastic";
  a.trace_agents = deck.get_int(s, "trace_agents", 4, 0, 100'000);
  a.trace_first = deck.get_int(s, "trace_first", 0, 0, a.agents - 1);
}

Config parse_config(Deck& deck) {
  Config c;
  const auto& s = kSection;
  deck.only_with(s,
                 {"cue_validity", "reward_probability", "punishment_probability", "reward", "punishment",
                  "reward_condition"},
                 "task = \"tmaze\"");
  deck.only_with(s, {"rows", "cols", "start", "goal", "goal_reward", "distance_cost"}, "task = \"grid\"");
  deck.only_with(s, {"file"}, "task = \"hdf5\"");
  deck.only_with(s, {"states", "controls", "observations", "model_seed", "preference_scale"},
                 "task = \"random\"");
  // The inline model's arrays: the datasets of a model file, by name (8
  // modalities, 6 factors at most).
  auto inline_key = [&](const std::string& stem, int k, const std::string& tail) {
    std::string key = stem;
    key += std::to_string(k);
    key += tail;
    deck.only_with(s, {key.c_str()}, "task = \"inline\"");
  };
  for (int k = 0; k < 8; ++k)
    for (const char* stem : {"A", "C", "world_A"}) inline_key(stem, k, "");
  for (int k = 0; k < 8; ++k) inline_key("A", k, "_dependencies");
  for (int k = 0; k < 6; ++k)
    for (const char* stem : {"B", "D", "world_B", "world_D"}) inline_key(stem, k, "");
  deck.only_with(s, {"E", "policies", "success", "observation_sequence"}, "task = \"inline\"");
  const auto task = deck.get_string(s, "task", "tmaze", {"tmaze", "grid", "random", "hdf5", "inline"});
  c.task = task == "tmaze"    ? Task::tmaze
           : task == "grid"   ? Task::grid
           : task == "random" ? Task::random
           : task == "inline" ? Task::inline_arrays
                              : Task::hdf5;
  read_agent_settings(deck, c);
  c.steps = deck.get_int(s, "steps", 3, 1, 1'000'000);
  c.policy_len = deck.get_int(s, "policy_len", 2, 1, 8);
  c.marginal = deck.get_string(s, "sampling_mode", "full", {"full", "marginal"}) == "marginal";
  c.num_iter = deck.get_int(s, "num_iter", 16, 1, 10'000);
  c.use_utility = deck.get_bool(s, "use_utility", true);
  c.use_states_info_gain = deck.get_bool(s, "use_states_info_gain", true);
  c.team_size = deck.get_int(s, "team_size", 0, 0, 256);  // kMaxTeam (kernels/policy/agent.hpp)
  if (c.team_size % 32 != 0) deck.fail(s, "team_size", "must be 0 (automatic) or a multiple of 32");
  const auto evaluation = deck.get_string(s, "evaluation", "auto", {"auto", "general", "tiled", "lanes"});
  c.evaluation = evaluation == "general" ? Config::Evaluation::general
                 : evaluation == "tiled" ? Config::Evaluation::tiled
                 : evaluation == "lanes" ? Config::Evaluation::lanes
                                         : Config::Evaluation::automatic;
  c.lane_chunk = deck.get_int(s, "lane_chunk", 0, 0, std::int64_t(1) << 20);
  if (c.lane_chunk != 0 && (c.lane_chunk < 32 || (c.lane_chunk & (c.lane_chunk - 1)) != 0))
    deck.fail(s, "lane_chunk", "must be 0 (automatic) or a power of two from 32 on");
  c.lane_width = deck.get_int(s, "lane_width", 0, 0, 32);
  if ((c.lane_width & (c.lane_width - 1)) != 0)
    deck.fail(s, "lane_width", "must be 0 (automatic) or a power of two up to 32");
  const auto products = deck.get_string(s, "lane_products", "auto", {"auto", "gemm", "direct"});
  c.lane_products = products == "gemm"     ? Config::Products::gemm
                    : products == "direct" ? Config::Products::direct
                                           : Config::Products::automatic;
  c.profile_phases = deck.get_bool(s, "profile_phases", false);
  c.learn_A = deck.get_bool(s, "learn_A", false);
  c.learn_B = deck.get_bool(s, "learn_B", false);
  // Read with learning off too, so that one deck runs with and without it.
  c.learning_rate = deck.get_double(s, "learning_rate", 1.0, 0.0, 1e6);
  c.prior_concentration = deck.get_double(s, "prior_concentration", 1.0, 0.0, 1e12, true);
  if (c.task == Task::tmaze) {
    c.cue_validity = deck.get_double(s, "cue_validity", 0.95, 0.0, 1.0);
    c.reward_probability = deck.get_double(s, "reward_probability", 1.0, 0.0, 1.0);
    c.punishment_probability = deck.get_double(s, "punishment_probability", 1.0, 0.0, 1.0);
    c.reward = deck.get_double(s, "reward", 2.0, -1e6, 1e6);
    c.punishment = deck.get_double(s, "punishment", -3.0, -1e6, 1e6);
    c.reward_condition = deck.get_int(s, "reward_condition", -1, -1, 1);
  } else if (c.task == Task::grid) {
    c.rows = deck.get_int(s, "rows", 5, 1, 32);
    c.cols = deck.get_int(s, "cols", 5, 1, 32);
    c.start = deck.get_int(s, "start", 0, 0, c.rows * c.cols - 1);
    c.goal = deck.get_int(s, "goal", c.rows * c.cols - 1, 0, c.rows * c.cols - 1);
    c.goal_reward = deck.get_double(s, "goal_reward", 4.0, -1e6, 1e6);
    c.distance_cost = deck.get_double(s, "distance_cost", 1.0, -1e6, 1e6);
  } else if (c.task == Task::hdf5) {
    c.file = deck.get_path(s, "file", std::nullopt);
  } else {
    c.states = sizes(deck, "states", {4}, 1024);
    c.controls = sizes(deck, "controls", std::vector<std::int64_t>(c.states.size(), 2), 64);
    c.observations = sizes(deck, "observations", {3}, 1024);
    if (c.controls.size() != c.states.size())
      deck.fail(s, "controls",
                "needs one entry per hidden-state factor (" + std::to_string(c.states.size()) + ")");
    if (c.observations.size() > 8) deck.fail(s, "observations", "at most 8 modalities");
    c.model_seed = static_cast<std::uint64_t>(deck.get_int(s, "model_seed", 1, 0, INT64_MAX));
    c.preference_scale = deck.get_double(s, "preference_scale", 1.0, 0.0, 1e6);
  }
  // The policies: (prod controls)^policy_len of them (an HDF5 model is checked when read).
  if (c.task == Task::hdf5 || c.task == Task::inline_arrays) return c;
  double policies = 1;
  const std::vector<std::int64_t> nu = c.task == Task::tmaze  ? std::vector<std::int64_t>{4, 1}
                                       : c.task == Task::grid ? std::vector<std::int64_t>{5}
                                                              : c.controls;
  for (std::int64_t t = 0; t < c.policy_len; ++t)
    for (auto u : nu) policies *= double(u);
  if (policies > 65536)
    deck.fail(s, "policy_len",
              "gives " + std::to_string(std::int64_t(policies)) + " policies; at most 65536");
  return c;
}

}  // namespace prism::policy
