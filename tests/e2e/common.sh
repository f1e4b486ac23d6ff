# Shared helpers of the end-to-end tests (sourced).  Environment from ctest:
# PRISM (executable), MPIEXEC, PRISM_PYTHON, SRC (source tree).
set -euo pipefail
: "${PRISM:?}" "${SRC:?}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/prism-e2e.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mpirun_np() { local np=$1; shift; "${MPIEXEC:-mpirun}" -np "$np" --oversubscribe --bind-to none "$@"; }
# stop_once_started LOG PID SIGNAL DELAY: once LOG shows prism's banner, waits
# DELAY seconds, sends SIGNAL to PID and waits for it; returns its exit status.
stop_once_started() {
  local log=$1 pid=$2 sig=$3 delay=$4 rc=0
  for _ in $(seq 200); do grep -q "^prism" "$log" && break; sleep 0.05; done
  sleep "$delay"
  kill -"$sig" "$pid"
  wait "$pid" || rc=$?
  return $rc
}
