# The same deck and seed give identical /thermo results on 1, 2 and 3 ranks.
source "$(dirname "$0")/common.sh"
command -v h5diff >/dev/null || fail "h5diff (hdf5-tools) is needed"
for np in 1 2 3; do
  mpirun_np $np "$PRISM" --output "$WORK/np$np.h5" "$SRC/tests/decks/small_pt.toml" > "$WORK/np$np.log"
  grep -q "^PERFORMANCE workload=thermo ranks=$np " "$WORK/np$np.log" || fail "no PERFORMANCE line for np=$np"
done
for np in 2 3; do
  h5diff -r "$WORK/np1.h5" "$WORK/np$np.h5" /thermo /thermo > "$WORK/diff$np.txt" ||
    { head -40 "$WORK/diff$np.txt"; fail "/thermo differs between 1 and $np ranks"; }
done
echo "identical /thermo on 1, 2 and 3 ranks"
