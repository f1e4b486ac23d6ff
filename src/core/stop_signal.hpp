#pragma once
// SIGTERM and SIGUSR1 (Slurm's warning before a time limit or pre-emption)
// ask a restartable workload to finish its current step, write its results
// and a checkpoint, and exit cleanly.  Workloads that cannot stop early keep
// the default action (terminate): their output is written only at the end,
// never half.
namespace prism {

// Installs the handlers; call before Kokkos starts.
void install_stop_handlers();
// The signal that asked this rank to stop, 0 if none.
int stop_signal();

}  // namespace prism
