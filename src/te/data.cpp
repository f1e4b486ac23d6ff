#include "te/data.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include "core/deck.hpp"
#include "core/h5_reader.hpp"
#include "kernels/common/philox.hpp"

namespace prism::te {

namespace {

// Standard normal from the Philox stream keyed by (a, b, c).
double gaussian(std::uint64_t seed, std::uint32_t a, std::uint32_t b, std::uint32_t c, rng::Stream s) {
  return rng::standard_normal(rng::philox(seed, a, b, c, s));
}

std::vector<std::string> default_names(std::int64_t n) {
  std::vector<std::string> names;
  for (std::int64_t i = 0; i < n; ++i) names.push_back("s" + std::to_string(i));
  return names;
}

// Text: one column per series, separated by whitespace or commas; '#'
// comments; a first line with a non-number gives the names.
Series read_text(const Config& cfg, Deck& deck) {
  std::ifstream in(cfg.file);
  if (!in) deck.fail("te", "file", "cannot open '" + cfg.file + "' for reading");
  Series s;
  std::string line;
  std::size_t lineno = 0, columns = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    for (char& ch : line)
      if (ch == ',' || ch == '\t' || ch == '\r') ch = ' ';
    std::istringstream fields(line);
    std::vector<std::string> tokens;
    for (std::string t; fields >> t;) tokens.push_back(t);
    if (tokens.empty()) continue;
    const std::string where = cfg.file + ":" + std::to_string(lineno) + ": ";
    if (columns == 0) {
      columns = tokens.size();
      s.values.assign(columns, {});
      char* end = nullptr;
      std::strtod(tokens[0].c_str(), &end);
      if (*end != '\0') {  // a header
        s.names = tokens;
        continue;
      }
    }
    if (tokens.size() != columns)
      throw DeckError(where + std::to_string(tokens.size()) + " columns where the file has " +
                      std::to_string(columns));
    for (std::size_t c = 0; c < columns; ++c) {
      char* end = nullptr;
      const double v = std::strtod(tokens[c].c_str(), &end);
      if (*end != '\0')
        throw DeckError(where + "column " + std::to_string(c + 1) + " is not a number: '" + tokens[c] + "'");
      if (!std::isfinite(v)) throw DeckError(where + "column " + std::to_string(c + 1) + " is not finite");
      s.values[c].push_back(v);
    }
  }
  if (columns == 0) deck.fail("te", "file", "'" + cfg.file + "' holds no data");
  if (s.names.empty()) s.names = default_names(std::int64_t(columns));
  return s;
}

Series read_hdf5(const Config& cfg, Deck& deck) {
  std::unique_ptr<H5Reader> in;
  try {
    in = std::make_unique<H5Reader>(cfg.file);
  } catch (const std::exception& e) {
    deck.fail("te", "file", e.what());
  }
  const std::string path = cfg.dataset.empty() || cfg.dataset[0] != '/' ? "/" + cfg.dataset : cfg.dataset;
  if (!in->exists(path)) deck.fail("te", "dataset", "'" + cfg.file + "' has no dataset " + path);
  const auto shape = in->shape(path);
  if (shape.size() != 2)
    deck.fail("te", "dataset",
              path + " has " + std::to_string(shape.size()) + " dimensions; 2 are needed (" +
                  (cfg.time_major ? "[time][series]" : "[series][time]") + ")");
  const auto flat = in->values<double>(path);
  const std::size_t n_series = cfg.time_major ? shape[1] : shape[0],
                    n_time = cfg.time_major ? shape[0] : shape[1];
  Series s;
  s.values.assign(n_series, std::vector<double>(n_time));
  for (std::size_t i = 0; i < n_series; ++i)
    for (std::size_t t = 0; t < n_time; ++t) {
      const double v = cfg.time_major ? flat[t * n_series + i] : flat[i * n_time + t];
      if (!std::isfinite(v))
        throw DeckError(cfg.file + ": " + path + ": series " + std::to_string(i) + " at time " +
                        std::to_string(t) + " is not finite");
      s.values[i][t] = v;
    }
  s.names = default_names(std::int64_t(n_series));
  return s;
}

}  // namespace

Series generate(const Config& cfg) {
  const std::int64_t n = cfg.series, steps = cfg.transient + cfg.length;
  std::vector<std::vector<std::int64_t>> parents(n);
  for (const auto& [a, b] : cfg.edges) parents[b].push_back(a);
  Series s;
  s.names = default_names(n);
  s.values.assign(n, std::vector<double>(cfg.length));
  std::vector<double> now(n), next(n);
  const bool linear = cfg.source == Source::linear;
  for (std::int64_t i = 0; i < n; ++i)
    now[i] = linear ? 0.0
                    : 0.05 + 0.9 * rng::to_unit(
                                       rng::philox(cfg.data_seed, std::uint32_t(i), 0, 0, rng::te_data).v[0]);
  auto f = [](double x) { return 4.0 * x * (1.0 - x); };
  for (std::int64_t t = 0; t < steps; ++t) {
    for (std::int64_t i = 0; i < n; ++i) {
      if (linear) {
        double v = cfg.noise_std * gaussian(cfg.data_seed, std::uint32_t(i), std::uint32_t(t),
                                            std::uint32_t(t >> 32) + 1, rng::te_data);
        for (auto j : parents[i]) v += cfg.coupling * now[j];
        next[i] = v;
      } else {
        double drive = 0;
        for (auto j : parents[i]) drive += f(now[j]);
        next[i] = parents[i].empty()
                      ? f(now[i])
                      : (1.0 - cfg.coupling) * f(now[i]) + cfg.coupling * drive / double(parents[i].size());
      }
    }
    now.swap(next);
    if (t >= cfg.transient)
      for (std::int64_t i = 0; i < n; ++i) s.values[i][t - cfg.transient] = now[i];
  }
  return s;
}

Series load_series(const Config& cfg, Deck& deck) {
  Series s = cfg.source == Source::hdf5   ? read_hdf5(cfg, deck)
             : cfg.source == Source::text ? read_text(cfg, deck)
                                          : generate(cfg);
  if (s.values.size() < 2)
    deck.fail("te", "file", "needs at least two series, found " + std::to_string(s.values.size()));
  const std::int64_t obs = cfg.observations(s.length());
  if (obs <= cfg.K)
    deck.fail("te", "K",
              "the series have " + std::to_string(s.length()) + " samples, which give " +
                  std::to_string(std::max<std::int64_t>(obs, 0)) +
                  " observations with this embedding; te.K must be below that");
  if (obs >= (std::int64_t(1) << 31)) deck.fail("te", "file", "more than 2^31 observations per series");
  for (const auto& [a, b] : cfg.pairs)
    if (a >= std::int64_t(s.values.size()) || b >= std::int64_t(s.values.size()))
      deck.fail("te", "pairs",
                "series index " + std::to_string(std::max(a, b)) + " is out of range (the data have " +
                    std::to_string(s.values.size()) + " series)");
  return s;
}

}  // namespace prism::te
