# Every deck in inputs/ passes --check.
source "$(dirname "$0")/common.sh"
n=0
for deck in "$SRC"/inputs/*.toml; do
  "$PRISM" --check "$deck" || fail "--check rejected $deck"
  n=$((n + 1))
done
[[ $n -ge 3 ]] || fail "expected at least 3 decks in inputs/, found $n"
echo "all $n decks pass --check"
