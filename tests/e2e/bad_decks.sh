# Each broken deck in tests/decks/bad_*.toml gives exit status 2, the message
# named in its first line ("# expect: <text>"), and no output file.
source "$(dirname "$0")/common.sh"
n=0
for deck in "$SRC"/tests/decks/bad_*.toml; do
  expect="$(head -1 "$deck" | sed -n 's/^# expect: //p')"
  [[ -n "$expect" ]] || fail "$deck has no '# expect:' first line"
  set +e
  "$PRISM" --output "$WORK/out.h5" "$deck" >"$WORK/stdout" 2>"$WORK/stderr"
  rc=$?
  set -e
  [[ $rc -eq 2 ]] || fail "$deck: exit status $rc, expected 2 (stderr: $(cat "$WORK/stderr"))"
  grep -qF -- "$expect" "$WORK/stderr" || fail "$deck: stderr '$(cat "$WORK/stderr")' lacks '$expect'"
  [[ ! -e "$WORK/out.h5" && ! -e "$WORK/out.h5.tmp" ]] || fail "$deck: an output file was created"
  n=$((n + 1))
done
# An unreadable deck and a bad override behave the same way.
set +e
"$PRISM" "$WORK/missing.toml" 2>"$WORK/stderr"; rc=$?
set -e
[[ $rc -eq 2 ]] && grep -qF "missing.toml:0: cannot open the deck" "$WORK/stderr" || fail "missing deck: rc=$rc $(cat "$WORK/stderr")"
set +e
"$PRISM" --output "$WORK/out.h5" --set thermo.L=7 "$SRC/tests/decks/small_pt.toml" 2>"$WORK/stderr"; rc=$?
set -e
[[ $rc -eq 2 ]] && grep -qF -- "--set thermo.L: key 'thermo.L': must be even" "$WORK/stderr" || fail "bad --set: rc=$rc $(cat "$WORK/stderr")"
# More ranks than replicas is a clear deck error on every rank.
set +e
mpirun_np 3 "$PRISM" --output "$WORK/out.h5" --set 'thermo.temperatures=[2.0,3.0]' "$SRC/tests/decks/small_pt.toml" 2>"$WORK/stderr"; rc=$?
set -e
[[ $rc -eq 2 ]] && grep -qF "2 replicas cannot be spread over 3 ranks" "$WORK/stderr" || fail "ranks > replicas: rc=$rc $(cat "$WORK/stderr")"
[[ ! -e "$WORK/out.h5" ]] || fail "output written after an error"
echo "$n broken decks rejected as expected"
# Input that used to be dropped or misreported.
expect_error() {  # EXPECTED-TEXT prism-arguments...
  local expect=$1 rc=0; shift
  "$PRISM" --check "$@" > /dev/null 2> "$WORK/stderr" || rc=$?
  [[ $rc -eq 2 ]] && grep -qF -- "$expect" "$WORK/stderr" || fail "$*: rc=$rc $(cat "$WORK/stderr")"
}
pt="$SRC/tests/decks/small_pt.toml"
pol="$SRC/tests/decks/small_policy.toml"  # two controlled factors, A and B learnt
expect_error "key 'policy.evaluation': \"lanes\" does not apply to this model" --set policy.evaluation=lanes "$pol"
expect_error "key 'policy.evaluation': \"tiled\" does not apply to this model" --set policy.evaluation=tiled "$pol"
expect_error "key 'policy.lane_chunk': must be 0 (automatic) or a power of two from 32 on" --set policy.lane_chunk=100 "$pol"
expect_error "key 'policy.lane_width': must be 0 (automatic) or a power of two up to 32" --set policy.lane_width=12 "$pol"
expect_error "key 'policy.lane_products': must be one of auto | gemm | direct, got 'blas'" --set 'policy.lane_products="blas"' "$pol"
expect_error "the value must be one line" --set $'thermo.sweeps=100\nthermalization=5' "$pt"
expect_error "--set bogus.x: section 'bogus': unknown section" --set bogus.x=1 "$pt"
expect_error "is a directory, not a deck" "$SRC/tests"
expect_error "the output path is empty" --output '' "$pt"
expect_error "a non-ASCII character outside a quoted string" --set $'thermo.sweeps=1\xc3\xbf' "$pt"
expect_error "must be <= 1e+06, got 1e+160" --set thermo.J=1e160 "$pt"
expect_error "must be <= 1e+06, got 1e+300" --set nqs.h=1e300 "$SRC/tests/decks/small_nqs.toml"
expect_error "key 'nqs.phase_step_ratio': scales the steps of the imaginary parts" --set nqs.phase_step_ratio=2 "$SRC/tests/decks/small_nqs.toml"
expect_error "key 'nqs.sr_solver': must be one of cg | cholesky, got 'lu'" --set 'nqs.sr_solver="lu"' "$SRC/tests/decks/small_nqs.toml"
expect_error "this network has P = 10200 real parameters, above the limit of 4096" --set 'nqs.sr_solver="cholesky"' \
  --set 'nqs.lattice="square"' --set nqs.Lx=10 --set nqs.Ly=10 --set nqs.alpha=1 "$SRC/tests/decks/small_nqs.toml"
expect_error "key 'nqs.sr_precision': must be one of double | float, got 'half'" --set 'nqs.sr_precision="half"' "$SRC/tests/decks/small_nqs.toml"
expect_error "key 'nqs.sr_precision': \"float\" stores the matrix that CG's products read" --set 'nqs.sr_precision="float"' \
  "$SRC/tests/decks/small_nqs_cholesky.toml"
expect_error "key 'thermo.measure_every': must not exceed thermo.sweeps" --set thermo.measure_every=100000 "$pt"
expect_error "key 'thermo.measure_every': must be in [1, 1000000000], got 0" --set thermo.measure_every=0 "$pt"
expect_error "key 'thermo.error_blocks': must not exceed the samples, thermo.sweeps / thermo.measure_every" --set thermo.sweeps=600 --set thermo.measure_every=100 "$pt"
expect_error "metropolis accepts more than 99% of all moves" --set thermo.J=0 --set thermo.update=metropolis "$pt"
# A key of another setting is named as such, not as unknown.
expect_error "key 'oscillators.winding': applies only with initial = \"twisted\"" --set oscillators.winding=2 \
  "$SRC/tests/decks/small_oscillators.toml"
expect_error "key 'oscillators.gather_blocks': applies only with a graph" --set 'oscillators.coupling="all"' \
  --set oscillators.gather_blocks=3 "$SRC/tests/decks/small_oscillators.toml"
expect_error "key 'oscillators.gather_blocks': must be \"auto\" or an integer from 1 to 64" \
  --set 'oscillators.gather_blocks="many"' "$SRC/tests/decks/small_oscillators.toml"
expect_error "key 'policy.rows': applies only with task = \"grid\"" --set policy.rows=4 "$pol"
expect_error "key 'gnn.md_steps': applies only with mode = \"md\"" --set gnn.md_steps=4 "$SRC/tests/decks/small_gnn.toml"
# --check --restart reads the checkpoint: a thermo deck with a file that has none is refused.
"$PRISM" --output "$WORK/done.h5" --set thermo.sweeps=100 "$pt" > /dev/null 2>&1
expect_error "no /thermo/checkpoint to restart from" --restart "$WORK/done.h5" --output "$WORK/x.h5" "$pt"
echo "dropped or misreported input now refused precisely"
