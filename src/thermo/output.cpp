#include <cmath>

#include "core/h5_writer.hpp"
#include "thermo/driver.hpp"

namespace prism::thermo {

void write_results(H5Writer& out, const Config& cfg, std::uint64_t seed, const Results& res) {
  const std::string g = "/thermo";
  out.group(g);
  out.attribute(g, "model", std::string(model_name(cfg.model)));
  out.attribute(g, "L", cfg.L);
  out.attribute(g, "dim", static_cast<std::int64_t>(cfg.dim()));
  out.attribute(g, "sites", cfg.sites());
  out.attribute(g, "J", cfg.J);
  out.attribute(g, "h", cfg.h);
  out.attribute(g, "thermalization", cfg.thermalization);
  out.attribute(g, "sweeps", cfg.sweeps);
  out.attribute(g, "exchange_every", cfg.exchange_every);
  out.attribute(g, "disorder_seed", static_cast<std::int64_t>(cfg.disorder_seed));
  out.attribute(g, "seed", static_cast<std::int64_t>(seed));
  out.attribute(g, "error_blocks", cfg.error_blocks);
  out.attribute(g, "kernel", std::string(kernel_name(cfg)));
  out.attribute(g, "spin_updates", res.spin_updates);

  const std::size_t R = res.temperature.size();
  std::vector<double> col(R);
  auto column = [&](const char* name, double BlockAccumulator::Estimate::*field) {
    for (std::size_t t = 0; t < R; ++t) col[t] = res.estimates[t].*field;
    out.write(g + "/" + name, col);
  };
  out.write(g + "/temperature", res.temperature);
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

  std::vector<double> acceptance(res.swap_attempts.size());
  for (std::size_t p = 0; p < acceptance.size(); ++p)
    acceptance[p] = res.swap_attempts[p] ? double(res.swap_accepted[p]) / double(res.swap_attempts[p]) : NAN;
  out.write(g + "/swap_acceptance", acceptance);
  out.write(g + "/swap_attempts", res.swap_attempts);
  out.write(g + "/round_trips", res.round_trips);
  out.write(g + "/replica_of_temperature", res.replica_of_temperature);
  if (!res.configurations.empty()) {
    std::vector<std::uint64_t> dims{R};
    for (int d = 0; d < cfg.dim(); ++d) dims.push_back(static_cast<std::uint64_t>(cfg.L));
    out.write(g + "/configurations", res.configurations, dims);
  }
}

}  // namespace prism::thermo
