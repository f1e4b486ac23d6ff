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

# Odd output paths end with exit 2 and a message, before any work, and never
# write through a symbolic link planted at PATH.tmp.
odd() {  # EXPECTED-TEXT prism-arguments...
  local expect=$1 rc=0; shift
  "$PRISM" --set thermo.sweeps=100 "$@" "$deck" > /dev/null 2> "$WORK/err" || rc=$?
  [[ $rc -eq 2 ]] && grep -qF -- "$expect" "$WORK/err" || fail "$*: rc=$rc $(head -c 300 "$WORK/err")"
}
mkdir "$WORK/d.h5.tmp"
odd "exists and is not a regular file" --output "$WORK/d.h5"
echo precious > "$WORK/target"
ln -s "$WORK/target" "$WORK/l.h5.tmp"
odd "is a symbolic link" --output "$WORK/l.h5"
[[ "$(cat "$WORK/target")" == precious ]] || fail "the link's target was written"
ln -s loop1 "$WORK/loop2"; ln -s loop2 "$WORK/loop1"
odd "Too many levels of symbolic links" --output "$WORK/loop1/x.h5"
odd "characters long" --output "$WORK/$(printf 'n%.0s' $(seq 300)).h5"
odd "the output path is empty" --output ''
odd "is a directory" --output "$WORK"
printf '[run]\noutput = "%s"\n' "$(head -c 10000000 /dev/zero | tr '\0' a)" > "$WORK/long.toml"
sed -n '/^\[thermo\]/,$p' "$deck" >> "$WORK/long.toml"
rc=0
"$PRISM" "$WORK/long.toml" > /dev/null 2> "$WORK/err" || rc=$?
[[ $rc -eq 2 ]] && grep -q "characters long" "$WORK/err" || fail "10 MB run.output: rc=$rc $(head -c 300 "$WORK/err")"
# Two runs on one output: the second is refused while the first holds PATH.tmp.
"$PRISM" --output "$WORK/busy.h5" --set thermo.sweeps=100000000 "$deck" > "$WORK/busy.log" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q "^prism" "$WORK/busy.log" && break; sleep 0.05; done
odd "another process is writing" --output "$WORK/busy.h5" --set run.overwrite=true
kill -9 $pid; wait $pid 2>/dev/null || true
echo "odd output paths refused"
