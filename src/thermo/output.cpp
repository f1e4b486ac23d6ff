// The /thermo group: results (complete or so far), and the checkpoint a
// stopped run continues from.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/h5_reader.hpp"
#include "core/h5_writer.hpp"
#include "thermo/workload.hpp"

namespace prism::thermo {

void ThermoWorkload::write(H5Writer& out) const {
  const std::string g = "/thermo";
  const auto& st = state_;
  const std::int64_t total = cfg_.thermalization + cfg_.sweeps;
  out.group(g);
  out.attribute(g, "model", model_name(cfg_.model));
  out.attribute(g, "L", cfg_.L);
  out.attribute(g, "dim", static_cast<std::int64_t>(cfg_.dim()));
  out.attribute(g, "sites", cfg_.sites());
  out.attribute(g, "J", cfg_.J);
  out.attribute(g, "h", cfg_.h);
  out.attribute(g, "thermalization", cfg_.thermalization);
  out.attribute(g, "sweeps", cfg_.sweeps);
  out.attribute(g, "measure_every", cfg_.measure_every);
  out.attribute(g, "exchange_every", cfg_.exchange_every);
  out.attribute(g, "disorder_seed", static_cast<std::int64_t>(cfg_.disorder_seed));
  out.attribute(g, "seed", static_cast<std::int64_t>(seed_));
  out.attribute(g, "error_blocks", cfg_.error_blocks);
  out.attribute(g, "kernel", kernel_name(cfg_));
  out.attribute(g, "spin_updates", cfg_.replicas() * cfg_.sites() * st.next_sweep);
  out.attribute(g, "sweeps_done", st.next_sweep);
  out.attribute(g, "complete", static_cast<std::int64_t>(st.next_sweep == total));

  const auto est = estimates();
  const std::size_t R = est.size();
  std::vector<double> col(R);
  std::vector<std::string> rules;
  auto column = [&](const char* name, double BlockAccumulator::Estimate::*field) {
    for (std::size_t t = 0; t < R; ++t) col[t] = est[t] ? (*est[t]).*field : NAN;
    out.write(g + "/" + name, col);
  };
  out.write(g + "/temperature", cfg_.temperatures);
  column("energy_mean", &BlockAccumulator::Estimate::energy_mean);
  column("energy_err", &BlockAccumulator::Estimate::energy_err);
  column("specific_heat", &BlockAccumulator::Estimate::specific_heat);
  column("specific_heat_err", &BlockAccumulator::Estimate::specific_heat_err);
  column("magnetization_abs_mean", &BlockAccumulator::Estimate::magnetization_abs_mean);
  column("magnetization_err", &BlockAccumulator::Estimate::magnetization_err);
  column("susceptibility", &BlockAccumulator::Estimate::susceptibility);
  column("susceptibility_err", &BlockAccumulator::Estimate::susceptibility_err);
  column("binder", &BlockAccumulator::Estimate::binder);
  column("binder_err", &BlockAccumulator::Estimate::binder_err);
  std::vector<std::int8_t> heat_bath(R);
  for (std::size_t t = 0; t < R; ++t)
    heat_bath[t] = cfg_.update_rule(1.0 / cfg_.temperatures[t]) == UpdateRule::heat_bath;
  out.write(g + "/heat_bath", heat_bath);

  std::vector<double> acceptance(st.swap_attempts.size());
  for (std::size_t p = 0; p < acceptance.size(); ++p)
    acceptance[p] = st.swap_attempts[p] ? double(st.swap_accepted[p]) / double(st.swap_attempts[p]) : NAN;
  out.write(g + "/swap_acceptance", acceptance);
  out.write(g + "/swap_attempts", st.swap_attempts);
  out.write(g + "/round_trips", st.trips.round_trips());
  out.write(g + "/replica_of_temperature", st.replica_of_temp);
  if (!configurations_.empty()) {
    std::vector<std::uint64_t> dims{R};
    for (int d = 0; d < cfg_.dim(); ++d) dims.push_back(static_cast<std::uint64_t>(cfg_.L));
    out.write(g + "/configurations", configurations_, dims);
  }
  if (checkpoint_spins_.empty()) return;

  // Checkpoint: everything the next sweep needs.  Continue with
  // prism --restart FILE --output FILE DECK.
  const std::string k = g + "/checkpoint";
  const auto& sums = st.stats.sums();
  out.group(k);
  out.attribute(k, "next_sweep", st.next_sweep);
  out.write(k + "/replica_of_temperature", st.replica_of_temp);
  out.write(k + "/swap_attempts", st.swap_attempts);
  out.write(k + "/swap_accepted", st.swap_accepted);
  out.write(k + "/block_sums", sums.all_sums());
  out.write(k + "/block_counts", sums.all_counts());
  out.write(k + "/moment_shifts", st.stats.shifts());
  out.write(k + "/moment_shifted", st.stats.shifted());
  out.write(k + "/trip_last_end", st.trips.last_ends());
  out.write(k + "/trip_half_trips", st.trips.half_trips());
  out.write(k + "/spins", checkpoint_spins_,
            {static_cast<std::uint64_t>(cfg_.replicas()), static_cast<std::uint64_t>(cfg_.sites())});
}

std::string ThermoWorkload::restore(const H5Reader& in) {
  const std::string k = "/thermo/checkpoint";
  const std::string& path = in.path();
  auto fail = [&](const std::string& why) { throw std::runtime_error(path + ": " + k + ": " + why); };
  const std::int64_t R = cfg_.replicas(), N = cfg_.sites();
  const std::int64_t next = in.int64_attribute(k, "next_sweep");
  if (next <= 0 || next >= cfg_.thermalization + cfg_.sweeps) fail("next_sweep out of range");
  // The permutation: every temperature held by exactly one replica.
  const auto perm = in.values<std::int64_t>(k + "/replica_of_temperature");
  if (std::int64_t(perm.size()) != R) fail("replica_of_temperature has the wrong length");
  std::vector<std::int64_t> temp_of_replica(R, -1);
  for (std::int64_t t = 0; t < R; ++t) {
    if (perm[t] < 0 || perm[t] >= R || temp_of_replica[perm[t]] >= 0)
      fail("replica_of_temperature is not a permutation");
    temp_of_replica[perm[t]] = t;
  }
  auto spins = in.values<std::int8_t>(k + "/spins");
  if (std::int64_t(spins.size()) != R * N) fail("spins have the wrong size");
  for (auto s : spins)
    if (s != 1 && s != -1) fail("spins are not +-1");
  const auto attempts = in.values<std::int64_t>(k + "/swap_attempts");
  const auto accepted = in.values<std::int64_t>(k + "/swap_accepted");
  if (attempts.size() != state_.swap_attempts.size() || accepted.size() != attempts.size())
    fail("swap counters have the wrong length");
  for (std::size_t p = 0; p < attempts.size(); ++p)
    if (accepted[p] < 0 || accepted[p] > attempts[p]) fail("swap counters are inconsistent");
  try {
    state_.stats.restore(in.values<double>(k + "/block_sums"), in.values<std::int64_t>(k + "/block_counts"),
                         in.values<double>(k + "/moment_shifts"),
                         in.values<std::int8_t>(k + "/moment_shifted"));
    state_.trips.restore(in.values<std::int64_t>(k + "/trip_last_end"),
                         in.values<std::int64_t>(k + "/trip_half_trips"));
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
  // The statistics must be those of the sweeps done: every temperature has
  // one sample per measure_every production sweeps, in the blocks those
  // samples map to.
  const std::int64_t measured = std::max<std::int64_t>(0, next - cfg_.thermalization) / cfg_.measure_every;
  const auto& sums = state_.stats.sums();
  for (std::int64_t t = 0; t < R; ++t) {
    std::int64_t total = 0;
    for (std::int64_t b = 0; b < sums.blocks(); ++b) {
      if (sums.count(t, b) > sums.capacity(b)) fail("block counts exceed the blocks' sizes");
      total += sums.count(t, b);
    }
    if (total != measured || bool(state_.stats.shifted()[t]) != (measured > 0))
      fail("block counts do not match the " + std::to_string(measured) + " samples of the sweeps done");
  }
  state_.next_sweep = next;
  state_.replica_of_temp = perm;
  state_.temp_of_replica = temp_of_replica;
  state_.swap_attempts = attempts;
  state_.swap_accepted = accepted;
  first_sweep_ = next;
  restored_spins_ = std::move(spins);
  return "sweep " + std::to_string(next);
}

}  // namespace prism::thermo
