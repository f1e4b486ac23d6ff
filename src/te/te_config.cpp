#include "te/te_config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>

#include "core/deck.hpp"

namespace prism::te {

const char* source_name(Source s) {
  switch (s) {
    case Source::linear:
      return "linear";
    case Source::logistic:
      return "logistic";
    case Source::hdf5:
      return "hdf5";
    case Source::text:
      return "text";
  }
  return "?";
}

std::int64_t Config::first_time() const {
  // X_t at t, X_past = x[t-1], x[t-1-k_tau], ...; Y_past = y[t-delay], y[t-delay-l_tau], ...
  return std::max((k - 1) * k_tau + 1, (l - 1) * l_tau + delay);
}

namespace {
// [[a, b], ...] of integers, each in [0, limit) when limit > 0.
std::vector<std::pair<std::int64_t, std::int64_t>> index_pairs(Deck& deck, const char* key) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  const auto* n = deck.node("te", key);
  if (!n) return out;
  const auto* arr = n->as_array();
  if (!arr) deck.fail("te", key, "must be an array of [source, target] pairs");
  for (const auto& item : *arr) {
    const auto* p = item.as_array();
    if (!p || p->size() != 2 || !(*p)[0].as_integer() || !(*p)[1].as_integer())
      deck.fail("te", key, "every entry must be [source, target] with two integer series indices");
    const auto a = (*p)[0].as_integer()->get(), b = (*p)[1].as_integer()->get();
    if (a < 0 || b < 0) deck.fail("te", key, "series indices must be >= 0");
    if (a == b)
      deck.fail("te", key,
                "a series cannot be its own source ([" + std::to_string(a) + ", " + std::to_string(b) + "])");
    out.emplace_back(a, b);
  }
  return out;
}
}  // namespace

Config parse_config(Deck& deck) {
  Config c;
  const std::string s = "te";
  const auto source = deck.get_string(s, "source", "linear", {"linear", "logistic", "hdf5", "text"});
  c.source = source == "linear"     ? Source::linear
             : source == "logistic" ? Source::logistic
             : source == "hdf5"     ? Source::hdf5
                                    : Source::text;
  const bool generated = c.source == Source::linear || c.source == Source::logistic;
  if (generated) {
    c.series = deck.get_int(s, "series", 2, 2, 4096);
    c.length = deck.get_int(s, "length", 1000, 8, 100'000'000);
    c.transient = deck.get_int(s, "transient", 1000, 0, 100'000'000);
    c.coupling = deck.get_double(s, "coupling", c.source == Source::linear ? 0.4 : 0.2, -10.0, 10.0);
    if (c.source == Source::logistic && (c.coupling < 0 || c.coupling > 1))
      deck.fail(s, "coupling", "the logistic maps mix (1 - e) f(own) + e f(parent): needs 0 <= e <= 1");
    if (c.source == Source::linear) c.noise_std = deck.get_double(s, "noise_std", 1.0, 0.0, 1e6, true);
    c.data_seed = static_cast<std::uint64_t>(deck.get_int(s, "data_seed", 1, 0, INT64_MAX));
    c.edges = index_pairs(deck, "edges");
    if (!deck.has(s, "edges"))
      for (std::int64_t i = 0; i + 1 < c.series; ++i)
        c.edges.emplace_back(i, i + 1);  // a chain 0 -> 1 -> ...
    for (const auto& [a, b] : c.edges)
      if (a >= c.series || b >= c.series)
        deck.fail(s, "edges",
                  "series index " + std::to_string(std::max(a, b)) +
                      " is beyond te.series = " + std::to_string(c.series));
  } else {
    c.file = deck.get_path(s, "file", std::nullopt);
    if (c.file.empty()) deck.fail(s, "file", "must not be empty");
    if (c.source == Source::hdf5) {
      c.dataset = deck.get_string(s, "dataset", std::nullopt);
      c.time_major =
          deck.get_string(s, "layout", "series_time", {"series_time", "time_series"}) == "time_series";
    }
  }
  c.algorithm = int(deck.get_int(s, "algorithm", 1, 1, 2));
  c.K = deck.get_int(s, "K", 4, 1, 64);
  c.k = deck.get_int(s, "k", 1, 1, 32);
  c.k_tau = deck.get_int(s, "k_tau", 1, 1, 100'000);
  c.l = deck.get_int(s, "l", 1, 1, 32);
  c.l_tau = deck.get_int(s, "l_tau", 1, 1, 100'000);
  c.delay = deck.get_int(s, "delay", 1, 1, 100'000);
  c.normalise = deck.get_bool(s, "normalise", false);
  c.noise = deck.get_double(s, "noise", 0.0, 0.0, 1e6);
  const auto search = deck.get_string(s, "search", "auto", {"auto", "brute", "window"});
  c.search = search == "brute"    ? SearchChoice::brute
             : search == "window" ? SearchChoice::window
                                  : SearchChoice::automatic;
  c.batch = deck.get_int(s, "batch", 0, 0, 1'000'000);
  c.matrix = deck.get_string(s, "mode", "matrix", {"matrix", "pairs"}) == "matrix";
  if (!c.matrix) {
    c.pairs = index_pairs(deck, "pairs");
    if (c.pairs.empty()) deck.fail(s, "pairs", "mode = \"pairs\" needs at least one [source, target] pair");
  } else if (deck.has(s, "pairs")) {
    deck.fail(s, "pairs", "is only read with mode = \"pairs\"");
  }
  c.surrogates = deck.get_int(s, "surrogates", 0, 0, 100'000);
  c.surrogate = deck.get_string(s, "surrogate", "shuffle", {"shuffle", "shift"}) == "shuffle"
                    ? Surrogate::shuffle
                    : Surrogate::shift;
  c.fdr = deck.get_bool(s, "fdr", true);
  c.alpha = deck.get_double(s, "alpha", 0.05, 0.0, 1.0, true);
  if (generated && c.observations(c.length) <= c.K)
    deck.fail(s, "length",
              "gives " + std::to_string(std::max<std::int64_t>(0, c.observations(c.length))) +
                  " observations with this embedding; more than te.K = " + std::to_string(c.K) +
                  " are needed");
  return c;
}

}  // namespace prism::te
