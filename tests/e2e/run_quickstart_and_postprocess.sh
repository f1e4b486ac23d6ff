# The quickstart deck on 2 ranks (shortened), then every post-processing script.
source "$(dirname "$0")/common.sh"
: "${PRISM_PYTHON:?needs a Python with h5py}"
cd "$WORK"
mpirun_np 2 "$PRISM" --output run2.h5 --set thermo.sweeps=4000 --set thermo.thermalization=500 \
  "$SRC/inputs/quickstart.toml" > run2.log
mpirun_np 1 "$PRISM" --output run1.h5 --set thermo.sweeps=4000 --set thermo.thermalization=500 \
  "$SRC/inputs/quickstart.toml" > run1.log
grep -q "^PERFORMANCE" run2.log || fail "no PERFORMANCE line"
"$PRISM_PYTHON" "$SRC/postprocess/summary.py" run2.h5 > summary.txt
grep -q "energy_mean" summary.txt || fail "summary lacks the results table"
grep -q "timings" summary.txt || fail "summary lacks timings"
"$PRISM_PYTHON" "$SRC/postprocess/plot_thermo.py" run2.h5 -o thermo.png
"$PRISM_PYTHON" "$SRC/postprocess/scaling.py" run1.h5 run2.h5 -o scaling.png
"$PRISM" --output nqs.h5 "$SRC/tests/decks/small_nqs.toml" > nqs.log
"$PRISM_PYTHON" "$SRC/postprocess/summary.py" nqs.h5 > nqs_summary.txt
grep -q "reference" nqs_summary.txt || fail "nqs summary lacks the reference comparison"
"$PRISM_PYTHON" "$SRC/postprocess/plot_nqs.py" nqs.h5 -o nqs.png
for f in thermo.png scaling.png nqs.png; do
  [[ -s $f ]] || fail "$f missing or empty"
  [[ "$(head -c 4 $f | tail -c 3)" == "PNG" ]] || fail "$f is not a PNG"
done
echo "quickstart + post-processing ok"
