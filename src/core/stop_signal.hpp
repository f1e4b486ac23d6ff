#pragma once
// SIGTERM and SIGUSR1 (Slurm's warning before a time limit or pre-emption)
// ask a restartable workload to finish its current step, write its results
// and a checkpoint, and exit cleanly.  Workloads that cannot stop early keep
// the default action (terminate): their output is written only at the end,
// never half.
#include <string>

namespace prism {

// Installs the handlers; call before Kokkos starts.
void install_stop_handlers();
// For a workload that cannot stop early: SIGTERM, SIGUSR1 and SIGINT remove
// `tmp_path` (the output's reserved .tmp; empty on ranks without one) and
// then end the process with the signal's default action.
void install_cleanup_handlers(const std::string& tmp_path);
// The signal that asked this rank to stop, 0 if none.
int stop_signal();

}  // namespace prism
