# The same deck and seed give identical results in one HDF5 group on any
# number of ranks.
#   rank_independence.sh DECK GROUP "NP1 NP2 ..." [EXCLUDED_PATH]
# e.g. thermo on 1, 2, 3 ranks; nqs on 1, 2, 4 ranks without its wall-clock
# column (/time, relative to the group).
source "$(dirname "$0")/common.sh"
deck="$SRC/$1" group="$2" ranks="$3" exclude="${4:-}"
command -v h5diff >/dev/null || fail "h5diff (hdf5-tools) is needed"
workload="${group#/}"
for np in $ranks; do
  mpirun_np "$np" "$PRISM" --output "$WORK/np$np.h5" "$deck" > "$WORK/np$np.log"
  grep -q "^PERFORMANCE workload=$workload ranks=$np " "$WORK/np$np.log" || fail "no PERFORMANCE line for np=$np"
done
first="${ranks%% *}"
for np in $ranks; do
  [[ $np == "$first" ]] && continue
  h5diff -r ${exclude:+--exclude-path "$exclude"} "$WORK/np$first.h5" "$WORK/np$np.h5" "$group" "$group" \
    > "$WORK/diff$np.txt" || { head -40 "$WORK/diff$np.txt"; fail "$group differs between $first and $np ranks"; }
done
echo "identical $group on ranks: $ranks"
