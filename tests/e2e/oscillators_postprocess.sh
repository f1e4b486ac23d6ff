# An oscillators run (the small deck, and all-to-all identical oscillators
# with noise, where the mean-field XY curve applies), its summary and its
# figure.
source "$(dirname "$0")/common.sh"
: "${PRISM_PYTHON:?needs a Python with h5py}"
cd "$WORK"
printf '[run]\nseed = 2\n[oscillators]\noscillators = 500\nK = [1.0, 3.0]\nT = 1.0\nsteps = 600\nrecord_every = 10\n' \
  > mf.toml
"$PRISM" --output graph.h5 "$SRC/tests/decks/small_oscillators.toml" > graph.log
"$PRISM" --output mf.h5 mf.toml > mf.log
for f in graph mf; do
  "$PRISM_PYTHON" "$SRC/postprocess/summary.py" $f.h5 > $f.txt || fail "summary of $f"
  grep -q "spread of <v>" $f.txt || fail "$f summary lacks the oscillators table: $(cat $f.txt)"
  "$PRISM_PYTHON" "$SRC/postprocess/plot.py" $f.h5 -o $f.png || fail "plot of $f"
  [[ -s $f.png ]] || fail "$f.png missing or empty"
done
grep -q "mean-field XY" mf.txt || fail "the all-to-all summary lacks the exact mean-field value"
echo "oscillators: summaries and figures written"
