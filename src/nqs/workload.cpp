#include "nqs/workload.hpp"

#include <cmath>
#include <optional>

#include "core/h5_reader.hpp"
#include "core/mpi_context.hpp"
#include "core/progress.hpp"
#include "core/run_config.hpp"
#include "core/timers.hpp"
#include "nqs/driver.hpp"
#include "nqs/output.hpp"

namespace prism::nqs {

namespace {
// The first quantity of an iteration that is not finite, or "".  R-hat may
// be infinite (frozen chains that disagree) but not NaN.
std::string non_finite(const IterationStats& st, const std::vector<double>& parameters) {
  if (!std::isfinite(st.energy_mean)) return "energy";
  if (!std::isfinite(st.energy_err)) return "energy error bar";
  if (!std::isfinite(st.energy_variance)) return "energy variance";
  if (std::isnan(st.r_hat)) return "R-hat";
  for (double p : parameters)
    if (!std::isfinite(p)) return "parameters";
  return "";
}
}  // namespace

std::string NqsWorkload::restore(const H5Reader& in) {
  resume_ = read_results(in, cfg_);
  return "iteration " + std::to_string(resume_->checkpoint.next_iteration);
}

void NqsWorkload::run(RunContext& ctx) {
  seed_ = ctx.run.seed;
  std::optional<Vmc> vmc;
  std::int64_t first = 0;
  {
    auto t = ctx.timers.scope("init");
    vmc.emplace(cfg_, seed_, ctx.mpi);
    if (resume_) {
      vmc->restore(resume_->checkpoint);
      res_.history = resume_->history;
      first = resume_->checkpoint.next_iteration;
      // The sampler kernel an uninterrupted run would take next (the same
      // bits either way, as tested; this keeps a restart exact even if a
      // compiler rounded the two kernels differently).
      if (first > 0 && std::size_t(first) <= res_.history.size())
        vmc->resume_acceptance(res_.history[std::size_t(first) - 1].acceptance);
    }
  }
  first_ = first;
  // Gathers the state on rank 0 (collective) and writes the file so far.
  auto save = [&](std::int64_t next) {
    auto t = ctx.timers.scope("checkpoint");
    res_.parameters = vmc->parameters();
    res_.checkpoint = vmc->checkpoint(next);
    ctx.save();
  };
  Progress progress("nqs", cfg_.iterations - first, "iterations", ctx.show_progress && ctx.mpi.root());
  std::int64_t it = first;
  for (; it < cfg_.iterations; ++it) {
    // Sample, then update the parameters by SR.
    const auto st = vmc->step(it, ctx.timers);
    res_.history.push_back(st);
    if (const std::string bad = non_finite(st, vmc->parameters()); !bad.empty()) {
      res_.error = "non-finite " + bad + " at iteration " + std::to_string(it);
      ++it;
      break;
    }
    progress.update(it + 1 - first);
    // A signal on any rank stops all of them after this iteration.
    if (it + 1 < cfg_.iterations && ctx.stop_requested()) {
      res_.interrupted = true;
      ++it;
      break;
    }
    if (cfg_.checkpoint_every > 0 && (it + 1) % cfg_.checkpoint_every == 0 && it + 1 < cfg_.iterations)
      save(it + 1);
  }
  if (!res_.interrupted && res_.error.empty()) progress.finish();
  res_.parameters = vmc->parameters();
  // The checkpoint is the state after the last iteration, before the
  // measurement moves the chains on: a restart that adds iterations
  // continues exactly as a longer run would.
  res_.checkpoint = vmc->checkpoint(it);
  if (cfg_.observables_iterations > 0 && !res_.interrupted && res_.error.empty()) measure(*vmc, ctx);
}

void NqsWorkload::measure(Vmc& vmc, RunContext& ctx) {
  const Observables obs(cfg_);
  ObservableSums sums;
  sums.samples_per_iteration = cfg_.total_samples();
  const std::int64_t K = cfg_.observables_iterations;
  Progress progress("nqs observables", K, "iterations", ctx.show_progress && ctx.mpi.root());
  for (std::int64_t t = 0; t < K; ++t) {
    // Sampling iterations numbered after the optimisation's, so that their
    // random numbers are new ones.
    const auto m = [&] {
      auto timer = ctx.timers.scope("observables");
      return vmc.measure(cfg_.iterations + t, obs.columns());
    }();
    if (!std::isfinite(m.energy)) {
      res_.error = "non-finite energy at observables iteration " + std::to_string(t);
      return;
    }
    sums.add(obs.derive(m.column_means, m.energy));
    progress.update(t + 1);
    // Stopped: no observables are written; a restart measures them afresh.
    if (t + 1 < K && ctx.stop_requested()) {
      res_.interrupted = true;
      return;
    }
  }
  progress.finish();
  res_.observables = std::move(sums);
}

void NqsWorkload::write(H5Writer& out) const {
  write_results(out, cfg_, seed_, res_);
}

Throughput NqsWorkload::throughput() const {
  const double done_here = double(res_.history.size()) - double(first_);
  const double samples = double(cfg_.chains) * done_here *
                         double(cfg_.thermalization + cfg_.samples_per_chain * cfg_.sweeps_per_sample);
  Throughput tp{"samples", samples, "sample", "samples_per_s", 1.0, {}};
  tp.fields = {{"sites", std::to_string(cfg_.sites())},
               {"parameters", std::to_string(cfg_.real_parameters())},
               {"chains", std::to_string(cfg_.chains)},
               {"iterations", std::to_string(std::int64_t(done_here))}};
  return tp;
}

void NqsWorkload::print_summary(std::FILE* out) const {
  const std::size_t n = res_.history.size();
  const std::size_t every = std::max<std::size_t>(1, n / 20);
  std::fprintf(out, "\n%-10s %16s %12s %12s %8s %8s\n", "iteration", "E", "err", "var", "acc", "R-hat");
  for (std::size_t i = 0; i < n; ++i) {
    if (i % every != 0 && i + 1 != n) continue;
    const auto& h = res_.history[i];
    std::fprintf(out, "%-10zu %16.8f %12.2e %12.4e %8.3f %8.4f\n", i, h.energy_mean, h.energy_err,
                 h.energy_variance, h.acceptance, h.r_hat);
  }
  if (cfg_.reference_energy && *cfg_.reference_energy != 0.0 && n > 0)
    std::fprintf(
        out, "reference energy %.8f, relative error of the last iteration %.2e\n", *cfg_.reference_energy,
        std::fabs((res_.history.back().energy_mean - *cfg_.reference_energy) / *cfg_.reference_energy));
  if (res_.observables) {
    const auto& o = *res_.observables;
    const Observables obs(cfg_);
    std::fprintf(out, "observables over %lld iterations at the final parameters (errors over iterations):\n",
                 static_cast<long long>(o.iterations));
    for (const auto& q : obs.quantities())
      if (q.shape.empty())
        std::fprintf(out, "  %-34s %16.8f +- %.2e\n", q.name.c_str(), o.mean(q.offset), o.error(q.offset));
  }
}

RunStatus NqsWorkload::status() const {
  RunStatus s;
  s.error = res_.error;
  s.interrupted = res_.interrupted;
  s.position = "iteration " + std::to_string(res_.checkpoint.next_iteration) + " of " +
               std::to_string(cfg_.iterations);
  if (res_.interrupted && res_.checkpoint.next_iteration == cfg_.iterations)
    s.position += ", while measuring the observables (a restart measures them again)";
  return s;
}

std::unique_ptr<Workload> make_workload(Deck& deck) {
  return std::make_unique<NqsWorkload>(parse_config(deck));
}

}  // namespace prism::nqs
