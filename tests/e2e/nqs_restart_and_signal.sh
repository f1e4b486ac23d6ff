# nqs checkpoints: a run stopped at iteration 10 and restarted (on another
# number of ranks) ends bitwise where an uninterrupted run ends: in double,
# in float, with complex parameters, with translation symmetry and with the
# exact SR solve; SIGUSR1
# makes prism finish the iteration, write a complete file and exit 0.
source "$(dirname "$0")/common.sh"
command -v h5diff >/dev/null || fail "h5diff (hdf5-tools) is needed"
deck="$SRC/tests/decks/small_nqs.toml"
cd "$WORK"
"$PRISM" --output full.h5 "$deck" > full.log
"$PRISM" --output part.h5 --set nqs.iterations=10 "$deck" > part1.log
mpirun_np 2 "$PRISM" --restart part.h5 --output part.h5 "$deck" > part2.log
grep -q "restarting from part.h5 at iteration 10" part2.log || fail "no restart message: $(cat part2.log)"
h5diff -r --exclude-path /time full.h5 part.h5 /nqs /nqs > diff.txt || { head -30 diff.txt; fail "restart differs"; }

# The same with the float sampler; its checkpoint does not restart a double run.
f=(--set nqs.precision=float)
"$PRISM" --output ffull.h5 "${f[@]}" "$deck" > ffull.log
"$PRISM" --output fpart.h5 "${f[@]}" --set nqs.iterations=10 "$deck" > fpart1.log
mpirun_np 2 "$PRISM" --restart fpart.h5 --output fpart.h5 "${f[@]}" "$deck" > fpart2.log
h5diff -r --exclude-path /time ffull.h5 fpart.h5 /nqs /nqs > fdiff.txt || { head -30 fdiff.txt; fail "float restart differs"; }
set +e
"$PRISM" --restart fpart.h5 --output fdouble.h5 "$deck" > fdouble.log 2>&1
rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "other settings" fdouble.log || fail "float checkpoint restarted in double: rc=$rc"

# The same with complex parameters; a real checkpoint does not restart a complex run.
z=(--set nqs.parameters=complex --set nqs.marshall_sign=false)
"$PRISM" --output cfull.h5 "${z[@]}" "$deck" > cfull.log
"$PRISM" --output cpart.h5 "${z[@]}" --set nqs.iterations=10 "$deck" > cpart1.log
mpirun_np 2 "$PRISM" --restart cpart.h5 --output cpart.h5 "${z[@]}" "$deck" > cpart2.log
h5diff -r --exclude-path /time cfull.h5 cpart.h5 /nqs /nqs > cdiff.txt || { head -30 cdiff.txt; fail "complex restart differs"; }
set +e
"$PRISM" --restart part.h5 --output creal.h5 "${z[@]}" "$deck" > creal.log 2>&1
rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "other settings" creal.log || fail "real checkpoint restarted a complex run: rc=$rc"

# The same with translation symmetry: the checkpoint holds the shared parameters.
y=(--set nqs.symmetry=translation)
"$PRISM" --output yfull.h5 "${y[@]}" "$deck" > yfull.log
"$PRISM" --output ypart.h5 "${y[@]}" --set nqs.iterations=10 "$deck" > ypart1.log
mpirun_np 2 "$PRISM" --restart ypart.h5 --output ypart.h5 "${y[@]}" "$deck" > ypart2.log
h5diff -r --exclude-path /time yfull.h5 ypart.h5 /nqs /nqs > ydiff.txt || { head -30 ydiff.txt; fail "symmetric restart differs"; }

# The same with the exact SR solve (complex parameters: the gathered rows in real form).
x=(--set nqs.parameters=complex --set nqs.marshall_sign=false --set nqs.sr_solver=cholesky)
"$PRISM" --output xfull.h5 "${x[@]}" "$deck" > xfull.log
"$PRISM" --output xpart.h5 "${x[@]}" --set nqs.iterations=10 "$deck" > xpart1.log
mpirun_np 2 "$PRISM" --restart xpart.h5 --output xpart.h5 "${x[@]}" "$deck" > xpart2.log
h5diff -r --exclude-path /time xfull.h5 xpart.h5 /nqs /nqs > xdiff.txt || { head -30 xdiff.txt; fail "cholesky restart differs"; }

# Signal: a long run, SIGUSR1 after a moment, then finish it by restarting.
"$PRISM" --output sig.h5 --set nqs.iterations=1000000 "$deck" > sig.log 2>&1 &
rc=0
stop_once_started sig.log $! USR1 1 || rc=$?
[[ $rc -eq 0 ]] || fail "exit status $rc after SIGUSR1: $(tail -5 sig.log)"
grep -q "continue with: prism --restart sig.h5 --output sig.h5" sig.log || fail "no restart hint: $(tail -5 sig.log)"
[[ -s sig.h5 && ! -e sig.h5.tmp ]] || fail "no complete output after the signal"
next=$("${PRISM_PYTHON:-python3}" -c "import h5py; print(int(h5py.File('sig.h5')['nqs/checkpoint'].attrs['next_iteration']))" 2>/dev/null ||
       sed -n 's/.*after iteration \([0-9]*\) of.*/\1/p' sig.log)
"$PRISM" --restart sig.h5 --output sig.h5 --set nqs.iterations=$((next + 2)) "$deck" > sig2.log ||
  fail "restart after the signal failed: $(tail -5 sig2.log)"
echo "restart and signal handling ok (stopped after iteration $next)"

# A restart with other settings (here the model) is refused with the reason.
set +e
"$PRISM" --restart part.h5 --output other.h5 --set nqs.hamiltonian=tfim --set nqs.marshall_sign=false "$deck" > other.log 2>&1
rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "checkpoint was made with other settings" other.log || fail "mismatched restart: rc=$rc $(cat other.log)"
[[ ! -e other.h5 ]] || fail "output written after a refused restart"
echo "mismatched restart refused"

# Checkpoint values are validated: a NaN parameter, a NaN in the history, a
# chain outside the S^z = 0 sector are each refused with the reason, and the
# good file is left as it was.
corrupt() {  # NAME PYTHON-STATEMENT-ON-f EXPECTED-TEXT
  cp full.h5 "$1.h5"
  "${PRISM_PYTHON:-python3}" -c "import h5py, numpy as np; f = h5py.File('$1.h5', 'r+'); $2"
  local sum rc=0
  sum=$(sha256sum "$1.h5")
  "$PRISM" --restart "$1.h5" --output "$1.h5" --set nqs.iterations=22 "$deck" > "$1.log" 2>&1 || rc=$?
  [[ $rc -eq 2 ]] && grep -q "$3" "$1.log" || fail "corrupted checkpoint $1 accepted: rc=$rc $(tail -3 "$1.log")"
  [[ "$(sha256sum "$1.h5")" == "$sum" ]] || fail "a refused restart changed $1.h5"
}
corrupt nanparam "f['nqs/checkpoint/parameters'][3] = np.nan" "parameters are not all finite"
corrupt nanhistory "f['nqs/energy_mean'][5] = np.nan" "non-finite value at iteration 5"
corrupt sector "d = f['nqs/checkpoint/chain_spins']; row = d[2]; row[row == -1][:1]; i = int(np.argmax(row == -1)); row[i] = 1; d[2] = row" "outside the S^z = 0 sector"
echo "corrupted checkpoints refused"
