#pragma once
// nqs as a prism workload: variational Monte Carlo of an RBM wave function,
// restartable from the checkpoint in its output file.
#include <memory>
#include <optional>

#include "core/workload.hpp"
#include "nqs/nqs_config.hpp"
#include "nqs/output.hpp"

namespace prism::nqs {

class Vmc;

class NqsWorkload final : public Workload {
 public:
  explicit NqsWorkload(Config cfg) : cfg_(std::move(cfg)) {}

  std::string name() const override { return "nqs"; }
  std::int64_t units() const override { return cfg_.chains; }
  std::string units_key() const override { return "chains"; }
  std::string units_name() const override { return "chains"; }

  bool restartable() const override { return true; }
  // The length of the run, the measurement after it and what is only
  // reported may change; everything
  // that shapes the trajectory may not.
  std::vector<std::string> restart_free_keys() const override {
    return {"iterations", "checkpoint_every", "reference_energy", "observables_iterations"};
  }
  std::string restore(const H5Reader& in) override;
  void run(RunContext& ctx) override;
  void write(H5Writer& out) const override;
  Throughput throughput() const override;
  void print_summary(std::FILE* out) const override;
  RunStatus status() const override;

  const Results& results() const { return res_; }

 private:
  // Samples the final state nqs.observables_iterations times into res_.observables.
  void measure(Vmc& vmc, RunContext& ctx);
  const Config cfg_;
  std::uint64_t seed_ = 0;
  std::optional<Results> resume_;
  std::int64_t first_ = 0;  // first iteration of this run (> 0 on a restart)
  Results res_;
};

std::unique_ptr<Workload> make_workload(Deck& deck);

}  // namespace prism::nqs
