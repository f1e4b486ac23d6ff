#include "thermo/workload.hpp"

#include <cmath>
#include <optional>

#include "core/mpi_context.hpp"
#include "core/progress.hpp"
#include "core/run_config.hpp"
#include "core/timers.hpp"
#include "kernels/common/philox.hpp"
#include "thermo/driver.hpp"

namespace prism::thermo {

State::State(const Config& cfg)
    : temp_of_replica(cfg.replicas()),
      replica_of_temp(cfg.replicas()),
      swap_attempts(cfg.replicas() > 1 ? cfg.replicas() - 1 : 0, 0),
      swap_accepted(cfg.replicas() > 1 ? cfg.replicas() - 1 : 0, 0),
      stats(cfg.replicas(), cfg.error_blocks, cfg.samples()),
      trips(cfg.replicas()) {
  // Temperature labels move between replicas; lattices stay where they are.
  for (std::int64_t r = 0; r < cfg.replicas(); ++r) temp_of_replica[r] = replica_of_temp[r] = r;
}

ThermoWorkload::ThermoWorkload(Config cfg) : cfg_(std::move(cfg)), state_(cfg_) {}
ThermoWorkload::~ThermoWorkload() = default;

namespace {
constexpr std::int64_t kStopPoll = 16;                         // sweeps between looks at the stop flag
constexpr std::int64_t kLargeLattice = std::int64_t(1) << 20;  // sites on a rank
}  // namespace

bool ThermoWorkload::restartable() const {
  // The checkpoint gathers every lattice to rank 0 through MPI (int counts).
  return cfg_.sites() * cfg_.replicas() < (std::int64_t(1) << 31);
}

void ThermoWorkload::run(RunContext& ctx) {
  seed_ = ctx.run.seed;
  const auto& mpi = ctx.mpi;
  auto& timers = ctx.timers;
  auto& st = state_;
  const std::int64_t R = cfg_.replicas();
  const std::int64_t N = cfg_.sites();
  const Block mine = block_partition(R, mpi.size(), mpi.rank());
  std::vector<double> beta(R);
  for (std::int64_t t = 0; t < R; ++t) beta[t] = 1.0 / cfg_.temperatures[t];
  auto local_betas = [&] {
    std::vector<double> b(mine.count);
    for (std::int64_t r = 0; r < mine.count; ++r) b[r] = beta[st.temp_of_replica[mine.begin + r]];
    return b;
  };

  std::optional<Lattices> lattices;
  {
    auto t = timers.scope("init");
    lattices.emplace(cfg_, mine.count);
    if (!restored_spins_.empty())
      lattices->load_configurations(std::vector<std::int8_t>(
          restored_spins_.begin() + mine.begin * N, restored_spins_.begin() + (mine.begin + mine.count) * N));
    restored_spins_.clear();
    lattices->set_temperatures(local_betas());
  }
  // Collective: the lattices to rank 0, then the file so far.
  auto save = [&](std::int64_t next) {
    auto t = timers.scope("checkpoint");
    st.next_sweep = next;
    checkpoint_spins_ = mpi.gather(lattices->configurations());  // replica order
    ctx.save();
  };

  const std::int64_t total = cfg_.thermalization + cfg_.sweeps;
  Progress progress("thermo", total - first_sweep_, "sweeps", ctx.show_progress && mpi.root());
  for (std::int64_t s = first_sweep_; s < total; ++s) {
    // Production sweeps count swaps and round trips; every measure_every-th
    // of them is a sample of the statistics.
    const bool measuring = s >= cfg_.thermalization;
    const bool sampling = measuring && (s + 1 - cfg_.thermalization) % cfg_.measure_every == 0;
    const bool exchanging = R > 1 && (s + 1) % cfg_.exchange_every == 0;

    // One sweep: both colours of every local replica.
    {
      auto t = timers.scope("sweep");
      lattices->sweep(static_cast<std::uint32_t>(s), seed_, mine.begin);
    }
    if (sampling || exchanging) {
      // Exact integer (bond, magnetisation) of every replica, on every rank.
      std::vector<std::int64_t> obs;
      {
        auto t = timers.scope("measure");
        obs = mpi.allgather(lattices->measure());
      }
      auto energy = [&](std::int64_t r) {
        return -cfg_.J * double(obs[2 * r]) - cfg_.h * double(obs[2 * r + 1]);
      };
      if (sampling && mpi.root()) {
        const std::int64_t sample = (s + 1 - cfg_.thermalization) / cfg_.measure_every - 1;
        for (std::int64_t r = 0; r < R; ++r)
          st.stats.add(st.temp_of_replica[r], sample, energy(r) / N, double(obs[2 * r + 1]) / N);
      }
      // Replica exchange: every rank takes the same decisions from the same
      // energies and the same counter-based random numbers, so no further
      // communication is needed.  Even and odd pairs alternate.
      if (exchanging) {
        auto t = timers.scope("exchange");
        const std::int64_t round = (s + 1) / cfg_.exchange_every - 1;
        for (std::int64_t p = round & 1; p + 1 < R; p += 2) {
          const std::int64_t a = st.replica_of_temp[p], b = st.replica_of_temp[p + 1];
          const double log_acc = swap_log_acceptance(beta[p], beta[p + 1], energy(a), energy(b));
          const auto u = rng::philox(seed_, static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(round),
                                     static_cast<std::uint32_t>(round >> 32), rng::replica_exchange);
          const bool accept = log_acc >= 0.0 || rng::to_unit(u.v[0]) < std::exp(log_acc);
          if (measuring) {
            ++st.swap_attempts[p];
            st.swap_accepted[p] += accept;
          }
          if (accept) {
            std::swap(st.replica_of_temp[p], st.replica_of_temp[p + 1]);
            st.temp_of_replica[a] = p + 1;
            st.temp_of_replica[b] = p;
          }
        }
        if (measuring) st.trips.observe(st.temp_of_replica, R);
        lattices->set_temperatures(local_betas());
      }
    }
    progress.update(s + 1 - first_sweep_);
    if (s + 1 == total) break;
    // A signal on any rank stops all of them at the end of an exchange
    // interval, or within kStopPoll sweeps; large lattices (where a sweep
    // dwarfs an allreduce) look after every sweep.
    const bool poll =
        (s + 1) % cfg_.exchange_every == 0 || (s + 1) % kStopPoll == 0 || N * mine.count >= kLargeLattice;
    if (poll && ctx.stop_requested()) {
      interrupted_ = true;
      save(s + 1);
      return;
    }
    if (cfg_.checkpoint_every > 0 && (s + 1) % cfg_.checkpoint_every == 0) save(s + 1);
  }
  progress.finish();
  st.next_sweep = total;
  checkpoint_spins_.clear();  // a finished run has nothing to continue
  if (cfg_.save_configurations) {
    auto t = timers.scope("gather");
    const auto all = mpi.gather(lattices->configurations());  // replica order
    if (mpi.root()) {
      configurations_.resize(static_cast<std::size_t>(R * N));
      for (std::int64_t t2 = 0; t2 < R; ++t2)
        std::copy_n(all.begin() + st.replica_of_temp[t2] * N, N, configurations_.begin() + t2 * N);
    }
  }
  // Every estimate of a finished run is finite, or the run failed.
  if (mpi.root()) {
    const auto est = estimates();
    for (std::size_t t = 0; t < est.size() && error_.empty(); ++t) {
      const auto& e = est[t];
      for (double x :
           {e->energy_mean, e->energy_err, e->specific_heat, e->specific_heat_err, e->magnetization_abs_mean,
            e->magnetization_err, e->susceptibility, e->susceptibility_err, e->binder, e->binder_err})
        if (!std::isfinite(x)) {
          error_ = "a non-finite estimate at T = " + std::to_string(cfg_.temperatures[t]);
          break;
        }
    }
  }
  if (mpi.broadcast(error_.empty() ? 0 : 1) && error_.empty()) error_ = "a non-finite estimate (see rank 0)";
}

std::vector<std::optional<BlockAccumulator::Estimate>> ThermoWorkload::estimates() const {
  std::vector<std::optional<BlockAccumulator::Estimate>> out;
  for (std::int64_t t = 0; t < cfg_.replicas(); ++t)
    out.push_back(state_.stats.estimate(t, 1.0 / cfg_.temperatures[t], double(cfg_.sites())));
  return out;
}

Throughput ThermoWorkload::throughput() const {
  const double sweeps = double(state_.next_sweep - first_sweep_);
  Throughput tp{"spin_updates", double(cfg_.replicas()) * double(cfg_.sites()) * sweeps,
                "sweep",        "flips_per_ns",
                1e-9,           {}};
  tp.fields = {{"replicas", std::to_string(cfg_.replicas())},
               {"sites", std::to_string(cfg_.sites())},
               {"sweeps", std::to_string(state_.next_sweep - first_sweep_)}};
  return tp;
}

void ThermoWorkload::print_summary(std::FILE* out) const {
  std::fprintf(out, "\n%-8s %12s %12s %12s %12s %12s %8s\n", "T", "E/N", "err", "C/N", "|M|/N", "chi/N",
               "update");
  const auto est = estimates();
  for (std::size_t t = 0; t < est.size(); ++t) {
    const char* rule = update_name(cfg_.update_rule(1.0 / cfg_.temperatures[t]));
    if (!est[t]) {
      std::fprintf(out, "%-8.4f %12s %12s %12s %12s %12s %8s\n", cfg_.temperatures[t], "-", "-", "-", "-",
                   "-", rule);
      continue;
    }
    const auto& e = *est[t];
    std::fprintf(out, "%-8.4f %12.6f %12.2e %12.5f %12.6f %12.5f %8s\n", cfg_.temperatures[t], e.energy_mean,
                 e.energy_err, e.specific_heat, e.magnetization_abs_mean, e.susceptibility, rule);
  }
}

RunStatus ThermoWorkload::status() const {
  RunStatus s;
  s.error = error_;
  s.interrupted = interrupted_;
  s.position = "sweep " + std::to_string(state_.next_sweep) + " of " +
               std::to_string(cfg_.thermalization + cfg_.sweeps);
  return s;
}

std::unique_ptr<Workload> make_workload(Deck& deck) {
  return std::make_unique<ThermoWorkload>(parse_config(deck));
}

}  // namespace prism::thermo
