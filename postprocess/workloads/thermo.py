"""thermo: equilibrium lattice spin models by Metropolis with parallel tempering.

summary: the estimates per temperature, swap acceptance, round trips.
work:    spin updates (the /thermo attribute spin_updates).
plot:    E/N, C/N, <|M|>/N and chi/N against T, with the exact curves where
         they exist (2D Ising: Kaufman's finite-lattice energy and specific
         heat at the run's L, Onsager's magnetisation of the infinite lattice).
"""
import numpy as np

import exact_ising
from prism_h5 import attr_str, attrs_of, group_of, run_metadata


def summary(group, out):
    g = group
    a = attrs_of(g)
    print(f"\nthermo: {a['model']} L={a['L']} J={a['J']} h={a['h']} kernel={a['kernel']} "
          f"sweeps={a['sweeps']} (+{a['thermalization']} thermalization)", file=out)
    cols = ["temperature", "energy_mean", "energy_err", "specific_heat", "magnetization_abs_mean",
            "magnetization_err", "susceptibility", "binder"]
    print("  " + " ".join(f"{c:>14}" for c in cols), file=out)
    data = [np.array(g[c]) for c in cols]
    for i in range(len(data[0])):
        print("  " + " ".join(f"{d[i]:>14.6g}" for d in data), file=out)
    acc = np.array(g["swap_acceptance"])
    if acc.size:
        print("  swap acceptance per pair: " + " ".join(f"{x:.2f}" for x in acc), file=out)
    print(f"  round trips (all replicas): {int(np.sum(g['round_trips']))}", file=out)


def work(group):
    return float(group.attrs["spin_updates"])


def plot(file_or_group, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = group_of(file_or_group, "thermo")
    meta = run_metadata(g)
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
    fig.savefig(output, dpi=120)
    plt.close(fig)
