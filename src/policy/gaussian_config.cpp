#include "policy/gaussian_config.hpp"

#include <toml++/toml.h>

#include <cmath>

#include "core/deck.hpp"
#include "policy/policy_config.hpp"

namespace prism::policy {

std::vector<int> GaussConfig::policies() const {
  const int H = int(policy_len), U = int(action_count());
  std::vector<int> out;
  if (constant_policies) {
    for (int a = 0; a < U; ++a) out.insert(out.end(), std::size_t(H), a);
    return out;
  }
  std::vector<int> digits(std::size_t(H), 0);
  for (;;) {
    out.insert(out.end(), digits.begin(), digits.end());
    int t = H - 1;
    while (t >= 0 && ++digits[t] == U) digits[t--] = 0;
    if (t < 0) return out;
  }
}

namespace {
const std::string kSection = "policy";

std::string shape(int r, int c) {
  return std::to_string(r) + " x " + std::to_string(c);
}

// A matrix written as an array of rows; `rows`/`cols` of -1 take the
// deck's; the fallback when the key is absent.
std::vector<double> read_matrix(Deck& deck, const char* key, const std::vector<double>& fallback, int& rows,
                                int& cols) {
  const auto* node = deck.node(kSection, key);
  if (!node) return fallback;
  const auto* arr = node->as_array();
  const std::string rule = "must be an array of rows, each an array of numbers";
  if (!arr || arr->empty()) deck.fail(kSection, key, rule);
  std::vector<double> out;
  int width = -1;
  for (std::size_t r = 0; r < arr->size(); ++r) {
    const auto* row = (*arr)[r].as_array();
    if (!row || row->empty()) deck.fail(kSection, key, rule + " (row " + std::to_string(r) + " is not)");
    if (width >= 0 && int(row->size()) != width)
      deck.fail(kSection, key,
                "row " + std::to_string(r) + " has " + std::to_string(row->size()) + " entries, row 0 has " +
                    std::to_string(width));
    width = int(row->size());
    for (std::size_t c = 0; c < row->size(); ++c) {
      const auto v = (*row)[c].value<double>();
      if (!v || !std::isfinite(*v))
        deck.fail(kSection, key,
                  "entry [" + std::to_string(r) + "][" + std::to_string(c) + "] must be a finite number");
      out.push_back(*v);
    }
  }
  const int R = int(arr->size());
  if ((rows >= 0 && R != rows) || (cols >= 0 && width != cols))
    deck.fail(
        kSection, key,
        "must be " + shape(rows >= 0 ? rows : R, cols >= 0 ? cols : width) + ", not " + shape(R, width));
  if (R > kMaxGaussDim || width > kMaxGaussDim)
    deck.fail(kSection, key, "dimensions are at most " + std::to_string(kMaxGaussDim));
  rows = R;
  cols = width;
  deck.record_values(kSection, key, out);
  return out;
}

std::vector<double> read_vector(Deck& deck, const char* key, const std::vector<double>& fallback, int size) {
  if (!deck.has(kSection, key)) return fallback;
  auto v = deck.get_numbers(kSection, key, "number");
  if (int(v.size()) != size)
    deck.fail(kSection, key,
              "must have " + std::to_string(size) + " entries (one per dimension), not " +
                  std::to_string(v.size()));
  return v;
}

}  // namespace

GaussConfig parse_gaussian(Deck& deck) {
  GaussConfig c;
  const auto& s = kSection;
  read_agent_settings(deck, c);
  c.steps = deck.get_int(s, "steps", 20, 1, 1'000'000);
  c.policy_len = deck.get_int(s, "policy_len", 3, 1, 64);
  c.constant_policies = deck.get_string(s, "policies", "constant", {"constant", "all"}) == "constant";
  c.success_radius = deck.get_double(s, "success_radius", 0.2, 0.0, 1e12);
  // Shapes follow the dynamics (n states), the control matrix (k) and the
  // observation matrix (d); a key left out takes the built-in task's value
  // where the shapes are the built-in's, and is required otherwise.
  auto matrix = [&](const char* key, const std::vector<double>& builtin, bool fits, int rows, int cols,
                    int* r, int* c) {
    if (!deck.has(s, key) && !fits)
      deck.fail(s, key,
                "must be given: the built-in default is for 2 states, 1 control and 1 observation "
                "dimension");
    auto v = read_matrix(deck, key, builtin, rows, cols);
    if (r) *r = deck.has(s, key) ? rows : *r;
    if (c) *c = deck.has(s, key) ? cols : *c;
    return v;
  };
  int n = 2, k = 1, d = 1, rows = 2;
  c.A = matrix("dynamics", c.A, true, -1, -1, &rows, &n);
  if (rows != n) deck.fail(s, "dynamics", "must be square, not " + shape(rows, n));
  const bool n2 = n == 2;
  c.B = matrix("control_matrix", c.B, n2, n, -1, nullptr, &k);
  c.C = matrix("observation_matrix", c.C, n2, -1, n, &d, nullptr);
  c.Q = matrix("process_noise", c.Q, n2, n, n, nullptr, nullptr);
  c.P0 = matrix("initial_covariance", c.P0, n2, n, n, nullptr, nullptr);
  c.R = matrix("observation_noise", c.R, d == 1, d, d, nullptr, nullptr);
  c.Sigma = matrix("preferred_covariance", c.Sigma, d == 1, d, d, nullptr, nullptr);
  c.actions = matrix("actions", c.actions, k == 1, -1, k, nullptr, nullptr);
  if (!deck.has(s, "preferred_mean") && d != 1)
    deck.fail(s, "preferred_mean", "must be given for " + std::to_string(d) + " observation dimensions");
  c.mu = read_vector(deck, "preferred_mean", c.mu, d);
  c.m0 = read_vector(deck, "initial_mean", std::vector<double>(std::size_t(n), 0.0), n);
  c.n = n;
  c.k = k;
  c.d = d;
  return c;
}

}  // namespace prism::policy
