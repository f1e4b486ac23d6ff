"""nqs: neural-quantum-state variational Monte Carlo.

summary: the optimisation history (every tenth iteration and the last), the
         comparison with nqs.reference_energy when the deck gave one.
work:    samples drawn: chains * samples_per_chain * iterations.
plot:    variational energy with its error bar against iteration, the exact
         reference when the deck gave one (and the relative error on a log
         scale), and acceptance and split-R-hat; with /nqs/observables, the
         structure factor over the lattice's momenta and the correlations
         against distance beside them.
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
    if "observables" in g:
        o = g["observables"]
        oa = attrs_of(o)
        print(f"  observables over {oa['iterations']} iterations of {oa['samples_per_iteration']} samples "
              f"(error: standard error over iterations):", file=out)
        for name in sorted(o):
            d = o[name]
            if name.endswith("_err") or d.shape != ():
                continue
            err = float(o[name + "_err"][()]) if name + "_err" in o else float("nan")
            print(f"    {name:>32} {float(d[()]):>16.10g} +- {err:.2g}", file=out)
        for name in ("structure_factor", "structure_factor_zz"):
            if name in o:
                sq = np.array(o[name])
                ny, nx = np.unravel_index(int(np.argmax(sq)), sq.shape)
                print(f"    {name:>32} max {sq[ny, nx]:.6g} at q = 2 pi ({nx}/{sq.shape[1]}, {ny}/{sq.shape[0]})",
                      file=out)
                break


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
    obs = g["observables"] if "observables" in g else None
    fig = plt.figure(figsize=(9 + (6 if obs is not None else 0), 3.2 * panels))
    grid = fig.add_gridspec(panels, 2 if obs is not None else 1, width_ratios=[3, 2] if obs is not None else None)
    axes = [fig.add_subplot(grid[0, 0])]
    for k in range(1, panels):
        axes.append(fig.add_subplot(grid[k, 0], sharex=axes[0]))
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
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
    if obs is not None:
        _plot_observables(fig, grid, panels, obs)
    shape = f"{a['Lx']}x{a['Ly']}" if a.get("lattice") == "square" else f"N={a['N']}"
    fig.suptitle(f"prism nqs: {a['hamiltonian']} {a['lattice']} {shape}, alpha={a['alpha']}, "
                 f"{a['chains']} chains, {meta.get('ranks')} ranks ({meta.get('kokkos_backend')})")
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    plt.close(fig)


def _plot_observables(fig, grid, panels, obs):
    """The structure factor as a map over momenta (a bar chart for a chain)
    and the correlation function against distance, in the right column."""
    top = fig.add_subplot(grid[: max(1, panels // 2), 1])
    bottom = fig.add_subplot(grid[max(1, panels // 2):, 1])
    name = "structure_factor" if "structure_factor" in obs else "structure_factor_zz"
    sq = np.array(obs[name])
    ly, lx = sq.shape
    if ly == 1:
        top.bar(np.arange(lx), sq[0], yerr=np.array(obs[name + "_err"])[0], width=0.8)
        top.set_xlabel("q / (2 pi / N)")
        top.set_ylabel(name)
    else:
        im = top.imshow(sq, origin="lower", cmap="viridis", extent=(-0.5, lx - 0.5, -0.5, ly - 0.5))
        top.set_xlabel("nx  (qx = 2 pi nx / Lx)")
        top.set_ylabel("ny  (qy = 2 pi ny / Ly)")
        fig.colorbar(im, ax=top, label=name)
    top.set_title(name)
    disp = "spin_spin_displacement" if "spin_spin_displacement" in obs else "szsz_displacement"
    if disp in obs:
        c, cerr = np.array(obs[disp]), np.array(obs[disp + "_err"])
        ry, rx = np.meshgrid(np.arange(ly), np.arange(lx), indexing="ij")
        # minimum-image distance on the periodic lattice
        dist = np.hypot(np.minimum(rx, lx - rx), np.minimum(ry, ly - ry))
        # the Heisenberg antiferromagnet's staggered sign, where the periodic
        # lattice is bipartite, so that long-range order shows as a plateau
        staggered = "staggered_magnetisation_squared" in obs and lx % 2 == 0 and (ly % 2 == 0 or ly == 1)
        sign = np.where((rx + ry) % 2 == 0, 1.0, -1.0) if staggered else 1.0
        bottom.errorbar(dist.ravel(), (sign * c).ravel(), yerr=cerr.ravel(), fmt="o", ms=3, lw=0.8)
        bottom.axhline(0.0, color="grey", lw=0.8, ls=":")
        bottom.set_xlabel("distance |r| (minimum image)")
        bottom.set_ylabel(("(-1)^(rx+ry) " if staggered else "") + disp)
        bottom.grid(alpha=0.3)
    else:
        zz = np.array(obs["szsz"])
        im = bottom.imshow(zz, cmap="RdBu_r", vmin=-0.25, vmax=0.25)
        fig.colorbar(im, ax=bottom, label="<S^z_i S^z_j>")
        bottom.set_xlabel("site j")
        bottom.set_ylabel("site i")
