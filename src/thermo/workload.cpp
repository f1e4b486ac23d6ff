#include "thermo/workload.hpp"

#include "core/run_config.hpp"
#include "thermo/driver.hpp"

namespace prism::thermo {

namespace {

class ThermoWorkload final : public Workload {
 public:
  explicit ThermoWorkload(Config cfg) : cfg_(std::move(cfg)) {}

  std::string name() const override { return "thermo"; }
  std::int64_t units() const override { return cfg_.replicas(); }
  std::string units_key() const override { return "temperatures"; }
  std::string units_name() const override { return "replicas"; }

  void run(RunContext& ctx) override {
    seed_ = ctx.run.seed;
    res_ = thermo::run(cfg_, seed_, ctx.mpi, ctx.timers, ctx.show_progress);
  }

  void write(H5Writer& out) const override { write_results(out, cfg_, seed_, res_); }

  Throughput throughput() const override {
    Throughput tp{"spin_updates", double(res_.spin_updates), "sweep", "flips_per_ns", 1e-9, {}};
    tp.fields = {{"replicas", std::to_string(cfg_.replicas())},
                 {"sites", std::to_string(cfg_.sites())},
                 {"sweeps", std::to_string(cfg_.thermalization + cfg_.sweeps)}};
    return tp;
  }

  void print_summary(std::FILE* out) const override {
    std::fprintf(out, "\n%-8s %12s %12s %12s %12s %12s\n", "T", "E/N", "err", "C/N", "|M|/N", "chi/N");
    for (std::size_t t = 0; t < res_.temperature.size(); ++t) {
      const auto& e = res_.estimates[t];
      std::fprintf(out, "%-8.4f %12.6f %12.2e %12.5f %12.6f %12.5f\n", res_.temperature[t], e.energy_mean,
                   e.energy_err, e.specific_heat, e.magnetization_abs_mean, e.susceptibility);
    }
  }

 private:
  const Config cfg_;
  std::uint64_t seed_ = 0;
  Results res_;
};

}  // namespace

std::unique_ptr<Workload> make_workload(Deck& deck) {
  return std::make_unique<ThermoWorkload>(parse_config(deck));
}

}  // namespace prism::thermo
