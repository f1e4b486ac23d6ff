#!/usr/bin/env python3
"""Plot E/N, C/N, <|M|>/N and chi/N against T from a prism thermo run, with
the exact curves where they exist (2D Ising: Kaufman's finite-lattice energy
and specific heat at the run's L, Onsager's magnetisation of the infinite
lattice).

usage: plot_thermo.py RUN.h5 [-o thermo.png]
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import exact_ising
from prism_h5 import attr_str, read_workload


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="prism HDF5 output file with a /thermo group")
    ap.add_argument("-o", "--output", default=None, help="PNG path (default: RUN_thermo.png)")
    args = ap.parse_args()
    meta, f, g = read_workload(args.run, "thermo", "plot_thermo.py")
    model, L = attr_str(g.attrs["model"]), int(g.attrs["L"])
    J, h = float(g.attrs["J"]), float(g.attrs["h"])
    T = np.array(g["temperature"])
    panels = [
        ("energy_mean", "energy_err", r"$\langle E\rangle/N$"),
        ("specific_heat", "specific_heat_err", r"$C/N$"),
        ("magnetization_abs_mean", "magnetization_err", r"$\langle|M|\rangle/N$"),
        ("susceptibility", "susceptibility_err", r"$\chi/N$"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), sharex=True)
    exact_ok = model == "ising2d" and J == 1.0 and h == 0.0
    Tf = np.linspace(T.min(), T.max(), 300)
    if exact_ok:
        e_ex, c_ex = exact_ising.kaufman(L, Tf)
    for ax, (key, err, label) in zip(axes.flat, panels):
        ax.errorbar(T, np.array(g[key]), yerr=np.array(g[err]), fmt="o", ms=4, capsize=2,
                    label=f"prism, L={L}")
        if exact_ok and key == "energy_mean":
            ax.plot(Tf, e_ex, "k-", lw=1, label=f"Kaufman exact, L={L}")
        if exact_ok and key == "specific_heat":
            ax.plot(Tf, c_ex, "k-", lw=1, label=f"Kaufman exact, L={L}")
        if exact_ok and key == "magnetization_abs_mean":
            ax.plot(Tf, exact_ising.onsager_magnetization(Tf), "k--", lw=1, label="Onsager, L=inf")
        if model == "ising2d":
            ax.axvline(exact_ising.TC, color="grey", lw=0.8, ls=":")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("T")
    fig.suptitle(f"prism thermo: {model}, L={L}, J={J}, h={h}, {meta.get('ranks')} ranks "
                 f"({meta.get('kokkos_backend')})")
    fig.tight_layout()
    out = args.output or args.run.rsplit(".h5", 1)[0] + "_thermo.png"
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
