#!/usr/bin/env bash
# Installs what prism needs and builds Kokkos + Kokkos Kernels 3.4.01 into a
# cached prefix.  Idempotent: with the prefix present it returns in seconds.
#
#   scripts/setup.sh [--backend openmp|cuda] [--prefix DIR] [--kokkos-root DIR]
#                    [--source-dir DIR] [--no-apt] [--jobs N]
#
#   --backend      openmp (default) or cuda (nvcc_wrapper, Hopper sm_90)
#   --prefix       install prefix of Kokkos (default .deps/<backend>)
#   --kokkos-root  use an existing Kokkos/Kokkos Kernels install (clusters);
#                  nothing is built, the root is only checked
#   --source-dir   where the patched Kokkos sources live (default .deps/src);
#                  if it already holds them no download happens (offline nodes)
#   --no-apt       skip the Debian package step (no root, or a cluster node)
#   --jobs         parallel build jobs (default: number of cores)
#
# The Kokkos sources come from Debian's bookworm source package trilinos
# 13.2.0-4 (the only Kokkos source Debian serves for bookworm), fetched with a
# private apt state whose deb-src line reuses the archive URI configured on
# this machine, checked against a pinned sha256, and patched with
# scripts/kokkos-3.4.01-cuda13-hopper.patch.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BACKEND=openmp
PREFIX=""
KOKKOS_ROOT=""
SRC_DIR="$ROOT/.deps/src"
DO_APT=1
JOBS="$(nproc)"

TRILINOS_VERSION=13.2.0-4
TRILINOS_ORIG=trilinos_13.2.0.orig.tar.gz
TRILINOS_SHA256=0ddb47784ba7b8a6b9a07a4822b33be508feb4ccd54301b2a5d10c9e54524b90
TRILINOS_TOPDIR=Trilinos-trilinos-release-13-2-0
PATCH="$ROOT/scripts/kokkos-3.4.01-cuda13-hopper.patch"

die() { echo "setup.sh: error: $*" >&2; exit 1; }
log() { echo "setup.sh: $*"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --backend) BACKEND="${2:?--backend needs a value}"; shift 2 ;;
    --prefix) PREFIX="${2:?--prefix needs a value}"; shift 2 ;;
    --kokkos-root) KOKKOS_ROOT="${2:?--kokkos-root needs a value}"; shift 2 ;;
    --source-dir) SRC_DIR="${2:?--source-dir needs a value}"; shift 2 ;;
    --no-apt) DO_APT=0; shift ;;
    --jobs) JOBS="${2:?--jobs needs a value}"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ "$BACKEND" == openmp || "$BACKEND" == cuda ]] || die "--backend must be openmp or cuda, got '$BACKEND'"
[[ -n "$PREFIX" ]] || PREFIX="$ROOT/.deps/$BACKEND"
mkdir -p "$SRC_DIR" && SRC_DIR="$(cd "$SRC_DIR" && pwd)"  # nvcc_wrapper is found by absolute path
mkdir -p "$(dirname "$PREFIX")"
PREFIX="$(cd "$(dirname "$PREFIX")" && pwd)/$(basename "$PREFIX")"

# ---------------------------------------------------------------- packages
DEB_PACKAGES=(cmake ninja-build g++ make patch ca-certificates
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools libgtest-dev
  libtomlplusplus-dev libcli11-dev librandom123-dev
  python3-h5py python3-numpy python3-matplotlib)

if [[ $DO_APT == 1 ]]; then
  missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    SUDO=()
    if [[ $(id -u) -ne 0 ]]; then
      command -v sudo >/dev/null ||
        die "not root and no sudo: install ${missing[*]} yourself, then rerun with --no-apt"
      SUDO=(sudo)
    fi
    log "installing Debian packages: ${missing[*]}"
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    log "Debian packages present"
  fi
fi

# --------------------------------------------------------- existing Kokkos
if [[ -n "$KOKKOS_ROOT" ]]; then
  ls "$KOKKOS_ROOT"/lib*/cmake/Kokkos/KokkosConfig.cmake >/dev/null 2>&1 ||
    die "--kokkos-root $KOKKOS_ROOT has no lib*/cmake/Kokkos/KokkosConfig.cmake"
  log "using existing Kokkos at $KOKKOS_ROOT (pass -DCMAKE_PREFIX_PATH=$KOKKOS_ROOT to cmake)"
  exit 0
fi

STAMP="$PREFIX/.prism-kokkos-stamp"
STAMP_TEXT="kokkos 3.4.01 trilinos $TRILINOS_VERSION backend=$BACKEND patch=$(sha256sum "$PATCH" | cut -c1-16)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_TEXT" ]]; then
  log "Kokkos ($BACKEND) already installed in $PREFIX"
  exit 0
fi

# ------------------------------------------------------------ get sources
fetch_sources() {
  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  local sources=/etc/apt/sources.list.d/debian.sources uri=""
  if [[ -f $sources ]]; then
    uri="$(awk '/^URIs:/{print $2; exit}' "$sources")"
  fi
  if [[ -z "$uri" && -f /etc/apt/sources.list ]]; then
    uri="$(awk '$1=="deb"{for(i=2;i<=NF;i++) if($i ~ /^[a-z]+:\/\//){print $i; exit}}' /etc/apt/sources.list)"
  fi
  [[ -n "$uri" ]] || die "no Debian archive URI found in the apt configuration; put the patched Kokkos sources in $SRC_DIR (see README)"
  mkdir -p "$work/lists/partial" "$work/archives"
  echo "deb-src $uri bookworm main" > "$work/sources.list"
  local opts=(-q "-oDir::State::Lists=$work/lists" "-oDir::Etc::SourceList=$work/sources.list"
    "-oDir::Etc::SourceParts=/nonexistent" "-oAPT::Sandbox::User=root")
  log "fetching source package trilinos=$TRILINOS_VERSION (166 MB) from the configured archive"
  apt-get "${opts[@]}" update >/dev/null
  (cd "$work" && apt-get "${opts[@]}" source --download-only "trilinos=$TRILINOS_VERSION" >/dev/null)
  echo "$TRILINOS_SHA256  $work/$TRILINOS_ORIG" | sha256sum -c --quiet - ||
    die "checksum mismatch for $TRILINOS_ORIG"
  log "checksum ok; extracting packages/kokkos and packages/kokkos-kernels"
  tar -xzf "$work/$TRILINOS_ORIG" -C "$work" \
    "$TRILINOS_TOPDIR/packages/kokkos" "$TRILINOS_TOPDIR/packages/kokkos-kernels"
  rm -f "$work/$TRILINOS_ORIG"
  rm -rf "$SRC_DIR/kokkos" "$SRC_DIR/kokkos-kernels"
  mkdir -p "$SRC_DIR"
  mv "$work/$TRILINOS_TOPDIR/packages/kokkos" "$SRC_DIR/kokkos"
  mv "$work/$TRILINOS_TOPDIR/packages/kokkos-kernels" "$SRC_DIR/kokkos-kernels"
  # The unit and performance tests of Kokkos Kernels are never built here and
  # are most of its size; dropping them keeps the tree small enough to copy
  # to offline compute nodes.
  rm -rf "$SRC_DIR/kokkos-kernels/unit_test" "$SRC_DIR/kokkos-kernels/perf_test"
  (cd "$SRC_DIR/kokkos" && patch -p1 -s < "$PATCH")
  echo "$SRC_STAMP_TEXT" > "$SRC_DIR/.prism-src-stamp"
}

SRC_STAMP_TEXT="$(echo "$STAMP_TEXT" | sed 's/ backend=[a-z]*//')"
if [[ -f "$SRC_DIR/.prism-src-stamp" && "$(cat "$SRC_DIR/.prism-src-stamp")" == "$SRC_STAMP_TEXT" &&
      -d "$SRC_DIR/kokkos" && -d "$SRC_DIR/kokkos-kernels" ]]; then
  log "patched Kokkos sources present in $SRC_DIR"
else
  fetch_sources
fi

# ------------------------------------------------------------------ build
BUILD="$(mktemp -d)"
trap 'rm -rf "$BUILD"' EXIT
common=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_STANDARD=17
  -DCMAKE_INSTALL_PREFIX="$PREFIX" -DKokkos_ENABLE_SERIAL=ON)
if [[ $BACKEND == cuda ]]; then
  command -v nvcc >/dev/null || export PATH="/usr/local/cuda/bin:$PATH"
  command -v nvcc >/dev/null || die "--backend cuda needs nvcc (looked on PATH and in /usr/local/cuda/bin)"
  export NVCC_WRAPPER_DEFAULT_COMPILER="${NVCC_WRAPPER_DEFAULT_COMPILER:-g++}"
  kokkos_opts=(-DCMAKE_CXX_COMPILER="$SRC_DIR/kokkos/bin/nvcc_wrapper"
    -DKokkos_ENABLE_CUDA=ON -DKokkos_ENABLE_CUDA_LAMBDA=ON -DKokkos_ARCH_HOPPER90=ON
    -DKokkos_ENABLE_OPENMP=OFF)
  kk_opts=(-DCMAKE_CXX_COMPILER="$SRC_DIR/kokkos/bin/nvcc_wrapper" -DKokkosKernels_ENABLE_TPL_CUBLAS=ON)
else
  kokkos_opts=(-DCMAKE_CXX_COMPILER=g++ -DKokkos_ENABLE_OPENMP=ON)
  kk_opts=(-DCMAKE_CXX_COMPILER=g++)
fi

t0=$(date +%s)
log "building Kokkos ($BACKEND) into $PREFIX with $JOBS jobs"
cmake -S "$SRC_DIR/kokkos" -B "$BUILD/kokkos" "${common[@]}" "${kokkos_opts[@]}" > "$BUILD/kokkos.log" 2>&1 ||
  { tail -40 "$BUILD/kokkos.log"; die "Kokkos configure failed"; }
cmake --build "$BUILD/kokkos" -j "$JOBS" > "$BUILD/kokkos-build.log" 2>&1 ||
  { tail -40 "$BUILD/kokkos-build.log"; die "Kokkos build failed"; }
cmake --install "$BUILD/kokkos" > /dev/null

log "building Kokkos Kernels (BLAS;BATCHED, no ETI)"
cmake -S "$SRC_DIR/kokkos-kernels" -B "$BUILD/kk" "${common[@]}" "${kk_opts[@]}" \
  -DKokkos_ROOT="$PREFIX" -DKokkosKernels_ADD_DEFAULT_ETI=OFF \
  "-DKokkosKernels_ENABLED_COMPONENTS=BLAS;BATCHED" \
  -DKokkosKernels_INST_DOUBLE=OFF -DKokkosKernels_INST_FLOAT=OFF \
  -DKokkosKernels_INST_COMPLEX_DOUBLE=OFF -DKokkosKernels_INST_COMPLEX_FLOAT=OFF \
  -DKokkosKernels_INST_ORDINAL_INT=OFF -DKokkosKernels_INST_ORDINAL_INT64_T=OFF \
  -DKokkosKernels_INST_OFFSET_INT=OFF -DKokkosKernels_INST_OFFSET_SIZE_T=OFF \
  -DKokkosKernels_INST_LAYOUTLEFT=OFF -DKokkosKernels_INST_LAYOUTRIGHT=OFF \
  -DKokkosKernels_ENABLE_TESTS=OFF -DKokkosKernels_ENABLE_EXAMPLES=OFF \
  > "$BUILD/kk.log" 2>&1 || { tail -40 "$BUILD/kk.log"; die "Kokkos Kernels configure failed"; }
cmake --build "$BUILD/kk" -j "$JOBS" > "$BUILD/kk-build.log" 2>&1 ||
  { tail -40 "$BUILD/kk-build.log"; die "Kokkos Kernels build failed"; }
cmake --install "$BUILD/kk" > /dev/null

echo "$STAMP_TEXT" > "$STAMP"
log "Kokkos + Kokkos Kernels ($BACKEND) installed in $PREFIX in $(( $(date +%s) - t0 )) s"
