# thermo checkpoints: SIGUSR1 makes a parallel-tempering run finish its
# exchange interval, write its results so far and a checkpoint, and exit 0;
# the restart, on another number of ranks, ends bitwise where an
# uninterrupted run ends.  A run with checkpoint_every restarts the same way,
# and a checkpoint with other settings or bad values is refused.
source "$(dirname "$0")/common.sh"
: "${PRISM_PYTHON:?needs a Python with h5py}"
deck="$SRC/tests/decks/small_pt.toml"
long=(--set thermo.sweeps=40000)
cmp() { "$PRISM_PYTHON" "$SRC/tests/e2e/compare_h5.py" "$@"; }
cd "$WORK"
mpirun_np 3 "$PRISM" --output full.h5 "${long[@]}" "$deck" > full.log

"$PRISM" --output sig.h5 "${long[@]}" "$deck" > sig.log 2>&1 &
rc=0
stop_once_started sig.log $! USR1 0.5 || rc=$?
[[ $rc -eq 0 ]] || fail "exit status $rc after SIGUSR1: $(tail -5 sig.log)"
grep -q "continue with: prism --restart sig.h5 --output sig.h5" sig.log || fail "no restart hint: $(tail -5 sig.log)"
[[ -s sig.h5 && ! -e sig.h5.tmp ]] || fail "no complete output after the signal"
"$PRISM_PYTHON" -c "import h5py,sys; g=h5py.File('sig.h5')['thermo']; sys.exit(0 if g.attrs['complete']==0 and 'checkpoint' in g else 1)" ||
  fail "the stopped run's file is not marked incomplete with a checkpoint"
mpirun_np 2 "$PRISM" --restart sig.h5 --output sig.h5 "${long[@]}" "$deck" > sig2.log
grep -q "restarting from sig.h5 at sweep" sig2.log || fail "no restart message: $(head -20 sig2.log)"
cmp full.h5 sig.h5 /thermo || fail "signal + restart differs from the uninterrupted run"
echo "signal and restart: bitwise the uninterrupted run"

# Periodic checkpoints: kill -9 once the checkpoint at sweep 10000 is on disk;
# that file continues bitwise, and a finished run leaves no checkpoint.
"$PRISM" --output cp.h5 "${long[@]}" --set thermo.checkpoint_every=10000 "$deck" > cp.log 2>&1 &
pid=$!
for _ in $(seq 6000); do [[ -e cp.h5 ]] && break; sleep 0.01; done
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
[[ -e cp.h5 ]] || fail "no checkpoint file appeared"
[[ ! -e cp.h5.tmp ]] || rm -f cp.h5.tmp  # a write cut by kill -9 leaves only the .tmp
"$PRISM" --restart cp.h5 --output cp.h5 "${long[@]}" --set thermo.checkpoint_every=10000 "$deck" > cp2.log ||
  fail "restart from a periodic checkpoint failed: $(tail -5 cp2.log)"
cmp full.h5 cp.h5 /thermo || fail "periodic checkpoint + restart differs from the uninterrupted run"
"$PRISM_PYTHON" -c "import h5py,sys; sys.exit(0 if 'checkpoint' not in h5py.File('cp.h5')['thermo'] else 1)" ||
  fail "a finished run left a checkpoint"
# Refusals: another model, and spins that are not +-1.
"$PRISM" --output part.h5 "${long[@]}" "$deck" > part.log 2>&1 &
stop_once_started part.log $! TERM 0.3 || fail "SIGTERM run failed"
set +e
"$PRISM" --restart part.h5 --output other.h5 "${long[@]}" --set thermo.L=8 "$deck" > other.log 2>&1
rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "thermo.L = 16" other.log || fail "restart with another L: rc=$rc $(cat other.log)"
[[ ! -e other.h5 ]] || fail "output written after a refused restart"
cp part.h5 bad.h5
"$PRISM_PYTHON" -c "import h5py; f=h5py.File('bad.h5','r+'); d=f['thermo/checkpoint/spins']; d[0,0]=3"
set +e
"$PRISM" --restart bad.h5 --output bad2.h5 "${long[@]}" "$deck" > bad.log 2>&1
rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "spins are not +-1" bad.log || fail "corrupted spins accepted: rc=$rc $(cat bad.log)"
cp part.h5 bad.h5
"$PRISM_PYTHON" -c "import h5py; f=h5py.File('bad.h5','r+'); d=f['thermo/checkpoint/block_counts']; d[0]=d[0]+1"
rc=0
"$PRISM" --restart bad.h5 --output bad3.h5 "${long[@]}" "$deck" > bad3.log 2>&1 || rc=$?
[[ $rc -eq 2 ]] && grep -q "block counts" bad3.log || fail "inconsistent block counts accepted: rc=$rc $(cat bad3.log)"
echo "thermo checkpoints ok"
