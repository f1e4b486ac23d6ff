#include "oscillators/osc_config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/deck.hpp"

namespace prism::oscillators {

namespace {
const std::string kSection = "oscillators";
}

Config parse_config(Deck& deck) {
  Config c;
  const auto& s = kSection;
  // Keys of one setting only: named as such when given under another.
  deck.only_with(s, {"m", "gamma"}, "order = \"second\"");
  deck.only_with(s, {"neighbours"}, "coupling = \"ring\"");
  deck.only_with(s, {"mean_degree", "graph_seed"}, "coupling = \"random\"");
  deck.only_with(s, {"file"}, "coupling = \"file\"");
  deck.only_with(s, {"gather_blocks"}, "a graph (coupling other than \"all\")");
  deck.only_with(s, {"frequency_file"}, "frequencies = \"file\"");
  deck.only_with(s, {"omega"}, "frequencies other than \"file\"");
  deck.only_with(s, {"spread", "frequency_seed"}, "frequencies = \"gaussian\" or \"lorentzian\"");
  deck.only_with(s, {"winding"}, "initial = \"twisted\"");
  c.order =
      deck.get_string(s, "order", "first", {"first", "second"}) == "first" ? Order::first : Order::second;
  c.N = deck.get_int(s, "oscillators", 1024, 2, std::int64_t(1) << 31);
  const auto coupling = deck.get_string(
      s, "coupling", "all", {"all", "complete", "ring", "lattice2d", "lattice3d", "random", "file"});
  c.coupling = coupling == "all"         ? Coupling::all
               : coupling == "complete"  ? Coupling::complete
               : coupling == "ring"      ? Coupling::ring
               : coupling == "lattice2d" ? Coupling::lattice2d
               : coupling == "lattice3d" ? Coupling::lattice3d
               : coupling == "random"    ? Coupling::random
                                         : Coupling::file;
  if (c.coupling == Coupling::ring) {
    c.neighbours = deck.get_int(s, "neighbours", 1, 1, 1'000'000);
    if (2 * c.neighbours >= c.N)
      deck.fail(s, "neighbours", "2 x neighbours must be below the oscillator count");
  }
  if (c.coupling == Coupling::complete && c.N > 5'000)
    deck.fail(s, "oscillators",
              "a complete graph is stored edge by edge: at most 5000 oscillators (use coupling = \"all\")");
  auto side = [&](int dim) {
    const auto L = std::int64_t(std::llround(std::pow(double(c.N), 1.0 / dim)));
    for (std::int64_t l = std::max<std::int64_t>(L - 1, 1); l <= L + 1; ++l) {
      std::int64_t p = 1;
      for (int d = 0; d < dim; ++d) p *= l;
      if (p == c.N && l >= 3) return;
    }
    deck.fail(s, "oscillators",
              "must be L^" + std::to_string(dim) + " with L >= 3 for coupling = \"lattice" +
                  std::to_string(dim) + "d\"");
  };
  if (c.coupling == Coupling::lattice2d) side(2);
  if (c.coupling == Coupling::lattice3d) side(3);
  if (c.coupling == Coupling::random) {
    c.mean_degree = deck.get_double(s, "mean_degree", 10.0, 0.0, double(c.N - 1), true);
    c.graph_seed = std::uint64_t(deck.get_int(s, "graph_seed", 1, 0, INT64_MAX));
  }
  if (c.coupling == Coupling::file) c.file = deck.get_path(s, "file", std::nullopt);
  if (c.sparse()) {
    const toml::node* node = deck.node(s, "gather_blocks");  // "auto" (0) or 1 .. 64
    if (node && !(node->value<std::string>() == "auto")) {
      const auto v = node->value<std::int64_t>();
      if (!node->is_integer() || !v || *v < 1 || *v > 64)
        deck.fail(s, "gather_blocks", "must be \"auto\" or an integer from 1 to 64");
      c.gather_blocks = *v;
    }
  }

  if (deck.has(s, "K")) {
    const toml::node* node = deck.node(s, "K");
    c.K = node && node->is_array() ? deck.get_numbers(s, "K", "coupling strength")
                                   : std::vector<double>{deck.get_double(s, "K", std::nullopt)};
    if (c.K.empty() || c.K.size() > 4096)
      deck.fail(s, "K", "must be a number or an array of 1 to 4096 numbers");
    for (double k : c.K)
      if (!std::isfinite(k)) deck.fail(s, "K", "every coupling strength must be finite");
  }
  c.alpha = deck.get_double(s, "alpha", 0.0, -M_PI, M_PI);
  c.T = deck.get_double(s, "T", 0.0, 0.0, 1e6);
  if (c.order == Order::second) {
    c.m = deck.get_double(s, "m", 1.0, 0.0, 1e12, true);
    c.gamma = deck.get_double(s, "gamma", 1.0, 0.0, 1e12, true);
  }
  c.dt = deck.get_double(s, "dt", 0.01, 0.0, 1e3, true);

  const auto freq =
      deck.get_string(s, "frequencies", "identical", {"identical", "gaussian", "lorentzian", "file"});
  c.frequencies = freq == "identical"  ? Frequencies::identical
                  : freq == "gaussian" ? Frequencies::gaussian
                  : freq == "file"     ? Frequencies::file
                                       : Frequencies::lorentzian;
  if (c.frequencies == Frequencies::file) {
    c.frequency_file = deck.get_path(s, "frequency_file", std::nullopt);
  } else {
    c.omega = deck.get_double(s, "omega", 0.0, -1e6, 1e6);
  }
  if (c.frequencies == Frequencies::gaussian || c.frequencies == Frequencies::lorentzian) {
    c.spread = deck.get_double(s, "spread", 1.0, 0.0, 1e6, true);
    c.frequency_seed = std::uint64_t(deck.get_int(s, "frequency_seed", 1, 0, INT64_MAX));
  }
  const auto init = deck.get_string(s, "initial", "random", {"random", "synchronized", "twisted"});
  c.initial = init == "random"         ? Initial::random
              : init == "synchronized" ? Initial::synchronized
                                       : Initial::twisted;
  if (c.initial == Initial::twisted) c.winding = deck.get_int(s, "winding", 1, -c.N / 2, c.N / 2);

  c.steps = deck.get_int(s, "steps", 1000, 1, std::int64_t(1) << 40);
  c.record_every = deck.get_int(s, "record_every", std::max<std::int64_t>(1, c.steps / 1000), 1, c.steps);
  c.transient = deck.get_int(s, "transient", c.steps / 5, 0, c.steps - 1);
  c.replicas = deck.get_int(s, "replicas", 1, 1, 1'000'000);
  c.final_phases = deck.get_bool(s, "final_phases", false);
  c.spatial = deck.get_string(s, "decompose", "runs", {"runs", "oscillators"}) == "oscillators";
  if (c.records() > 10'000'000 / std::max<std::int64_t>(1, c.units()))
    deck.fail(s, "record_every",
              "gives " + std::to_string(c.records()) + " records for each of " + std::to_string(c.units()) +
                  " runs; at most 10^7 records in all");
  if (c.final_phases && double(c.units()) * double(c.N) > 5e8)
    deck.fail(s, "final_phases", "would write more than 5e8 phases (units x oscillators)");
  // The averages need records after the transient.
  if (c.records() - c.transient / c.record_every < 1)
    deck.fail(s, "transient",
              "leaves no record after it (steps " + std::to_string(c.steps) + ", record_every " +
                  std::to_string(c.record_every) + ")");
  return c;
}

int gather_blocks_for(const Config& c, double phases, bool gpu) {
  if (c.gather_blocks > 0) return int(std::min<std::int64_t>(c.gather_blocks, c.N));
  if (!gpu) return 1;
  return int(std::clamp(std::ceil(phases * sizeof(double) / kGatherSlice), 1.0, 64.0));
}

std::string stability_violation(const Config& c, double max_over_mean) {
  double kmax = 0;
  for (double k : c.K) kmax = std::max(kmax, std::fabs(k));
  const double kappa = c.sparse() ? kmax * 2.0 * max_over_mean : kmax;
  std::ostringstream os;
  if (c.order == Order::first && c.dt * kappa >= 1.0) {
    os << "dt = " << c.dt
       << " is too large for the coupling: first order needs dt x kappa < 1, kappa = " << kappa
       << " (docs/oscillators.md, stability)";
  } else if (c.order == Order::second && c.dt * std::sqrt(kappa / c.m) >= 1.0) {
    os << "dt = " << c.dt
       << " is too large for the coupling: second order needs dt x sqrt(kappa / m) < 1, kappa = " << kappa
       << ", m = " << c.m << " (docs/oscillators.md, stability)";
  }
  return os.str();
}

}  // namespace prism::oscillators
