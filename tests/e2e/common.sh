# Shared helpers of the end-to-end tests (sourced).  Environment from ctest:
# PRISM (executable), MPIEXEC, PRISM_PYTHON, SRC (source tree).
set -euo pipefail
: "${PRISM:?}" "${SRC:?}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/prism-e2e.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mpirun_np() { local np=$1; shift; "${MPIEXEC:-mpirun}" -np "$np" --oversubscribe --bind-to none "$@"; }
