#include "classifier/workload.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "classifier/engine.hpp"
#include "core/deck.hpp"
#include "core/h5_writer.hpp"
#include "core/mpi_context.hpp"
#include "core/progress.hpp"
#include "core/run_config.hpp"
#include "core/timers.hpp"
#include "kernels/common/philox.hpp"

namespace prism::classifier {

std::vector<double> update_belief(const std::vector<double>& prior, const double* q,
                                  const std::vector<double>& p0) {
  std::vector<double> b(prior.size());
  double total = 0;
  for (std::size_t s = 0; s < b.size(); ++s) total += b[s] = q[s] / p0[s] * prior[s];
  for (auto& v : b) v = total > 0 ? v / total : 1.0 / double(b.size());
  return b;
}

std::vector<double> predict(const std::vector<double>& belief, const std::vector<double>& transitions) {
  if (transitions.empty()) return belief;
  const std::size_t C = belief.size();
  std::vector<double> next(C, 0.0);
  for (std::size_t a = 0; a < C; ++a)
    for (std::size_t b = 0; b < C; ++b) next[b] += belief[a] * transitions[a * C + b];
  return next;
}

ClassifierWorkload::ClassifierWorkload(Config cfg, GenerativeModel model, Dataset train, Dataset validation,
                                       Dataset test, Dataset tracks, std::vector<double> weights)
    : cfg_(std::move(cfg)),
      model_(std::move(model)),
      train_(std::move(train)),
      validation_(std::move(validation)),
      test_(std::move(test)),
      tracks_(std::move(tracks)),
      shape_(cfg_.widths),
      weights_(std::move(weights)) {}

std::int64_t ClassifierWorkload::units() const {
  // Ranks share each minibatch's observations (and the inferred ones).
  return cfg_.trains() ? train_.n : test_.n;
}

void ClassifierWorkload::run(RunContext& ctx) {
  if (cfg_.trains()) train(ctx);
  if (cfg_.infers() && error_.empty()) infer(ctx);
}

void ClassifierWorkload::train(RunContext& ctx) {
  const auto& mpi = ctx.mpi;
  // One engine per dataset, each loaded once: the trainer (double only) and
  // the validator (the inference precision of the deck).
  std::optional<Engine> engine, validator;
  {
    auto t = ctx.timers.scope("init");
    Config double_only = cfg_;
    double_only.float_inference = false;
    engine.emplace(double_only, model_, shape_);
    engine->set_parameters(weights_);
    engine->load(train_);
    validator.emplace(cfg_, model_, shape_);
    validator->load(validation_);
  }
  const std::int64_t n = train_.n, P = shape_.parameters;
  const std::int64_t steps_per_epoch = (n + cfg_.batch - 1) / cfg_.batch,
                     total_steps = steps_per_epoch * cfg_.epochs;
  std::vector<double> m(P, 0.0), v(P, 0.0), best = weights_;
  double best_loss = INFINITY;
  std::int64_t step = 0, since_best = 0;
  Progress progress("classifier", cfg_.epochs, "epochs", ctx.show_progress && mpi.root());
  for (std::int64_t epoch = 0; epoch < cfg_.epochs; ++epoch) {
    Epoch e;
    {
      auto t = ctx.timers.scope("train");
      // The epoch's order: a Fisher-Yates shuffle keyed by (weight_seed, epoch), the same on every rank.
      std::vector<std::int64_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      for (std::int64_t i = n - 1; i > 0; --i) {
        const auto u = rng::philox(cfg_.weight_seed, std::uint32_t(i), std::uint32_t(i >> 32),
                                   std::uint32_t(epoch), rng::classifier_batches);
        std::swap(order[i], order[(std::uint64_t(u.v[0]) << 32 | u.v[1]) % std::uint64_t(i + 1)]);
      }
      double loss_sum = 0;
      for (std::int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
        const std::vector<std::int64_t> rows(order.begin() + b * cfg_.batch,
                                             order.begin() + std::min(n, (b + 1) * cfg_.batch));
        double loss = 0;
        const auto g = engine->gradient(rows, mpi, &loss);
        loss_sum += loss * double(rows.size());
        // AdamW (decoupled weight decay, as torch.optim.AdamW), cosine schedule per step.
        const double lr =
            cfg_.schedule == Schedule::cosine
                ? cfg_.learning_rate * 0.5 * (1 + std::cos(M_PI * double(step) / double(total_steps)))
                : cfg_.learning_rate;
        e.learning_rate = lr;
        const double c1 = 1 - std::pow(cfg_.beta1, double(step + 1)),
                     c2 = 1 - std::pow(cfg_.beta2, double(step + 1));
        for (std::int64_t k = 0; k < P; ++k) {
          m[k] = cfg_.beta1 * m[k] + (1 - cfg_.beta1) * g[k];
          v[k] = cfg_.beta2 * v[k] + (1 - cfg_.beta2) * g[k] * g[k];
          weights_[k] *= 1 - lr * cfg_.weight_decay;
          weights_[k] -= lr * (m[k] / c1) / (std::sqrt(v[k] / c2) + cfg_.adam_eps);
        }
        engine->set_parameters(weights_);
      }
      e.train_loss = loss_sum / double(n);
      samples_trained_ += n;
    }
    {
      auto t = ctx.timers.scope("validate");
      validator->set_parameters(weights_);
      const auto s = validator->evaluate(mpi);
      const double N = double(std::max<std::int64_t>(1, s.count));
      e.validation_loss = s.loss / N;
      e.validation_accuracy = s.correct / N;
      e.validation_free_energy = s.free_energy / N;
      e.validation_surprise = s.surprise / N;
    }
    history_.push_back(e);
    progress.update(epoch + 1);
    if (!std::isfinite(e.validation_loss)) {
      error_ = "the validation loss is not finite at epoch " + std::to_string(epoch + 1);
      break;
    }
    // Early stopping on the validation loss; the best epoch's weights are kept.
    if (e.validation_loss < best_loss) {
      best_loss = e.validation_loss;
      best = weights_;
      best_epoch_ = epoch;
      since_best = 0;
    } else if (++since_best >= cfg_.patience) {
      break;
    }
    if (ctx.stop_requested()) break;
  }
  progress.update(cfg_.epochs);  // early stopping ends the count
  progress.finish();
  weights_ = best;
}

void ClassifierWorkload::infer(RunContext& ctx) {
  const auto& mpi = ctx.mpi;
  const std::int64_t C = model_.classes;
  std::optional<Engine> engine;
  {
    auto t = ctx.timers.scope("init");
    engine.emplace(cfg_, model_, shape_);
    engine->set_parameters(weights_);
  }
  // Every rank infers a block of observations; rank 0 gathers them in order.
  auto run_set = [&](const Dataset& d, Inference& all) {
    engine->load(d);
    const Block mine = block_partition(d.n, mpi.size(), mpi.rank());
    const auto out = engine->infer(mine.begin, mine.count);
    std::vector<double> dec(out.decision.begin(), out.decision.end());
    all.q = mpi.gather(out.q);
    all.posterior = mpi.gather(out.posterior);
    all.free_energy = mpi.gather(out.free_energy);
    all.surprise = mpi.gather(out.surprise);
    all.entropy = mpi.gather(out.entropy);
    const auto decisions = mpi.gather(dec);
    all.decision.assign(decisions.begin(), decisions.end());
  };
  Inference test;
  {
    auto t = ctx.timers.scope("infer");
    run_set(test_, test);
    observations_inferred_ = test_.n;
  }
  Inference tracks;
  if (tracks_.n > 0) {
    auto t = ctx.timers.scope("tracks");
    run_set(tracks_, tracks);
  }
  // Every rank keeps the same timer phases (they are gathered by phase).
  if (!mpi.root()) return;
  const std::int64_t n = test_.n;
  if (n <= cfg_.keep_per_observation) {
    q_ = test.q;
    posterior_ = test.posterior;
    free_energy_ = test.free_energy;
    surprise_ = test.surprise;
    entropy_ = test.entropy;
    decision_ = test.decision;
  }
  double f = 0, sur = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    f += test.free_energy[i];
    sur += test.surprise[i];
    if (!std::isfinite(test.free_energy[i]) && error_.empty())
      error_ = "a non-finite free energy at observation " + std::to_string(i);
  }
  mean_free_energy_ = f / double(std::max<std::int64_t>(1, n));
  mean_surprise_ = sur / double(std::max<std::int64_t>(1, n));
  if (!test_.labels.empty()) {
    confusion_.assign(C * C, 0);
    calibration_confidence_.assign(cfg_.calibration_bins, 0.0);
    calibration_accuracy_.assign(cfg_.calibration_bins, 0.0);
    calibration_count_.assign(cfg_.calibration_bins, 0);
    std::int64_t right = 0, bayes_right = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const int y = test_.labels[i], d = test.decision[i];
      const double* post = &test.posterior[i * C];
      const int bayes = int(std::max_element(post, post + C) - post);
      right += d == y;
      bayes_right += bayes == y;
      ++confusion_[y * C + d];
      const double conf = test.q[i * C + d];
      const auto bin = std::min<std::int64_t>(cfg_.calibration_bins - 1,
                                              std::int64_t(conf * double(cfg_.calibration_bins)));
      calibration_confidence_[bin] += conf;
      calibration_accuracy_[bin] += d == y;
      ++calibration_count_[bin];
    }
    for (std::int64_t b = 0; b < cfg_.calibration_bins; ++b)
      if (calibration_count_[b] > 0) {
        calibration_confidence_[b] /= double(calibration_count_[b]);
        calibration_accuracy_[b] /= double(calibration_count_[b]);
      } else {
        calibration_confidence_[b] = calibration_accuracy_[b] = NAN;
      }
    accuracy_ = double(right) / double(std::max<std::int64_t>(1, n));
    bayes_accuracy_ = double(bayes_right) / double(std::max<std::int64_t>(1, n));
  }
  // Belief along each track: the network's and the exact update.
  if (tracks_.n > 0) {
    network_belief_.assign(tracks_.n * C, 0.0);
    exact_belief_.assign(tracks_.n * C, 0.0);
    std::int64_t right = 0, exact_right = 0, finals = 0;
    std::vector<double> pn = model_.prior, pe = model_.prior;
    for (std::int64_t i = 0; i < tracks_.n; ++i) {
      if (i == 0 || tracks_.track[i] != tracks_.track[i - 1]) pn = pe = model_.prior;
      const auto bn = update_belief(pn, &tracks.q[i * C], model_.prior);
      const auto be = update_belief(pe, &tracks.posterior[i * C], model_.prior);
      std::copy(bn.begin(), bn.end(), network_belief_.begin() + i * C);
      std::copy(be.begin(), be.end(), exact_belief_.begin() + i * C);
      pn = predict(bn, cfg_.transitions);
      pe = predict(be, cfg_.transitions);
      const bool last = i + 1 == tracks_.n || tracks_.track[i + 1] != tracks_.track[i];
      if (last && !tracks_.labels.empty()) {
        ++finals;
        right += std::max_element(bn.begin(), bn.end()) - bn.begin() == tracks_.labels[i];
        exact_right += std::max_element(be.begin(), be.end()) - be.begin() == tracks_.labels[i];
      }
    }
    if (finals > 0) {
      track_accuracy_ = double(right) / double(finals);
      exact_track_accuracy_ = double(exact_right) / double(finals);
    }
  }
}

void ClassifierWorkload::write(H5Writer& out) const {
  const std::string g = "/classifier";
  const std::int64_t C = model_.classes, D = model_.features;
  out.group(g);
  out.attribute(g, "mode", mode_name(cfg_.mode));
  out.attribute(g, "classes", C);
  out.attribute(g, "features", D);
  out.attribute(g, "source", cfg_.generated ? "generator" : "hdf5");
  out.write(g + "/widths", cfg_.widths);
  out.write(g + "/prior", model_.prior);
  out.group(g + "/weights");
  out.attribute(g + "/weights", "activation", "relu");
  out.attribute(g + "/weights", "layers", std::int64_t(shape_.w_at.size()));
  for (std::size_t l = 0; l < shape_.w_at.size(); ++l) {
    const auto in = std::uint64_t(shape_.widths[l]), o = std::uint64_t(shape_.widths[l + 1]);
    out.write(g + "/weights/W" + std::to_string(l),
              std::vector<double>(weights_.begin() + shape_.w_at[l], weights_.begin() + shape_.b_at[l]),
              {o, in});
    out.write(g + "/weights/b" + std::to_string(l),
              std::vector<double>(weights_.begin() + shape_.b_at[l], weights_.begin() + shape_.b_at[l] + o));
  }
  out.group(g + "/generative");
  out.write(g + "/generative/mu", model_.mu, {std::uint64_t(C), std::uint64_t(D)});
  out.write(g + "/generative/sigma", model_.sigma, {std::uint64_t(C), std::uint64_t(D)});
  if (cfg_.trains()) {
    const std::string t = g + "/training";
    out.group(t);
    out.attribute(t, "loss", cfg_.loss == Loss::free_energy ? "free_energy" : "cross_entropy");
    out.attribute(t, "batch", cfg_.batch);
    out.attribute(t, "learning_rate", cfg_.learning_rate);
    out.attribute(t, "weight_decay", cfg_.weight_decay);
    out.attribute(t, "schedule", cfg_.schedule == Schedule::cosine ? "cosine" : "constant");
    out.attribute(t, "best_epoch", best_epoch_ + 1);
    out.attribute(t, "train_samples", train_.n);
    out.attribute(t, "validation_samples", validation_.n);
    std::vector<double> lr, tl, vl, va, vf, vs;
    for (const auto& e : history_) {
      lr.push_back(e.learning_rate);
      tl.push_back(e.train_loss);
      vl.push_back(e.validation_loss);
      va.push_back(e.validation_accuracy);
      vf.push_back(e.validation_free_energy);
      vs.push_back(e.validation_surprise);
    }
    out.write(t + "/learning_rate", lr);
    out.write(t + "/train_loss", tl);
    out.write(t + "/validation_loss", vl);
    out.write(t + "/validation_accuracy", va);
    out.write(t + "/validation_free_energy", vf);
    out.write(t + "/validation_surprise", vs);
  }
  if (cfg_.infers()) {
    const std::string i = g + "/inference";
    out.group(i);
    out.attribute(i, "observations", test_.n);
    out.attribute(i, "precision", cfg_.float_inference ? "float" : "double");
    out.attribute(i, "accuracy", accuracy_);
    out.attribute(i, "bayes_accuracy", bayes_accuracy_);
    out.attribute(i, "mean_free_energy", mean_free_energy_);
    out.attribute(i, "mean_surprise", mean_surprise_);
    const auto n = std::uint64_t(test_.n);
    if (!q_.empty() || test_.n == 0) {
      out.write(i + "/q", q_, {n, std::uint64_t(C)});
      out.write(i + "/posterior", posterior_, {n, std::uint64_t(C)});
      out.write(i + "/free_energy", free_energy_);
      out.write(i + "/surprise", surprise_);
      out.write(i + "/entropy", entropy_);
      out.write(i + "/decision", decision_);
      if (!test_.labels.empty()) out.write(i + "/labels", test_.labels);
    }
    if (!confusion_.empty()) {
      out.write(i + "/confusion", confusion_, {std::uint64_t(C), std::uint64_t(C)});
      out.write(i + "/calibration_confidence", calibration_confidence_);
      out.write(i + "/calibration_accuracy", calibration_accuracy_);
      out.write(i + "/calibration_count", calibration_count_);
    }
    if (tracks_.n > 0) {
      const std::string k = g + "/tracks";
      const auto frames = std::uint64_t(tracks_.frame.back() + 1),
                 T = std::uint64_t(tracks_.track.back() + 1);
      out.group(k);
      out.attribute(k, "final_accuracy", track_accuracy_);
      out.attribute(k, "exact_final_accuracy", exact_track_accuracy_);
      // A [tracks][frames] grid only when every track has frames 0, 1, ..., frames - 1 in order.
      bool grid = std::uint64_t(tracks_.n) == T * frames;
      for (std::int64_t i = 0; grid && i < tracks_.n; ++i)
        grid = std::uint64_t(tracks_.track[i]) == std::uint64_t(i) / frames &&
               std::uint64_t(tracks_.frame[i]) == std::uint64_t(i) % frames;
      if (grid) {
        out.write(k + "/network_belief", network_belief_, {T, frames, std::uint64_t(C)});
        out.write(k + "/exact_belief", exact_belief_, {T, frames, std::uint64_t(C)});
      } else {
        out.write(k + "/network_belief", network_belief_, {std::uint64_t(tracks_.n), std::uint64_t(C)});
        out.write(k + "/exact_belief", exact_belief_, {std::uint64_t(tracks_.n), std::uint64_t(C)});
      }
      if (!tracks_.labels.empty()) out.write(k + "/labels", tracks_.labels);
    }
  }
}

Throughput ClassifierWorkload::throughput() const {
  if (cfg_.mode == Mode::infer)
    return {"observations",
            double(observations_inferred_),
            "infer",
            "observations_per_s",
            1.0,
            {{"classes", std::to_string(model_.classes)}}};
  return {
      "samples", double(samples_trained_),
      "train",   "samples_per_s",
      1.0,       {{"parameters", std::to_string(shape_.parameters)}, {"batch", std::to_string(cfg_.batch)}}};
}

void ClassifierWorkload::print_summary(std::FILE* out) const {
  if (!history_.empty()) {
    const auto& e = history_[std::size_t(std::max<std::int64_t>(0, best_epoch_))];
    std::fprintf(
        out,
        "\ntraining: %zu epochs, best %lld: validation loss %.5f, accuracy %.4f, F %.4f, -ln p(o) %.4f\n",
        history_.size(), static_cast<long long>(best_epoch_ + 1), e.validation_loss, e.validation_accuracy,
        e.validation_free_energy, e.validation_surprise);
  }
  if (cfg_.infers())
    std::fprintf(
        out,
        "inference: %lld observations, accuracy %.4f (Bayes-optimal %.4f), mean F %.4f, mean -ln p(o) %.4f\n",
        static_cast<long long>(test_.n), accuracy_, bayes_accuracy_, mean_free_energy_, mean_surprise_);
  if (tracks_.n > 0)
    std::fprintf(out, "tracks: final-frame accuracy %.4f (exact update %.4f)\n", track_accuracy_,
                 exact_track_accuracy_);
}

RunStatus ClassifierWorkload::status() const {
  RunStatus s;
  s.error = error_;
  return s;
}

std::unique_ptr<Workload> make_workload(Deck& deck) {
  auto cfg = parse_config(deck);
  GenerativeModel model;
  Dataset train, validation, test, tracks;
  if (cfg.generated) {
    model = generate_model(cfg);
    if (cfg.trains()) {
      train = generate(cfg, model, 0, cfg.train_samples);
      validation = generate(cfg, model, 1, cfg.validation_samples);
    }
    if (cfg.infers()) {
      test = generate(cfg, model, 2, cfg.test_samples);
      if (cfg.tracks > 0) tracks = generate_tracks(cfg, model);
    }
  } else {
    model = read_model(cfg, deck);
    auto data = read_dataset(cfg, deck, model);
    if (cfg.trains()) {
      if (cfg.validation_samples < 1 || cfg.validation_samples >= data.n)
        deck.fail("classifier", "validation_samples",
                  "must be between 1 and the observations in the file less one (" + std::to_string(data.n) +
                      " observations): the last ones validate");
      auto part = [&](std::int64_t from, std::int64_t to) {
        Dataset d;
        d.n = to - from;
        d.features = data.features;
        d.x.assign(data.x.begin() + from * data.features, data.x.begin() + to * data.features);
        if (!data.labels.empty()) d.labels.assign(data.labels.begin() + from, data.labels.begin() + to);
        return d;
      };
      train = part(0, data.n - cfg.validation_samples);
      validation = part(data.n - cfg.validation_samples, data.n);
    }
    if (cfg.infers()) {
      if (!data.track.empty()) tracks = data;
      test = std::move(data);
    }
  }
  const Shape shape(cfg.widths);
  if (cfg.trains() && cfg.batch > max_batch(shape))
    deck.fail("classifier", "batch",
              "at most " + std::to_string(max_batch(shape)) + " for this network (the gradient work space)");
  std::vector<double> weights;
  try {
    weights = cfg.weights_file.empty() ? initial_weights(shape, cfg.weight_seed)
                                       : read_weights(shape, cfg.weights_file);
  } catch (const std::exception& e) {
    deck.fail("classifier", "weights_file", e.what());
  }
  return std::make_unique<ClassifierWorkload>(std::move(cfg), std::move(model), std::move(train),
                                              std::move(validation), std::move(test), std::move(tracks),
                                              std::move(weights));
}

}  // namespace prism::classifier
