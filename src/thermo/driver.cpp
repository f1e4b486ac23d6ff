#include "thermo/driver.hpp"

#include <Kokkos_Core.hpp>
#include <cmath>
#include <optional>

#include "core/mpi_context.hpp"
#include "core/progress.hpp"
#include "core/timers.hpp"
#include "kernels/common/philox.hpp"
#include "kernels/thermo/metropolis.hpp"
#include "kernels/thermo/observables.hpp"

namespace prism::thermo {

std::vector<std::int8_t> make_couplings(const Config& cfg) {
  const std::int64_t n = cfg.sites();
  const int dim = cfg.dim();
  std::vector<std::int8_t> c(static_cast<std::size_t>(dim * n), 1);
  if (cfg.model != Model::ea3d) return c;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto u = rng::philox(cfg.disorder_seed, static_cast<std::uint32_t>(i),
                               static_cast<std::uint32_t>(i >> 32), 0, rng::disorder);
    for (int d = 0; d < dim; ++d) c[d * n + i] = (u.v[d] & 1u) ? 1 : -1;
  }
  return c;
}

namespace {

using Exec = Kokkos::DefaultExecutionSpace;
using HostCounts = Kokkos::View<std::int64_t*, Kokkos::HostSpace>;

// Lattices of this rank's replicas in whichever layout the kernel uses.
class LocalLattices {
 public:
  LocalLattices(const Config& cfg, std::int64_t count)
      : cfg_(cfg),
        geo_{static_cast<std::int32_t>(cfg.L), cfg.dim(), cfg.sites()},
        multispin_(cfg.use_multispin()),
        thresholds_("thermo::thresholds", count, geo_.table_size()),
        thresholds_host_(Kokkos::create_mirror_view(thresholds_)),
        observables_("thermo::observables", 2 * count) {
    if (multispin_) {
      words_ = PackedSpins("thermo::packed_spins", count, 2 * cfg.L * (cfg.L / 32));
      Kokkos::deep_copy(words_, nibble_mask);  // cold start: every spin up
    } else {
      spins_ = Spins("thermo::spins", count, cfg.sites());
      Kokkos::deep_copy(spins_, std::int8_t(1));
      couplings_ = Couplings("thermo::couplings", cfg.dim(), cfg.sites());
      const auto host = make_couplings(cfg);
      auto mirror = Kokkos::create_mirror_view(couplings_);
      for (int d = 0; d < cfg.dim(); ++d)
        for (std::int64_t i = 0; i < cfg.sites(); ++i) mirror(d, i) = host[d * cfg.sites() + i];
      Kokkos::deep_copy(couplings_, mirror);
    }
  }

  // Metropolis thresholds min(1, exp(-beta dE)) * 2^32 for every (spin, local field).
  void set_temperatures(const std::vector<double>& beta_of_local_replica) {
    for (std::size_t r = 0; r < beta_of_local_replica.size(); ++r)
      fill_threshold_row(thresholds_host_, r, geo_.dim, beta_of_local_replica[r], cfg_.J, cfg_.h);
    Kokkos::deep_copy(thresholds_, thresholds_host_);
  }

  void sweep(std::uint32_t index, std::uint64_t seed, std::int64_t replica_offset) {
    Exec space;
    for (int color = 0; color < 2; ++color) {
      if (multispin_)
        sweep_multispin(space, words_, thresholds_, geo_.L, color, index, seed, replica_offset);
      else
        sweep_generic(space, spins_, couplings_, thresholds_, geo_, color, index, seed, replica_offset);
    }
  }

  // (bond sum, magnetisation) of every local replica, interleaved.
  std::vector<std::int64_t> measure() {
    Exec space;
    if (multispin_)
      measure_multispin(space, words_, geo_.L, observables_);
    else
      measure_generic(space, spins_, couplings_, geo_, observables_);
    Kokkos::fence();
    return std::vector<std::int64_t>(observables_.data(), observables_.data() + observables_.extent(0));
  }

  std::vector<std::int8_t> configurations() {
    Spins bytes = spins_;
    if (multispin_) {
      bytes = Spins("thermo::unpacked_spins", words_.extent(0), geo_.sites);
      unpack_multispin(Exec(), words_, geo_.L, bytes);
    }
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), bytes);
    return std::vector<std::int8_t>(host.data(), host.data() + host.size());
  }

 private:
  const Config& cfg_;
  Geometry geo_;
  bool multispin_;
  Spins spins_;
  Couplings couplings_;
  PackedSpins words_;
  Thresholds thresholds_;
  Thresholds::HostMirror thresholds_host_;
  HostCounts observables_;
};

}  // namespace

Results run(const Config& cfg, std::uint64_t seed, const MpiContext& mpi, Timers& timers,
            bool show_progress) {
  const std::int64_t R = cfg.replicas();
  const std::int64_t N = cfg.sites();
  const Block mine = block_partition(R, mpi.size(), mpi.rank());
  std::vector<double> beta(R);
  for (std::int64_t t = 0; t < R; ++t) beta[t] = 1.0 / cfg.temperatures[t];

  // Temperature labels move between replicas; lattices stay where they are.
  std::vector<std::int64_t> temp_of_replica(R), replica_of_temp(R);
  for (std::int64_t r = 0; r < R; ++r) temp_of_replica[r] = replica_of_temp[r] = r;

  std::optional<LocalLattices> lattices;
  auto local_betas = [&] {
    std::vector<double> b(mine.count);
    for (std::int64_t r = 0; r < mine.count; ++r) b[r] = beta[temp_of_replica[mine.begin + r]];
    return b;
  };
  {
    auto t = timers.scope("init");
    lattices.emplace(cfg, mine.count);
    lattices->set_temperatures(local_betas());
  }

  Results res;
  res.temperature = cfg.temperatures;
  res.swap_attempts.assign(R > 1 ? R - 1 : 0, 0);
  res.swap_accepted.assign(R > 1 ? R - 1 : 0, 0);
  BlockAccumulator stats(R, cfg.error_blocks, cfg.sweeps);
  RoundTripCounter trips(R);

  const std::int64_t total = cfg.thermalization + cfg.sweeps;
  Progress progress("thermo", total, "sweeps", show_progress && mpi.root());
  for (std::int64_t s = 0; s < total; ++s) {
    const bool measuring = s >= cfg.thermalization;
    const bool exchanging = R > 1 && (s + 1) % cfg.exchange_every == 0;

    // One sweep: both colours of every local replica.
    {
      auto t = timers.scope("sweep");
      lattices->sweep(static_cast<std::uint32_t>(s), seed, mine.begin);
    }
    if (!measuring && !exchanging) {
      progress.update(s + 1);
      continue;
    }
    // Exact integer (bond, magnetisation) of every replica, on every rank.
    std::vector<std::int64_t> obs;
    {
      auto t = timers.scope("measure");
      obs = mpi.allgather(lattices->measure());
    }
    auto energy = [&](std::int64_t r) {
      return -cfg.J * double(obs[2 * r]) - cfg.h * double(obs[2 * r + 1]);
    };
    if (measuring && mpi.root()) {
      for (std::int64_t r = 0; r < R; ++r)
        stats.add(temp_of_replica[r], s - cfg.thermalization, energy(r) / N, double(obs[2 * r + 1]) / N);
    }
    // Replica exchange: every rank takes the same decisions from the same
    // energies and the same counter-based random numbers, so no further
    // communication is needed.  Even and odd pairs alternate.
    if (exchanging) {
      auto t = timers.scope("exchange");
      const std::int64_t round = (s + 1) / cfg.exchange_every - 1;
      for (std::int64_t p = round & 1; p + 1 < R; p += 2) {
        const std::int64_t a = replica_of_temp[p], b = replica_of_temp[p + 1];
        const double log_acc = swap_log_acceptance(beta[p], beta[p + 1], energy(a), energy(b));
        const auto u = rng::philox(seed, static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(round),
                                   static_cast<std::uint32_t>(round >> 32), rng::replica_exchange);
        const bool accept = log_acc >= 0.0 || rng::to_unit(u.v[0]) < std::exp(log_acc);
        if (measuring) {
          ++res.swap_attempts[p];
          res.swap_accepted[p] += accept;
        }
        if (accept) {
          std::swap(replica_of_temp[p], replica_of_temp[p + 1]);
          temp_of_replica[a] = p + 1;
          temp_of_replica[b] = p;
        }
      }
      if (measuring) trips.observe(temp_of_replica, R);
      lattices->set_temperatures(local_betas());
    }
    progress.update(s + 1);
  }
  progress.finish();

  res.spin_updates = R * N * total;
  res.round_trips = trips.round_trips();
  res.replica_of_temperature = replica_of_temp;
  if (mpi.root()) {
    for (std::int64_t t = 0; t < R; ++t) res.estimates.push_back(stats.estimate(t, beta[t], double(N)));
  }
  if (cfg.save_configurations) {
    auto t = timers.scope("gather");
    const auto all = mpi.gather(lattices->configurations());  // replica order
    if (mpi.root()) {
      res.configurations.resize(static_cast<std::size_t>(R * N));
      for (std::int64_t t2 = 0; t2 < R; ++t2)
        std::copy_n(all.begin() + replica_of_temp[t2] * N, N, res.configurations.begin() + t2 * N);
    }
  }
  return res;
}

}  // namespace prism::thermo
