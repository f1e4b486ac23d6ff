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
