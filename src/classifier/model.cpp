#include "classifier/model.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/deck.hpp"
#include "core/h5_reader.hpp"
#include "kernels/common/philox.hpp"

namespace prism::classifier {

namespace {
double normal(std::uint64_t seed, std::uint32_t a, std::uint32_t b, std::uint32_t c, rng::Stream s) {
  return rng::standard_normal(rng::philox(seed, a, b, c, s));
}
double uniform(std::uint64_t seed, std::uint32_t a, std::uint32_t b, std::uint32_t c, rng::Stream s) {
  return rng::to_unit(rng::philox(seed, a, b, c, s).v[2]);
}
int draw_class(const std::vector<double>& prior, double u) {
  double cdf = 0;
  for (std::size_t s = 0; s + 1 < prior.size(); ++s) {
    cdf += prior[s];
    if (u < cdf) return int(s);
  }
  return int(prior.size()) - 1;
}
void add_observation(Dataset& d, const GenerativeModel& m, int label, std::uint64_t seed, std::uint32_t set,
                     std::int64_t i) {
  for (std::int64_t f = 0; f < m.features; ++f)
    d.x.push_back(m.mu[label * m.features + f] +
                  m.sigma[label * m.features + f] * normal(seed, std::uint32_t(i), std::uint32_t(i >> 32),
                                                           std::uint32_t(f) << 3 | set,
                                                           rng::classifier_samples));
  d.labels.push_back(label);
}
}  // namespace

std::vector<double> GenerativeModel::log_joint(const double* o) const {
  std::vector<double> out(classes);
  const double half_log_2pi = 0.5 * std::log(2 * M_PI);
  for (std::int64_t s = 0; s < classes; ++s) {
    double v = std::log(prior[s]);
    for (std::int64_t f = 0; f < features; ++f) {
      const double sg = sigma[s * features + f], r = (o[f] - mu[s * features + f]) / sg;
      v -= half_log_2pi + std::log(sg) + 0.5 * r * r;
    }
    out[s] = v;
  }
  return out;
}

GenerativeModel generate_model(const Config& cfg) {
  GenerativeModel m;
  m.classes = cfg.classes();
  m.features = cfg.features();
  m.prior = cfg.prior;
  for (std::int64_t s = 0; s < m.classes; ++s)
    for (std::int64_t f = 0; f < m.features; ++f) {
      m.mu.push_back(cfg.separation *
                     normal(cfg.data_seed, std::uint32_t(s), std::uint32_t(f), 0, rng::classifier_model));
      m.sigma.push_back(
          0.9 + 0.2 * uniform(cfg.data_seed, std::uint32_t(s), std::uint32_t(f), 1, rng::classifier_model));
    }
  return m;
}

Dataset generate(const Config& cfg, const GenerativeModel& m, std::uint32_t set, std::int64_t n) {
  Dataset d;
  d.n = n;
  d.features = m.features;
  d.x.reserve(std::size_t(n * m.features));
  for (std::int64_t i = 0; i < n; ++i) {
    const double u = uniform(cfg.data_seed, std::uint32_t(i), std::uint32_t(i >> 32), 0xffff0u | set,
                             rng::classifier_samples);
    add_observation(d, m, draw_class(m.prior, u), cfg.data_seed, set, i);
  }
  return d;
}

Dataset generate_tracks(const Config& cfg, const GenerativeModel& m) {
  Dataset d;
  d.n = cfg.tracks * cfg.frames;
  d.features = m.features;
  d.x.reserve(std::size_t(d.n * m.features));
  constexpr std::uint32_t set = 3;
  for (std::int64_t t = 0; t < cfg.tracks; ++t) {
    int label = -1;
    for (std::int64_t f = 0; f < cfg.frames; ++f) {
      const std::int64_t i = t * cfg.frames + f;
      const double u = uniform(cfg.data_seed, std::uint32_t(i), std::uint32_t(i >> 32), 0xffff0u | set,
                               rng::classifier_samples);
      const double sw = uniform(cfg.data_seed, std::uint32_t(i), std::uint32_t(i >> 32), 0xfff00u | set,
                                rng::classifier_samples);
      if (label < 0 || sw < cfg.switch_probability) label = draw_class(m.prior, u);
      add_observation(d, m, label, cfg.data_seed, set, i);
      d.track.push_back(t);
      d.frame.push_back(f);
    }
  }
  return d;
}

namespace {
std::unique_ptr<H5Reader> open(Deck& deck, const char* key, const std::string& file) {
  try {
    return std::make_unique<H5Reader>(file);
  } catch (const std::exception& e) {
    deck.fail("classifier", key, e.what());
  }
}
std::vector<double> finite_values(const H5Reader& in, const std::string& path, std::uint64_t expected,
                                  const std::string& what) {
  if (!in.exists(path)) throw DeckError(in.path() + ": no dataset " + path + " (" + what + ")");
  const auto v = in.values<double>(path);
  if (v.size() != expected)
    throw DeckError(in.path() + ": " + path + " has " + std::to_string(v.size()) + " values; " +
                    std::to_string(expected) + " expected (" + what + ")");
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw DeckError(in.path() + ": " + path + ": value " + std::to_string(i) + " is not finite");
  return v;
}
}  // namespace

GenerativeModel read_model(const Config& cfg, Deck& deck) {
  auto in = open(deck, "model_file", cfg.model_file);
  GenerativeModel m;
  m.classes = cfg.classes();
  m.features = cfg.features();
  m.prior = cfg.prior;
  const auto n = std::uint64_t(m.classes * m.features);
  const std::string shape = "[classes][features] = [" + std::to_string(m.classes) + "][" +
                            std::to_string(m.features) + "] from classifier.widths";
  m.mu = finite_values(*in, "/mu", n, shape);
  m.sigma = finite_values(*in, "/sigma", n, shape);
  for (std::size_t i = 0; i < m.sigma.size(); ++i)
    if (!(m.sigma[i] > 0))
      throw DeckError(cfg.model_file + ": /sigma: value " + std::to_string(i) + " is not > 0");
  return m;
}

Dataset read_dataset(const Config& cfg, Deck& deck, const GenerativeModel& m) {
  auto in = open(deck, "file", cfg.file);
  if (!in->exists("/features"))
    deck.fail("classifier", "file", "'" + cfg.file + "' has no dataset /features");
  const auto shape = in->shape("/features");
  if (shape.size() != 2 || std::int64_t(shape[1]) != m.features)
    throw DeckError(cfg.file + ": /features must be [N][" + std::to_string(m.features) +
                    "] (the first of classifier.widths); it is " +
                    (shape.size() == 2
                         ? "[" + std::to_string(shape[0]) + "][" + std::to_string(shape[1]) + "]"
                         : std::to_string(shape.size()) + "-dimensional"));
  Dataset d;
  d.n = std::int64_t(shape[0]);
  d.features = m.features;
  d.x = finite_values(*in, "/features", shape[0] * shape[1], "features");
  if (in->exists("/labels")) {
    const auto l = in->values<std::int64_t>("/labels");
    if (l.size() != shape[0])
      throw DeckError(cfg.file + ": /labels has " + std::to_string(l.size()) + " values for " +
                      std::to_string(shape[0]) + " observations");
    for (std::size_t i = 0; i < l.size(); ++i) {
      if (l[i] < 0 || l[i] >= m.classes)
        throw DeckError(cfg.file + ": /labels: label " + std::to_string(l[i]) + " of observation " +
                        std::to_string(i) + " is outside 0.." + std::to_string(m.classes - 1));
      d.labels.push_back(std::int32_t(l[i]));
    }
  }
  if (cfg.trains() && d.labels.empty() && cfg.loss == Loss::cross_entropy)
    throw DeckError(cfg.file + ": training with loss = \"cross_entropy\" needs /labels");
  if (in->exists("/track_id") != in->exists("/frame"))
    throw DeckError(cfg.file + ": /track_id and /frame come together");
  if (in->exists("/track_id")) {
    d.track = in->values<std::int64_t>("/track_id");
    d.frame = in->values<std::int64_t>("/frame");
    if (d.track.size() != shape[0] || d.frame.size() != shape[0])
      throw DeckError(cfg.file + ": /track_id and /frame need one value per observation");
    for (std::size_t i = 0; i < d.track.size(); ++i)
      if (d.track[i] < 0 || d.frame[i] < 0)
        throw DeckError(cfg.file + ": /track_id and /frame must be >= 0 (observation " + std::to_string(i) +
                        ")");
    for (std::size_t i = 1; i < d.track.size(); ++i)
      if (d.track[i] < d.track[i - 1] || (d.track[i] == d.track[i - 1] && d.frame[i] <= d.frame[i - 1]))
        throw DeckError(cfg.file + ": observations must be ordered by (track_id, frame); observation " +
                        std::to_string(i) + " is not");
  }
  return d;
}

Shape::Shape(const std::vector<std::int64_t>& w) : widths(w) {
  for (std::size_t l = 0; l + 1 < w.size(); ++l) {
    w_at.push_back(parameters);
    parameters += w[l + 1] * w[l];
    b_at.push_back(parameters);
    parameters += w[l + 1];
  }
}

std::vector<double> initial_weights(const Shape& shape, std::uint64_t seed) {
  std::vector<double> p(shape.parameters);
  for (std::size_t l = 0; l < shape.w_at.size(); ++l) {
    const double bound = 1.0 / std::sqrt(double(shape.widths[l]));
    const std::int64_t end = shape.b_at[l] + shape.widths[l + 1];
    for (std::int64_t k = shape.w_at[l]; k < end; ++k)
      p[k] = bound *
             (2 * uniform(seed, std::uint32_t(k), std::uint32_t(k >> 32), 0, rng::classifier_weights) - 1);
  }
  return p;
}

std::vector<double> read_weights(const Shape& shape, const std::string& file) {
  H5Reader in(file);
  std::vector<double> p(shape.parameters);
  const std::size_t layers = shape.w_at.size();
  for (std::size_t l = 0;; ++l) {
    const std::string W = "/classifier/weights/W" + std::to_string(l),
                      b = "/classifier/weights/b" + std::to_string(l);
    if (l == layers) {
      if (in.exists(W))
        throw DeckError(file + ": has more layers than classifier.widths gives (" + std::to_string(layers) +
                        ")");
      break;
    }
    if (!in.exists(W) || !in.exists(b))
      throw DeckError(file + ": no " + W + " and " + b + " (classifier.widths gives " +
                      std::to_string(layers) + " layers)");
    const auto sw = in.shape(W), sb = in.shape(b);
    const auto out = std::uint64_t(shape.widths[l + 1]), inw = std::uint64_t(shape.widths[l]);
    if (sw.size() != 2 || sw[0] != out || sw[1] != inw || sb.size() != 1 || sb[0] != out)
      throw DeckError(file + ": layer " + std::to_string(l) + " is not " + std::to_string(inw) + " -> " +
                      std::to_string(out) + " as classifier.widths gives (W" + std::to_string(l) +
                      " must be [" + std::to_string(out) + "][" + std::to_string(inw) + "])");
    const auto wv = in.values<double>(W), bv = in.values<double>(b);
    for (double v : wv)
      if (!std::isfinite(v)) throw DeckError(file + ": " + W + " holds a non-finite weight");
    for (double v : bv)
      if (!std::isfinite(v)) throw DeckError(file + ": " + b + " holds a non-finite bias");
    std::copy(wv.begin(), wv.end(), p.begin() + shape.w_at[l]);
    std::copy(bv.begin(), bv.end(), p.begin() + shape.b_at[l]);
  }
  return p;
}

Exact exact_posterior(const GenerativeModel& m, const double* o) {
  const auto j = m.log_joint(o);
  const double mx = *std::max_element(j.begin(), j.end());
  double sum = 0;
  for (double v : j) sum += std::exp(v - mx);
  const double lse = mx + std::log(sum);
  Exact e;
  e.surprise = -lse;
  e.decision = int(std::max_element(j.begin(), j.end()) - j.begin());
  for (double v : j) e.posterior.push_back(std::exp(v - lse));
  return e;
}

}  // namespace prism::classifier
