#include "thermo/thermo_config.hpp"

#include <toml++/toml.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "core/deck.hpp"

namespace prism {

namespace thermo {

const char* model_name(Model m) {
  switch (m) {
    case Model::ising2d:
      return "ising2d";
    case Model::ising3d:
      return "ising3d";
    case Model::ea3d:
      return "ea3d";
  }
  return "?";
}

const char* kernel_name(const Config& c) {
  return c.use_multispin() ? "multispin" : "generic";
}

const char* update_name(UpdateRule r) {
  return r == UpdateRule::metropolis ? "metropolis" : "heat_bath";
}

double Config::largest_delta_e() const {
  return 2.0 * (2.0 * dim() * std::fabs(J) + std::fabs(h));
}

UpdateRule Config::update_rule(double beta) const {
  if (update == UpdateChoice::metropolis) return UpdateRule::metropolis;
  if (update == UpdateChoice::heat_bath) return UpdateRule::heat_bath;
  // exp(-beta dE_max) > 1/2: Metropolis would accept nearly everything.
  return beta * largest_delta_e() < std::log(2.0) ? UpdateRule::heat_bath : UpdateRule::metropolis;
}

namespace {
std::vector<double> parse_temperatures(Deck& deck) {
  const auto* n = deck.node("thermo", "temperatures");
  if (!n) deck.fail("thermo", "temperatures", "required key is missing");
  std::vector<double> t;
  if (const auto* arr = n->as_array()) {
    for (const auto& v : *arr) {
      if (const auto* f = v.as_floating_point())
        t.push_back(f->get());
      else if (const auto* i = v.as_integer())
        t.push_back(static_cast<double>(i->get()));
      else
        deck.fail("thermo", "temperatures", "array entries must be numbers");
    }
  } else if (const auto* tab = n->as_table()) {
    for (const auto& [k, v] : *tab) {
      if (k != "min" && k != "max" && k != "count")
        deck.fail("thermo", "temperatures",
                  "unknown field '" + std::string(k.str()) + "' (expected {min, max, count})");
    }
    auto num = [&](const char* k) -> double {
      const auto* v = tab->get(k);
      if (!v) deck.fail("thermo", "temperatures", std::string("missing field '") + k + "'");
      if (const auto* f = v->as_floating_point()) return f->get();
      if (const auto* i = v->as_integer()) return static_cast<double>(i->get());
      deck.fail("thermo", "temperatures", std::string("field '") + k + "' must be a number");
    };
    const double tmin = num("min"), tmax = num("max"), count = num("count");
    if (count != std::floor(count) || count < 1 || count > 4096)
      deck.fail("thermo", "temperatures", "count must be an integer in [1, 4096]");
    if (!(tmin > 0) || !(tmax >= tmin) || !std::isfinite(tmax))
      deck.fail("thermo", "temperatures", "needs 0 < min <= max");
    if (count == 1 && tmax != tmin) deck.fail("thermo", "temperatures", "count = 1 needs min == max");
    const int c = static_cast<int>(count);
    // Geometric spacing keeps the swap acceptance roughly flat when C is.
    for (int i = 0; i < c; ++i)
      t.push_back(c == 1 ? tmin : tmin * std::pow(tmax / tmin, double(i) / (c - 1)));
  } else {
    deck.fail("thermo", "temperatures", "must be an array of numbers or a table {min, max, count}");
  }
  if (t.empty()) deck.fail("thermo", "temperatures", "needs at least one temperature");
  if (t.size() > 4096) deck.fail("thermo", "temperatures", "at most 4096 temperatures");
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!(t[i] > 0) || !std::isfinite(t[i]))
      deck.fail("thermo", "temperatures", "every temperature must be finite and > 0");
    if (t[i] < 1e-6 || t[i] > 1e9)
      deck.fail("thermo", "temperatures", "every temperature must be in [1e-6, 1e9]");
    if (i > 0 && !(t[i] > t[i - 1]))
      deck.fail("thermo", "temperatures", "temperatures must be strictly increasing");
  }
  deck.record_values("thermo", "temperatures", t);
  return t;
}
}  // namespace

Config parse_config(Deck& deck) {
  Config c;
  const auto model = deck.get_string("thermo", "model", std::nullopt, {"ising2d", "ising3d", "ea3d"});
  c.model = model == "ising2d" ? Model::ising2d : model == "ising3d" ? Model::ising3d : Model::ea3d;
  const std::int64_t max_L = c.dim() == 2 ? 65536 : 2048;
  c.L = deck.get_int("thermo", "L", std::nullopt, 4, max_L);
  if (c.L % 2 != 0) deck.fail("thermo", "L", "must be even (checkerboard updates on a periodic lattice)");
  // Bounded so that energies, their squares and exp(-beta dE) stay finite.
  c.J = deck.get_double("thermo", "J", 1.0, -1e6, 1e6);
  c.h = deck.get_double("thermo", "h", 0.0, -1e6, 1e6);
  c.temperatures = parse_temperatures(deck);
  c.thermalization = deck.get_int("thermo", "thermalization", 1000, 0, 1'000'000'000);
  c.sweeps = deck.get_int("thermo", "sweeps", 10000, 1, 1'000'000'000);
  c.exchange_every = deck.get_int("thermo", "exchange_every", 10, 1, 1'000'000'000);
  c.disorder_seed = static_cast<std::uint64_t>(
      deck.get_int("thermo", "disorder_seed", 1, 0, std::numeric_limits<std::int64_t>::max()));
  c.save_configurations = deck.get_bool("thermo", "save_configurations", false);
  // Large lattices need not pay a reduction and an allgather every sweep;
  // the binned errors are over the samples, so they stay right.
  c.measure_every = deck.get_int("thermo", "measure_every", 1, 1, 1'000'000'000);
  if (c.measure_every > c.sweeps)
    deck.fail("thermo", "measure_every", "must not exceed thermo.sweeps (" + std::to_string(c.sweeps) + ")");
  c.error_blocks = deck.get_int("thermo", "error_blocks", 32, 2, 1'000'000);
  if (c.error_blocks > c.samples())
    deck.fail("thermo", "error_blocks",
              "must not exceed the samples, thermo.sweeps / thermo.measure_every (" +
                  std::to_string(c.samples()) + ")");
  if (c.error_blocks * c.replicas() > 10'000'000)
    deck.fail("thermo", "error_blocks", "error_blocks * temperatures must be <= 1e7");
  // Configurations are gathered to rank 0 through MPI (int counts).
  if (c.save_configurations && c.sites() * c.replicas() >= (std::int64_t(1) << 31))
    deck.fail("thermo", "save_configurations",
              "sites * temperatures must be < 2^31 to save configurations (" + std::to_string(c.sites()) +
                  " sites x " + std::to_string(c.replicas()) + " temperatures)");
  const auto kernel = deck.get_string("thermo", "kernel", "auto", {"auto", "generic", "multispin"});
  c.kernel = kernel == "auto"      ? KernelChoice::automatic
             : kernel == "generic" ? KernelChoice::generic
                                   : KernelChoice::multispin;
  if (c.kernel == KernelChoice::multispin && !c.multispin_possible())
    deck.fail("thermo", "kernel", "multispin needs L a multiple of 32");
  const auto update = deck.get_string("thermo", "update", "auto", {"auto", "metropolis", "heat_bath"});
  c.update = update == "auto"         ? UpdateChoice::automatic
             : update == "metropolis" ? UpdateChoice::metropolis
                                      : UpdateChoice::heat_bath;
  // Forced Metropolis where it accepts 99 % of even the largest increase
  // would give a chain that does not mix and error bars that do not show it.
  if (c.update == UpdateChoice::metropolis) {
    for (double T : c.temperatures)
      if (c.largest_delta_e() / T < 0.01) {
        std::ostringstream msg;
        msg << "metropolis accepts more than 99% of all moves at T = " << T << " (largest energy change "
            << c.largest_delta_e()
            << "): checkerboard sweeps would flip whole colours and not mix; use update = \"heat_bath\" "
               "or \"auto\"";
        deck.fail("thermo", "update", msg.str());
      }
  }
  c.checkpoint_every = deck.get_int("thermo", "checkpoint_every", 0, 0, 1'000'000'000);
  // Checkpoints gather every lattice to rank 0 through MPI (int counts).
  if (c.checkpoint_every > 0 && c.sites() * c.replicas() >= (std::int64_t(1) << 31))
    deck.fail("thermo", "checkpoint_every",
              "sites * temperatures must be < 2^31 for checkpoints (" + std::to_string(c.sites()) +
                  " sites x " + std::to_string(c.replicas()) + " temperatures)");
  // The sweep index is one 32-bit word of the random-number counter.
  if (c.thermalization + c.sweeps >= (std::int64_t(1) << 32))
    deck.fail("thermo", "sweeps", "thermalization + sweeps must be < 2^32");
  return c;
}

}  // namespace thermo
}  // namespace prism
