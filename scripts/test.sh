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

# Once more under the debug preset (address and undefined-behaviour
# sanitizers): the unit, common-kernel and end-to-end tests, the deck fuzzer
# among them; the physics suites and the three longest end-to-end tests are left
# to the release build (too slow under the sanitizers for the CI budget).
# Open MPI's own allocations are not leaks of ours.  PRISM_NO_SANITIZE=1 skips it.
if [[ "${PRISM_NO_SANITIZE:-0}" != 1 && $# -eq 0 ]]; then
  DEBUG="$ROOT/build/debug"
  (cd "$ROOT" && cmake --preset debug -DPRISM_PYTHON="$PY" -DPRISM_ENABLE_BENCH=OFF) > "$DEBUG.configure.log" 2>&1 ||
    { cat "$DEBUG.configure.log"; exit 1; }
  cmake --build "$DEBUG" -j "$JOBS"
  ASAN_OPTIONS=detect_leaks=0 PRISM_SANITIZED=1 \
    ctest --test-dir "$DEBUG" --output-on-failure -j "$JOBS" -R '^(unit|e2e)\.|common_kernels' \
      -E 'thermo_restart_and_signal|run_quickstart_and_postprocess|scaling_jobs'
fi
