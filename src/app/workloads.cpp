#include "app/workloads.hpp"

#include <array>

#include "classifier/workload.hpp"
#include "gnn/workload.hpp"
#include "nqs/workload.hpp"
#include "oscillators/workload.hpp"
#include "policy/workload.hpp"
#include "te/workload.hpp"
#include "thermo/workload.hpp"

namespace prism {

namespace {
// One row per workload: deck section, one line for --help, factory.
constexpr std::array kWorkloads = {
    WorkloadEntry{"thermo", "lattice spin models (Ising 2D/3D, +-J glass) by parallel tempering",
                  thermo::make_workload},
    WorkloadEntry{"nqs", "neural-quantum-state variational Monte Carlo (RBM, stochastic reconfiguration)",
                  nqs::make_workload},
    WorkloadEntry{"te",
                  "transfer entropy between time series (KSG estimator), TE networks with surrogate tests",
                  te::make_workload},
    WorkloadEntry{"classifier",
                  "active-inference classifier: recognition MLP, free energy, belief updating, exact "
                  "data-parallel training",
                  classifier::make_workload},
    WorkloadEntry{"policy",
                  "active-inference agents choosing policies by expected free energy (pymdp conventions)",
                  policy::make_workload},
    WorkloadEntry{
        "gnn",
        "E(3)-equivariant interatomic potential (e3nn conventions): energies, forces, virials, NVE dynamics",
        gnn::make_workload},
    WorkloadEntry{"oscillators",
                  "Langevin dynamics of phase-oscillator networks (noisy Kuramoto, first or second order)",
                  oscillators::make_workload},
};
}  // namespace

std::span<const WorkloadEntry> workload_table() {
  return kWorkloads;
}

}  // namespace prism
