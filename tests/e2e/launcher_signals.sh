# Signals through launchers: SIGTERM to jobs/local/run.sh (mpirun, 2 ranks)
# and SIGUSR1 to a Slurm batch script's shell (prism_node.sbatch, with a fake
# srun) both reach the ranks as SIGUSR1, and the run ends with exit 0, a
# complete file and a checkpoint.
source "$(dirname "$0")/common.sh"
: "${PRISM_PYTHON:?needs a Python with h5py}"
deck="$SRC/tests/decks/small_pt.toml"
long=(--set thermo.sweeps=1000000 --set run.output="$WORK/local.h5")
checkpointed() {
  "$PRISM_PYTHON" -c "import h5py,sys; g=h5py.File('$1')['thermo']; sys.exit(0 if 'checkpoint' in g else 1)"
}
cd "$WORK"
NP=2 EXE="$PRISM" bash "$SRC/jobs/local/run.sh" "$deck" "${long[@]}" > local.log 2>&1 &
stop_once_started local.log $! TERM 1 || fail "run.sh exited $? after SIGTERM: $(tail -5 local.log)"
checkpointed local.h5 || fail "no checkpoint after SIGTERM to run.sh"
# Ctrl-C in a terminal: SIGINT to the whole foreground process group.
rm -f local.h5
set -m  # the script gets a process group of its own, as in a terminal
NP=2 EXE="$PRISM" bash "$SRC/jobs/local/run.sh" "$deck" "${long[@]}" > local.log 2>&1 &
pid=$!
set +m
for _ in $(seq 200); do grep -q "^prism" local.log && break; sleep 0.05; done
sleep 1
kill -INT -- -"$pid"
wait "$pid" || fail "run.sh exited $? after Ctrl-C: $(tail -5 local.log)"
grep -q "continue with" local.log || fail "no clean stop through run.sh: $(tail -5 local.log)"
checkpointed local.h5 || fail "no checkpoint after SIGTERM to run.sh"

# The batch script under a fake srun that starts the ranks with mpirun.
mkdir -p bin jobs
ln -s "$SRC/jobs/lib" jobs/lib
printf '#!/bin/bash\nshift\nexec %s -np 2 --oversubscribe --bind-to none "$@"\n' "${MPIEXEC:-mpirun}" > bin/srun
chmod +x bin/srun
PATH="$WORK/bin:$PATH" SLURM_SUBMIT_DIR="$WORK" SLURM_JOB_ID=1 SLURM_CPUS_PER_TASK=1 EXE="$PRISM" DECK="$deck" \
  OUTPUT="$WORK/batch.h5" bash "$SRC/jobs/slurm/prism_node.sbatch" --set thermo.sweeps=1000000 > batch.log 2>&1 &
stop_once_started batch.log $! USR1 1 || fail "prism_node.sbatch exited $? after SIGUSR1: $(tail -5 batch.log)"
grep -q "continue with" batch.log || fail "the warning did not reach the ranks: $(tail -5 batch.log)"
checkpointed batch.h5 || fail "no checkpoint after the batch shell's SIGUSR1"
echo "signals through run.sh and the batch script reach prism"
