# Shared by scripts/*.sh (sourced).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Post-processing needs Debian's python3-h5py.  A pyenv 'python3' first on
# PATH does not see it, so use the first interpreter that imports h5py,
# numpy and matplotlib, trying /usr/bin/python3 first.
find_python() {
  local c
  for c in "${PRISM_PYTHON:-}" /usr/bin/python3 python3; do
    [[ -n "$c" ]] || continue
    if "$c" -c "import h5py, numpy, matplotlib" >/dev/null 2>&1; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}
# Open MPI refuses root without these; CI containers run as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Quiet Kokkos' OpenMP binding advice; ranks share the cores, so don't pin.
export OMP_PROC_BIND="${OMP_PROC_BIND:-false}"
