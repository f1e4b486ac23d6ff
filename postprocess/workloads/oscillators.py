"""oscillators: Kuramoto phase-oscillator networks with thermal noise, first
order (overdamped) or second order (inertia and damping), R replicas at each
of a list of coupling strengths K.

summary: the settings; per K the order parameter r, the coupling energy per
         oscillator and the spread of the mean phase velocities (averages
         after the transient, errors over replicas), second order also the
         kinetic temperature T_eff = m<v^2>; beside r the exact
         infinite-N value where one is known: the mean-field XY
         self-consistency r = I1(Kr/T)/I0(Kr/T) (all-to-all, identical
         frequencies, omega = alpha = 0, T > 0: equilibrium) or Ott-Antonsen's
         r = sqrt(1 - 2 spread / (K cos alpha)) (all-to-all, first order,
         Lorentzian frequencies, T = 0).
work:    oscillator steps: K values * replicas * oscillators * steps (the
         PERFORMANCE line's oscillator_steps).
plot:    r(t) of up to 4 replicas at the largest K with the end of the
         transient marked; r(K) with error bars and the exact curve where one
         applies; the final phases of replica 0 at the largest K on the unit
         circle (when the run wrote them), else the histogram of the natural
         frequencies (when they differ), else the coupling energy against K.
"""
import numpy as np

from prism_h5 import attrs_of, group_of, run_metadata

REPLICAS_SHOWN = 4  # r(t) curves drawn at the largest K
PHASES_SHOWN = 20000  # points on the unit circle; more only blacken it
MEAN_FIELD = ("all", "complete")  # couplings whose large-N limit is the mean field


def _array(group, name):
    """group/name as an array, or None when the run did not write it."""
    return np.array(group[name]) if name in group else None


def _bessel_ratio(x):
    """I1(x) / I0(x) for x >= 0.  Power series of I1 over numpy's I0 while both
    stay finite (I0 overflows a double near x = 713); beyond, the ratio of
    their asymptotic expansions, whose first neglected term is O(x^-4)."""
    x = float(x)
    if x <= 500.0:
        half2, term, total, k = 0.25 * x * x, 0.5 * x, 0.0, 0
        while term > 1e-17 * total or k == 0:  # I1 = sum (x/2)^(2k+1) / (k! (k+1)!)
            total += term
            k += 1
            term *= half2 / (k * (k + 1))
        return total / float(np.i0(x))
    u = 1.0 / (8.0 * x)
    return (1 - 3 * u - 15 / 2 * u * u - 105 / 2 * u ** 3) / (1 + u + 9 / 2 * u * u + 75 / 2 * u ** 3)


def mean_field_r(K, T):
    """The stable order parameter of the mean-field XY model (Kuramoto with
    identical frequencies in equilibrium at temperature T): the largest root
    of r = I1(Kr/T) / I0(Kr/T); 0 for K <= 2T.  A(x)/x, A = I1/I0, falls
    monotonically from 1/2, so A(Kr/T)/r - 1 has one sign change on (0, 1],
    found by bisection."""
    if T <= 0:
        return 1.0 if K > 0 else 0.0
    if K <= 2.0 * T:
        return 0.0
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _bessel_ratio(K * mid / T) > mid:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def ott_antonsen_r(K, spread, alpha=0.0):
    """Ott-Antonsen's stationary order parameter of first-order Kuramoto
    oscillators with Lorentzian frequencies of half-width spread and phase
    lag alpha, without noise: r^2 = 1 - 2 spread / (K cos alpha) above the
    critical coupling, 0 below."""
    Keff = K * np.cos(alpha)
    return float(np.sqrt(1.0 - 2.0 * spread / Keff)) if Keff > 2.0 * spread else 0.0


def exact_curve(a):
    """(r(K), its name, the critical coupling) when the run's settings have an
    exact large-N r, else None.  Both need the mean field (all-to-all
    coupling); the XY value needs equilibrium (identical frequencies, no
    drive, no phase lag, noise), Ott-Antonsen's needs no noise and no
    inertia."""
    coupling, freq = a.get("coupling"), a.get("frequencies")
    T, alpha = float(a.get("T", 0.0)), float(a.get("alpha", 0.0))
    if coupling not in MEAN_FIELD:
        return None
    if freq == "identical" and float(a.get("omega", 0.0)) == 0.0 and alpha == 0.0 and T > 0:
        return (lambda K: mean_field_r(K, T)), "mean-field XY", 2.0 * T
    spread = float(a.get("spread", 0.0))
    if freq == "lorentzian" and T == 0 and a.get("order", "first") == "first" and np.cos(alpha) > 0:
        return (lambda K: ott_antonsen_r(K, spread, alpha)), "Ott-Antonsen", 2.0 * spread / np.cos(alpha)
    return None


def _settings(a):
    """The run's settings in words, for the summary and the figure."""
    coupling = a.get("coupling", "?")
    if "mean_degree" in a:
        coupling += f" (mean degree {float(a['mean_degree']):.4g}, max {float(a['max_degree']):.4g})"
    freq = a.get("frequencies", "?")
    if freq == "identical":
        freq += f" frequencies omega={a.get('omega', '?')}"
    else:
        freq += f" frequencies about omega={a.get('omega', '?')}, spread {a.get('spread', '?')}"
    inertia = f", m={a['m']} gamma={a['gamma']}" if a.get("order") == "second" and "m" in a else ""
    return (f"{a.get('order', '?')} order, N={a.get('oscillators', '?')}, coupling {coupling}, {freq}, "
            f"T={a.get('T', '?')}, alpha={a.get('alpha', '?')}{inertia}")


def _largest_K(g):
    K = np.array(g["K"])
    return int(np.argmax(K)), K


def summary(group, out):
    g = group
    a = attrs_of(g)
    dt = float(a["dt"])
    print(f"\noscillators: {_settings(a)}", file=out)
    print(f"  {a['replicas']} replicas per K, {a['steps']} steps of dt={a['dt']} (transient {a['transient']}, "
          f"t = {float(a['transient']) * dt:g}), recorded every {a['record_every']}", file=out)
    avg = g["averages"]
    K = np.array(g["K"])
    cols = [("r", "r_error", "r"), ("potential", "potential_error", "coupling energy/N"),
            ("velocity_spread", "velocity_spread_error", "spread of <v>")]
    if "temperature" in avg:
        cols.append(("temperature", "temperature_error", "T_eff = m<v^2>"))
    data = [(head, np.array(avg[m]), _array(avg, e)) for m, e, head in cols]
    exact = exact_curve(a)
    print("  averages after the transient, +- the error over replicas:", file=out)
    print(f"  {'K':>10} " + " ".join(f"{h:^24}" for h, _, _ in data) +
          (f" {'r ' + exact[1]:>20}" if exact else ""), file=out)
    for k in range(len(K)):
        row = f"  {K[k]:>10.5g} "
        row += " ".join(f"{m[k]:>12.6g} +- {e[k]:<8.2g}" if e is not None else f"{m[k]:>24.6g}" for _, m, e in data)
        if exact:
            row += f" {exact[0](float(K[k])):>20.6f}"
        print(row, file=out)
    if exact:
        print(f"  exact r: {exact[1]}, N = infinity (critical coupling K_c = {exact[2]:.6g}; below it a finite run "
              f"keeps r of order 1/sqrt(N) = {1 / np.sqrt(float(a['oscillators'])):.3g})", file=out)
    ep = _array(avg, "entropy_production")
    if ep is not None and np.any(ep != 0):  # zero without a drive (identical frequencies, omega = 0)
        err = np.array(avg["entropy_production_error"])
        print("  entropy production per oscillator (drive power / T): " +
              ", ".join(f"{x:.4g} +- {e:.2g}" for x, e in zip(ep, err)), file=out)


def work(group):
    a = group.attrs
    return float(len(group["K"])) * float(a["replicas"]) * float(a["oscillators"]) * float(a["steps"])


def _plot_r_time(ax, g, a, exact):
    k, K = _largest_K(g)
    t = np.array(g["time"])
    r = g["r"][k]  # [R][J] of the largest K only
    for rep in range(min(r.shape[0], REPLICAS_SHOWN)):
        ax.plot(t, r[rep], lw=0.9, color=f"C{rep}", label=f"replica {rep}")
    ax.axvline(float(a["transient"]) * float(a["dt"]), color="grey", ls=":", lw=1, label="end of transient")
    if exact:
        ax.axhline(exact[0](float(K[k])), color="k", ls="--", lw=1, label=f"{exact[1]}, N = inf")
    ax.set_ylim(-0.02, 1.02)
    ax.set(xlabel="t", ylabel="r(t)", title=f"order parameter at K = {K[k]:.4g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def _averages_vs_K(ax, g, a, name, exact):
    """Draws /averages/<name> against K with its errors; returns the K grid
    of the exact curve (None when none applies)."""
    K = np.array(g["K"])
    order = np.argsort(K)
    v, err = np.array(g["averages/" + name]), np.array(g["averages/" + name + "_error"])
    ax.errorbar(K[order], v[order], yerr=err[order], fmt="o", ms=4, capsize=2,
                label=f"prism, N={a.get('oscillators', '?')}")
    if not exact:
        return None
    return np.linspace(0.0, 1.05 * max(float(K.max()), 1.2 * exact[2]), 400)


def _plot_r_K(ax, g, a, exact):
    Kf = _averages_vs_K(ax, g, a, "r", exact)
    if exact:
        ax.plot(Kf, [exact[0](x) for x in Kf], "k-", lw=1, label=f"{exact[1]}, N = inf")
        ax.axvline(exact[2], color="grey", ls=":", lw=1, label=f"K_c = {exact[2]:.4g}")
    ax.set_ylim(-0.02, 1.02)
    ax.set(xlabel="K", ylabel="r (after the transient)", title="synchronisation curve")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def _plot_phases(ax, g, a):
    k, K = _largest_K(g)
    theta = np.array(g["final_phases"][k, 0])
    omega = _array(g, "frequencies")
    z = np.mean(np.exp(1j * theta))  # of all of them, before thinning
    step = max(1, len(theta) // PHASES_SHOWN)
    theta = theta[::step]
    s = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(s), np.sin(s), color="grey", lw=0.6)
    # Coloured by natural frequency when they differ: locked oscillators bunch, the fastest drift.
    if omega is not None and len(omega) == len(g["final_phases"][k, 0]) and np.ptp(omega) > 0:
        w = omega[::step]
        lo, hi = np.percentile(w, [2, 98])
        pts = ax.scatter(np.cos(theta), np.sin(theta), c=np.clip(w, lo, hi), cmap="coolwarm", s=6, alpha=0.7)
        ax.figure.colorbar(pts, ax=ax, shrink=0.8, label="natural frequency (2-98 percentile)")
    else:
        ax.scatter(np.cos(theta), np.sin(theta), s=6, alpha=0.5)
    ax.annotate("", xy=(z.real, z.imag), xytext=(0, 0), arrowprops=dict(arrowstyle="->", color="k", lw=1.5))
    ax.set_aspect("equal")
    ax.set(xlim=(-1.15, 1.15), ylim=(-1.15, 1.15), xlabel="cos theta", ylabel="sin theta",
           title=f"final phases, replica 0, K = {K[k]:.4g} (arrow: r e^(i psi), r = {abs(z):.3f})"
                 + (f"\none oscillator in {step} shown" if step > 1 else ""))


def _plot_frequencies(ax, g, a):
    omega = np.array(g["frequencies"])
    # Lorentzian tails reach thousands of half-widths: the range is the
    # quartiles widened by 3 IQR (all of a Gaussian sample), the rest counted.
    q1, q3 = np.percentile(omega, [25, 75])
    lo, hi = max(omega.min(), q1 - 3 * (q3 - q1)), min(omega.max(), q3 + 3 * (q3 - q1))
    outside = int(np.sum((omega < lo) | (omega > hi)))
    ax.hist(omega, bins=int(np.clip(np.sqrt(len(omega)), 10, 80)), range=(lo, hi))
    ax.set(xlabel="natural frequency omega_i", ylabel="oscillators",
           title=f"{a.get('frequencies', '?')} natural frequencies"
                 + (f" ({outside} far outliers not shown)" if outside else ""))
    ax.grid(alpha=0.3)


def _plot_energy(ax, g, a, exact):
    Kf = _averages_vs_K(ax, g, a, "potential", exact)
    if exact:  # all-to-all: -(K/2N^2) sum_{i != j} cos(theta_i - theta_j) -> -K r^2 / 2
        ax.plot(Kf, [-0.5 * x * exact[0](x) ** 2 for x in Kf], "k-", lw=1, label=f"-K r^2/2, {exact[1]}")
        ax.legend(fontsize=7, loc="best")
    ax.set(xlabel="K", ylabel="coupling energy per oscillator", title="coupling energy")
    ax.grid(alpha=0.3)


def plot(file_or_group, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = group_of(file_or_group, "oscillators")
    meta = run_metadata(g)
    a = attrs_of(g)
    exact = exact_curve(a)
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    _plot_r_time(axes[0], g, a, exact)
    _plot_r_K(axes[1], g, a, exact)
    if "final_phases" in g:
        _plot_phases(axes[2], g, a)
    elif "frequencies" in g and g["frequencies"].shape[0] and np.ptp(np.array(g["frequencies"])) > 0:
        _plot_frequencies(axes[2], g, a)
    else:  # no phases, and no frequencies or all of them equal (a histogram of one bar)
        _plot_energy(axes[2], g, a, exact)
    fig.suptitle(f"prism oscillators: {_settings(a)}, {a.get('replicas', '?')} replicas "
                 f"({meta.get('kokkos_backend', '?')}, {meta.get('ranks', '?')} ranks)", fontsize=10)
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    plt.close(fig)
