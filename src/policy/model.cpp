#include "policy/model.hpp"

#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "core/deck.hpp"
#include "core/h5_reader.hpp"
#include "kernels/common/philox.hpp"

namespace prism::policy {

std::int64_t Model::joint(std::int64_t m) const {
  std::int64_t j = 1;
  for (auto f : deps[m]) j *= Ns[f];
  return j;
}

std::vector<std::int64_t> all_policies(const std::vector<std::int64_t>& Nu, std::int64_t policy_len) {
  const std::int64_t F = std::int64_t(Nu.size()), digits = F * policy_len;
  std::int64_t count = 1;
  for (std::int64_t d = 0; d < digits; ++d) count *= Nu[d % F];
  std::vector<std::int64_t> out(std::size_t(count * digits));
  for (std::int64_t k = 0; k < count; ++k) {
    std::int64_t rest = k;
    for (std::int64_t d = digits - 1; d >= 0; --d) {  // the last digit varies fastest
      out[k * digits + d] = rest % Nu[d % F];
      rest /= Nu[d % F];
    }
  }
  return out;
}

namespace {
// Every sequence of policy_len control tuples, unless a model file gave its own list.
void finish(Model& m) {
  if (m.policies.empty()) m.policies = all_policies(m.Nu, m.policy_len);
  const std::int64_t P = std::int64_t(m.policies.size()) / (m.policy_len * std::int64_t(m.Nu.size()));
  if (m.E.empty()) m.E.assign(std::size_t(P), 1.0 / double(P));
}
}  // namespace

Model tmaze(const Config& cfg) {
  // Locations 0 centre, 1 left arm, 2 right arm, 3 cue; contexts 0 (reward
  // left), 1 (reward right).  Every location is one move from every other.
  Model m;
  m.Ns = {4, 2};
  m.Nu = {4, 1};
  m.No = {4, 3, 3};
  m.deps = {{0}, {0, 1}, {0, 1}};
  m.factor_names = {"location", "context"};
  m.modality_names = {"location", "reward", "cue"};
  m.policy_len = cfg.policy_len;
  m.A.resize(3);
  m.A[0].assign(16, 0.0);
  for (int l = 0; l < 4; ++l) m.A[0][l * 4 + l] = 1;
  m.A[1].assign(3 * 8, 0.0);
  m.A[2].assign(3 * 8, 0.0);
  const double r = cfg.reward_probability, pun = cfg.punishment_probability, v = cfg.cue_validity;
  for (int l = 0; l < 4; ++l)
    for (int c = 0; c < 2; ++c) {
      const int j = l * 2 + c;
      auto A1 = [&](int o) -> double& { return m.A[1][o * 8 + j]; };
      auto A2 = [&](int o) -> double& { return m.A[2][o * 8 + j]; };
      if (l == 1 || l == 2) {
        const bool right_arm = l == c + 1;
        A1(right_arm ? 1 : 2) = right_arm ? r : pun;
        A1(0) = right_arm ? 1 - r : 1 - pun;
      } else {
        A1(0) = 1;
      }
      if (l == 3) {
        A2(c + 1) = v;
        A2(2 - c) = 1 - v;
      } else {
        A2(0) = 1;
      }
    }
  m.B.resize(2);
  m.B[0].assign(4 * 4 * 4, 0.0);
  for (int from = 0; from < 4; ++from)
    for (int a = 0; a < 4; ++a) m.B[0][(a * 4 + from) * 4 + a] = 1;  // [next][previous][control]
  m.B[1] = {1, 0, 0, 1};
  m.C = {{0, 0, 0, 0}, {0, cfg.reward, cfg.punishment}, {0, 0, 0}};
  m.D = {{1, 0, 0, 0}, {0.5, 0.5}};
  if (cfg.reward_condition >= 0) {
    m.world_D = m.D;
    m.world_D[1] = {0.0, 0.0};
    m.world_D[1][cfg.reward_condition] = 1;
  }
  m.success_modality = 1;
  m.success_outcome = 1;
  finish(m);
  return m;
}

Model grid(const Config& cfg) {
  Model m;
  const std::int64_t R = cfg.rows, Cn = cfg.cols, N = R * Cn;
  m.Ns = {N};
  m.Nu = {5};
  m.No = {N};
  m.deps = {{0}};
  m.factor_names = {"cell"};
  m.modality_names = {"cell"};
  m.policy_len = cfg.policy_len;
  m.A = {std::vector<double>(std::size_t(N * N), 0.0)};
  for (std::int64_t c = 0; c < N; ++c) m.A[0][c * N + c] = 1;
  m.B = {std::vector<double>(std::size_t(N * N * 5), 0.0)};
  const std::int64_t dr[5] = {-1, 0, 1, 0, 0}, dc[5] = {0, 1, 0, -1, 0};
  for (std::int64_t c = 0; c < N; ++c)
    for (int a = 0; a < 5; ++a) {
      const std::int64_t r = c / Cn + dr[a], k = c % Cn + dc[a];
      const std::int64_t next = r >= 0 && r < R && k >= 0 && k < Cn ? r * Cn + k : c;
      m.B[0][(next * N + c) * 5 + a] = 1;
    }
  m.C = {std::vector<double>(std::size_t(N))};
  for (std::int64_t c = 0; c < N; ++c) {
    const std::int64_t d = std::abs(c / Cn - cfg.goal / Cn) + std::abs(c % Cn - cfg.goal % Cn);
    m.C[0][c] = c == cfg.goal ? cfg.goal_reward : -cfg.distance_cost * double(d);
  }
  m.D = {std::vector<double>(std::size_t(N), 0.0)};
  m.D[0][cfg.start] = 1;
  m.success_modality = 0;
  m.success_outcome = int(cfg.goal);
  finish(m);
  return m;
}

Model random_model(const Config& cfg) {
  Model m;
  m.Ns = cfg.states;
  m.Nu = cfg.controls;
  m.No = cfg.observations;
  const std::int64_t F = std::int64_t(m.Ns.size()), M = std::int64_t(m.No.size());
  m.policy_len = cfg.policy_len;
  auto u = [&](std::uint32_t a, std::uint32_t b, std::uint32_t c) {
    return rng::to_unit(rng::philox(cfg.model_seed, a, b, c, rng::policy_model).v[0]);
  };
  // Columns of probabilities u^4 / sum: uneven, as likelihoods of a learnt model are.
  auto column = [&](std::vector<double>& v, std::int64_t rows, std::int64_t cols, std::uint32_t tag) {
    v.assign(std::size_t(rows * cols), 0.0);
    for (std::int64_t c = 0; c < cols; ++c) {
      double total = 0;
      for (std::int64_t r = 0; r < rows; ++r) {
        const double x = std::pow(u(tag, std::uint32_t(c), std::uint32_t(r)) + 1e-3, 4);
        v[r * cols + c] = x;
        total += x;
      }
      for (std::int64_t r = 0; r < rows; ++r) v[r * cols + c] /= total;
    }
  };
  for (std::int64_t f = 0; f < F; ++f) m.factor_names.push_back("factor" + std::to_string(f));
  for (std::int64_t o = 0; o < M; ++o) m.modality_names.push_back("modality" + std::to_string(o));
  m.A.resize(M);
  m.C.resize(M);
  for (std::int64_t o = 0; o < M; ++o) {
    m.deps.emplace_back();
    for (std::int64_t f = 0; f < F; ++f) m.deps.back().push_back(f);
    column(m.A[o], m.No[o], m.joint(o), std::uint32_t(o) << 8 | 1);
    for (std::int64_t k = 0; k < m.No[o]; ++k)
      m.C[o].push_back(cfg.preference_scale *
                       rng::standard_normal(rng::philox(cfg.model_seed, std::uint32_t(o), std::uint32_t(k), 3,
                                                        rng::policy_model)));
  }
  m.B.resize(F);
  m.D.resize(F);
  for (std::int64_t f = 0; f < F; ++f) {
    column(m.B[f], m.Ns[f], m.Ns[f] * m.Nu[f], std::uint32_t(f) << 8 | 2);
    std::vector<double> d;
    column(d, m.Ns[f], 1, std::uint32_t(f) << 8 | 4);
    m.D[f] = d;
  }
  finish(m);
  return m;
}

namespace {
// The model's arrays by their dataset names (/A0, /B1, ...), from a model
// file (H5Reader) or from the deck (DeckArrays); `bad` throws with the rule.
template <class Source, class Bad>
Model read_arrays(Source& in, const Config& cfg, Bad bad) {
  Model m;
  m.policy_len = cfg.policy_len;
  auto shape_text = [](const std::vector<std::uint64_t>& v) {
    std::string t;
    for (auto x : v) t += "[" + std::to_string(x) + "]";
    return t;
  };
  // Factors from B<f> [next][previous][control].
  for (int f = 0; in.exists("/B" + std::to_string(f)); ++f) {
    const std::string name = "B" + std::to_string(f);
    const auto sh = in.shape("/" + name);
    if (sh.size() != 3 || sh[0] != sh[1])
      bad("/" + name + " is " + shape_text(sh) + "; [states][states][controls] is needed");
    m.Ns.push_back(std::int64_t(sh[0]));
    m.Nu.push_back(std::int64_t(sh[2]));
    m.B.push_back(in.template values<double>("/" + name));
    m.factor_names.push_back("factor" + std::to_string(f));
  }
  if (m.Ns.empty()) bad("no /B0 (transitions of the first hidden-state factor)");
  if (m.Ns.size() > 6) bad("at most 6 hidden-state factors");
  const auto F = std::int64_t(m.Ns.size());
  for (int o = 0; in.exists("/A" + std::to_string(o)); ++o) {
    const std::string name = "A" + std::to_string(o);
    std::vector<std::int64_t> deps;
    if (in.exists("/" + name + "_dependencies")) {
      deps = in.template values<std::int64_t>("/" + name + "_dependencies");
      for (auto d : deps)
        if (d < 0 || d >= F)
          bad("/" + name + "_dependencies names factor " + std::to_string(d) + " of " + std::to_string(F));
    } else {
      for (std::int64_t f = 0; f < F; ++f) deps.push_back(f);
    }
    const auto sh = in.shape("/" + name);
    bool ok = sh.size() == deps.size() + 1;
    for (std::size_t k = 0; ok && k < deps.size(); ++k) ok = sh[k + 1] == std::uint64_t(m.Ns[deps[k]]);
    if (!ok) {
      std::string want = "[outcomes]";
      for (auto d : deps) want += "[" + std::to_string(m.Ns[d]) + "]";
      bad("/" + name + " is " + shape_text(sh) + "; " + want +
          " is needed (the states of its factors, from the B arrays)");
    }
    m.No.push_back(std::int64_t(sh[0]));
    m.deps.push_back(deps);
    m.A.push_back(in.template values<double>("/" + name));
    m.modality_names.push_back("modality" + std::to_string(o));
    const std::string c = "/C" + std::to_string(o);
    if (in.exists(c)) {
      m.C.push_back(in.template values<double>(c));
      if (m.C.back().size() != sh[0]) bad(c + " needs " + std::to_string(sh[0]) + " entries");
    } else {
      m.C.emplace_back(sh[0], 1.0 / double(sh[0]));  // pymdp's default
    }
  }
  if (m.No.empty()) bad("no /A0 (likelihood of the first modality)");
  // The world's own likelihoods and transitions, each of the shape of the
  // model's array it replaces.
  auto world_array = [&](const std::string& name, const std::string& model_name) {
    std::vector<double> v;
    if (!in.exists(name)) return v;
    if (in.shape(name) != in.shape(model_name))
      bad(name + " is " + shape_text(in.shape(name)) + "; the shape of " + model_name + ", " +
          shape_text(in.shape(model_name)) + ", is needed");
    return in.template values<double>(name);
  };
  for (std::size_t o = 0; o < m.No.size(); ++o)
    m.world_A.push_back(world_array("/world_A" + std::to_string(o), "/A" + std::to_string(o)));
  for (std::int64_t f = 0; f < F; ++f)
    m.world_B.push_back(world_array("/world_B" + std::to_string(f), "/B" + std::to_string(f)));
  if (m.No.size() > 8) bad("at most 8 modalities");
  for (std::int64_t f = 0; f < F; ++f) {
    for (const char* prefix : {"/D", "/world_D"}) {
      const std::string d = prefix + std::to_string(f);
      if (!in.exists(d)) continue;
      auto v = in.template values<double>(d);
      if (std::int64_t(v.size()) != m.Ns[f]) bad(d + " needs " + std::to_string(m.Ns[f]) + " entries");
      (prefix[1] == 'D' ? m.D : m.world_D).push_back(v);
    }
    if (std::int64_t(m.D.size()) == f) m.D.emplace_back(m.Ns[f], 1.0 / double(m.Ns[f]));
    if (!m.world_D.empty() && std::int64_t(m.world_D.size()) != f + 1)
      bad("/world_D" + std::to_string(f) + " is missing (every factor's or none)");
  }
  double policies = 1;
  if (in.exists("/policies")) {  // a given list, [policy][step][factor]
    const auto sh = in.shape("/policies");
    if (sh.size() != 3 || sh[0] < 1 || sh[1] != std::uint64_t(m.policy_len) || sh[2] != std::uint64_t(F))
      bad("/policies is " + shape_text(sh) + "; [policies][" + std::to_string(m.policy_len) + "][" +
          std::to_string(F) + "] is needed (policy_len " + std::to_string(m.policy_len) +
          " from the deck, the factors from the B arrays)");
    m.policies = in.template values<std::int64_t>("/policies");
    for (std::size_t k = 0; k < m.policies.size(); ++k) {
      const std::int64_t f = std::int64_t(k) % F, u = m.policies[k];
      if (u < 0 || u >= m.Nu[f])
        bad("/policies: policy " + std::to_string(std::int64_t(k) / (F * m.policy_len)) + ", step " +
            std::to_string(std::int64_t(k) / F % m.policy_len) + ", factor " + std::to_string(f) +
            ": control " + std::to_string(u) + " is not one of 0.." + std::to_string(m.Nu[f] - 1));
    }
    policies = double(sh[0]);
  } else {
    for (std::int64_t t = 0; t < m.policy_len; ++t)
      for (auto u : m.Nu) policies *= double(u);
  }
  if (policies > 65536)
    bad(std::to_string(std::int64_t(policies)) + " policies with this policy_len; at most 65536");
  for (auto u : m.Nu)
    if (u > 64) bad("at most 64 controls per factor");
  if (in.exists("/success")) {  // [modality, outcome]: the observation that counts as success
    const auto v = in.template values<std::int64_t>("/success");
    if (v.size() != 2 || v[0] < 0 || v[0] >= std::int64_t(m.No.size()) || v[1] < 0 || v[1] >= m.No[v[0]])
      bad("/success must be [modality, outcome] of an existing outcome");
    m.success_modality = int(v[0]);
    m.success_outcome = int(v[1]);
  }
  if (in.exists("/observations")) {  // [step][modality]
    m.given_obs = in.template values<std::int64_t>("/observations");
    const std::int64_t M = std::int64_t(m.No.size());
    if (m.given_obs.empty() || std::int64_t(m.given_obs.size()) % M != 0)
      bad("/observations must be [steps][" + std::to_string(M) + "] (one outcome per modality)");
    m.given_steps = std::int64_t(m.given_obs.size()) / M;
    for (std::size_t k = 0; k < m.given_obs.size(); ++k)
      if (m.given_obs[k] < 0 || m.given_obs[k] >= m.No[k % M])
        bad("/observations: step " + std::to_string(k / M) + ", modality " + std::to_string(k % M) + ": " +
            std::to_string(m.given_obs[k]) + " is not an outcome (0.." + std::to_string(m.No[k % M] - 1) +
            ")");
  }
  finish(m);
  if (in.exists("/E")) {
    m.E = in.template values<double>("/E");
    if (m.E.size() != std::size_t(policies))
      bad("/E needs one entry per policy (" + std::to_string(std::int64_t(policies)) + ")");
  }
  return m;
}

// A model's arrays written in the deck's [policy] section, each key named as
// its dataset in a model file (A0 for /A0), nested TOML arrays in the same
// index order; the recorded observations' key is observation_sequence
// (`observations` sizes a random model).
struct DeckArrays {
  Deck& deck;
  static std::string key(const std::string& dataset) {
    return dataset == "/observations" ? "observation_sequence" : dataset.substr(1);
  }
  bool exists(const std::string& dataset) const { return deck.has("policy", key(dataset)); }
  std::vector<std::uint64_t> shape(const std::string& dataset) {
    return deck.get_tensor("policy", key(dataset)).shape;
  }
  template <class T>
  std::vector<T> values(const std::string& dataset) {
    const auto t = deck.get_tensor("policy", key(dataset));
    std::vector<T> out;
    for (double v : t.values) {
      if constexpr (std::is_integral_v<T>)
        if (v != std::floor(v)) deck.fail("policy", key(dataset), "entries must be whole numbers");
      out.push_back(T(v));
    }
    return out;
  }
};
}  // namespace

Model read_model(const Config& cfg) {
  H5Reader in(cfg.file);
  Model m = read_arrays(
      in, cfg, [&](const std::string& what) { throw std::invalid_argument(cfg.file + ": " + what); });
  validate(m, cfg.file);
  return m;
}

Model inline_model(Deck& deck, const Config& cfg) {
  DeckArrays in{deck};
  // A rule about one array is reported at that array's key, others at `task`.
  auto fail = [&](const std::string& what) {
    std::string key = "task";
    if (what.size() > 1 && what[0] == '/') {
      const auto end = what.find_first_of(" :", 1);
      const std::string named = DeckArrays::key(what.substr(0, end));
      if (deck.has("policy", named)) key = named;
    }
    deck.fail("policy", key, what);
  };
  Model m = read_arrays(in, cfg, fail);
  try {
    validate(m, "", true);
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
  return m;
}

void validate(const Model& m, const std::string& file, bool dataset_names) {
  dataset_names = dataset_names || !file.empty();
  auto bad = [&](const std::string& what) {
    throw std::invalid_argument(file.empty() ? what : file + ": " + what);
  };
  // An array's name: A[0] for a built-in model, /A0 (its dataset) for a file or the deck's arrays.
  auto name = [&](const char* array, std::size_t k) {
    return !dataset_names ? std::string(array) + "[" + std::to_string(k) + "]"
                          : "/" + std::string(array) + std::to_string(k);
  };
  auto probabilities = [&](const std::vector<double>& v, std::int64_t rows, std::int64_t cols,
                           const std::string& name) {
    for (std::int64_t c = 0; c < cols; ++c) {
      double total = 0;
      for (std::int64_t r = 0; r < rows; ++r) {
        const double x = v[r * cols + c];
        if (!std::isfinite(x) || x < 0)
          bad(name + ": entry [" + std::to_string(r) + "] of column " + std::to_string(c) + " is " +
              std::to_string(x) + "; probabilities are finite and >= 0");
        total += x;
      }
      if (std::fabs(total - 1) > 1e-6)
        bad(name + ": column " + std::to_string(c) + " sums to " + std::to_string(total) + ", not 1");
    }
  };
  for (std::size_t o = 0; o < m.A.size(); ++o) probabilities(m.A[o], m.No[o], m.joint(o), name("A", o));
  for (std::size_t f = 0; f < m.B.size(); ++f)
    probabilities(m.B[f], m.Ns[f], m.Ns[f] * m.Nu[f], name("B", f));
  for (std::size_t f = 0; f < m.D.size(); ++f) probabilities(m.D[f], m.Ns[f], 1, name("D", f));
  for (std::size_t f = 0; f < m.world_D.size(); ++f)
    probabilities(m.world_D[f], m.Ns[f], 1, name("world_D", f));
  for (std::size_t o = 0; o < m.world_A.size(); ++o)
    if (!m.world_A[o].empty()) probabilities(m.world_A[o], m.No[o], m.joint(o), name("world_A", o));
  for (std::size_t f = 0; f < m.world_B.size(); ++f)
    if (!m.world_B[f].empty()) probabilities(m.world_B[f], m.Ns[f], m.Ns[f] * m.Nu[f], name("world_B", f));
  probabilities(m.E, std::int64_t(m.E.size()), 1, dataset_names ? "/E" : "E");
  for (std::size_t o = 0; o < m.C.size(); ++o)
    for (std::size_t k = 0; k < m.C[o].size(); ++k)
      if (!std::isfinite(m.C[o][k])) bad(name("C", o) + ": entry " + std::to_string(k) + " is not finite");
}

}  // namespace prism::policy
