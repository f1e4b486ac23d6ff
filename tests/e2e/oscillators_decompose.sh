# decompose = "oscillators" (every run split over the ranks by blocks of
# oscillators, halo exchange on the graph) gives bitwise the /oscillators of
# whole runs on one rank: a random graph (halo) and all-to-all (the order
# parameter summed over ranks), on 1 and 3 ranks; and the graph's gather
# blocks on 3 ranks.
source "$(dirname "$0")/common.sh"
deck="$SRC/tests/decks/small_oscillators.toml"
big=(--set oscillators.oscillators=7000 --set oscillators.steps=200 --set oscillators.transient=50)
for coupling in random all; do
  mpirun_np 1 "$PRISM" --output "$WORK/runs-$coupling.h5" "${big[@]}" --set oscillators.coupling=$coupling "$deck" \
    > "$WORK/runs-$coupling.log"
  for np in 1 3; do
    mpirun_np "$np" "$PRISM" --output "$WORK/split$np-$coupling.h5" "${big[@]}" --set oscillators.coupling=$coupling \
      --set oscillators.decompose=oscillators "$deck" > "$WORK/split$np-$coupling.log"
    grep -q "^PERFORMANCE workload=oscillators ranks=$np " "$WORK/split$np-$coupling.log" || fail "no PERFORMANCE line"
    h5diff -r "$WORK/runs-$coupling.h5" "$WORK/split$np-$coupling.h5" /oscillators /oscillators > "$WORK/diff.txt" ||
      { head -30 "$WORK/diff.txt"; fail "$coupling: split over $np ranks differs from whole runs"; }
  done
done
# Gather blocks (several passes over the rows per step) keep the bits, also
# where each rank's rows name halo phases.
mpirun_np 3 "$PRISM" --output "$WORK/split3-blocks.h5" "${big[@]}" --set oscillators.coupling=random \
  --set oscillators.decompose=oscillators --set oscillators.gather_blocks=3 "$deck" > "$WORK/split3-blocks.log"
h5diff -r "$WORK/runs-random.h5" "$WORK/split3-blocks.h5" /oscillators /oscillators > "$WORK/diff.txt" ||
  { head -30 "$WORK/diff.txt"; fail "gather_blocks = 3 on 3 ranks differs from one block"; }
# Fewer chunks than ranks is a clear error.
set +e
mpirun_np 2 "$PRISM" --output "$WORK/x.h5" --set oscillators.decompose=oscillators "$deck" 2> "$WORK/stderr"; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "1 chunk on 2 ranks: rc=$rc $(cat "$WORK/stderr")"
echo "decompose = oscillators: bitwise the whole runs on 1 and 3 ranks, with 1 and 3 gather blocks"
