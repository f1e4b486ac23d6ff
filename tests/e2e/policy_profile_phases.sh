# policy.profile_phases times the phases of each step between fences: the
# lane evaluation's infer, evaluate and act (the tiled one's step) appear
# in /timings, on 2 ranks, and /policy is bitwise the run without it.
source "$(dirname "$0")/common.sh"
for deck_phases in "small_policy_lanes infer evaluate act" "small_policy step"; do
  read -r deck phases <<< "$deck_phases"
  mpirun_np 2 "$PRISM" --output "$WORK/$deck-plain.h5" "$SRC/tests/decks/$deck.toml" > "$WORK/plain.log" 2>&1 ||
    { tail -5 "$WORK/plain.log"; fail "$deck: prism failed"; }
  mpirun_np 2 "$PRISM" --output "$WORK/$deck-profiled.h5" --set policy.profile_phases=true \
    "$SRC/tests/decks/$deck.toml" > "$WORK/profiled.log" 2>&1 || { tail -5 "$WORK/profiled.log"; fail "$deck: prism failed"; }
  "$PRISM_PYTHON" "$SRC/tests/e2e/compare_h5.py" "$WORK/$deck-plain.h5" "$WORK/$deck-profiled.h5" /policy ||
    fail "$deck: /policy changes with profile_phases"
  for phase in $phases; do
    "$PRISM_PYTHON" -c "import h5py, sys; f = h5py.File(sys.argv[1]); assert f['/timings/$phase/per_rank'].shape == (2,)" \
      "$WORK/$deck-profiled.h5" || fail "$deck: no /timings/$phase for both ranks"
  done
  echo "$deck: /timings has $phases; /policy as without them"
done
