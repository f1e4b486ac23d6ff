#pragma once
// gnn as a prism workload: an E(3)-equivariant interatomic potential (e3nn
// conventions) evaluated on a batch of structures, or a short NVE run of
// each.  Work units are structures, each run whole on one rank; or, with
// decompose = "space", the atoms of one structure split by slabs over the
// ranks (gnn/domain.hpp).  Either way the results do not depend on the
// number of ranks.
#include <memory>

#include "core/workload.hpp"
#include "gnn/gnn_config.hpp"
#include "gnn/model.hpp"
#include "gnn/structures.hpp"

namespace prism::gnn {

struct StructureResult {
  double energy = 0;
  std::array<double, 9> virial{};
  std::int64_t edges = 0;
  double closest = 0;
  std::vector<double> forces, atom_energies;  // when written
  // NVE: potential and kinetic energy at every recorded step
  std::vector<double> md_potential, md_kinetic;
};

class GnnWorkload final : public Workload {
 public:
  GnnWorkload(Config cfg, Model model, std::vector<Structure> structures);

  std::string name() const override { return "gnn"; }
  // decompose = "space": the atoms of the smallest structure bound the ranks.
  std::int64_t units() const override;
  std::string units_key() const override { return cfg_.spatial ? "decompose" : "structures"; }
  std::string units_name() const override { return cfg_.spatial ? "atoms" : "structures"; }

  void run(RunContext& ctx) override;
  void write(H5Writer& out) const override;
  Throughput throughput() const override;
  void print_summary(std::FILE* out) const override;
  RunStatus status() const override;

  const std::vector<StructureResult>& results() const { return results_; }  // rank 0 after run()

 private:
  template <class Real>
  void run_as(RunContext& ctx);
  const Config cfg_;
  const Model model_;
  const std::vector<Structure> structures_;
  std::vector<StructureResult> results_;
  std::int64_t atoms_ = 0, evaluations_ = 0;
  std::string error_;
};

// The closest pair of atoms (periodic images included) if closer than
// `limit`: {distance, i, j}; {limit, -1, -1} when none is.  Host code, O(N).
struct ClosePair {
  double distance = 0;
  std::int64_t i = -1, j = -1;
};
ClosePair closest_pair(const Structure& s, double limit);

std::unique_ptr<Workload> make_workload(Deck& deck);

}  // namespace prism::gnn
