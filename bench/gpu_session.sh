#!/usr/bin/env bash
# Builds prism for CUDA on a GPU node with no package registry and runs the
# GPU validation and benchmarks.  The patched Kokkos sources (.deps/src, made
# by scripts/setup.sh) and the header-only deck/CLI/RNG libraries (unpacked
# from their Debian packages into .carry/ with dpkg -x) must already be there.
#
#   bench/gpu_session.sh OUTDIR
set -uo pipefail
OUTDIR="${1:?usage: gpu_session.sh OUTDIR [SECTIONS]}"
# SECTIONS: comma list of tests,bench,weak,omp,nqs,nqsrank,nqsstrong,nqsomp,scales,variants,profile,sass,study
# (default all but scales, variants and profile).  `variants` builds bench_nqs with
# other sampler settings (NQS_VARIANTS) and every older source tree
# .carry/prism-NAME (git archive) as variant NAME, and runs them side by side
# with the current build on GPU 0.
SECTIONS="${2:-tests,bench,weak,omp,nqs,nqsomp}"
want() { [[ ",$SECTIONS," == *",$1,"* ]]; }
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$OUTDIR"
J=$(nproc)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0
# Kokkos 3.4's exported CUDA targets need a CMake of its time: prefer the
# system CMake (3.2x) over a newer one that a Python venv may put first.
export PATH="/usr/local/cuda/bin:$PATH"
[[ -x /usr/bin/cmake ]] && export PATH="/usr/bin:$PATH"
log() { echo "== $* ($(date +%T))"; }

log "node"
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv | tee "$OUTDIR/gpus.csv"
NGPU=$(nvidia-smi -L | wc -l)
for t in mpirun h5diff cmake ninja g++ nvcc; do printf '%-8s %s\n' $t "$(command -v $t || echo missing)"; done
cmake --version | head -1; ls /usr/bin/cmake* 2>/dev/null; python3 -c "import h5py; print('h5py', h5py.__version__)" || true

log "Kokkos CUDA prefix"
"$ROOT/scripts/setup.sh" --backend cuda --no-apt --prefix /tmp/kokkos-cuda --jobs "$J" || exit 1
log "prism CUDA build"
cmake -S "$ROOT" -B /tmp/build-cuda -G Ninja -DCMAKE_CXX_COMPILER=g++ \
  "-DCMAKE_PREFIX_PATH=/tmp/kokkos-cuda;$ROOT/.carry/usr" > /tmp/cuda-configure.log 2>&1 ||
  { tail -30 /tmp/cuda-configure.log; exit 1; }
cmake --build /tmp/build-cuda -j "$J" > /tmp/cuda-build.log 2>&1 || { grep -B2 -A10 error /tmp/cuda-build.log | head -60; exit 1; }
B=/tmp/build-cuda

# Variant builds run in the background while the tests run.
build_variant() {  # NAME SOURCE CXXFLAGS
  cmake -S "$2" -B "/tmp/build-$1" -G Ninja -DCMAKE_CXX_COMPILER=g++ -DPRISM_ENABLE_TESTS=OFF "-DCMAKE_CXX_FLAGS=$3" \
    "-DCMAKE_PREFIX_PATH=/tmp/kokkos-cuda;$ROOT/.carry/usr" > "/tmp/build-$1.log" 2>&1 &&
    cmake --build "/tmp/build-$1" -j "$J" --target bench_nqs >> "/tmp/build-$1.log" 2>&1 || echo "variant $1: build failed"
}
# A NAME=FLAGS entry (FLAGS comma-separated -D options; NAME alone: none),
# built from the source tree .carry/prism-NAME where there is one, else
# from this tree.
build_entry() {
  local name=${1%%=*} flags="" src="$ROOT"
  [[ $1 == *=* ]] && flags=$(echo "${1#*=}" | tr , ' ')
  [[ -d "$ROOT/.carry/prism-$name" ]] && src="$ROOT/.carry/prism-$name"
  build_variant "$name" "$src" "$flags"
}
VARIANTS=()
# NQS_VARIANTS: space-separated NAME=FLAGS entries (FLAGS comma-separated -D options);
# VARIANT_PRECISIONS and VARIANT_SCALES (init scales) choose the runs of each.
NQS_VARIANTS="${NQS_VARIANTS:-minblocks0=-DPRISM_NQS_MIN_BLOCKS=0 minblocks6=-DPRISM_NQS_MIN_BLOCKS=6}"
if want variants; then
  TREES=()
  for t in "$ROOT"/.carry/prism-*; do [[ -d "$t" ]] && TREES+=("${t##*/prism-}"); done
  VARIANTS+=("${TREES[@]}")
  for v in $NQS_VARIANTS; do VARIANTS+=("${v%%=*}"); done
  (
    for v in "${TREES[@]}" $NQS_VARIANTS; do build_entry "$v" & done
    wait
  ) &
  VARIANT_BUILD=$!
fi
# STRONG_VARIANTS: NAME=FLAGS entries (see build_entry), built for the
# nqsstrong section, whose runs (STRONG_SAMPLERS) they repeat on 1..NGPU ranks.
# STRONG_SR: SR iterations of those runs, double and float (default "0 0").
STRONG_SAMPLERS="${STRONG_SAMPLERS:-plain speculative auto}"
STRONG_SR="${STRONG_SR:-0 0}"
if want nqsstrong && [[ -n "${STRONG_VARIANTS:-}" ]]; then
  ( for v in $STRONG_VARIANTS; do build_entry "$v" & done; wait ) &
  STRONG_BUILD=$!
fi

if want tests; then
log "unit + physics tests on 1 GPU"
"$B/tests/test_unit" --gtest_brief=1 2>&1 | tail -3
CUDA_VISIBLE_DEVICES=0 "$B/tests/test_thermo" --gtest_brief=1 2>&1 | tee "$OUTDIR/test_thermo_1gpu.txt" | tail -8
if [[ $NGPU -ge 2 ]]; then
  log "physics tests on 2 GPUs (one rank per GPU)"
  mpirun -np 2 --bind-to none "$B/tests/test_thermo" --gtest_brief=1 2>&1 | tee "$OUTDIR/test_thermo_2gpu.txt" | tail -8
  log "rank independence on GPUs: 1 vs 2 ranks"
  deck="$ROOT/tests/decks/small_pt.toml"
  mpirun -np 1 "$B/src/prism" --output /tmp/np1.h5 "$deck" > /tmp/np1.log 2>&1
  mpirun -np 2 --bind-to none "$B/src/prism" --output /tmp/np2.h5 "$deck" > "$OUTDIR/prism_small_2gpu.log" 2>&1
  python3 - <<'PY'
import h5py, numpy as np
a, b = h5py.File("/tmp/np1.h5"), h5py.File("/tmp/np2.h5")
same = all(np.array_equal(a["thermo"][k][()], b["thermo"][k][()], equal_nan=True) for k in a["thermo"])
print("/thermo datasets identical on 1 and 2 GPUs:", same)
PY
fi
fi

if want bench; then
log "kernel benchmark, 1 GPU"
CUDA_VISIBLE_DEVICES=0 timeout 240 "$B/bench/bench_ising2d" --L 16384,32768 --sweeps 50 --csv "$OUTDIR/bench_ising2d.csv"
fi

if want weak; then
log "end to end: bench deck on 1 GPU, and weak scaling 1 -> $NGPU GPUs (one 16384^2 replica per GPU)"
for np in $(seq 1 "$NGPU"); do
  temps=$(python3 -c "print([round(2.0+0.05*i,3) for i in range($np)])")
  timeout 120 mpirun -np $np --bind-to none "$B/src/prism" --output "$OUTDIR/weak_np$np.h5" \
    --set "thermo.temperatures=$temps" --set thermo.sweeps=400 --set thermo.thermalization=200 \
    --set thermo.exchange_every=10 "$ROOT/inputs/bench_ising2d_16384.toml" 2>&1 | grep -E "PERFORMANCE|error" | tee -a "$OUTDIR/weak.txt"
done
fi

if want nqs; then
log "nqs physics tests on 1 GPU"
CUDA_VISIBLE_DEVICES=0 timeout 300 "$B/tests/test_nqs" --gtest_brief=1 2>&1 | tee "$OUTDIR/test_nqs_1gpu.txt" | tail -6
fi
if { want nqs || want nqsrank; } && [[ $NGPU -ge 2 ]]; then
  log "nqs rank independence on GPUs (1 vs 2 ranks), double and float samplers"
  for deck in small_nqs small_nqs_float; do
    rm -f "/tmp/$deck-np1.h5" "/tmp/$deck-np2.h5"  # prism refuses to overwrite an output file
    mpirun -np 1 "$B/src/prism" --output "/tmp/$deck-np1.h5" "$ROOT/tests/decks/$deck.toml" > /tmp/nq1.log 2>&1 &&
      mpirun -np 2 --bind-to none "$B/src/prism" --output "/tmp/$deck-np2.h5" "$ROOT/tests/decks/$deck.toml" \
        > /tmp/nq2.log 2>&1 || { tail -3 /tmp/nq1.log /tmp/nq2.log; continue; }
    DECK=$deck python3 - <<'PY'
import os, h5py, numpy as np
d = os.environ["DECK"]
a, b = h5py.File(f"/tmp/{d}-np1.h5"), h5py.File(f"/tmp/{d}-np2.h5")
keys = [k for k in a["nqs"] if k != "time" and isinstance(a["nqs"][k], h5py.Dataset)]
same = all(np.array_equal(a["nqs"][k][()], b["nqs"][k][()]) for k in keys)
print(d, "(precision", a["nqs"].attrs["precision"], ") /nqs datasets identical on 1 and 2 GPUs:", same,
      "; final E =", repr(a["nqs/energy_mean"][-1]))
PY
  done
fi
# bench_nqs (10x10 Heisenberg, 16384 chains) on 1, 2, 4 ranks (one per GPU,
# as many as there are GPUs), double and float: CSV SR_DOUBLE SR_FLOAT [ARGS...].
bench_nqs_on_ranks() {
  local csv=$1 sr_double=$2 sr_float=$3
  shift 3
  for np in 1 2 4; do
    [[ $np -le $NGPU ]] || break
    for precision in double float; do
      timeout 200 mpirun -np $np --bind-to none "${NQS_BIN:-$B/bench/bench_nqs}" --L 10 --chains 16384 --sweeps 4 \
        --sr "$([[ $precision == double ]] && echo "$sr_double" || echo "$sr_float")" --precision $precision \
        --csv "$OUTDIR/$csv" "$@"
    done
  done
}
if want nqsstrong; then
# Strong scaling of each GPU sampler kernel: the speculative one runs 24
# warps per SM (80 registers) against the plain one's 32, so the chains of
# a rank fill its waves differently (16384 chains on 132 SMs: 5.2 waves of
# 24 against 3.9 of 32; 8192: 2.6 against 1.9).  Measured on 2 H100s
# (BENCHMARKS.md): 1.87x for the speculative kernel against 1.92x for the
# plain one, sweeps alone.
log "nqs sampler strong scaling, sampling only, samplers $STRONG_SAMPLERS, 1..$NGPU GPUs"
for sampler in $STRONG_SAMPLERS; do
  bench_nqs_on_ranks bench_nqs_strong.csv $STRONG_SR --sampler $sampler | grep -E "sweeps alone|ranks=|per sample"
done
if [[ -n "${STRONG_VARIANTS:-}" ]]; then
  wait "$STRONG_BUILD"
  for v in $STRONG_VARIANTS; do
    for sampler in $STRONG_SAMPLERS; do
      log "variant ${v%%=*} (${v#*=}), --sampler $sampler"
      NQS_BIN="/tmp/build-${v%%=*}/bench/bench_nqs" bench_nqs_on_ranks "bench_nqs_strong_${v%%=*}.csv" $STRONG_SR \
        --sampler $sampler | grep -E "sweeps alone|ranks=|per sample"
    done
  done
fi
fi
if want nqs; then
log "nqs benchmark: 10x10 Heisenberg, alpha 2, 16384 chains, on 1, 2, 4 GPUs, double and float samplers"
bench_nqs_on_ranks bench_nqs.csv 3 1
fi

if want scales; then
log "nqs sampler on 1 GPU, sampling only, plain and speculative kernels and the automatic choice side by side:"
log "weights of width 0.01 (nearly every evaluated move accepted), 0.03 and 0.1 (few accepted)"
for scale in ${SCALES:-0.01 0.03 0.1}; do
  for precision in double float; do
    for sampler in plain speculative auto; do
      CUDA_VISIBLE_DEVICES=0 timeout 100 "$B/bench/bench_nqs" --L 10 --chains 16384 --sweeps 4 --sr 0 \
        --init-scale $scale --precision $precision --sampler $sampler --csv "$OUTDIR/bench_nqs_scales.csv" |
        grep -E "sweeps alone"
    done
  done
done
fi

if want variants; then
wait "$VARIANT_BUILD"
log "nqs sampler variants on GPU 0 (sampling only), each next to the current build"
for v in "${VARIANTS[@]}"; do
  for precision in ${VARIANT_PRECISIONS:-double}; do
    for scale in ${VARIANT_SCALES:-0.01}; do
      for b in "/tmp/build-$v" "$B"; do
        [[ -x "$b/bench/bench_nqs" ]] || continue
        echo "-- $v ($precision, init scale $scale): $b"
        CUDA_VISIBLE_DEVICES=0 timeout 100 "$b/bench/bench_nqs" --L 10 --chains 16384 --sweeps 4 --sr 0 \
          --precision $precision --init-scale $scale --csv "$OUTDIR/bench_nqs_variant_$v.csv" | grep -v "^  per"
      done
    done
  done
done
fi

if want study; then
# The scaling study of the issue: the project's Slurm job scripts, launched
# with mpirun (one rank per GPU) instead of srun, then postprocess/scaling.py.
log "scaling study on 1..$NGPU GPUs with the jobs/slurm scripts"
mkdir -p "$OUTDIR/study"
for np in 1 2 4 8; do
  [[ $np -le $NGPU ]] || break
  launcher="mpirun -np $np --bind-to none"
  (cd "$OUTDIR/study" && EXE="$B/src/prism" DECK="$ROOT/inputs/bench_ising2d_16384.toml" NP=$np LAUNCH="$launcher" \
    timeout 120 bash "$ROOT/jobs/slurm/weak_scaling.sbatch" 2>&1 | grep -E "PERFORMANCE|rror")
  (cd "$OUTDIR/study" && EXE="$B/src/prism" DECK="$ROOT/inputs/ea3d_spin_glass.toml" NP=$np LAUNCH="$launcher" \
    timeout 120 bash "$ROOT/jobs/slurm/strong_scaling.sbatch" 2>&1 | grep -E "PERFORMANCE|rror")
  for mode in strong weak; do
    (cd "$OUTDIR/study" && EXE="$B/src/prism" DECK="$ROOT/inputs/nqs_heisenberg_10x10.toml" NP=$np LAUNCH="$launcher" \
      MODE=$mode timeout 150 bash "$ROOT/jobs/slurm/nqs_scaling.sbatch" 2>&1 | grep -E "PERFORMANCE|rror")
  done
done
cd "$OUTDIR/study" && for set in weak strong nqs-strong nqs-weak; do
  python3 "$ROOT/postprocess/scaling.py" $set-np*.h5 -o "$set.png" 2>&1 | tee "$set.txt"
done
# One archive (the device returns few files), without large outputs.
find . -type f -size -20M | tar czf "$OUTDIR/study.tar.gz" -T - && cd "$ROOT" && rm -rf "$OUTDIR/study"
fi

if want profile; then
log "nqs sampler profile (ncu), 4224 chains, 1 GPU"
ncu --kernel-name-base demangled --kernel-name regex:.*ChainSampler.* --launch-skip 1 --launch-count 1 --set full \
  -o /tmp/nqs_profile -f "$B/bench/bench_nqs" --L 10 --chains 4224 --sweeps 4 --sr 0 --csv /dev/null > /tmp/ncu.log 2>&1 ||
  tail -5 /tmp/ncu.log
ncu -i /tmp/nqs_profile.ncu-rep --page source --csv --print-source sass 2> /dev/null | gzip > "$OUTDIR/nqs_sass.csv.gz"
ncu -i /tmp/nqs_profile.ncu-rep --page details --print-details all > "$OUTDIR/nqs_profile.txt" 2>&1
grep -E "Duration|Registers Per|Achieved Active Warps|Warp Cycles Per Issued|Executed Ipc A|Compute \(SM\) Th" "$OUTDIR/nqs_profile.txt" | head -12
fi

if want sass; then
log "SASS of the nqs kernels (cuobjdump)"
cuobjdump -sass "$B/bench/bench_nqs" 2> /dev/null | awk '/Function :/{keep = /ChainSampler|LocalEnergies/} keep' |
  gzip > "$OUTDIR/nqs_kernels_sass.txt.gz"
fi

if want omp || want nqsomp; then
log "OpenMP build on the host CPUs for the CPU figure"
"$ROOT/scripts/setup.sh" --backend openmp --no-apt --prefix /tmp/kokkos-omp --jobs "$J" > /dev/null || exit 1
cmake -S "$ROOT" -B /tmp/build-omp -G Ninja -DCMAKE_CXX_COMPILER=g++ -DPRISM_ENABLE_TESTS=OFF \
  "-DCMAKE_PREFIX_PATH=/tmp/kokkos-omp;$ROOT/.carry/usr" > /dev/null 2>&1 && cmake --build /tmp/build-omp -j "$J" --target bench_ising2d bench_nqs > /dev/null 2>&1
fi
if want omp; then
OMP_NUM_THREADS=$J OMP_PROC_BIND=spread OMP_PLACES=threads timeout 120 /tmp/build-omp/bench/bench_ising2d --L 16384 --sweeps 20 \
  --csv "$OUTDIR/bench_ising2d.csv" 2>&1 | grep -v "^ *In general\|For best\|For unit"
fi
if want nqsomp; then
log "nqs benchmark on the host CPUs (OpenMP, all cores)"
for precision in double float; do
  OMP_NUM_THREADS=$J OMP_PROC_BIND=spread OMP_PLACES=threads timeout 200 /tmp/build-omp/bench/bench_nqs --L 10 \
    --chains 16384 --sweeps 4 --sr "${CPU_SR:-1}" --precision $precision --csv "$OUTDIR/bench_nqs.csv" 2>&1 |
    grep -v "^ *In general\|For best\|For unit"
done
fi
log "done"
