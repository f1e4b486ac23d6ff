#!/usr/bin/env python3
"""Plot a prism nqs run: variational energy with its error bar against
iteration, the exact reference when the deck gave nqs.reference_energy
(and the relative error on a log scale), and acceptance and split-R-hat.

usage: plot_nqs.py RUN.h5 [-o nqs.png]
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from prism_h5 import attrs_of, read_workload


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="prism HDF5 output file with an /nqs group")
    ap.add_argument("-o", "--output", default=None, help="PNG path (default: RUN_nqs.png)")
    args = ap.parse_args()
    meta, f, g = read_workload(args.run, "nqs", "plot_nqs.py")
    a = attrs_of(g)
    it = np.array(g["iteration"])
    e, err = np.array(g["energy_mean"]), np.array(g["energy_err"])
    ref = float(a["reference_energy"]) if "reference_energy" in a else None
    if ref == 0.0:
        ref = None  # no relative error against zero
    panels = 3 if ref is not None else 2
    fig, axes = plt.subplots(panels, 1, figsize=(9, 3.2 * panels), sharex=True)
    ax = axes[0]
    ax.fill_between(it, e - err, e + err, alpha=0.3, lw=0)
    ax.plot(it, e, lw=1, label="prism RBM, <E> +- err")
    if ref is not None:
        ax.axhline(ref, color="k", ls="--", lw=1, label=f"exact / reference {ref:.6f}")
        # zoom on the converged part (finite values only: a failed run ends in NaN)
        tail = e[len(e) // 5:]
        tail = tail[np.isfinite(tail)]
        if tail.size == 0:
            tail = np.array([ref])
        lo, hi = min(tail.min(), ref), max(tail.max(), ref)
        pad = 0.2 * (hi - lo + 1e-12)
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_ylabel("energy E")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if ref is not None:
        ax = axes[1]
        ax.semilogy(it, np.abs((e - ref) / ref), lw=1, label="|E - E_ref| / |E_ref|")
        ax.semilogy(it, np.abs(err / ref), lw=1, alpha=0.7, label="err / |E_ref|")
        ax.set_ylabel("relative error")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
    ax = axes[-1]
    ax.plot(it, np.array(g["acceptance"]), lw=1, label="acceptance")
    ax.plot(it, np.array(g["r_hat"]), lw=1, label="split R-hat")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("iteration")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    shape = f"{a['Lx']}x{a['Ly']}" if a.get("lattice") == "square" else f"N={a['N']}"
    fig.suptitle(f"prism nqs: {a['hamiltonian']} {a['lattice']} {shape}, alpha={a['alpha']}, "
                 f"{a['chains']} chains, {meta.get('ranks')} ranks ({meta.get('kokkos_backend')})")
    fig.tight_layout()
    out = args.output or args.run.rsplit(".h5", 1)[0] + "_nqs.png"
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
