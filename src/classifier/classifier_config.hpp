#pragma once
// Validated settings of the classifier workload (an active-inference
// classifier: a recognition network q(class | observation) against a
// Gaussian generative model, free energy, belief updating, training).
#include <cstdint>
#include <string>
#include <vector>

namespace prism {
class Deck;
}

namespace prism::classifier {

enum class Mode { train, infer, train_then_infer };
enum class Loss { cross_entropy, free_energy };
enum class Schedule { constant, cosine };

struct Config {
  Mode mode = Mode::train_then_infer;
  // Network widths: features, hidden layers..., classes (ReLU between layers).
  std::vector<std::int64_t> widths{100, 64, 32, 16, 5};
  std::vector<double> prior{0.7, 0.1, 0.1, 0.05, 0.05};
  // Class transitions between frames of a track, [from][to]; empty: identity.
  std::vector<double> transitions;

  // Data: the built-in generator, or an HDF5 file.
  bool generated = true;
  std::string file;             // hdf5: features [N][D], optional labels [N], track_id [N], frame [N]
  std::string model_file;       // optional: the generative model (mu, sigma, prior) from HDF5
  std::string weights_file;     // optional: initial / inference weights (the /classifier/weights layout)
  std::uint64_t data_seed = 1;  // generator: model and samples
  double separation = 0.25;     // generator: spread of the class means (feature units)
  std::int64_t train_samples = 20000, validation_samples = 4000, test_samples = 20000;
  std::int64_t tracks = 100, frames = 10;  // generator: tracks of the infer set
  double switch_probability = 0.0;         // generator: per-frame class change in tracks

  // Training.
  Loss loss = Loss::cross_entropy;
  std::int64_t epochs = 30, batch = 256, patience = 5;
  double learning_rate = 2e-3, weight_decay = 1e-2, beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;
  Schedule schedule = Schedule::cosine;
  std::uint64_t weight_seed = 1;  // initial weights and the minibatch order

  // Inference: the network in float (logits, softmax, likelihoods and F in double), or all in double.
  bool float_inference = true;
  // Inference output: per-observation datasets up to this many observations (then summaries only).
  std::int64_t keep_per_observation = 1'000'000;
  std::int64_t calibration_bins = 10;

  std::int64_t features() const { return widths.front(); }
  std::int64_t classes() const { return widths.back(); }
  bool trains() const { return mode != Mode::infer; }
  bool infers() const { return mode != Mode::train; }
};

Config parse_config(Deck& deck);
const char* mode_name(Mode m);

}  // namespace prism::classifier
