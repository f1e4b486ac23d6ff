#!/usr/bin/env bash
# Builds prism for CUDA on a GPU node, runs the GPU tests and the benchmark
# suite, and writes every result into OUTDIR.  BENCHMARKS.md quotes its runs.
#
#   bench/run_gpu.sh OUTDIR
#
# The node needs nvcc (on PATH or in /usr/local/cuda/bin), g++, CMake, Ninja,
# Open MPI, HDF5, GoogleTest and Python 3 with h5py (and matplotlib for plots).
# No network: the patched Kokkos sources come from a machine where
# scripts/setup.sh ran (.deps/src); libraries the node lacks (toml++, CLI11 and
# Random123 are header-only) can be unpacked with `dpkg -x PKG.deb DIR`.
#
# Environment (all optional):
#   KOKKOS_SOURCES  patched Kokkos + Kokkos Kernels sources (default: .deps/src)
#   PRISM_DEPS      extra CMake prefixes, ';'-separated (default: .carry/usr if it exists)
#   WORK            builds and Kokkos installs, reused by the next run (default: /tmp/prism-gpu)
#   SKIP_OPENMP=1   no OpenMP build and no host-core figures
#   PARTS           which parts run (default: "tests thermo nqs nqs_tta nqs_complex sr te te_matrix classifier policy gnn oscillators study")
#   POLICY_EVALUATIONS  policy part: the evaluations measured (default: "auto tiled lanes general")
#   POLICY_TEAMS    policy part: team sizes measured (default: "0", the automatic choice)
#   POLICY_LANE_CHUNKS  policy part: the lane evaluation's chunks measured (default: "0", automatic)
#   POLICY_LANE_WIDTHS  policy part: the lane evaluation's lanes per agent measured (default: "0", automatic)
#   POLICY_REFERENCE=0  policy part: no pymdp reference outputs (the benchmark only)
#   POLICY_GAUSSIAN=0   policy part: not the linear-Gaussian form
#   POLICY_STEP_SWEEP=1 policy part: also 50/200/800 steps at 16 384 agents and 500/2000/8000
#                   at one, with CUDA_MODULE_LOADING LAZY and EAGER, and one run with
#                   policy.profile_phases (policy_sweep.txt)
#   TARGETS         build only these CMake targets (e.g. "prism bench_ising2d test_thermo");
#                   tests whose binaries were not built are skipped
#   PROFILE=1       thermo part: Nsight Compute on one multispin sweep at 32768^2
#                   (ncu_multispin.txt) and the kernel's SASS (sass_multispin.txt);
#                   classifier part: Nsight Compute on one tensor-core inference
#                   launch of 10^6 observations (ncu_classifier.txt); policy part: the
#                   duration of every kernel of two lane-evaluation steps at 16 384 agents,
#                   the first of POLICY_LANE_WIDTHS (ncu_policy_lanes.txt)
#
# OUTDIR gets: node.txt (GPUs, compilers, commit, "-dirty" if tracked files differ from it); test_*.txt (unit tests, thermo,
# nqs and te physics suites on one GPU, thermo on 2 ranks); rank_independence.txt
# (/thermo, /nqs and /te bitwise equal on 1 and 2 GPUs); bench_ising2d.csv (2D
# and 3D kernels) and ising_gpu_peer.{csv,txt} (NVIDIA's ising-gpu on the same
# card, when .carry/ising-gpu is present: bench/ising_gpu_peer.sh), and
# bench_nqs.csv (one GPU, 1/2/4 GPUs for nqs, and all host cores with OpenMP);
# bench_sr.csv (SR's product against a Kokkos Kernels gemv pair, GPU and host);
# thermo_e2e.txt (prism on the bench deck, one replica per GPU, 1..NGPU GPUs);
# study/ (the jobs/slurm scaling scripts on 1, 2, 4, 8 GPUs as visible, launched
# with mpirun, and postprocess/scaling.py's tables and plots); bench_te.csv (one
# TE by search and N, surrogate batches, GPU and host cores), te_torch.csv (the
# PyTorch peer on the same card) and te.txt (prism on the peer's data, the
# 64-series TE matrix with 100 surrogates per pair on 1..2 GPUs); bench_classifier.csv,
# classifier_torch.csv and classifier.txt (inference and a training epoch, prism
# and PyTorch on the same card) and classifier_torch_reference.h5 (PyTorch's q
# on prism's weights, for tests/reference/classifier_torch).
# Exit status 1 if a build, test or identity check failed.
set -uo pipefail
OUT="${1:?usage: bench/run_gpu.sh OUTDIR}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/scripts/common.sh"  # Open MPI as root, find_python
KOKKOS_SOURCES="${KOKKOS_SOURCES:-$ROOT/.deps/src}"
[[ -d "$ROOT/.carry/usr" ]] && PRISM_DEPS="${PRISM_DEPS:-$ROOT/.carry/usr}"
WORK="${WORK:-/tmp/prism-gpu}"
mkdir -p "$OUT/study" "$WORK" && OUT="$(cd "$OUT" && pwd)"
export PATH="$PATH:/usr/local/cuda/bin"
J=$(nproc)
PY="$(find_python || command -v python3)"
# GPUs: CUDA_VISIBLE_DEVICES if set, else all; rank r of a node takes the r-th.
NGPU=$(if [[ -n "${CUDA_VISIBLE_DEVICES:-}" ]]; then tr , '\n' <<< "$CUDA_VISIBLE_DEVICES" | grep -c .; else nvidia-smi -L | wc -l; fi)
ONE="${CUDA_VISIBLE_DEVICES:-0}" && ONE="${ONE%%,*}"  # single-GPU runs
MPI=(mpirun --bind-to none)                            # ranks are placed on GPUs by prism
CPU=(env OMP_NUM_THREADS="$J" OMP_PROC_BIND=spread OMP_PLACES=threads)
fails=0
want() { [[ " ${PARTS:-tests thermo nqs nqs_tta nqs_complex sr te te_matrix classifier policy gnn oscillators study} " == *" $1 "* ]]; }
log() { echo "== $* ($(date +%T))"; }
failed() { echo "FAILED: $*"; fails=$((fails + 1)); }

log "node: $NGPU GPU(s), $J host cores"
{ nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv
  nvcc --version | grep release; g++ --version | head -1; cmake --version | head -1; mpirun --version | head -1
  echo "commit $(git -C "$ROOT" describe --always --dirty --abbrev=40 --exclude="*" 2>/dev/null || echo unknown)"; } | tee "$OUT/node.txt"

# Kokkos for BACKEND into $WORK/kokkos-BACKEND, then prism into $WORK/prism-BACKEND.
build() {
  local backend=$1; shift
  local targets=${TARGETS:-}  # the OpenMP build has no tests
  [[ $backend == openmp ]] && targets=$(tr ' ' '\n' <<< "$targets" | grep -v '^test_' | tr '\n' ' ')
  "$ROOT/scripts/setup.sh" --backend "$backend" --no-apt --source-dir "$KOKKOS_SOURCES" \
    --prefix "$WORK/kokkos-$backend" --jobs "$J" || exit 1
  cmake -S "$ROOT" -B "$WORK/prism-$backend" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
    "-DCMAKE_PREFIX_PATH=$WORK/kokkos-$backend${PRISM_DEPS:+;$PRISM_DEPS}" "$@" > "$WORK/$backend.log" 2>&1 &&
    cmake --build "$WORK/prism-$backend" -j "$J" ${targets:+--target $targets} >> "$WORK/$backend.log" 2>&1 ||
    { grep -m1 -B5 -A30 -i "error" "$WORK/$backend.log"; echo "prism $backend build failed ($WORK/$backend.log)"; exit 1; }
}
log "build: Kokkos and prism for CUDA"
build cuda
if [[ "${SKIP_OPENMP:-0}" != 1 ]]; then
  log "build: Kokkos and prism for OpenMP (the host-core comparison)"
  build openmp -DPRISM_ENABLE_TESTS=OFF
fi
B="$WORK/prism-cuda" C="$WORK/prism-openmp"

check() {  # NAME COMMAND...: output in test_NAME.txt
  local name=$1; shift
  local binary; for binary in "$@"; do [[ "$binary" == "$B"/* ]] && break; done
  [[ -x "$binary" ]] || { echo "$name: skipped ($binary not built)"; return 0; }
  if "$@" > "$OUT/test_$name.txt" 2>&1; then echo "$name: $(tail -1 "$OUT/test_$name.txt")"
  else tail -20 "$OUT/test_$name.txt"; failed "test $name"; fi
}
if want tests; then
log "tests"
check unit "$B/tests/test_unit" --gtest_brief=1
CUDA_VISIBLE_DEVICES=$ONE check thermo_1gpu "$B/tests/test_thermo" --gtest_brief=1
CUDA_VISIBLE_DEVICES=$ONE check nqs_1gpu "$B/tests/test_nqs" --gtest_brief=1
CUDA_VISIBLE_DEVICES=$ONE check common_1gpu "$B/tests/test_common" --gtest_brief=1
if [[ $NGPU -ge 2 ]]; then
  check thermo_2gpu "${MPI[@]}" -np 2 "$B/tests/test_thermo" --gtest_brief=1
  : > "$OUT/rank_independence.txt"
  for deck_group in "small_pt /thermo" "small_nqs /nqs" "small_nqs_float /nqs" "small_nqs_complex /nqs"; do
    read -r deck group <<< "$deck_group"
    rm -f "$WORK/$deck"-np?.h5  # prism never replaces a file
    for np in 1 2; do
      "${MPI[@]}" -np $np "$B/src/prism" --output "$WORK/$deck-np$np.h5" "$ROOT/tests/decks/$deck.toml" \
        > "$WORK/$deck-np$np.log" 2>&1 || failed "prism $deck on $np GPU(s): $(tail -3 "$WORK/$deck-np$np.log")"
    done
    if "$PY" "$ROOT/tests/e2e/compare_h5.py" "$WORK/$deck-np1.h5" "$WORK/$deck-np2.h5" "$group" --ignore "$group/time"
    then echo "$deck: $group identical on 1 and 2 GPUs"; else failed "$deck: $group differs on 1 and 2 GPUs"; fi \
      >> "$OUT/rank_independence.txt"
  done
  cat "$OUT/rank_independence.txt"
fi
fi

if want thermo; then
log "bench_ising2d: one GPU (2D and 3D kernels), then all $J host cores"
CUDA_VISIBLE_DEVICES=$ONE "$B/bench/bench_ising2d" --L 16384,32768,65536 --L3 512 --sweeps 50 \
  --csv "$OUT/bench_ising2d.csv" || failed "bench_ising2d"
[[ "${SKIP_OPENMP:-0}" == 1 ]] ||
  "${CPU[@]}" "$C/bench/bench_ising2d" --L 16384 --L3 256 --sweeps 20 --csv "$OUT/bench_ising2d.csv"
if [[ "${PROFILE:-0}" == 1 ]] && command -v ncu > /dev/null; then
  log "profile: ncu on one multispin sweep at 32768^2, and the kernel's SASS"
  CUDA_VISIBLE_DEVICES=$ONE ncu --clock-control none --kernel-name-base demangled -k regex:sweep_multispin -c 1 --set full \
    "$B/bench/bench_ising2d" --L 32768 --L3 "" --sweeps 2 > "$OUT/ncu_multispin.txt" 2>&1 || failed "ncu"
  cuobjdump -sass "$B/bench/bench_ising2d" | c++filt | awk '/Function :/ { keep = /sweep_multispin<2, false/ } keep' \
    > "$OUT/sass_multispin.txt" 2>&1 || true
fi
if [[ -d "$ROOT/.carry/ising-gpu" ]]; then
  log "the peer on the same card: NVIDIA ising-gpu, optimized (bench/ising_gpu_peer.sh)"
  CUDA_VISIBLE_DEVICES=$ONE bash "$ROOT/bench/ising_gpu_peer.sh" "$OUT/ising_gpu_peer.csv" \
    > "$OUT/ising_gpu_peer.txt" 2>&1 || failed "ising-gpu peer (see ising_gpu_peer.txt)"
  grep -h "flips/ns" "$OUT/ising_gpu_peer.txt" || true
fi

log "prism on the bench deck: one 16384^2 replica per GPU, 1..$NGPU GPUs; measure_every 1 and 10"
for np in $(seq 1 "$NGPU"); do
  temps=$("$PY" -c "print([round(2.0 + 0.05 * i, 3) for i in range($np)])")
  for every in 1 10; do
    rm -f "$WORK/thermo-np$np.h5"
    echo "np=$np measure_every=$every" | tee -a "$OUT/thermo_e2e.txt"
    "${MPI[@]}" -np "$np" "$B/src/prism" --output "$WORK/thermo-np$np.h5" --set "thermo.temperatures=$temps" \
      --set thermo.sweeps=400 --set thermo.thermalization=200 --set thermo.exchange_every=10 \
      --set thermo.measure_every=$every \
      "$ROOT/inputs/bench_ising2d_16384.toml" 2>&1 | grep -E '^PERFORMANCE|^[^ ].*rror' | tee -a "$OUT/thermo_e2e.txt"
  done
done
fi

if want nqs; then
log "bench_nqs: 10x10 Heisenberg, alpha 2, 16384 chains, on 1, 2, 4 GPUs, then all $J host cores"
for np in 1 2 4; do
  [[ $np -le $NGPU ]] || break
  for precision_sr in "double 3" "float 1"; do
    read -r precision sr <<< "$precision_sr"
    "${MPI[@]}" -np $np "$B/bench/bench_nqs" --L 10 --chains 16384 --sweeps 4 --sr "$sr" \
      --precision "$precision" --csv "$OUT/bench_nqs.csv"
  done
done
for precision in double float; do
  "${CPU[@]}" "$C/bench/bench_nqs" --L 10 --chains 16384 --sweeps 4 --sr 1 --precision $precision --csv "$OUT/bench_nqs.csv"
done
fi

if want nqs_complex; then
# The complex RBM without a sign rule on the 4 x 4 J1-J2 lattice at J2 = 0.5
# (the deck) and J2 = 0: energies per iteration and wall time on one GPU.
log "nqs complex: 4x4 J1-J2 without a sign rule on one GPU"
mkdir -p "$OUT/nqs_complex"
for case in "j05|" "j0|--set nqs.J2=0 --set nqs.reference_energy=-11.228483208428846"; do
  IFS='|' read -r label sets <<< "$case"
  rm -f "$WORK/complex-$label.h5"
  # shellcheck disable=SC2086 # the --set arguments split on spaces
  CUDA_VISIBLE_DEVICES=$ONE "$B/src/prism" --output "$WORK/complex-$label.h5" $sets \
    "$ROOT/inputs/nqs_j1j2_4x4_complex.toml" > "$OUT/nqs_complex/$label.log" 2>&1 ||
    failed "nqs_complex $label: $(tail -3 "$OUT/nqs_complex/$label.log")"
  cp "$WORK/complex-$label.h5" "$OUT/nqs_complex/$label.h5" 2>/dev/null || true
done
fi

if want nqs_tta; then
# Time to accuracy on the 10x10 deck: each configuration (label|--set arguments,
# one per line of NQS_TTA) trains for at most NQS_TTA_SECONDS and is then stopped
# by SIGUSR1, which writes its complete file; bench/nqs_time_to_accuracy.py reads
# off the seconds to 1e-2 and 2e-3 relative error.
log "nqs time to accuracy: 10x10 Heisenberg on one GPU, ${NQS_TTA_SECONDS:=150} s per configuration"
: "${NQS_TTA:=shipped|
sr_double|--set nqs.sr_precision=double
symmetric|--set nqs.symmetry=translation --set nqs.diag_shift=0.05 --set nqs.alpha=8 --set nqs.iterations=2000
symmetric_cholesky|--set nqs.symmetry=translation --set nqs.diag_shift=0.05 --set nqs.alpha=8 --set nqs.iterations=2000 --set nqs.sr_solver=cholesky --set nqs.sr_precision=double}"
mkdir -p "$OUT/nqs_tta"
runs=() labels=()
while IFS='|' read -r label sets; do
  [[ -n "$label" ]] || continue
  rm -f "$WORK/tta-$label.h5"
  # shellcheck disable=SC2086 # the --set arguments split on spaces
  CUDA_VISIBLE_DEVICES=$ONE timeout --preserve-status -k 120 -s USR1 "$NQS_TTA_SECONDS" "$B/src/prism" --output "$WORK/tta-$label.h5" \
    --set nqs.observables_iterations=0 --set nqs.checkpoint_every=0 $sets "$ROOT/inputs/nqs_heisenberg_10x10.toml" \
    > "$OUT/nqs_tta/$label.log" 2>&1 || failed "nqs_tta $label: $(tail -3 "$OUT/nqs_tta/$label.log")"
  cp "$WORK/tta-$label.h5" "$OUT/nqs_tta/$label.h5" 2>/dev/null && runs+=("$OUT/nqs_tta/$label.h5") labels+=(--label "$label")
done <<< "$NQS_TTA"
[[ ${#runs[@]} -gt 0 ]] && "$PY" "$ROOT/bench/nqs_time_to_accuracy.py" "${runs[@]}" "${labels[@]}" \
  --csv "$OUT/nqs_tta.csv" | tee "$OUT/nqs_tta.txt"
fi

if want sr; then
log "bench_sr: SR's product against a plain gemv pair (10x10 model on one GPU; 4096 x 1224 on host cores)"
CUDA_VISIBLE_DEVICES=$ONE "$B/bench/bench_sr" --rows 65536 --cols 20300 --block 4 --csv "$OUT/bench_sr.csv"
"${CPU[@]}" "$C/bench/bench_sr" --rows 4096 --cols 1224 --block 8 --csv "$OUT/bench_sr.csv"
OMP_NUM_THREADS=1 "$C/bench/bench_sr" --rows 4096 --cols 1224 --block 8 --csv "$OUT/bench_sr.csv"
fi

if want te; then
log "te: the suite on one GPU, then one TE by search and N on one GPU and on all $J host cores"
CUDA_VISIBLE_DEVICES=$ONE check te_1gpu "$B/tests/test_te" --gtest_brief=1
export CUDA_VISIBLE_DEVICES=$ONE
"$B/bench/bench_te" --n 128,256,512,1024,4096,10000,65536 --search brute,window --csv "$OUT/bench_te.csv"
"$B/bench/bench_te" --n 262144,1048576 --search window --repeat 3 --csv "$OUT/bench_te.csv"
"$B/bench/bench_te" --n 10000 --search window --surrogates 512 --csv "$OUT/bench_te.csv"
"${CPU[@]}" "$C/bench/bench_te" --n 1024,10000,65536 --search window --repeat 3 --csv "$OUT/bench_te.csv"
"${CPU[@]}" "$C/bench/bench_te" --n 10000 --search brute --repeat 1 --csv "$OUT/bench_te.csv"
"${CPU[@]}" "$C/bench/bench_te" --n 10000 --search window --surrogates 64 --repeat 1 --csv "$OUT/bench_te.csv"
log "te: the PyTorch peer (cdist + topk) on the same card, then prism on the peer's data"
"$PY" "$ROOT/bench/te_torch_ksg.py" --n 10000,65536 --dir "$WORK" --csv "$OUT/te_torch.csv" 2>&1 | tee -a "$OUT/te.txt"
for n in 10000 65536; do
  printf '[run]\nseed = 1\n[te]\nsource = "text"\nfile = "%s"\nmode = "pairs"\npairs = [[0, 1]]\n' \
    "$WORK/pair$n.txt" > "$WORK/te_pair$n.toml"
  rm -f "$WORK/te_pair$n.h5"
  "$B/src/prism" --output "$WORK/te_pair$n.h5" "$WORK/te_pair$n.toml" 2>&1 |
    grep -E '^PERFORMANCE|^s0 |rror' | sed "s/^/prism N = $n: /" | tee -a "$OUT/te.txt"
done
unset CUDA_VISIBLE_DEVICES
fi

if want te_matrix; then
log "te: the 64-series TE matrix at N = 10^4 with 100 surrogates per pair, 1..2 GPUs"
for np in 1 2; do
  [[ $np -le $NGPU ]] || break
  rm -f "$WORK/te_matrix-np$np.h5"
  /usr/bin/time -f "wall %e s" "${MPI[@]}" -np $np "$B/src/prism" --output "$WORK/te_matrix-np$np.h5" \
    "$ROOT/inputs/bench_te_matrix64.toml" 2>&1 | grep -E '^PERFORMANCE|^wall|rror' | sed "s/^/np $np: /" |
    tee -a "$OUT/te.txt"
done
if [[ $NGPU -ge 2 ]]; then
  "$PY" "$ROOT/tests/e2e/compare_h5.py" "$WORK/te_matrix-np1.h5" "$WORK/te_matrix-np2.h5" /te &&
    echo "te matrix: /te identical on 1 and 2 GPUs" | tee -a "$OUT/te.txt" || failed "te matrix differs on 1 and 2 GPUs"
fi
fi

if want policy; then
log "policy: the suite on one GPU; the issue's benchmark model (obs [16,8], states [32,4], controls [4,1], 64 policies)"
CUDA_VISIBLE_DEVICES=$ONE check policy_1gpu "$B/tests/test_policy" --gtest_brief=1
# The issue's benchmark model on the small deck, deterministic actions, no
# learning, no traces: every run of this part adds its agents and steps.
BENCH_MODEL=(--set 'policy.states=[32,4]' --set 'policy.controls=[4,1]' --set 'policy.observations=[16,8]'
  --set policy.policy_len=3 --set policy.action_selection=deterministic --set policy.learn_A=false
  --set policy.learn_B=false --set policy.trace_agents=0)
# Every evaluation in POLICY_EVALUATIONS (auto picks the lane one on a GPU for
# this model), for every team size in
# POLICY_TEAMS (0: the automatic choice), or for the lane evaluation every
# chunk in POLICY_LANE_CHUNKS (0: the automatic choice).
for agents_steps in "1 2000" "1024 500" "16384 200" "65536 50" "262144 20"; do
  read -r agents steps <<< "$agents_steps"
  for evaluation in ${POLICY_EVALUATIONS:-auto tiled lanes general}; do
    [[ $evaluation == general && $agents == 262144 ]] && continue
    variants=${POLICY_TEAMS:-0}
    if [[ $evaluation == lanes ]]; then
      variants=""
      for c in ${POLICY_LANE_CHUNKS:-0}; do for w in ${POLICY_LANE_WIDTHS:-0}; do variants+=" $c:$w"; done; done
    fi
    for variant in $variants; do
      team=0 chunk=0 width=0
      if [[ $evaluation == lanes ]]; then IFS=: read -r chunk width <<< "$variant"; else team=$variant; fi
      rm -f "$WORK/policy-$agents.h5"
      echo "agents=$agents evaluation=$evaluation team=$team lane_chunk=$chunk lane_width=$width" | tee -a "$OUT/policy.txt"
      CUDA_VISIBLE_DEVICES=$ONE "$B/src/prism" --output "$WORK/policy-$agents.h5" "${BENCH_MODEL[@]}" \
        --set policy.agents=$agents --set policy.steps=$steps \
        --set policy.evaluation=$evaluation --set policy.team_size=$team --set policy.lane_chunk=$chunk --set policy.lane_width=$width \
        "$ROOT/tests/decks/small_policy.toml" 2>&1 | grep -E '^PERFORMANCE|rror' | tee -a "$OUT/policy.txt"
    done
  done
done
if [[ "${POLICY_STEP_SWEEP:-0}" == 1 ]]; then
  # Fixed against per-step cost: the same run over more and more steps, with
  # kernels loaded lazily (CUDA's default) and all at start-up.
  log "policy: seconds of the timed steps against their number, lazy and eager kernel loading"
  for loading in LAZY EAGER; do
    for agents_steps in "16384 50" "16384 200" "16384 800" "1 500" "1 2000" "1 8000"; do
      read -r agents steps <<< "$agents_steps"
      rm -f "$WORK/policy-sweep.h5"
      echo -n "loading=$loading agents=$agents steps=$steps " | tee -a "$OUT/policy_sweep.txt"
      CUDA_MODULE_LOADING=$loading CUDA_VISIBLE_DEVICES=$ONE "$B/src/prism" --output "$WORK/policy-sweep.h5" \
        "${BENCH_MODEL[@]}" --set policy.agents=$agents --set policy.steps=$steps "$ROOT/tests/decks/small_policy.toml" 2>&1 | grep -E '^PERFORMANCE|rror' |
        tee -a "$OUT/policy_sweep.txt"
    done
  done
  # The kernels' own time in a normal run: each phase between fences.
  rm -f "$WORK/policy-phases.h5"
  CUDA_VISIBLE_DEVICES=$ONE "$B/src/prism" --output "$WORK/policy-phases.h5" --set policy.profile_phases=true \
    "${BENCH_MODEL[@]}" --set policy.agents=16384 --set policy.steps=200 "$ROOT/tests/decks/small_policy.toml" > /dev/null 2>&1 &&
    "$PY" -c "import h5py, sys; t = h5py.File(sys.argv[1])['timings']
print('profile_phases, 16384 agents, 200 steps: ' + ', '.join(f'{k} {t[k][\"mean\"][()]:.4f} s' for k in t))" \
      "$WORK/policy-phases.h5" | tee -a "$OUT/policy_sweep.txt"
fi
if [[ "${PROFILE:-0}" == 1 ]] && command -v ncu > /dev/null; then
  log "policy: ncu, every kernel's duration in two lane-evaluation steps at 16 384 agents"
  rm -f "$WORK/policy-ncu.h5"
  ncu_width=${POLICY_LANE_WIDTHS:-0} && ncu_width=${ncu_width%% *}
  CUDA_VISIBLE_DEVICES=$ONE ncu --clock-control none --kernel-name-base demangled --launch-skip 40 --launch-count 40 \
    --metrics gpu__time_duration.sum "$B/src/prism" --output "$WORK/policy-ncu.h5" "${BENCH_MODEL[@]}" \
    --set policy.agents=16384 --set policy.steps=12 --set policy.evaluation=lanes \
    --set policy.lane_width="$ncu_width" \
    "$ROOT/tests/decks/small_policy.toml" 2>&1 | grep -E '^  [A-Za-z_].*\(|gpu__time_duration' |
    sed -E 's/\(([0-9]+), ([0-9]+), ([0-9]+)\)x\(([0-9]+), ([0-9]+), ([0-9]+)\).*/grid \1x\2x\3 block \4x\5x\6/' \
    > "$OUT/ncu_policy_lanes.txt" || failed "ncu policy"
fi
if [[ -x "$C/src/prism" ]]; then
  log "policy: the same model on the node's $J host cores (OpenMP), 16 384 agents"
  rm -f "$WORK/policy-omp.h5"
  "${CPU[@]}" "$C/src/prism" --output "$WORK/policy-omp.h5" "${BENCH_MODEL[@]}" \
    --set policy.agents=16384 --set policy.steps=4 "$ROOT/tests/decks/small_policy.toml" 2>&1 | grep -E '^PERFORMANCE|rror' | sed "s/^/openmp $J cores: /" |
    tee -a "$OUT/policy.txt"
fi
[[ ${POLICY_GAUSSIAN:-1} == 1 ]] &&
  log "policy: the linear-Gaussian form, 2^20 agents x 100 steps, 5 and 125 policies of three steps"
for set in constant all; do
  [[ ${POLICY_GAUSSIAN:-1} == 1 ]] || break
  CUDA_VISIBLE_DEVICES=$ONE "$B/src/prism" --output "$WORK/policy-gaussian.h5" --set policy.agents=1048576 \
    --set policy.trace_agents=0 --set policy.steps=100 --set policy.policies=$set "$ROOT/inputs/policy_gaussian.toml" 2>&1 |
    grep -E '^PERFORMANCE|rror' | tee -a "$OUT/policy.txt"
  rm -f "$WORK/policy-gaussian.h5"
done
if [[ -d "$ROOT/.carry/py/pymdp" ]]; then
  log "policy: pymdp (JAX) beside it, and its reference outputs"
  (cd "$ROOT" && CUDA_VISIBLE_DEVICES=$ONE PYTHONPATH="$ROOT/.carry/py" "$PY" bench/policy_pymdp.py --bench \
    --csv "$OUT/policy_pymdp.csv" 2>&1 | tail -20 | tee -a "$OUT/policy.txt")
  [[ ${POLICY_REFERENCE:-1} == 1 ]] &&
    (cd "$ROOT" && CUDA_VISIBLE_DEVICES=$ONE PYTHONPATH="$ROOT/.carry/py" "$PY" bench/policy_pymdp.py \
      --reference "$OUT/policy_reference" 2>&1 | tail -20 | tee -a "$OUT/policy.txt")
fi
fi

if want classifier; then
log "classifier: the suite on one GPU, inference and a training epoch of 10^6 samples, the PyTorch peer"
CUDA_VISIBLE_DEVICES=$ONE check classifier_1gpu "$B/tests/test_classifier" --gtest_brief=1
CUDA_VISIBLE_DEVICES=$ONE "$B/bench/bench_classifier" --n 1000000 --batch 1024 --csv "$OUT/bench_classifier.csv" \
  --reference "$WORK/classifier_reference_in.h5" | tee -a "$OUT/classifier.txt"
[[ "${SKIP_OPENMP:-0}" == 1 ]] ||
  "${CPU[@]}" "$C/bench/bench_classifier" --n 200000 --batch 1024 --csv "$OUT/bench_classifier.csv" | tee -a "$OUT/classifier.txt"
CUDA_VISIBLE_DEVICES=$ONE "$PY" "$ROOT/bench/classifier_torch.py" --n 1000000 --batch 1024 --csv "$OUT/classifier_torch.csv" \
  --reference "$WORK/classifier_reference_in.h5" --write "$OUT/classifier_torch_reference.h5" 2>&1 |
  grep -v Warning | tee -a "$OUT/classifier.txt"
if [[ "${PROFILE:-0}" == 1 ]] && command -v ncu > /dev/null; then
  CUDA_VISIBLE_DEVICES=$ONE ncu --clock-control none --kernel-name-base demangled -k regex:InferTensor --launch-skip 1 \
    -c 1 --set full "$B/bench/bench_classifier" --n 1000000 --csv "$WORK/ncu_classifier.csv" > "$OUT/ncu_classifier.txt" 2>&1 ||
    failed "ncu classifier"
fi
fi

if want gnn; then
log "gnn: the suite on one GPU; prism and e3nn on one model and the same structures"
mkdir -p "$OUT/gnn"
CUDA_VISIBLE_DEVICES=$ONE check gnn_1gpu "$B/tests/test_gnn" --gtest_brief=1
CUDA_VISIBLE_DEVICES=$ONE "$PY" "$ROOT/tools/gnn_e3nn.py" bench "$OUT/gnn" --sizes ${GNN_SIZES:-22 46} 2>&1 |
  tee "$OUT/gnn/e3nn.txt" || failed "e3nn bench"
CUDA_VISIBLE_DEVICES=$ONE "$B/bench/bench_gnn" --model "$OUT/gnn/bench_model.h5" \
  --structures "$OUT/gnn/bench_structures.h5" --csv "$OUT/gnn/bench_gnn.csv" 2>&1 | tee "$OUT/gnn/prism.txt" ||
  failed "bench_gnn"
# The issue's single layer, e3nn's convolution anchor: input 10x0e+10x1e, output 20x0e+10x1e,
# harmonics l <= 2, r_cut 5 A on the same lattices (about 107 edges per atom); one layer each side.
mkdir -p "$OUT/gnn/layer"
CUDA_VISIBLE_DEVICES=$ONE "$PY" "$ROOT/tools/gnn_e3nn.py" bench "$OUT/gnn/layer" --sizes ${GNN_SIZES:-22 46} \
  --input 10x0e+10x1e --hidden 20x0e+10x1e --layers 1 --r-cut 5.0 --avg 107 2>&1 |
  tee "$OUT/gnn/layer/e3nn.txt" || failed "e3nn bench (one layer)"
CUDA_VISIBLE_DEVICES=$ONE "$B/bench/bench_gnn" --model "$OUT/gnn/layer/bench_model.h5" \
  --structures "$OUT/gnn/layer/bench_structures.h5" --csv "$OUT/gnn/layer/bench_gnn.csv" 2>&1 |
  tee "$OUT/gnn/layer/prism.txt" || failed "bench_gnn (one layer)"
# Teams of 32 threads beside the automatic 64: the layer has 30 radial weights, the work items of
# its edge loops, so half of a 64-thread team idles there.
CUDA_VISIBLE_DEVICES=$ONE "$B/bench/bench_gnn" --model "$OUT/gnn/layer/bench_model.h5" --team 32 \
  --structures "$OUT/gnn/layer/bench_structures.h5" --csv "$OUT/gnn/layer/bench_gnn_team32.csv" 2>&1 |
  tee -a "$OUT/gnn/layer/prism.txt" || failed "bench_gnn (one layer, teams of 32)"
# A million atoms (100^3 sites), prism only: e3nn's per-edge tensors do not fit.
"$PY" "$ROOT/tools/gnn_e3nn.py" bench "$WORK/gnn_big" --sizes ${GNN_BIG:-100} --no-e3nn > /dev/null 2>&1
CUDA_VISIBLE_DEVICES=$ONE "$B/bench/bench_gnn" --model "$OUT/gnn/bench_model.h5" --reps 3 --precision float \
  --structures "$WORK/gnn_big/bench_structures.h5" --csv "$OUT/gnn/bench_gnn_big.csv" 2>&1 |
  tee -a "$OUT/gnn/prism.txt" || failed "bench_gnn (large)"
fi

if want oscillators; then
log "oscillators: the suite on one GPU; 10^8 all-to-all and a 10^7 random graph; host cores; the PyTorch peer"
CUDA_VISIBLE_DEVICES=$ONE check oscillators_1gpu "$B/tests/test_oscillators" --gtest_brief=1
osc() {  # LABEL NP EXE ARGS...: one prism run on the bench deck, its PERFORMANCE line to oscillators.txt
  local label=$1 np=$2 exe=$3; shift 3
  rm -f "$WORK/osc.h5"
  echo "$label" | tee -a "$OUT/oscillators.txt"
  "${MPI[@]}" -np "$np" "$exe" --output "$WORK/osc.h5" "$@" "$ROOT/inputs/bench_oscillators.toml" 2>&1 |
    grep -E '^PERFORMANCE|^[^ ].*rror|^ +[0-9.]+ +0\.' | tee -a "$OUT/oscillators.txt"
}
osc "all-to-all, first order, N = 1e8, one GPU" 1 "$B/src/prism"
# The step's loads in the other two orders (same bits; langevin.hpp, Loads): before the noise
# draw, and one draw ahead.
for loads in 1 2; do
  PRISM_OSCILLATORS_LOADS=$loads osc "all-to-all, first order, N = 1e8, one GPU, PRISM_OSCILLATORS_LOADS=$loads" 1 \
    "$B/src/prism"
done
osc "all-to-all, second order, N = 1e8, one GPU" 1 "$B/src/prism" --set oscillators.order=second
osc "random graph, mean degree 10, first order, N = 1e7, one GPU" 1 "$B/src/prism" --set oscillators.oscillators=10000000 \
  --set oscillators.coupling=random --set oscillators.dt=0.005
osc "the same graph in one gather pass (gather_blocks = 1; the default is auto)" 1 "$B/src/prism" \
  --set oscillators.oscillators=10000000 --set oscillators.coupling=random --set oscillators.dt=0.005 \
  --set oscillators.gather_blocks=1
for np in $(seq 2 "$NGPU"); do  # weak scaling: one 1e8 run per GPU
  osc "all-to-all, first order, N = 1e8 per GPU, $np GPUs" "$np" "$B/src/prism" \
    --set "oscillators.K=$("$PY" -c "print([3.0] * $np)")"
done
[[ "${SKIP_OPENMP:-0}" == 1 ]] || (export OMP_NUM_THREADS="$J" OMP_PROC_BIND=spread OMP_PLACES=threads
  osc "all-to-all, first order, N = 1e7, all $J host cores" 1 "$C/src/prism" --set oscillators.oscillators=10000000)
CUDA_VISIBLE_DEVICES=$ONE "$PY" "$ROOT/bench/oscillators_torch.py" --n 100000000 --steps 100 \
  --csv "$OUT/oscillators_torch.csv" ${OSC_TORCH_COMPILE:+--compile} 2>&1 | tee -a "$OUT/oscillators.txt" ||
  failed "oscillators torch peer"
fi

want study || { log "done (no scaling study): results in $OUT"; exit $((fails > 0)); }
log "scaling study: the jobs/slurm scripts on 1, 2, 4, 8 GPUs (as many as visible), launched with mpirun"
cd "$OUT/study" && rm -f ./*.h5
for np in 1 2 4 8; do
  [[ $np -le $NGPU ]] || break
  export EXE="$B/src/prism" NP=$np LAUNCH="mpirun -np $np --bind-to none" MODE
  DECK="$ROOT/inputs/bench_ising2d_16384.toml" bash "$ROOT/jobs/slurm/weak_scaling.sbatch"
  DECK="$ROOT/inputs/ea3d_spin_glass.toml" bash "$ROOT/jobs/slurm/strong_scaling.sbatch"
  for MODE in strong weak; do DECK="$ROOT/inputs/nqs_heisenberg_10x10.toml" bash "$ROOT/jobs/slurm/nqs_scaling.sbatch"; done
done 2>&1 | grep -E '^PERFORMANCE|^[^ ].*rror' | tee performance.txt
for series in weak strong nqs-weak nqs-strong; do
  "$PY" "$ROOT/postprocess/scaling.py" "$series"-np*.h5 -o "$series.png" 2>&1 | tee "$series.txt"
done

log "done: results in $OUT"
[[ $fails -eq 0 ]] || { echo "$fails check(s) FAILED"; exit 1; }
