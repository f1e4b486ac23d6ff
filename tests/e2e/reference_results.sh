# The decks of tests/reference/cases.txt give bitwise the /thermo or /nqs
# results stored in tests/reference/<name>.h5 (wall-clock columns and the
# checkpoint fingerprint's wording aside).  A change meant to alter results
# regenerates them on purpose:
#   PRISM=build/cpu/src/prism SRC=. bash tests/e2e/reference_results.sh --generate
source "$(dirname "$0")/common.sh"
: "${PRISM_PYTHON:?needs a Python with h5py}"
generate=0
[[ "${1:-}" == --generate ]] && generate=1
while IFS='|' read -r name deck extra; do
  name="$(echo $name)" deck="$(echo $deck)"
  [[ -z "$name" || "$name" == \#* ]] && continue
  group="/${name%%_*}"
  # shellcheck disable=SC2086
  "$PRISM" --output "$WORK/$name.h5" $extra "$SRC/$deck" > "$WORK/$name.log" 2>&1 ||
    { tail -20 "$WORK/$name.log"; fail "$name: prism failed"; }
  ref="$SRC/tests/reference/$name.h5"
  if [[ $generate == 1 ]]; then
    cp "$WORK/$name.h5" "$ref"
    echo "wrote $ref"
    continue
  fi
  [[ -f "$ref" ]] || fail "$name: no reference file $ref"
  "$PRISM_PYTHON" "$SRC/tests/e2e/compare_h5.py" "$ref" "$WORK/$name.h5" "$group" \
    --ignore /nqs/time /nqs/checkpoint@fingerprint /thermo/checkpoint ||
    fail "$name: $group differs from $ref"
  echo "$name: $group bitwise as in the reference"
done < "$SRC/tests/reference/cases.txt"
