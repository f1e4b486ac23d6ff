# The same nqs deck and seed give bitwise-identical /nqs results (all but
# the wall-clock column) on 1, 2 and 4 ranks.
source "$(dirname "$0")/common.sh"
command -v h5diff >/dev/null || fail "h5diff (hdf5-tools) is needed"
for np in 1 2 4; do
  mpirun_np $np "$PRISM" --output "$WORK/np$np.h5" "$SRC/tests/decks/small_nqs.toml" > "$WORK/np$np.log"
  grep -q "^PERFORMANCE workload=nqs ranks=$np " "$WORK/np$np.log" || fail "no PERFORMANCE line for np=$np"
done
for np in 2 4; do
  h5diff -r --exclude-path /time "$WORK/np1.h5" "$WORK/np$np.h5" /nqs /nqs > "$WORK/diff$np.txt" ||
    { head -40 "$WORK/diff$np.txt"; fail "/nqs differs between 1 and $np ranks"; }
done
echo "identical /nqs on 1, 2 and 4 ranks"
