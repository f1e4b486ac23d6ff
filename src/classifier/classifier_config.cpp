#include "classifier/classifier_config.hpp"

#include <toml++/toml.h>

#include <cmath>
#include <filesystem>

#include "core/deck.hpp"

namespace prism::classifier {

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::train:
      return "train";
    case Mode::infer:
      return "infer";
    case Mode::train_then_infer:
      return "train_then_infer";
  }
  return "?";
}

namespace {
const std::string kSection = "classifier";

}  // namespace

Config parse_config(Deck& deck) {
  Config c;
  const auto& s = kSection;
  const auto mode = deck.get_string(s, "mode", "train_then_infer", {"train", "infer", "train_then_infer"});
  c.mode = mode == "train" ? Mode::train : mode == "infer" ? Mode::infer : Mode::train_then_infer;

  if (deck.has(s, "widths")) {
    const auto w = deck.get_numbers(s, "widths", "integer width");
    if (w.size() < 2) deck.fail(s, "widths", "needs at least [features, classes]");
    c.widths.clear();
    for (double v : w) {
      if (v != std::floor(v) || v < 1 || v > 256)
        deck.fail(s, "widths", "every width must be an integer from 1 to 256");
      c.widths.push_back(std::int64_t(v));
    }
    if (c.widths.back() < 2) deck.fail(s, "widths", "the last width (the classes) must be at least 2");
    if (c.widths.size() > 9) deck.fail(s, "widths", "at most 9 entries (8 layers)");
    if (c.widths.back() > 64) deck.fail(s, "widths", "at most 64 classes (the last width)");
  }
  const std::int64_t C = c.classes();
  if (deck.has(s, "prior")) {
    c.prior = deck.get_numbers(s, "prior", "probability");
  } else if (C != 5) {
    c.prior.assign(std::size_t(C), 1.0 / double(C));
  }
  if (std::int64_t(c.prior.size()) != C)
    deck.fail(s, "prior", "needs one probability per class (" + std::to_string(C) + ", the last width)");
  double total = 0;
  for (double p : c.prior) {
    if (!(p > 0)) deck.fail(s, "prior", "every probability must be > 0");
    total += p;
  }
  if (std::fabs(total - 1) > 1e-9)
    deck.fail(s, "prior", "must sum to 1 (sums to " + std::to_string(total) + ")");
  if (deck.has(s, "transitions")) {
    c.transitions = deck.get_numbers(s, "transitions", "probability");
    if (std::int64_t(c.transitions.size()) != C * C)
      deck.fail(s, "transitions",
                "needs classes x classes = " + std::to_string(C * C) + " entries, row-major [from][to]");
    for (std::int64_t a = 0; a < C; ++a) {
      double row = 0;
      for (std::int64_t b = 0; b < C; ++b) {
        if (c.transitions[a * C + b] < 0) deck.fail(s, "transitions", "entries must be >= 0");
        row += c.transitions[a * C + b];
      }
      if (std::fabs(row - 1) > 1e-9)
        deck.fail(s, "transitions", "row " + std::to_string(a) + " must sum to 1");
    }
  }

  const auto source = deck.get_string(s, "source", "generator", {"generator", "hdf5"});
  c.generated = source == "generator";
  if (c.generated) {
    c.data_seed = static_cast<std::uint64_t>(deck.get_int(s, "data_seed", 1, 0, INT64_MAX));
    c.separation = deck.get_double(s, "separation", 0.25, 0.0, 100.0, true);
    c.train_samples = deck.get_int(s, "train_samples", 20000, 0, 1'000'000'000);
    c.validation_samples = deck.get_int(s, "validation_samples", 4000, 0, 1'000'000'000);
    c.test_samples = deck.get_int(s, "test_samples", 20000, 0, 1'000'000'000);
    c.tracks = deck.get_int(s, "tracks", 100, 0, 100'000'000);
    c.frames = deck.get_int(s, "frames", 10, 1, 100'000);
    c.switch_probability = deck.get_double(s, "switch_probability", 0.0, 0.0, 1.0);
    if (c.trains() && c.train_samples < 1)
      deck.fail(s, "train_samples", "training needs at least one sample");
    if (c.trains() && c.validation_samples < 1)
      deck.fail(s, "validation_samples", "training needs a validation set (early stopping)");
  } else {
    c.file = deck.get_path(s, "file", std::nullopt);
    c.model_file = deck.get_path(s, "model_file", std::nullopt);
    c.validation_samples = deck.get_int(s, "validation_samples", 0, 0, 1'000'000'000);
  }
  if (deck.has(s, "weights_file")) c.weights_file = deck.get_path(s, "weights_file", "");
  if (c.mode == Mode::infer && c.weights_file.empty())
    deck.fail(s, "weights_file",
              "mode = \"infer\" needs trained weights (a prism output with /classifier/weights)");

  // Training keys are read in every mode, so that one deck trains and, with
  // mode = "infer" and weights_file, infers.
  {
    c.loss = deck.get_string(s, "loss", "cross_entropy", {"cross_entropy", "free_energy"}) == "free_energy"
                 ? Loss::free_energy
                 : Loss::cross_entropy;
    c.epochs = deck.get_int(s, "epochs", 30, 1, 1'000'000);
    c.batch = deck.get_int(s, "batch", 256, 1, 1'000'000);
    c.patience = deck.get_int(s, "patience", 5, 1, 1'000'000);
    c.learning_rate = deck.get_double(s, "learning_rate", 2e-3, 0.0, 10.0, true);
    c.weight_decay = deck.get_double(s, "weight_decay", 1e-2, 0.0, 10.0);
    c.beta1 = deck.get_double(s, "beta1", 0.9, 0.0, 1.0);
    c.beta2 = deck.get_double(s, "beta2", 0.999, 0.0, 1.0);
    if (c.beta1 >= 1) deck.fail(s, "beta1", "must be < 1");
    if (c.beta2 >= 1) deck.fail(s, "beta2", "must be < 1");
    c.adam_eps = deck.get_double(s, "adam_eps", 1e-8, 0.0, 1.0, true);
    c.schedule = deck.get_string(s, "schedule", "cosine", {"constant", "cosine"}) == "constant"
                     ? Schedule::constant
                     : Schedule::cosine;
  }
  c.float_inference = deck.get_string(s, "precision", "float", {"float", "double"}) == "float";
  c.weight_seed = static_cast<std::uint64_t>(deck.get_int(s, "weight_seed", 1, 0, INT64_MAX));
  c.keep_per_observation = deck.get_int(s, "keep_per_observation", 1'000'000, 0, INT64_MAX);
  c.calibration_bins = deck.get_int(s, "calibration_bins", 10, 1, 1000);
  return c;
}

}  // namespace prism::classifier
