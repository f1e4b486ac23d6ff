#pragma once
// classifier as a prism workload: an active-inference classifier.  A ReLU
// MLP q(class | o) is trained (AdamW, cosine schedule, early stopping on a
// validation set; cross-entropy or the free energy itself) with minibatches
// split over ranks and gradients summed exactly, so training gives the same
// weights on any number of ranks; then it is run against the Gaussian
// generative model: q, the exact posterior, F, -ln p(o), decisions,
// calibration, and belief updating along tracks.
#include <cmath>
#include <memory>

#include "classifier/classifier_config.hpp"
#include "classifier/model.hpp"
#include "core/workload.hpp"

namespace prism::classifier {

struct Epoch {
  double learning_rate = 0, train_loss = 0;
  double validation_loss = 0, validation_accuracy = 0, validation_free_energy = 0, validation_surprise = 0;
};

// One frame's belief from the previous frame's prediction `prior` and the
// frame's class scores `q` (a network's q, or the exact posterior), both
// made under the training prior p0: b(s) ∝ q(s) / p0(s) * prior(s).
std::vector<double> update_belief(const std::vector<double>& prior, const double* q,
                                  const std::vector<double>& p0);
// The next frame's prior: prior'(t) = sum_s b(s) T[s][t] (identity when T is empty).
std::vector<double> predict(const std::vector<double>& belief, const std::vector<double>& transitions);

class ClassifierWorkload final : public Workload {
 public:
  ClassifierWorkload(Config cfg, GenerativeModel model, Dataset train, Dataset validation, Dataset test,
                     Dataset tracks, std::vector<double> weights);

  std::string name() const override { return "classifier"; }
  std::int64_t units() const override;
  std::string units_key() const override { return cfg_.trains() ? "train_samples" : "test_samples"; }
  std::string units_name() const override { return "observations"; }

  void run(RunContext& ctx) override;
  void write(H5Writer& out) const override;
  Throughput throughput() const override;
  void print_summary(std::FILE* out) const override;
  RunStatus status() const override;

  // After run() (inference results on rank 0).
  const std::vector<double>& weights() const { return weights_; }
  const std::vector<Epoch>& history() const { return history_; }
  double accuracy() const { return accuracy_; }
  double bayes_accuracy() const { return bayes_accuracy_; }
  double mean_free_energy() const { return mean_free_energy_; }
  double mean_surprise() const { return mean_surprise_; }

 private:
  void train(RunContext& ctx);
  void infer(RunContext& ctx);
  const Config cfg_;
  const GenerativeModel model_;
  const Dataset train_, validation_, test_, tracks_;
  const Shape shape_;
  std::vector<double> weights_;
  std::vector<Epoch> history_;
  std::int64_t best_epoch_ = -1, samples_trained_ = 0, observations_inferred_ = 0;
  // Inference (rank 0).
  std::vector<double> q_, posterior_, free_energy_, surprise_, entropy_;
  std::vector<std::int32_t> decision_, bayes_decision_;
  std::vector<std::int64_t> confusion_;
  std::vector<double> calibration_confidence_, calibration_accuracy_;
  std::vector<std::int64_t> calibration_count_;
  std::vector<double> network_belief_, exact_belief_;  // [tracks][frames][classes]
  double accuracy_ = NAN, bayes_accuracy_ = NAN, mean_free_energy_ = NAN, mean_surprise_ = NAN;
  double track_accuracy_ = NAN, exact_track_accuracy_ = NAN;
  std::string error_;
};

std::unique_ptr<Workload> make_workload(Deck& deck);

}  // namespace prism::classifier
