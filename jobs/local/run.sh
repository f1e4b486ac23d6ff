#!/usr/bin/env bash
# Workstation run: one rank per GPU (or NP ranks on the CPU build).
# Stop it with Ctrl-C (or kill -TERM on this script): results and a checkpoint are written.
#   jobs/local/run.sh [DECK] [prism arguments...]
#   NP=2 EXE=build/cuda/src/prism jobs/local/run.sh inputs/ising3d.toml --set thermo.L=32
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
EXE=${EXE:-$ROOT/build/cpu/src/prism}
DECK=${1:-$ROOT/inputs/quickstart.toml}
shift || true
if command -v nvidia-smi >/dev/null 2>&1; then
  NP=${NP:-$(nvidia-smi -L | wc -l)}           # one rank per visible GPU
else
  NP=${NP:-2}
fi
# Each rank gets an even share of the cores for its Kokkos host threads.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( $(nproc) / NP > 0 ? $(nproc) / NP : 1 ))}
export OMP_PROC_BIND=${OMP_PROC_BIND:-false}
# --bind-to none: ranks own disjoint GPUs; host threads float.  prism picks
# GPU OMPI_COMM_WORLD_LOCAL_RANK modulo the visible devices.  Ctrl-C or
# SIGTERM to this script becomes SIGUSR1 to the ranks (mpirun itself would
# kill them a few seconds after a SIGTERM): a restartable workload stops
# cleanly with its results and a checkpoint.
source "$ROOT/jobs/lib/forward_signals.sh"
run_forwarding_signals mpirun -np "$NP" --bind-to none "$EXE" "$@" "$DECK"
