#pragma once
// The classifier's host-side model and data: the Gaussian generative model
// p(o | s) p(s), the built-in generator of labelled observations and tracks,
// HDF5 input, the network's shape and initial weights, and the exact
// (Bayes) posterior the network is judged against.
#include <cstdint>
#include <string>
#include <vector>

#include "classifier/classifier_config.hpp"

namespace prism {
class Deck;
}

namespace prism::classifier {

// p(o | s) = N(o; mu_s, diag sigma_s^2), prior p(s).
struct GenerativeModel {
  std::int64_t classes = 0, features = 0;
  std::vector<double> mu, sigma;  // [class][feature]
  std::vector<double> prior;
  // ln p(o | s) + ln p(s) for every class.
  std::vector<double> log_joint(const double* o) const;
};

// Observations [n][features], labels (or empty), and for tracks the track
// and frame of each observation (or empty).
struct Dataset {
  std::int64_t n = 0, features = 0;
  std::vector<double> x;
  std::vector<std::int32_t> labels;
  std::vector<std::int64_t> track, frame;
};

// The generator's model: class means mu_sd = separation * N(0, 1) and widths
// sigma_sd = 0.9 + 0.2 U(0, 1), drawn from data_seed; the deck's prior.
GenerativeModel generate_model(const Config& cfg);
// n labelled observations of set `set` (0 train, 1 validation, 2 test):
// label from the prior, features from p(o | label).
Dataset generate(const Config& cfg, const GenerativeModel& m, std::uint32_t set, std::int64_t n);
// cfg.tracks tracks of cfg.frames frames (set 3): a class from the prior,
// which switches to another class drawn from the prior with probability
// cfg.switch_probability before each later frame.
Dataset generate_tracks(const Config& cfg, const GenerativeModel& m);

// The model and the data of an hdf5 run (errors name the file and dataset).
GenerativeModel read_model(const Config& cfg, Deck& deck);
Dataset read_dataset(const Config& cfg, Deck& deck, const GenerativeModel& m);

// Parameter offsets of the network (PyTorch order: W_l [out][in], then b_l).
struct Shape {
  std::vector<std::int64_t> widths, w_at, b_at;
  std::int64_t parameters = 0;
  explicit Shape(const std::vector<std::int64_t>& widths);
};
// PyTorch's nn.Linear default: U(-1/sqrt(in), 1/sqrt(in)) for W and b, from weight_seed.
std::vector<double> initial_weights(const Shape& shape, std::uint64_t seed);
// Weights from a prism output (/classifier/weights/W<l>, b<l>); errors name
// the file and the layer whose shape differs from the deck's widths.
std::vector<double> read_weights(const Shape& shape, const std::string& file);

// The exact posterior's decision and -ln p(o) of observation i (host).
struct Exact {
  std::vector<double> posterior;
  double surprise;
  int decision;
};
Exact exact_posterior(const GenerativeModel& m, const double* o);

}  // namespace prism::classifier
