"""te: transfer entropy between time series (KSG estimator).

summary: the settings and the strongest pairs (significant ones marked when
         the run had surrogates).
work:    estimates made: pairs * (1 + surrogates).
plot:    the TE matrix [target][source] as a heat map, and the significant
         edges (or the strongest, without surrogates) as a directed graph with
         the series on a circle.
"""
import numpy as np

from prism_h5 import attr_str, attrs_of, group_of, run_metadata


def _names(g):
    return [s for s in attr_str(g.attrs["series_names"]).split("\n") if s]


def _edges(g, strongest=20):
    """(source, target, te, p, significant) of every estimated pair, strongest first."""
    te, p, sig = np.array(g["te"]), np.array(g["p_value"]), np.array(g["significant"])
    out = [(s, t, te[t, s], p[t, s], bool(sig[t, s])) for s, t in np.array(g["pairs"])]
    return sorted(out, key=lambda e: -e[2])[:strongest]


def summary(group, out):
    a = attrs_of(group)
    names = _names(group)
    print(f"\nte: {a['series']} series ({a['source']}), {a['observations']} observations, KSG {a['algorithm']}, "
          f"K={a['K']}, k={a['k']} (tau {a['k_tau']}), l={a['l']} (tau {a['l_tau']}), delay={a['delay']}, "
          f"{a['mode']}, surrogates={a['surrogates']} ({a['surrogate']}), fdr={bool(a['fdr'])} at {a['alpha']}",
          file=out)
    with_p = int(a["surrogates"]) > 0
    print(f"  {'source':>12} {'target':>12} {'TE [nats]':>12}" + (f" {'p':>8} significant" if with_p else ""),
          file=out)
    for s, t, te, p, sig in _edges(group):
        print(f"  {names[s]:>12} {names[t]:>12} {te:>12.6f}" + (f" {p:>8.4g} {'yes' if sig else 'no'}" if with_p
                                                                 else ""), file=out)
    if with_p:
        n_sig = int(np.sum(np.array(group["significant"])))
        print(f"  significant edges: {n_sig} of {len(np.array(group['pairs']))} pairs", file=out)


def work(group):
    a = group.attrs
    return float(len(np.array(group["pairs"]))) * (1.0 + float(a["surrogates"]))


def plot(file_or_group, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = group_of(file_or_group, "te")
    meta = run_metadata(g)
    a = attrs_of(g)
    names = _names(g)
    n = len(names)
    te = np.array(g["te"])
    sig = np.array(g["significant"]).astype(bool)
    with_p = int(a["surrogates"]) > 0
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
    ax = axes[0]
    im = ax.imshow(np.where(np.isfinite(te), te, np.nan), cmap="viridis", origin="upper")
    fig.colorbar(im, ax=ax, label="TE [nats]")
    ax.set_xlabel("source")
    ax.set_ylabel("target")
    if n <= 24:
        ax.set_xticks(range(n), names, rotation=90, fontsize=7)
        ax.set_yticks(range(n), names, fontsize=7)
    if with_p:
        ts, ss = np.nonzero(sig)
        ax.scatter(ss, ts, marker="o", facecolors="none", edgecolors="r", s=40, label="significant")
        ax.legend(fontsize=8, loc="upper right")
    ax.set_title("TE matrix [target][source]")
    # Directed graph: series on a circle, arrows source -> target.
    ax = axes[1]
    angle = 2 * np.pi * np.arange(n) / n
    xy = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    ax.scatter(xy[:, 0], xy[:, 1], s=120, zorder=3)
    for i, name in enumerate(names):
        ax.annotate(name, 1.12 * xy[i], ha="center", va="center", fontsize=8)
    if with_p:
        edges = [(s, t) for t, s in zip(*np.nonzero(sig))]
        title = "significant edges"
    else:
        edges = [(s, t) for s, t, *_ in _edges(g, strongest=max(1, n))]
        title = f"the {len(edges)} strongest pairs"
    finite = te[np.isfinite(te)]
    top = finite.max() if finite.size else 1.0
    for s, t in edges:
        w = 0.5 + 3.0 * max(te[t, s], 0) / (top if top > 0 else 1.0)
        ax.annotate("", xy=0.9 * xy[t], xytext=0.9 * xy[s],
                    arrowprops=dict(arrowstyle="-|>", lw=w, color="tab:red", shrinkA=6, shrinkB=6))
    ax.set_xlim(-1.35, 1.35)
    ax.set_ylim(-1.35, 1.35)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)
    fig.suptitle(f"prism te: {n} series, {a['observations']} observations, KSG {a['algorithm']} "
                 f"({meta.get('kokkos_backend', '?')}, {meta.get('ranks', '?')} ranks)")
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    plt.close(fig)
