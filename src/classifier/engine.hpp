#pragma once
// The classifier's device side: the network's parameters, the generative
// model and a dataset on the default execution space, and the three things
// done with them: per-observation gradients summed exactly (training),
// per-observation metrics summed exactly (validation), and inference.
#include <cstdint>
#include <memory>
#include <vector>

#include "classifier/model.hpp"

namespace prism {
class MpiContext;
}

namespace prism::classifier {

// Per-observation outputs of inference, for observations [first, first + n).
struct Inference {
  std::vector<double> q, posterior;  // [n][classes]
  std::vector<double> free_energy, surprise, entropy;
  std::vector<std::int32_t> decision;
};

// Sums over a set of observations (exact, the same for any split over ranks).
struct Sums {
  double loss = 0, correct = 0, free_energy = 0, surprise = 0;
  std::int64_t count = 0;
};

// Column sums of a [rows][columns] host matrix over all ranks' rows, each
// element rounded once to 64-bit fixed point (one scale per column from the
// largest magnitude on any rank): the same bits for any split of the rows.
std::vector<double> exact_column_sums(const std::vector<double>& m, std::int64_t columns,
                                      std::int64_t total_rows, const MpiContext& mpi);

// The largest minibatch the gradient work space holds (one rank may get a
// whole minibatch, so decks are checked against this for any rank count).
std::int64_t max_batch(const Shape& shape);

class Engine {
 public:
  Engine(const Config& cfg, const GenerativeModel& model, const Shape& shape);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void set_parameters(const std::vector<double>& p);
  // Makes `d` the dataset the calls below read (copied to the device).
  void load(const Dataset& d);

  // The mean loss gradient (and mean loss) over the observations `rows` of
  // the loaded dataset, of which this rank takes block_partition's share:
  // every rank returns the same bits for any number of ranks.
  std::vector<double> gradient(const std::vector<std::int64_t>& rows, const MpiContext& mpi,
                               double* mean_loss);
  // Loss, correct decisions (labels needed), F and -ln p(o) summed over all
  // observations of the loaded dataset, shared over ranks.
  Sums evaluate(const MpiContext& mpi);
  // Inference of observations [first, first + n) of the loaded dataset on this rank.
  Inference infer(std::int64_t first, std::int64_t n);
  // The same, leaving the results on the device (benchmarks).
  void infer_on_device(std::int64_t first, std::int64_t n);
  // One observation's per-sample gradient and loss (tests).
  std::vector<double> sample_gradient(std::int64_t row, double* loss);
  // Test hook: infer with logits ln p(o | s) + ln p(s), so q is the exact posterior.
  void use_exact_logits(bool on) { exact_logits_ = on; }
  // Test and benchmark hook: the general inference kernel even where the fused tile kernel applies.
  void use_generic_kernel(bool on) { generic_kernel_ = on; }
  // Whether inference uses the fused tile kernel (the default 100-64-32-16-5 network).
  bool tile_kernel() const { return tile_ && !generic_kernel_; }
  // Float inference of the default network on NVIDIA tensor cores (3xTF32,
  // kernels/classifier/infer_tensor.hpp) where the build targets compute
  // capability 8.0 or later; on by default, off to run the float tile
  // kernel instead (tests, benchmarks).
  void use_tensor_cores(bool on) { tensor_ = on; }
  bool tensor_kernel() const;
  // Benchmark hook: observations per thread of the float tile kernel (1 or
  // 2; by default 2 on host backends, where the pair vectorises, 1 on GPUs),
  // and 16-row tiles per warp of the tensor-core kernel (1 by default).
  void use_tile_observations(int k) { tile_observations_ = k == 2 ? 2 : 1; }

 private:
  // Losses and gradient rows of the first `count` slots of the rows view.
  void launch_gradient(std::int64_t count);
  void ensure_gradient_space();
  // The copies of the weights that the chosen inference kernel reads, made
  // again only after set_parameters.
  void refresh_inference_copies(bool tile);
  void infer_chunks(std::int64_t first, std::int64_t n, Inference* out);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Config cfg_;
  Shape shape_;
  std::int64_t chunk_;
  bool exact_logits_ = false, generic_kernel_ = false, tile_ = false, tensor_ = true;
  int tile_observations_ = 0;  // 0: the backend's default
};

}  // namespace prism::classifier
