# An existing result is never overwritten unless run.overwrite = true, and a
# killed run leaves the earlier result intact.
source "$(dirname "$0")/common.sh"
deck="$SRC/tests/decks/small_pt.toml"
"$PRISM" --output "$WORK/r.h5" --set thermo.sweeps=2000 "$deck" > /dev/null
sum1=$(sha256sum "$WORK/r.h5" | cut -d' ' -f1)
set +e
"$PRISM" --output "$WORK/r.h5" --set thermo.sweeps=2000 "$deck" > /dev/null 2> "$WORK/err"; rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "exists; refusing to overwrite" "$WORK/err" || fail "existing output: rc=$rc $(cat "$WORK/err")"
[[ "$(sha256sum "$WORK/r.h5" | cut -d' ' -f1)" == "$sum1" ]] || fail "existing output changed"
# Kill (-9) a long overwrite run midway: the old file must survive untouched.
"$PRISM" --output "$WORK/r.h5" --set run.overwrite=true --set thermo.sweeps=100000000 "$deck" > /dev/null &
pid=$!
sleep 2
kill -KILL $pid; wait $pid 2>/dev/null || true
rm -f "$WORK/r.h5.tmp"  # what kill -9 leaves; the earlier result is what counts
[[ "$(sha256sum "$WORK/r.h5" | cut -d' ' -f1)" == "$sum1" ]] || fail "a killed run changed the earlier result"
"$PRISM" --output "$WORK/r.h5" --set run.overwrite=true --set thermo.sweeps=1000 "$deck" > /dev/null
[[ "$(sha256sum "$WORK/r.h5" | cut -d' ' -f1)" != "$sum1" ]] || fail "overwrite=true did not replace the file"
[[ ! -e "$WORK/r.h5.tmp" ]] || fail "temporary file left behind"
echo "output safety ok"
