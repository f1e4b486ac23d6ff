#!/usr/bin/env bash
# Sets up (Debian packages, Kokkos into .deps/openmp), builds prism for the
# CPU and runs the whole test suite: unit, physics at 1/2/3 MPI ranks,
# end-to-end deck runs and post-processing.
#
#   scripts/test.sh [ctest arguments...]      e.g. scripts/test.sh -R thermo
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
JOBS="${JOBS:-2}"
BUILD="$ROOT/build/cpu"
mkdir -p "$ROOT/build"

"$ROOT/scripts/setup.sh" --backend openmp --jobs "$JOBS"
PY="$(find_python)" || { echo "test.sh: no Python with h5py/numpy/matplotlib (install python3-h5py python3-numpy python3-matplotlib)" >&2; exit 1; }
echo "test.sh: post-processing interpreter: $PY"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
  -DCMAKE_PREFIX_PATH="$ROOT/.deps/openmp" -DPRISM_PYTHON="$PY" > "$BUILD.configure.log" 2>&1 ||
  { cat "$BUILD.configure.log"; exit 1; }
cmake --build "$BUILD" -j "$JOBS"
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" "$@"
