#!/usr/bin/env python3
"""Time to a relative accuracy of prism nqs runs.

For each RUN.h5 (an /nqs group with reference_energy), the first iteration t
at which the mean energy of the `--window` iterations ending at t lies within
each target relative error of the reference, and the wall time to get there:
the sum of /nqs/time (the iterations' own seconds: sampling, statistics and
SR) up to t.  The window mean smooths the sampling noise of single
iterations, so a noisy estimate does not cross the target by chance.  One
row per run and target goes to the table, and to --csv when given.

usage: nqs_time_to_accuracy.py RUN.h5 [RUN.h5 ...] [--targets 1e-2,2e-3]
                               [--window 10] [--label NAME ...] [--csv OUT.csv]
                               [--plot OUT.png]

--plot draws each run's windowed relative error against its wall time, the
targets as horizontal lines, on log axes.
"""
import argparse
import csv
import os
import sys

import h5py
import numpy as np


def card(f):
    """The run's device name from /metadata, without the rank's index."""
    device = f["metadata"].attrs.get("device", "")
    device = device.decode() if isinstance(device, bytes) else str(device)
    return device.split(" (device")[0]


def first_within(e, ref, target, window):
    """Index of the first iteration whose trailing window mean is within target."""
    if len(e) < window:
        return None
    means = np.convolve(e, np.ones(window) / window, mode="valid")  # means[k] ends at k + window - 1
    ok = np.nonzero(np.abs((means - ref) / ref) <= target)[0]
    return int(ok[0]) + window - 1 if ok.size else None


def analyse(path, targets, window):
    with h5py.File(path, "r") as f:
        g = f["nqs"]
        a = g.attrs
        if "reference_energy" not in a:
            raise SystemExit(f"{path}: /nqs has no reference_energy attribute")
        ref = float(a["reference_energy"])
        e = np.array(g["energy_mean"])
        t = np.array(g["time"])
        cg = np.array(g["cg_iterations"])
        device = card(f)
    cum = np.cumsum(t)
    tail = e[-min(window, len(e)):]
    rows = []
    for target in targets:
        k = first_within(e, ref, target, window)
        rows.append({
            "run": os.path.basename(path),
            "iterations": len(e),
            "s_per_iteration": float(t.mean()) if len(t) else float("nan"),
            "mean_cg": float(cg.mean()) if len(cg) else float("nan"),
            "final_rel_error": float(abs((tail.mean() - ref) / ref)) if len(e) else float("nan"),
            "target": target,
            "iteration_reached": "" if k is None else k,
            "seconds_to_target": "" if k is None else round(float(cum[k]), 2),
            "device": device,
        })
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+")
    p.add_argument("--targets", default="1e-2,2e-3")
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--label", action="append", default=[], help="a name per run, in order (default: file name)")
    p.add_argument("--csv")
    p.add_argument("--plot", help="relative error against wall time, all runs in one figure")
    args = p.parse_args()
    targets = [float(x) for x in args.targets.split(",")]
    rows = []
    for i, path in enumerate(args.runs):
        for r in analyse(path, targets, args.window):
            if i < len(args.label):
                r["run"] = args.label[i]
            rows.append(r)
    cols = list(rows[0].keys())
    print(" ".join(f"{c:>18}" for c in cols[:-1]), cols[-1])
    for r in rows:
        v = [f"{x:.4g}" if isinstance(x, float) else str(x) for x in r.values()]
        print(" ".join(f"{x:>18}" for x in v[:-1]), v[-1])
    if args.csv:
        new = not os.path.exists(args.csv)
        with open(args.csv, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            if new:
                w.writeheader()
            w.writerows(rows)
    if args.plot:
        plot(args.runs, [r["run"] for r in rows[:: len(targets)]], targets, args.window, args.plot)
    return 0


def plot(paths, labels, targets, window, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    device = ""
    for path, label in zip(paths, labels):
        with h5py.File(path, "r") as f:
            g = f["nqs"]
            ref = float(g.attrs["reference_energy"])
            e, t = np.array(g["energy_mean"]), np.cumsum(np.array(g["time"]))
            device = card(f)
        if len(e) < window:
            continue
        means = np.convolve(e, np.ones(window) / window, mode="valid")
        ax.loglog(t[window - 1:], np.abs((means - ref) / ref), lw=1.2, label=label)
    for target in targets:
        ax.axhline(target, color="k", lw=0.8, ls=":")
    ax.set_xlabel("wall time of the iterations [s]")
    ax.set_ylabel(f"relative error of the {window}-iteration mean energy")
    ax.set_title(f"prism nqs time to accuracy, {device}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
