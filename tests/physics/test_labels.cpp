// Every kernel and view of the thermo workload carries the "thermo::" prefix,
// so Kokkos Tools and profilers read cleanly.
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>
#include <set>
#include <string>

#include "core/timers.hpp"
#include "test_env.hpp"
#include "thermo/workload.hpp"

namespace {
std::set<std::string>* kernel_names = nullptr;

void begin_kernel(const char* name, const uint32_t, uint64_t*) {
  if (kernel_names) kernel_names->insert(name);
}
}  // namespace

TEST(Labels, ThermoKernelsArePrefixed) {
  std::set<std::string> names;
  kernel_names = &names;
  Kokkos::Tools::Experimental::set_begin_parallel_for_callback(begin_kernel);
  Kokkos::Tools::Experimental::set_begin_parallel_reduce_callback(begin_kernel);
  for (auto kernel : {prism::thermo::KernelChoice::generic, prism::thermo::KernelChoice::multispin}) {
    prism::thermo::Config cfg;
    cfg.model = prism::thermo::Model::ising2d;
    cfg.L = 32;
    cfg.temperatures = {2.0, 2.5, 3.0};  // one replica per rank at 3 ranks
    cfg.thermalization = 2;
    cfg.sweeps = 4;
    cfg.error_blocks = 2;
    cfg.exchange_every = 1;
    cfg.save_configurations = true;
    cfg.kernel = kernel;
    prism::thermo::ThermoWorkload w(cfg);
    prism::test::run_workload(w, 1);
  }
  Kokkos::Tools::Experimental::set_begin_parallel_for_callback(nullptr);
  Kokkos::Tools::Experimental::set_begin_parallel_reduce_callback(nullptr);
  kernel_names = nullptr;
  ASSERT_FALSE(names.empty());
  int thermo_kernels = 0;
  for (const auto& n : names) {
    // Kokkos' own deep_copy/fill kernels carry Kokkos:: labels; ours must be thermo::
    if (n.rfind("Kokkos::", 0) == 0) continue;
    EXPECT_EQ(n.rfind("thermo::", 0), 0u) << "kernel label without module prefix: " << n;
    ++thermo_kernels;
  }
  EXPECT_GE(thermo_kernels, 5);
}
