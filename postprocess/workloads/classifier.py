"""classifier: active-inference classifier (a ReLU recognition network q(s|o)
trained against a Gaussian generative model, then used for inference).

summary: the network and the data; training (epochs run, best epoch, the
         per-epoch history, the final and best validation loss and accuracy);
         inference (accuracy against the Bayes-optimal decision, mean free
         energy F against mean surprise -ln p(o), calibration error); the
         final-frame accuracy along the tracks.
work:    what the run's throughput counts: samples trained (train_samples *
         epochs run) when it trained, observations inferred otherwise.
plot:    training curves (train and validation loss, validation accuracy on a
         twin axis), the confusion matrix, a reliability diagram, and F
         against -ln p(o) per observation; a panel whose data the file lacks
         is left out.
"""
import numpy as np

from prism_h5 import attrs_of, group_of, run_metadata

SCATTER_POINTS = 5000  # at most this many observations in the F / -ln p(o) scatter


def _sub(group, name):
    """group/name, or None when the run did not write it."""
    return group[name] if name in group else None


def _widths(group):
    return [int(w) for w in np.array(group["widths"])] if "widths" in group else []


def _parameters(widths):
    return sum(widths[l] * widths[l + 1] + widths[l + 1] for l in range(len(widths) - 1))


def _expected_calibration_error(inf):
    """sum_b n_b / N |accuracy_b - confidence_b| over the non-empty bins (NaN without the datasets)."""
    if inf is None or "calibration_count" not in inf:
        return float("nan")
    n = np.array(inf["calibration_count"], dtype=float)
    acc, conf = np.array(inf["calibration_accuracy"]), np.array(inf["calibration_confidence"])
    used = (n > 0) & np.isfinite(acc) & np.isfinite(conf)
    total = n[used].sum()
    return float(np.sum(n[used] * np.abs(acc[used] - conf[used])) / total) if total > 0 else float("nan")


def summary(group, out):
    g = group
    a = attrs_of(g)
    widths = _widths(g)
    prior = np.array(g["prior"]) if "prior" in g else np.array([])
    wa = attrs_of(g["weights"]) if "weights" in g else {}
    print(f"\nclassifier: {a.get('mode', '?')}, {a.get('classes', '?')} classes, {a.get('features', '?')} features "
          f"({a.get('source', '?')}), network {'-'.join(map(str, widths))} {wa.get('activation', '?')} "
          f"({wa.get('layers', len(widths) - 1)} layers, {_parameters(widths)} parameters)", file=out)
    if prior.size:
        print("  prior: [" + ", ".join(f"{p:.4g}" for p in prior) + "]", file=out)

    t = _sub(g, "training")
    if t is not None:
        ta = attrs_of(t)
        print(f"  training: {ta.get('loss', '?')} loss, batch {ta.get('batch', '?')}, learning rate "
              f"{ta.get('learning_rate', '?')} ({ta.get('schedule', '?')}), weight decay {ta.get('weight_decay', '?')}, "
              f"{ta.get('train_samples', '?')} train / {ta.get('validation_samples', '?')} validation samples", file=out)
        cols = ["learning_rate", "train_loss", "validation_loss", "validation_accuracy",
                "validation_free_energy", "validation_surprise"]
        data = {c: np.array(t[c]) for c in cols if c in t}
        n = len(data.get("validation_loss", data.get("train_loss", [])))
        best = int(ta.get("best_epoch", 0))
        print(f"  epochs run: {n}; best epoch (lowest validation loss, weights kept): {best}", file=out)
        if n:
            heads = {"learning_rate": "lr", "train_loss": "train loss", "validation_loss": "val loss",
                     "validation_accuracy": "val acc", "validation_free_energy": "val F",
                     "validation_surprise": "val -ln p(o)"}
            shown = [c for c in cols if c in data]
            print("  " + f"{'epoch':>6} " + " ".join(f"{heads[c]:>13}" for c in shown), file=out)
            step = 1 if n <= 20 else max(1, n // 10)
            for i in sorted(set(list(range(0, n, step)) + [n - 1] + ([best - 1] if 1 <= best <= n else []))):
                mark = " *" if i + 1 == best else ""
                print("  " + f"{i + 1:>6} " + " ".join(f"{data[c][i]:>13.6g}" for c in shown) + mark, file=out)
            if "validation_loss" in data and "validation_accuracy" in data:
                vl, va = data["validation_loss"], data["validation_accuracy"]
                line = f"  final validation: loss {vl[-1]:.6g}, accuracy {va[-1]:.4f}"
                if 1 <= best <= n:
                    line += f"; best epoch {best}: loss {vl[best - 1]:.6g}, accuracy {va[best - 1]:.4f}"
                print(line, file=out)

    inf = _sub(g, "inference")
    if inf is not None:
        ia = attrs_of(inf)
        acc, bayes = float(ia.get("accuracy", np.nan)), float(ia.get("bayes_accuracy", np.nan))
        F, S = float(ia.get("mean_free_energy", np.nan)), float(ia.get("mean_surprise", np.nan))
        print(f"  inference: {ia.get('observations', '?')} observations", file=out)
        print(f"    accuracy {acc:.4f} vs Bayes-optimal {bayes:.4f} (gap {bayes - acc:+.4f})", file=out)
        print(f"    mean F {F:.6g} vs mean -ln p(o) {S:.6g} (F - (-ln p(o)) = mean KL[q || p(s|o)] = {F - S:.4g})",
              file=out)
        ece = _expected_calibration_error(inf)
        if np.isfinite(ece):
            print(f"    expected calibration error {ece:.4f} ({len(np.array(inf['calibration_count']))} bins)",
                  file=out)
        if "confusion" in inf:
            cm = np.array(inf["confusion"])
            rows = cm.sum(axis=1)
            recall = np.where(rows > 0, np.diag(cm) / np.maximum(rows, 1), np.nan)
            print("    recall per class (confusion diagonal / row): [" +
                  ", ".join("-" if not np.isfinite(r) else f"{r:.3f}" for r in recall) + "]", file=out)

    k = _sub(g, "tracks")
    if k is not None:
        ka = attrs_of(k)
        shape = k["network_belief"].shape if "network_belief" in k else ()
        what = f"{shape[0]} tracks x {shape[1]} frames" if len(shape) == 3 else f"{shape[0] if shape else '?'} frames"
        print(f"  tracks ({what}): final-frame accuracy {float(ka.get('final_accuracy', np.nan)):.4f} (network belief), "
              f"{float(ka.get('exact_final_accuracy', np.nan)):.4f} (exact Bayesian update)", file=out)
    if "error" in a:
        print(f"  stopped: {a['error']}", file=out)


def work(group):
    a = attrs_of(group)
    t = _sub(group, "training")
    if t is not None and a.get("mode") != "infer":
        epochs = len(t["train_loss"]) if "train_loss" in t else 0
        return float(t.attrs.get("train_samples", 0)) * float(epochs)
    inf = _sub(group, "inference")
    return float(inf.attrs.get("observations", 0)) if inf is not None else 0.0


def _plot_training(ax, t):
    ta = attrs_of(t)
    tl, vl = np.array(t["train_loss"]), np.array(t["validation_loss"])
    epoch = np.arange(1, len(tl) + 1)
    ax.plot(epoch, tl, "o-", ms=3, lw=1.2, label="train loss")
    ax.plot(epoch, vl, "s-", ms=3, lw=1.2, label="validation loss")
    best = int(ta.get("best_epoch", 0))
    if 1 <= best <= len(epoch):
        ax.axvline(best, color="grey", ls=":", lw=1, label=f"best epoch {best}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"loss ({ta.get('loss', '?')})")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if "validation_accuracy" in t:
        tw = ax.twinx()
        h = tw.plot(epoch, np.array(t["validation_accuracy"]), "^-", ms=3, lw=1.2, color="tab:green",
                    label="validation accuracy")
        tw.set_ylabel("validation accuracy")
        handles, labels = handles + h, labels + ["validation accuracy"]
    ax.legend(handles, labels, fontsize=8, loc="center right")
    if len(epoch) <= 12:
        ax.set_xticks(epoch)
    ax.set_title("training")


def _plot_confusion(fig, ax, inf):
    cm = np.array(inf["confusion"])
    C = cm.shape[0]
    im = ax.imshow(cm, cmap="Blues", origin="upper")
    fig.colorbar(im, ax=ax, label="count")
    if C <= 20:
        top = cm.max() if cm.size else 0
        for i in range(C):
            for j in range(C):
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=8 if C <= 10 else 6,
                        color="white" if top > 0 and cm[i, j] > 0.6 * top else "black")
        ax.set_xticks(range(C))
        ax.set_yticks(range(C))
    ax.set_xlabel("decision")
    ax.set_ylabel("true label")
    acc = float(inf.attrs.get("accuracy", np.nan))
    ax.set_title(f"confusion matrix (accuracy {acc:.3f})")


def _plot_reliability(ax, inf):
    acc = np.array(inf["calibration_accuracy"], dtype=float)
    conf = np.array(inf["calibration_confidence"], dtype=float)
    n = np.array(inf["calibration_count"]) if "calibration_count" in inf else np.ones(len(acc))
    bins = len(acc)
    edges = np.linspace(0.0, 1.0, bins + 1)
    used = (n > 0) & np.isfinite(acc)
    ax.bar(edges[:-1][used], acc[used], width=1.0 / bins, align="edge", edgecolor="k", lw=0.6,
           color="tab:blue", alpha=0.7, label="accuracy per bin")
    ok = used & np.isfinite(conf)
    ax.plot(conf[ok], acc[ok], "o", color="tab:red", ms=4, label="(mean confidence, accuracy)")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    for lo, a_, c in zip(edges[:-1][used], acc[used], n[used]):
        ax.text(lo + 0.5 / bins, a_ + 0.03, str(int(c)), ha="center", fontsize=6)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.12)
    ax.set_xlabel("confidence max_s q(s|o)")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8, loc="upper left")
    ece = _expected_calibration_error(inf)
    ax.set_title("reliability diagram" + (f" (ECE {ece:.3f}; counts over bars)" if np.isfinite(ece) else ""))


def _plot_free_energy(ax, inf):
    F, S = np.array(inf["free_energy"]), np.array(inf["surprise"])
    n = len(F)
    idx = np.arange(n)
    if n > SCATTER_POINTS:
        idx = np.sort(np.random.default_rng(0).choice(n, SCATTER_POINTS, replace=False))
    F, S = F[idx], S[idx]
    if "labels" in inf and "decision" in inf:
        right = np.array(inf["decision"])[idx] == np.array(inf["labels"])[idx]
        ax.scatter(S[right], F[right], s=4, alpha=0.4, lw=0, color="tab:blue", label="correct decision")
        ax.scatter(S[~right], F[~right], s=4, alpha=0.6, lw=0, color="tab:red", label="wrong decision")
    else:
        ax.scatter(S, F, s=4, alpha=0.4, lw=0, label="observation")
    fin = np.concatenate([F[np.isfinite(F)], S[np.isfinite(S)]])
    if fin.size:
        lo, hi = fin.min(), fin.max()
        ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="F = -ln p(o)")
    ax.set_xlabel("surprise -ln p(o)")
    ax.set_ylabel("free energy F")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", markerscale=3)
    shown = f"{len(idx)} of {n}" if len(idx) < n else f"{n}"
    ax.set_title(f"F against -ln p(o) ({shown} observations)")


def plot(file_or_group, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = group_of(file_or_group, "classifier")
    meta = run_metadata(g)
    a = attrs_of(g)
    t, inf = _sub(g, "training"), _sub(g, "inference")
    panels = []
    if t is not None and "train_loss" in t and "validation_loss" in t and len(t["train_loss"]):
        panels.append(lambda fig, ax: _plot_training(ax, t))
    if inf is not None and "confusion" in inf:
        panels.append(lambda fig, ax: _plot_confusion(fig, ax, inf))
    if inf is not None and "calibration_accuracy" in inf and "calibration_confidence" in inf:
        panels.append(lambda fig, ax: _plot_reliability(ax, inf))
    if inf is not None and "free_energy" in inf and "surprise" in inf and len(inf["free_energy"]):
        panels.append(lambda fig, ax: _plot_free_energy(ax, inf))
    cols = 1 if len(panels) <= 1 else 2
    rows = max(1, (len(panels) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 4.8 * rows), squeeze=False)
    axes = axes.ravel()
    for draw, ax in zip(panels, axes):
        draw(fig, ax)
    for ax in axes[len(panels):]:
        ax.axis("off")
    if not panels:
        axes[0].text(0.5, 0.5, "no training or inference data in /classifier", ha="center", va="center")
    widths = "-".join(map(str, _widths(g)))
    line = f"prism classifier: {a.get('mode', '?')}, {a.get('classes', '?')} classes, network {widths}"
    if inf is not None:
        ia = attrs_of(inf)
        line += (f"; accuracy {float(ia.get('accuracy', np.nan)):.3f} "
                 f"(Bayes {float(ia.get('bayes_accuracy', np.nan)):.3f})")
    fig.suptitle(f"{line} ({meta.get('kokkos_backend', '?')}, {meta.get('ranks', '?')} ranks)")
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    plt.close(fig)
