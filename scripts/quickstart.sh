#!/usr/bin/env bash
# Sets everything up, builds prism for the CPU and runs the quickstart deck
# (2D Ising phase transition by parallel tempering) on 2 MPI ranks, then
# prints the summary and draws the plot.
#
#   scripts/quickstart.sh [extra prism arguments, e.g. --set thermo.L=64]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
JOBS="${JOBS:-2}"
BUILD="$ROOT/build/cpu"
mkdir -p "$ROOT/build"
RUN_DIR="$ROOT/runs/quickstart"

"$ROOT/scripts/setup.sh" --backend openmp --jobs "$JOBS"
PY="$(find_python)" || { echo "quickstart.sh: no Python with h5py/numpy/matplotlib" >&2; exit 1; }
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
  -DCMAKE_PREFIX_PATH="$ROOT/.deps/openmp" -DPRISM_PYTHON="$PY" > "$BUILD.configure.log" 2>&1 ||
  { cat "$BUILD.configure.log"; exit 1; }
cmake --build "$BUILD" -j "$JOBS" --target prism

mkdir -p "$RUN_DIR"
cd "$RUN_DIR"
OUT="$RUN_DIR/quickstart.h5"
echo "quickstart.sh: mpirun -np 2 prism inputs/quickstart.toml  (output $OUT)"
OMP_NUM_THREADS=1 mpirun -np 2 --oversubscribe --bind-to none "$BUILD/src/prism" \
  --output "$OUT" --set run.overwrite=true "$@" "$ROOT/inputs/quickstart.toml"
echo
echo "quickstart.sh: summary (postprocess/summary.py, interpreter $PY)"
"$PY" "$ROOT/postprocess/summary.py" "$OUT"
"$PY" "$ROOT/postprocess/plot_thermo.py" "$OUT" -o "$RUN_DIR/quickstart_thermo.png"
echo
echo "results: $OUT"
echo "plot:    $RUN_DIR/quickstart_thermo.png"
