#pragma once
// What the MPI test suites share: the world communicator (test_main_mpi.cpp)
// and a way to run a workload in-process as main.cpp would, without files.
#include "core/run_config.hpp"
#include "core/timers.hpp"
#include "core/workload.hpp"

namespace prism {
class MpiContext;
namespace test {
extern MpiContext* world;  // set by test_main_mpi.cpp

// Runs `w` on the world with this seed: no signals, no output file.
inline void run_workload(Workload& w, std::uint64_t seed) {
  RunConfig run;
  run.seed = seed;
  Timers timers;
  RunContext ctx{*world, run, timers, false, [] { return false; }, [] {}};
  w.run(ctx);
}
}  // namespace test
}  // namespace prism
