#!/usr/bin/env python3
"""Print the results and timings of a prism HDF5 file.

The results come from the workload's module (workloads/__init__.py holds the
table); the throughput from the /timings attributes the run wrote.

usage: summary.py RUN.h5
"""
import argparse
import sys

import numpy as np

import workloads
from prism_h5 import attr_str, read_run

# /timings attributes printed by throughput(); any others are printed as they are.
WORK_KEYS = ("work_name", "work_count", "work_phase", "work_rate", "flips_per_ns")


def throughput(f, timings, out):
    """The work the run counted and its rate, as /timings records them."""
    a = {k: attr_str(v) for k, v in f["timings"].attrs.items()} if "timings" in f else {}
    if "work_name" in a or "work_count" in a:
        name, phase = a.get("work_name", "work"), a.get("work_phase", "")
        line = f"  work: {float(a.get('work_count', np.nan)):.6g} {name}"
        rate = float(a["work_rate"]) if "work_rate" in a else None
        if rate is None and phase in timings and "work_count" in a and float(timings[phase]["max"]) > 0:
            rate = float(a["work_count"]) / float(timings[phase]["max"])
        if rate is not None:
            where = f"{phase} phase, slowest rank" if phase else "slowest rank"
            line += f"; {rate:.6g} {name}/s ({where})"
        print(line, file=out)
    if "flips_per_ns" in a:
        print(f"  flips/ns (sweep phase, slowest rank): {float(a['flips_per_ns']):.3f}", file=out)
    for key, value in a.items():
        if key not in WORK_KEYS:
            print(f"  {key}: {value:.6g}" if isinstance(value, float) else f"  {key}: {value}", file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="prism HDF5 output file")
    args = ap.parse_args()
    out = sys.stdout
    try:
        meta, timings, f = read_run(args.run)
    except (OSError, KeyError) as err:
        sys.exit(f"summary.py: cannot read {args.run}: {err}")
    print(f"file      {args.run}")
    for key in ("version", "git_hash", "workload", "kokkos_backend", "device", "ranks", "start_time", "end_time"):
        print(f"{key:<15} {meta.get(key, '?')}")
    found = workloads.found_in(f)
    for _, group, module in found:
        module.summary(group, out)
    declared = workloads.declared(f)
    if declared and declared not in {name for name, _, _ in found}:
        print(f"\n{declared}: no post-processing module for this workload (see postprocess/README.md)")
    print("\ntimings [s]          min        mean         max")
    for phase, t in timings.items():
        print(f"  {phase:<12} {float(t['min']):>10.4f} {float(t['mean']):>11.4f} {float(t['max']):>11.4f}")
    throughput(f, timings, out)


if __name__ == "__main__":
    main()
