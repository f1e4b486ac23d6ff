"""nqs: neural-quantum-state variational Monte Carlo.

summary: the optimisation history (every tenth iteration and the last), the
         comparison with nqs.reference_energy when the deck gave one.
work:    samples drawn: chains * samples_per_chain * iterations.
plot:    variational energy with its error bar against iteration, the exact
         reference when the deck gave one (and the relative error on a log
         scale), and acceptance and split-R-hat.
"""
import numpy as np

from prism_h5 import attrs_of, group_of, run_metadata


def summary(group, out):
    g = group
    a = attrs_of(g)
    print(f"\nnqs: {a['hamiltonian']} on {a['lattice']} ({a['boundary']}) N={a['N']} alpha={a['alpha']} "
          f"M={a['M']} chains={a['chains']} samples/chain={a['samples_per_chain']} "
          f"precision={a.get('precision', 'double')}", file=out)
    e = np.array(g["energy_mean"])
    n = len(e)
    print(f"  iterations: {n}; next iteration in checkpoint: {int(g['checkpoint'].attrs['next_iteration'])}",
          file=out)
    cols = ["energy_mean", "energy_err", "energy_variance", "energy_per_site_mean", "acceptance", "r_hat"]
    print("  " + f"{'iteration':>9} " + " ".join(f"{c:>20}" for c in cols), file=out)
    data = [np.array(g[c]) for c in cols]
    for i in sorted(set(list(range(0, n, max(1, n // 10))) + [n - 1])):
        print("  " + f"{i:>9} " + " ".join(f"{d[i]:>20.10g}" for d in data), file=out)
    if "reference_energy" in a:
        ref = float(a["reference_energy"])
        tail = e[-min(20, n):]
        print(f"  reference {ref:.10g}; mean of the last {len(tail)} iterations {tail.mean():.10g} "
              f"(relative error {abs((tail.mean() - ref) / ref):.2e})", file=out)
    if "error" in a:
        print(f"  stopped: {a['error']}", file=out)


def work(group):
    a = group.attrs
    return float(a["chains"]) * float(a["samples_per_chain"]) * len(group["iteration"])


def plot(file_or_group, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = group_of(file_or_group, "nqs")
    meta = run_metadata(g)
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
    fig.savefig(output, dpi=120)
    plt.close(fig)
