#!/usr/bin/env python3
"""Strong and weak scaling plots from several prism runs.

Each run contributes (ranks, wall time of the 'total' phase, slowest rank,
and the work it did, as its workload's module in workloads/ counts it).  Runs
whose total work equals that of the 1-rank run (or of the fewest-rank run)
are a strong-scaling series; runs whose work per rank is constant are a
weak-scaling series.  Efficiency: strong
T(1) / (n T(n)), weak T(1) / T(n), relative to the fewest ranks present.

usage: scaling.py RUN1.h5 RUN2.h5 ... [-o scaling.png] [--phase total]
"""
import argparse
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import workloads
from prism_h5 import read_run


def work_of(f):
    """Work a run did: its workload module's count (workloads/__init__.py),
    else the work_count the run wrote to /timings, else NaN."""
    found = workloads.found_in(f)
    if found:
        return sum(module.work(group) for _, group, module in found)
    if "timings" in f and "work_count" in f["timings"].attrs:
        return float(f["timings"].attrs["work_count"])
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="prism HDF5 files")
    ap.add_argument("-o", "--output", default="scaling.png")
    ap.add_argument("--phase", default="total", help="timing phase to use (default total)")
    ap.add_argument("--mode", choices=["auto", "strong", "weak"], default="auto")
    args = ap.parse_args()
    rows = []
    for path in args.runs:
        meta, timings, f = read_run(path)
        if args.phase not in timings:
            sys.exit(f"scaling.py: {path} has no /timings/{args.phase}")
        work = work_of(f)
        if not np.isfinite(work) and args.mode == "auto":
            print(f"scaling.py: {path}: no work count (no post-processing module for its workload); "
                  "strong/weak cannot be told apart, pass --mode", file=sys.stderr)
        rows.append((int(meta["ranks"]), float(timings[args.phase]["max"]), work, path))
    rows.sort()
    n = np.array([r[0] for r in rows], dtype=float)
    t = np.array([r[1] for r in rows])
    w = np.array([r[2] for r in rows])
    mode = args.mode
    if mode == "auto":
        mode = "strong" if np.allclose(w, w[0], rtol=1e-9) else "weak"
    speedup = t[0] / t * (n / n[0] if mode == "weak" else 1.0)
    eff = (t[0] / t) if mode == "weak" else (t[0] * n[0]) / (t * n)
    print(f"{mode} scaling, phase '{args.phase}'")
    print(f"{'ranks':>6} {'time[s]':>10} {'speed-up':>9} {'efficiency':>10}  file")
    for i, r in enumerate(rows):
        print(f"{int(n[i]):>6} {t[i]:>10.4f} {speedup[i]:>9.3f} {eff[i]:>10.3f}  {r[3]}")
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    axes[0].plot(n, t, "o-")
    axes[0].set_ylabel("time [s]")
    axes[1].plot(n, speedup, "o-", label="measured")
    axes[1].plot(n, n / n[0], "k--", lw=1, label="ideal")
    axes[1].set_ylabel("speed-up" if mode == "strong" else "scaled speed-up")
    axes[1].legend()
    axes[2].plot(n, eff, "o-")
    axes[2].axhline(1.0, color="k", ls="--", lw=1)
    axes[2].set_ylim(0, 1.1)
    axes[2].set_ylabel("efficiency")
    for ax in axes:
        ax.set_xlabel("ranks (GPUs)")
        ax.set_xticks(n)
        ax.grid(alpha=0.3)
    fig.suptitle(f"prism {mode} scaling ({args.phase})")
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
