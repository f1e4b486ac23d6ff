# The Slurm scaling jobs, run outside Slurm (NP, LAUNCH) on small problems at
# 1 and 2 ranks, then postprocess/scaling.py on each series: the tooling of
# the scaling study works end to end and sorts runs into weak and strong.
source "$(dirname "$0")/common.sh"
: "${PRISM_PYTHON:?needs a Python with h5py}"
cd "$WORK"
J="$SRC/jobs/slurm"
for np in 1 2; do
  launcher="${MPIEXEC:-mpirun} -np $np --oversubscribe --bind-to none"
  EXE="$PRISM" DECK="$SRC/tests/decks/small_pt.toml" NP=$np LAUNCH="$launcher" SWEEPS=200 \
    bash "$J/weak_scaling.sbatch" > weak$np.log 2>&1 || { cat weak$np.log; fail "weak_scaling.sbatch at $np ranks"; }
  EXE="$PRISM" DECK="$SRC/inputs/ea3d_spin_glass.toml" NP=$np LAUNCH="$launcher" L=6 COUNT=4 THERMALIZATION=50 SWEEPS=200 \
    bash "$J/strong_scaling.sbatch" > strong$np.log 2>&1 || { cat strong$np.log; fail "strong_scaling.sbatch at $np ranks"; }
  for mode in strong weak; do
    EXE="$PRISM" DECK="$SRC/inputs/bench_oscillators.toml" NP=$np LAUNCH="$launcher" MODE=$mode COUPLING=random \
      PER_GPU=5000 STEPS=40 \
      bash "$J/oscillators_scaling.sbatch" > osc-$mode$np.log 2>&1 ||
      { cat osc-$mode$np.log; fail "oscillators_scaling.sbatch $mode at $np ranks"; }
    EXE="$PRISM" DECK="$SRC/tests/decks/small_nqs.toml" NP=$np LAUNCH="$launcher" MODE=$mode PER_GPU=16 ITERATIONS=2 \
      bash "$J/nqs_scaling.sbatch" > nqs-$mode$np.log 2>&1 || { cat nqs-$mode$np.log; fail "nqs_scaling.sbatch $mode at $np ranks"; }
    EXE="$PRISM" DECK="$SRC/inputs/gnn.toml" NP=$np LAUNCH="$launcher" MODE=$mode REP=2 \
      bash "$J/gnn_scaling.sbatch" > gnn-$mode$np.log 2>&1 || { cat gnn-$mode$np.log; fail "gnn_scaling.sbatch $mode at $np ranks"; }
  done
done
NP=1 MODE=sideways bash "$J/nqs_scaling.sbatch" > bad.log 2>&1 && fail "nqs_scaling.sbatch accepted MODE=sideways"
grep -q "MODE must be strong or weak" bad.log || fail "no clear error for a bad MODE"
for set in weak strong nqs-strong nqs-weak osc-strong osc-weak gnn-strong gnn-weak; do
  want=${set#nqs-}
  want=${want#osc-}
  want=${want#gnn-}
  "$PRISM_PYTHON" "$SRC/postprocess/scaling.py" $set-np1.h5 $set-np2.h5 -o $set.png > $set.txt
  grep -q "^$want scaling" $set.txt || { cat $set.txt; fail "$set series not recognised as $want scaling"; }
  [[ "$(head -c 4 $set.png | tail -c 3)" == "PNG" ]] || fail "$set.png is not a PNG"
done
echo "scaling jobs + scaling.py ok"
