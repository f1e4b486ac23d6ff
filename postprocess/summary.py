#!/usr/bin/env python3
"""Print the results and timings of a prism HDF5 file.

usage: summary.py RUN.h5
"""
import argparse
import sys

import numpy as np

from prism_h5 import attrs_of, read_run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="prism HDF5 output file")
    args = ap.parse_args()
    try:
        meta, timings, f = read_run(args.run)
    except (OSError, KeyError) as err:
        sys.exit(f"summary.py: cannot read {args.run}: {err}")
    print(f"file      {args.run}")
    for key in ("version", "git_hash", "workload", "kokkos_backend", "device", "ranks", "start_time", "end_time"):
        print(f"{key:<15} {meta.get(key, '?')}")
    if "thermo" in f:
        g = f["thermo"]
        a = attrs_of(g)
        print(f"\nthermo: {a['model']} L={a['L']} J={a['J']} h={a['h']} kernel={a['kernel']} "
              f"sweeps={a['sweeps']} (+{a['thermalization']} thermalization)")
        cols = ["temperature", "energy_mean", "energy_err", "specific_heat", "magnetization_abs_mean",
                "magnetization_err", "susceptibility", "binder"]
        print("  " + " ".join(f"{c:>14}" for c in cols))
        data = [np.array(g[c]) for c in cols]
        for i in range(len(data[0])):
            print("  " + " ".join(f"{d[i]:>14.6g}" for d in data))
        acc = np.array(g["swap_acceptance"])
        if acc.size:
            print("  swap acceptance per pair: " + " ".join(f"{x:.2f}" for x in acc))
        print(f"  round trips (all replicas): {int(np.sum(g['round_trips']))}")
    if "nqs" in f:
        g = f["nqs"]
        a = attrs_of(g)
        print(f"\nnqs: {a['hamiltonian']} on {a['lattice']} ({a['boundary']}) N={a['N']} alpha={a['alpha']} "
              f"M={a['M']} chains={a['chains']} samples/chain={a['samples_per_chain']} "
              f"precision={a.get('precision', 'double')}")
        e = np.array(g["energy_mean"])
        n = len(e)
        print(f"  iterations: {n}; next iteration in checkpoint: {int(g['checkpoint'].attrs['next_iteration'])}")
        cols = ["energy_mean", "energy_err", "energy_variance", "energy_per_site_mean", "acceptance", "r_hat"]
        print("  " + f"{'iteration':>9} " + " ".join(f"{c:>20}" for c in cols))
        data = [np.array(g[c]) for c in cols]
        for i in sorted(set(list(range(0, n, max(1, n // 10))) + [n - 1])):
            print("  " + f"{i:>9} " + " ".join(f"{d[i]:>20.10g}" for d in data))
        if "reference_energy" in a:
            ref = float(a["reference_energy"])
            tail = e[-min(20, n):]
            print(f"  reference {ref:.10g}; mean of the last {len(tail)} iterations {tail.mean():.10g} "
                  f"(relative error {abs((tail.mean() - ref) / ref):.2e})")
        if "error" in a:
            print(f"  stopped: {a['error']}")
    print("\ntimings [s]          min        mean         max")
    for phase, t in timings.items():
        print(f"  {phase:<12} {float(t['min']):>10.4f} {float(t['mean']):>11.4f} {float(t['max']):>11.4f}")
    if "timings" in f and "flips_per_ns" in f["timings"].attrs:
        print(f"  flips/ns (sweep phase, slowest rank): {float(f['timings'].attrs['flips_per_ns']):.3f}")


if __name__ == "__main__":
    main()
