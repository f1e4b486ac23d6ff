// The active-inference classifier against exact maths: gradients against
// finite differences, F >= -ln p(o) with equality at the exact posterior,
// Bayes-optimal accuracy after training, exact belief updating, and clean
// errors on bad data.  Runs on the default execution space.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "classifier/engine.hpp"
#include "classifier/model.hpp"
#include "classifier/workload.hpp"
#include "core/deck.hpp"
#include "core/h5_reader.hpp"
#include "core/h5_writer.hpp"
#include "core/mpi_context.hpp"
#include "test_env.hpp"

namespace prism::classifier {
namespace {

Config small_config() {
  Config c;
  c.widths = {20, 32, 16, 5};
  c.separation = 0.6;
  return c;
}

// Backpropagation equals central finite differences of the per-sample loss
// for every parameter of every layer (weights and biases), for both losses.
TEST(ClassifierMaths, GradientsEqualFiniteDifferences) {
  for (const auto loss : {Loss::cross_entropy, Loss::free_energy}) {
    Config cfg = small_config();
    cfg.widths = {6, 7, 5, 4};
    cfg.prior = {0.4, 0.3, 0.2, 0.1};
    cfg.loss = loss;
    const auto model = generate_model(cfg);
    const auto data = generate(cfg, model, 0, 8);
    const Shape shape(cfg.widths);
    auto w = initial_weights(shape, 5);
    Engine e(cfg, model, shape);
    e.load(data);
    for (std::int64_t row : {0, 3, 7}) {
      e.set_parameters(w);
      double f0 = 0;
      const auto g = e.sample_gradient(row, &f0);
      double worst = 0;
      for (std::int64_t k = 0; k < shape.parameters; ++k) {
        const double h = 1e-6 * std::max(1.0, std::fabs(w[k]));
        auto v = w;
        double up = 0, down = 0;
        v[k] = w[k] + h;
        e.set_parameters(v);
        e.sample_gradient(row, &up);
        v[k] = w[k] - h;
        e.set_parameters(v);
        e.sample_gradient(row, &down);
        const double fd = (up - down) / (2 * h);
        worst = std::max(worst, std::fabs(fd - g[k]) / std::max(1.0, std::fabs(fd)));
      }
      EXPECT_LT(worst, 1e-7) << (loss == Loss::free_energy ? "free energy" : "cross-entropy") << ", row "
                             << row;
      EXPECT_TRUE(std::isfinite(f0));
    }
  }
}

// The minibatch gradient (rows summed in fixed point, this rank's share of
// the world) is the mean of the per-observation gradients, for both losses.
TEST(ClassifierMaths, MinibatchGradientIsTheMeanOfTheRows) {
  for (const auto loss : {Loss::cross_entropy, Loss::free_energy}) {
    Config cfg = small_config();
    cfg.loss = loss;
    const auto model = generate_model(cfg);
    const auto data = generate(cfg, model, 0, 64);
    const Shape shape(cfg.widths);
    Engine e(cfg, model, shape);
    e.set_parameters(initial_weights(shape, 3));
    e.load(data);
    const std::vector<std::int64_t> rows{5, 17, 2, 40, 33, 9, 63};
    double mean_loss = 0;
    const auto g = e.gradient(rows, *test::world, &mean_loss);
    std::vector<double> expected(shape.parameters, 0.0);
    double expected_loss = 0;
    for (auto r : rows) {
      double l = 0;
      const auto gr = e.sample_gradient(r, &l);
      for (std::int64_t k = 0; k < shape.parameters; ++k) expected[k] += gr[k] / double(rows.size());
      expected_loss += l / double(rows.size());
    }
    double worst = 0, largest = 0;
    for (std::int64_t k = 0; k < shape.parameters; ++k) {
      worst = std::max(worst, std::fabs(g[k] - expected[k]));
      largest = std::max(largest, std::fabs(expected[k]));
    }
    EXPECT_GT(largest, 1e-3);
    EXPECT_LT(worst, 1e-13 * largest) << (loss == Loss::free_energy ? "free energy" : "cross-entropy");
    EXPECT_NEAR(mean_loss, expected_loss, 1e-12 * std::fabs(expected_loss));
  }
}

// F >= -ln p(o) for any network (float and double inference); F = -ln p(o)
// when q is the exact posterior (double).
TEST(ClassifierMaths, FreeEnergyBoundsTheSurprise) {
  for (const bool single : {true, false}) {
    Config cfg = small_config();
    cfg.float_inference = single;
    const auto model = generate_model(cfg);
    const auto data = generate(cfg, model, 2, 500);
    const Shape shape(cfg.widths);
    Engine e(cfg, model, shape);
    e.set_parameters(initial_weights(shape, 9));
    e.load(data);
    auto out = e.infer(0, data.n);
    for (std::int64_t i = 0; i < data.n; ++i) {
      EXPECT_GE(out.free_energy[i], out.surprise[i] - 1e-9 * std::fabs(out.surprise[i])) << i;
      // The exact posterior and -ln p(o) agree with a host evaluation.
      const auto ex = exact_posterior(model, &data.x[i * cfg.features()]);
      EXPECT_NEAR(out.surprise[i], ex.surprise, 1e-10 * std::fabs(ex.surprise));
      for (std::int64_t s = 0; s < cfg.classes(); ++s)
        EXPECT_NEAR(out.posterior[i * 5 + s], ex.posterior[s], 1e-12);
    }
    if (single) continue;
    e.use_exact_logits(true);
    out = e.infer(0, data.n);
    for (std::int64_t i = 0; i < data.n; ++i) {
      EXPECT_NEAR(out.free_energy[i], out.surprise[i], 1e-12 * std::fabs(out.surprise[i])) << i;
      EXPECT_NEAR(out.q[i * 5 + 2], out.posterior[i * 5 + 2], 1e-14);
    }
  }
}

// With identity transitions, T frames of the exact update equal one update
// with the product of the frames' likelihoods.
TEST(ClassifierMaths, BeliefUpdatingMultipliesLikelihoods) {
  Config cfg = small_config();
  cfg.tracks = 3;
  cfg.frames = 6;
  const auto model = generate_model(cfg);
  const auto tracks = generate_tracks(cfg, model);
  const std::int64_t C = cfg.classes(), D = cfg.features();
  for (std::int64_t t = 0; t < cfg.tracks; ++t) {
    std::vector<double> belief = model.prior, log_product(C, 0.0);
    for (std::int64_t f = 0; f < cfg.frames; ++f) {
      const double* o = &tracks.x[(t * cfg.frames + f) * D];
      const auto ex = exact_posterior(model, o);
      belief = predict(update_belief(belief, ex.posterior.data(), model.prior), {});
      const auto j = model.log_joint(o);
      for (std::int64_t s = 0; s < C; ++s) log_product[s] += j[s] - std::log(model.prior[s]);
    }
    std::vector<double> expected(C);
    double mx = -INFINITY, total = 0;
    for (std::int64_t s = 0; s < C; ++s)
      mx = std::max(mx, expected[s] = std::log(model.prior[s]) + log_product[s]);
    for (auto& v : expected) total += v = std::exp(v - mx);
    for (std::int64_t s = 0; s < C; ++s) EXPECT_NEAR(belief[s], expected[s] / total, 1e-12) << "track " << t;
  }
}

// Trained on the generator's data, the network's accuracy is within 1 % of
// the Bayes-optimal decision's on the same test set, and its mean F within
// 0.05 nats of the mean -ln p(o).
TEST(ClassifierPhysics, TrainingReachesTheBayesOptimum) {
  Config cfg = small_config();
  cfg.train_samples = 40000;
  cfg.validation_samples = 4000;
  cfg.test_samples = 20000;
  cfg.tracks = 0;
  cfg.epochs = 20;
  cfg.learning_rate = 3e-3;
  const auto model = generate_model(cfg);
  ClassifierWorkload w(cfg, model, generate(cfg, model, 0, cfg.train_samples),
                       generate(cfg, model, 1, cfg.validation_samples),
                       generate(cfg, model, 2, cfg.test_samples), Dataset{},
                       initial_weights(Shape(cfg.widths), cfg.weight_seed));
  test::run_workload(w, 1);
  if (!test::world->root()) return;
  EXPECT_GT(w.bayes_accuracy(), 0.85);  // the problem is neither trivial ...
  EXPECT_LT(w.bayes_accuracy(), 0.99);  // ... nor hopeless
  EXPECT_GT(w.accuracy(), w.bayes_accuracy() - 0.01);
  EXPECT_NEAR(w.mean_free_energy(), w.mean_surprise(), 0.05);
  EXPECT_GE(w.mean_free_energy(), w.mean_surprise());
}

// Inference equals PyTorch's on the same weights and observations
// (tests/reference/classifier_torch): double inference against float64 to
// 1e-12, float inference against float32 to 1e-6.
TEST(ClassifierMaths, InferenceEqualsPyTorch) {
  const std::string file = std::string(PRISM_SOURCE_DIR) + "/tests/reference/classifier_torch/reference.h5";
  Config cfg;  // the default 100-64-32-16-5 network
  const Shape shape(cfg.widths);
  const auto weights = read_weights(shape, file);
  H5Reader in(file);
  Dataset d;
  d.features = cfg.features();
  d.x = in.values<double>("/features");
  d.n = std::int64_t(d.x.size()) / d.features;
  ASSERT_EQ(d.n, 256);
  const auto q64 = in.values<double>("/torch_q64"), q32 = in.values<double>("/torch_q32");
  for (const bool single : {false, true}) {
    cfg.float_inference = single;
    Engine e(cfg, generate_model(cfg), shape);
    e.set_parameters(weights);
    e.load(d);
    const auto out = e.infer(0, d.n);
    const auto& ref = single ? q32 : q64;
    double worst = 0;
    for (std::size_t k = 0; k < out.q.size(); ++k) worst = std::max(worst, std::fabs(out.q[k] - ref[k]));
    EXPECT_LT(worst, single ? 1e-6 : 1e-12) << (single ? "float" : "double");
  }
  // The observations are the generator's: the reference is reproducible.
  const auto again = generate(cfg, generate_model(cfg), 2, 256);
  EXPECT_EQ(again.x, d.x);
}

// The fused tile kernel of the default network gives the general kernel's
// outputs (same sums in the same order), in both precisions, with the
// network's logits and with the exact-posterior hook, over a count of
// observations that leaves a partial tile.
TEST(ClassifierMaths, FusedInferenceEqualsTheGeneralKernel) {
  Config cfg;  // the default 100-64-32-16-5 network
  const auto model = generate_model(cfg);
  const auto data = generate(cfg, model, 2, 1000);
  const Shape shape(cfg.widths);
  const auto weights = initial_weights(shape, 4);
  for (const bool single : {false, true})
    for (const bool exact : {false, true}) {
      cfg.float_inference = single;
      Engine e(cfg, model, shape);
      e.set_parameters(weights);
      e.load(data);
      e.use_exact_logits(exact);
      e.use_tensor_cores(false);  // the tensor-core kernel has its own test below
      ASSERT_TRUE(e.tile_kernel());
      const auto tile = e.infer(3, data.n - 3);
      if (single) {  // two observations per thread: the same outputs
        e.use_tile_observations(2);
        const auto pairs = e.infer(3, data.n - 3);
        EXPECT_EQ(pairs.q, tile.q);
        EXPECT_EQ(pairs.free_energy, tile.free_energy);
        e.use_tile_observations(1);
      }
      e.use_generic_kernel(true);
      ASSERT_FALSE(e.tile_kernel());
      const auto general = e.infer(3, data.n - 3);
      const double tol = single ? 1e-6 : 1e-12;
      const std::string what = std::string(single ? "float" : "double") + (exact ? ", exact logits" : "");
      for (std::size_t k = 0; k < tile.q.size(); ++k) {
        ASSERT_NEAR(tile.q[k], general.q[k], tol) << what << " " << k;
        ASSERT_NEAR(tile.posterior[k], general.posterior[k], 1e-12) << what << " " << k;
      }
      for (std::size_t i = 0; i < tile.free_energy.size(); ++i) {
        ASSERT_NEAR(tile.free_energy[i], general.free_energy[i],
                    tol * (1 + std::fabs(general.free_energy[i])))
            << what << " " << i;
        ASSERT_NEAR(tile.surprise[i], general.surprise[i], 1e-12 * std::fabs(general.surprise[i])) << what;
        ASSERT_NEAR(tile.entropy[i], general.entropy[i], tol) << what << " " << i;
        ASSERT_EQ(tile.decision[i], general.decision[i]) << what << " " << i;
      }
    }
}

// The tensor-core kernel (float inference on NVIDIA GPUs, 3xTF32) agrees with
// the float tile kernel to float accuracy (a single TF32 pass would miss
// the q bound by orders of magnitude), with the network's logits and with the
// exact-posterior hook, over a partial tile; and every observation's outputs
// are the same bits however the observations are cut into calls.
TEST(ClassifierMaths, TensorCoreInferenceAgreesWithTheTileKernel) {
  Config cfg;  // the default 100-64-32-16-5 network
  cfg.float_inference = true;
  const auto model = generate_model(cfg);
  const auto data = generate(cfg, model, 2, 1000);
  const Shape shape(cfg.widths);
  const auto weights = initial_weights(shape, 4);
  Engine e(cfg, model, shape);
  if (!e.tensor_kernel()) GTEST_SKIP() << "no tensor-core kernel in this build";
  e.set_parameters(weights);
  e.load(data);
  for (const bool exact : {false, true}) {
    e.use_exact_logits(exact);
    e.use_tensor_cores(true);
    e.use_tile_observations(1);
    const auto tensor = e.infer(3, data.n - 3);
    const auto part = e.infer(40, 517);
    e.use_tile_observations(2);  // two tiles per warp: the same bits
    const auto pairs = e.infer(3, data.n - 3);
    EXPECT_EQ(pairs.q, tensor.q) << (exact ? "exact logits" : "network");
    EXPECT_EQ(pairs.free_energy, tensor.free_energy);
    EXPECT_EQ(pairs.posterior, tensor.posterior);
    e.use_tile_observations(1);
    e.use_tensor_cores(false);
    const auto tile = e.infer(3, data.n - 3);
    const std::string what = exact ? "exact logits" : "network";
    const std::size_t C = 5;
    double worst = 0;
    for (std::size_t k = 0; k < tile.q.size(); ++k) {
      worst = std::max(worst, std::fabs(tensor.q[k] - tile.q[k]));
      ASSERT_NEAR(tensor.posterior[k], tile.posterior[k], 1e-12) << what << " " << k;
    }
    EXPECT_LT(worst, 1e-6) << what;
    std::printf("%s: largest |q_tensor - q_tile| = %.3g\n", what.c_str(), worst);
    for (std::size_t i = 0; i < tile.free_energy.size(); ++i) {
      ASSERT_NEAR(tensor.free_energy[i], tile.free_energy[i], 1e-6 * (1 + std::fabs(tile.free_energy[i])))
          << what << " " << i;
      ASSERT_NEAR(tensor.surprise[i], tile.surprise[i], 1e-12 * std::fabs(tile.surprise[i])) << what;
      ASSERT_NEAR(tensor.entropy[i], tile.entropy[i], 1e-6) << what << " " << i;
      // The decision may differ only where two classes are tied to float accuracy.
      if (tensor.decision[i] != tile.decision[i])
        ASSERT_NEAR(tile.q[i * C + tile.decision[i]], tile.q[i * C + tensor.decision[i]], 1e-6) << what << i;
    }
    // Observations 40 ... 556 are slots 37 ... 553 of the first call.
    for (std::size_t i = 0; i < part.free_energy.size(); ++i) {
      ASSERT_EQ(part.free_energy[i], tensor.free_energy[i + 37]) << what << " " << i;
      ASSERT_EQ(part.surprise[i], tensor.surprise[i + 37]) << what << " " << i;
      for (std::size_t s = 0; s < C; ++s) ASSERT_EQ(part.q[i * C + s], tensor.q[(i + 37) * C + s]) << what;
    }
  }
}

// Bad data: each a DeckError naming the file and what is wrong.
TEST(ClassifierInput, BadDataFilesAreRefused) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("prism_classifier_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const Config cfg = small_config();
  const auto model = generate_model(cfg);
  auto write = [&](const std::string& name, auto fill) {
    const auto path = (dir / name).string();
    std::filesystem::remove(path);
    H5Writer out(path);
    fill(out);
    out.commit(true);
    return path;
  };
  const auto model_file = write("model.h5", [&](H5Writer& out) {
    out.write("/mu", model.mu, {5, 20});
    out.write("/sigma", model.sigma, {5, 20});
  });
  auto features = [&](std::uint64_t n, std::uint64_t d, double bad) {
    std::vector<double> x(n * d, 0.5);
    x[3] = bad;
    return x;
  };
  struct Case {
    std::string file, expect;
  };
  const std::vector<Case> cases{
      {write("width.h5",
             [&](H5Writer& o) {
               o.write("/features", features(10, 19, 0.1), {10, 19});
             }),
       "/features must be [N][20]"},
      {write("nan.h5",
             [&](H5Writer& o) {
               o.write("/features", features(10, 20, NAN), {10, 20});
             }),
       "value 3 is not finite"},
      {write("labels.h5",
             [&](H5Writer& o) {
               o.write("/features", features(10, 20, 0.1), {10, 20});
               o.write("/labels", std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 0, 0, 0, 0});
             }),
       "label 5 of observation 5 is outside 0..4"},
  };
  for (const auto& c : cases) {
    auto deck = Deck::from_string(
        "[classifier]\nwidths = [20, 32, 16, 5]\nsource = \"hdf5\"\nmode = \"train\"\n"
        "validation_samples = 2\nfile = \"" +
            c.file + "\"\nmodel_file = \"" + model_file + "\"\n",
        "bad.toml");
    try {
      make_workload(deck);
      ADD_FAILURE() << "accepted " << c.file;
    } catch (const DeckError& e) {
      EXPECT_NE(std::string(e.what()).find(c.expect), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.file), std::string::npos) << e.what();
    }
  }
  // Weights of another architecture.
  const auto weights = write("weights.h5", [&](H5Writer& o) {
    o.group("/classifier/weights");
    o.write("/classifier/weights/W0", std::vector<double>(32 * 21, 0.0), {32, 21});
    o.write("/classifier/weights/b0", std::vector<double>(32, 0.0));
  });
  auto deck = Deck::from_string(
      "[classifier]\nwidths = [20, 32, 16, 5]\nmode = \"infer\"\nweights_file = \"" + weights + "\"\n",
      "bad.toml");
  try {
    make_workload(deck);
    ADD_FAILURE() << "accepted weights of another architecture";
  } catch (const DeckError& e) {
    EXPECT_NE(std::string(e.what()).find("layer 0 is not 20 -> 32"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace prism::classifier
