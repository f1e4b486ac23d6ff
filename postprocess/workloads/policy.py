"""policy: batched active-inference agents choosing among policies (pymdp's
conventions; docs/policy.md).

summary: the settings; per step, over agents, the mean G of the chosen policy,
         mean F of q(s), mean H[q(pi)] and (tasks with a success outcome,
         e.g. the T-maze) the success rate; then, for the first traced
         agents, their actions, observations and world states per step.
work:    agent steps: agents * steps (the PERFORMANCE line's agent_steps).
plot:    the success rate per step (when the task has one); the belief
         trajectories of up to 4 traced agents (T-maze: q(true context); in
         general the probability of each factor's most probable state);
         G per policy at step 0 for traced agent 0 with the chosen policy
         highlighted; and mean G, F and H[q(pi)] per step.  A panel whose
         data the file lacks is left out.
"""
import numpy as np

from prism_h5 import attrs_of, group_of, run_metadata

TRACED_SHOWN = 4  # traced agents printed by summary() and drawn by plot()
STEPS_SHOWN = 50  # per-step rows printed before the table is thinned

# T-maze names (docs/policy.md, "Tasks").
TMAZE_LOCATIONS = ["centre", "left", "right", "cue"]
TMAZE_CONTEXTS = ["left", "right"]
TMAZE_OUTCOMES = [TMAZE_LOCATIONS, ["none", "reward", "punish"], ["none", "cue-L", "cue-R"]]


def _sub(group, name):
    """group/name, or None when the run did not write it."""
    return group[name] if name in group else None


def _array(group, name):
    return np.array(group[name]) if name in group else None


def _factor_sizes(group, S=None):
    """Ns[f] from the lengths of /policy/model/D<f>; one factor of S states
    when the model is absent."""
    model = _sub(group, "model")
    sizes = []
    while model is not None and f"D{len(sizes)}" in model:
        sizes.append(int(model[f"D{len(sizes)}"].shape[0]))
    if not sizes or (S is not None and sum(sizes) != S):
        return [int(S)] if S else []
    return sizes


def _is_tmaze(a, sizes):
    return a.get("task") == "tmaze" and len(sizes) == 2 and sizes[1] == 2


def _steps_shown(T):
    """The steps a table prints: all of them up to STEPS_SHOWN, else about
    STEPS_SHOWN evenly spaced ones and the last."""
    if T <= STEPS_SHOWN:
        return list(range(T))
    return sorted(set(range(0, T, max(1, T // STEPS_SHOWN))) | {T - 1})


def _chosen_policy(a, q_pi, actions0, policies):
    """(indices to highlight, what they are) for one agent's step: the most
    probable policy (the kernel's argmax, first of ties) under full
    deterministic selection; otherwise every policy whose first move is the
    action taken (the draw itself is not stored)."""
    if a.get("sampling_mode") != "marginal" and a.get("action_selection") == "deterministic":
        return [int(np.argmax(q_pi))], "chosen policy"
    if policies is None or actions0 is None:
        return [], ""
    if policies.ndim == 2:  # the Gaussian form
        return [int(k) for k in np.nonzero(policies[:, 0] == int(actions0))[0]], "policies starting with the action taken"
    match = np.all(policies[:, 0, :] == np.asarray(actions0)[None, :], axis=1)
    return [int(k) for k in np.nonzero(match)[0]], "policies starting with the action taken"


def _fmt_tuple(v, names=None):
    if names is not None:
        return ",".join(names[i][int(x)] if i < len(names) and 0 <= int(x) < len(names[i]) else str(int(x))
                        for i, x in enumerate(v))
    return "(" + ",".join(str(int(x)) for x in v) + ")"


def summary(group, out):
    g = group
    a = attrs_of(g)
    if a.get("model") == "gaussian":
        m = _sub(g, "model")
        dims = (f"{m['dynamics'].shape[0]} states, {m['control_matrix'].shape[1]} controls, "
                f"{m['observation_matrix'].shape[0]} observation dimensions" if m is not None else "")
        print(f"\npolicy: linear-Gaussian agents ({dims}), {a.get('agents', '?')} agents x {a.get('steps', '?')} "
              f"steps, {a.get('policies', '?')} policies ({a.get('policy_set', '?')}) of length "
              f"{a.get('policy_len', '?')}, gamma={a.get('gamma', '?')}, {a.get('action_selection', '?')} action "
              f"selection, traced agents {a.get('traced_agents', 0)}", file=out)
    else:
        print(f"\npolicy: task {a.get('task', '?')}, {a.get('agents', '?')} agents x {a.get('steps', '?')} steps, "
              f"{a.get('policies', '?')} policies of length {a.get('policy_len', '?')}, gamma={a.get('gamma', '?')}, "
              f"alpha={a.get('alpha', '?')}, {a.get('action_selection', '?')} action selection "
              f"({a.get('sampling_mode', '?')} sampling), num_iter={a.get('num_iter', '?')}, "
              f"traced agents {a.get('traced_agents', 0)}", file=out)
    sizes = _factor_sizes(g)
    model = _sub(g, "model")
    if sizes:
        outcomes = []
        while model is not None and f"C{len(outcomes)}" in model:
            outcomes.append(int(model[f"C{len(outcomes)}"].shape[0]))
        print(f"  states per factor {sizes}, outcomes per modality {outcomes}", file=out)

    cols = [("G_chosen_mean", "G chosen"), ("free_energy_mean", "F"), ("policy_entropy_mean", "H[q(pi)]"),
            ("success_rate", "success")]
    data = [(head, np.array(g[name])) for name, head in cols if name in g]
    if data:
        T = len(data[0][1])
        marginal = a.get("sampling_mode") == "marginal"
        print("  per step, mean over agents" + (" (G chosen: the q(pi)-average of G, marginal sampling)"
                                                 if marginal else "") + ":", file=out)
        print("  " + f"{'step':>6} " + " ".join(f"{h:>12}" for h, _ in data), file=out)
        for s in _steps_shown(T):
            print("  " + f"{s:>6} " + " ".join(f"{d[s]:>12.6f}" for _, d in data), file=out)
        if "success_rate" in g and T:
            sr = np.array(g["success_rate"])
            print(f"  success rate at the last step {sr[-1]:.4f}, highest {sr.max():.4f} (step {int(sr.argmax())})",
                  file=out)

    t = _sub(g, "trace")
    if t is None or "actions" not in t:
        return
    if a.get("model") == "gaussian":
        _gaussian_traces(t, model, out, _first(a))
        return
    actions, obs = np.array(t["actions"]), _array(t, "observations")
    world = _array(t, "world")
    n, T = actions.shape[0], actions.shape[1]
    tmaze = _is_tmaze(a, sizes)
    shown = min(n, TRACED_SHOWN)
    first = _first(a)
    print(f"  traced agents (first {shown} of {n}): action taken at each step, then the observation and world "
          f"state of that step" + (" (T-maze: location, reward, cue; world: location, context)" if tmaze else ""),
          file=out)
    loc_names = [TMAZE_LOCATIONS, ["-"]] if tmaze else None
    obs_names = TMAZE_OUTCOMES if tmaze and obs is not None and obs.shape[2] == 3 else None
    world_names = [TMAZE_LOCATIONS, TMAZE_CONTEXTS] if tmaze else None
    for i in range(shown):
        head = f"    agent {first + i}"
        if tmaze and world is not None:
            head += f" (reward {TMAZE_CONTEXTS[int(world[i, 0, 1])]})" if 0 <= int(world[i, 0, 1]) < 2 else ""
        print(head + ":", file=out)
        print(f"    {'step':>6} {'action':>16} {'observation':>22} {'world':>16}", file=out)
        for s in _steps_shown(T):
            act = _fmt_tuple(actions[i, s], loc_names)
            o = _fmt_tuple(obs[i, s], obs_names) if obs is not None else "-"
            w = _fmt_tuple(world[i, s], world_names) if world is not None else "-"
            print(f"    {s:>6} {act:>16} {o:>22} {w:>16}", file=out)


def _first(a):
    """The run index of the first traced agent (0 in files from before trace_first)."""
    return int(a.get("traced_first", 0))


def _vec(v):
    return "(" + ",".join(f"{x:.3f}" for x in np.atleast_1d(v)) + ")"


def _gaussian_traces(t, model, out, first=0):
    """Traced linear-Gaussian agents: the action taken, the observation, the
    belief (mean, standard deviations) and the world state per step."""
    actions, obs = np.array(t["actions"]), np.array(t["observations"])
    mean, cov, world = np.array(t["belief_mean"]), np.array(t["belief_covariance"]), np.array(t["world"])
    values = np.array(model["actions"]) if model is not None and "actions" in model else None
    n, T = actions.shape
    shown = min(n, TRACED_SHOWN)
    print(f"  traced agents (first {shown} of {n}): per step the observation, the belief after it "
          "(mean +- standard deviation) and the world state, then the action taken", file=out)
    for i in range(shown):
        print(f"    agent {first + i}:", file=out)
        print(f"    {'step':>6} {'observation':>22} {'belief mean':>24} {'+-':>22} {'world':>22} {'action':>12}",
              file=out)
        for s in _steps_shown(T):
            sd = np.sqrt(np.diag(cov[i, s]))
            act = _vec(values[actions[i, s]]) if values is not None else str(int(actions[i, s]))
            print(f"    {s:>6} {_vec(obs[i, s]):>22} {_vec(mean[i, s]):>24} {_vec(sd):>22} "
                  f"{_vec(world[i, s]):>22} {act:>12}", file=out)


def _plot_gaussian_beliefs(ax, g):
    t = g["trace"]
    mean, cov, world = np.array(t["belief_mean"]), np.array(t["belief_covariance"]), np.array(t["world"])
    n, T, _ = mean.shape
    steps = np.arange(T)
    for i in range(min(n, TRACED_SHOWN)):
        sd = np.sqrt(cov[i, :, 0, 0])
        ax.fill_between(steps, mean[i, :, 0] - 2 * sd, mean[i, :, 0] + 2 * sd, color=f"C{i}", alpha=0.15)
        k = _first(g.attrs) + i
        ax.plot(steps, mean[i, :, 0], "-", color=f"C{i}", lw=1.3, label=f"agent {k}: belief mean +- 2 sd")
        ax.plot(steps, world[i, :, 0], "o", color=f"C{i}", ms=3.5, label=f"agent {k}: world")
    model = _sub(g, "model")
    if model is not None and "observation_matrix" in model and "preferred_mean" in model:
        C = np.array(model["observation_matrix"])
        if C.shape[0] == 1 and C[0, 0] != 0 and np.count_nonzero(C) == 1:
            ax.axhline(float(np.array(model["preferred_mean"])[0]) / C[0, 0], color="k", lw=0.8, ls="--",
                       label="preferred")
    ax.set_xlabel("step")
    ax.set_ylabel("state component 0")
    ax.grid(alpha=0.3)
    _step_ticks(ax, T)
    ax.legend(fontsize=7, loc="best")
    ax.set_title("Kalman belief and world, traced agents")


def work(group):
    a = group.attrs
    return float(a["agents"]) * float(a["steps"])


def _plot_success(ax, g):
    sr = np.array(g["success_rate"])
    steps = np.arange(len(sr))
    ax.plot(steps, sr, "o-", lw=1.5)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("step")
    ax.set_ylabel("success rate")
    ax.grid(alpha=0.3)
    for s, v in zip(steps, sr):
        if len(sr) <= 12:
            ax.annotate(f"{v:.3f}", (s, v), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    _step_ticks(ax, len(sr))
    ax.set_title(f"success rate over {int(g.attrs.get('agents', 0))} agents")


def _step_ticks(ax, T):
    if T <= 12:
        ax.set_xticks(range(T))


def _plot_beliefs(ax, g, a):
    t = g["trace"]
    beliefs = np.array(t["beliefs"])
    world = _array(t, "world")
    n, T, S = beliefs.shape
    sizes = _factor_sizes(g, S)
    steps = np.arange(T)
    shown = min(n, TRACED_SHOWN)
    colours = [f"C{i}" for i in range(shown)]
    # Agents often share a trajectory: shrinking markers and varied dashes keep each one visible.
    marks = [dict(marker=m, ms=ms) for m, ms in zip("osD^", (9, 7, 5, 3.5))]
    dashes = ["-", "--", "-.", ":"]
    if _is_tmaze(a, sizes):
        ctx = beliefs[:, :, sizes[0]:]  # the context factor's marginal
        for i in range(shown):
            if world is not None:
                true = int(world[i, 0, 1])
                ax.plot(steps, ctx[i, :, true], dashes[i], color=colours[i], **marks[i],
                        label=f"agent {_first(a) + i}: q(true context = {TMAZE_CONTEXTS[true]})")
            else:
                ax.plot(steps, ctx[i, :, 1], dashes[i], color=colours[i], **marks[i],
                        label=f"agent {_first(a) + i}: q(context = right)")
        ax.set_ylabel("belief")
        ax.set_title("belief in the true context (T-maze)")
    else:
        styles = ["-", "--", ":", "-."]
        at = np.concatenate([[0], np.cumsum(sizes)])
        for i in range(shown):
            for f, ns in enumerate(sizes):
                q = beliefs[i, :, at[f]:at[f + 1]]
                top = q.max(axis=1)
                ax.plot(steps, top, styles[f % len(styles)], color=colours[i], lw=1.2,
                        label=f"agent {_first(a) + i}, factor {f}")
                if world is not None and world.shape[2] == len(sizes):
                    right = q.argmax(axis=1) == world[i, :, f]
                    ax.scatter(steps[right], top[right], color=colours[i], s=22, zorder=3)
                    ax.scatter(steps[~right], top[~right], facecolors="white", edgecolors=colours[i], s=22,
                               zorder=3)
        ax.set_ylabel("max_s q(s) per factor")
        ax.set_title("most probable state's belief (filled: it is the true state)"
                     if world is not None else "most probable state's belief")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    _step_ticks(ax, T)
    ax.legend(fontsize=7, loc="best")


def _plot_policy_G(ax, g, a):
    t = g["trace"]
    G = np.array(t["G"])[0, 0]
    q_pi = np.array(t["q_pi"])[0, 0] if "q_pi" in t else None
    actions0 = np.array(t["actions"])[0, 0] if "actions" in t else None
    model = _sub(g, "model")
    policies = np.array(model["policies"]) if model is not None and "policies" in model else None
    hi, what = _chosen_policy(a, q_pi, actions0, policies) if q_pi is not None else ([], "")
    P = len(G)
    colour = np.array(["tab:blue"] * P, dtype=object)
    colour[hi] = "tab:red"
    ax.bar(np.arange(P), G, color=list(colour), edgecolor="k", lw=0.5)
    # Room for the legend beyond the bars' tips (bars hang from 0 when G < 0).
    lo, hi_ = min(0.0, float(G.min())), max(0.0, float(G.max()))
    span = (hi_ - lo) or 1.0
    where = "best"
    if hi_ <= 0:
        ax.set_ylim(lo - 0.3 * span, 0.02 * span)
        where = "lower center"
    elif lo >= 0:
        ax.set_ylim(-0.02 * span, hi_ + 0.3 * span)
        where = "upper center"
    if what:
        from matplotlib.patches import Patch
        ax.legend(handles=[Patch(color="tab:red", label=what), Patch(color="tab:blue", label="other policies")],
                  fontsize=8, loc=where, ncol=2)
    ax.set_xlabel("policy")
    ax.set_ylabel("G (expected free energy)")
    if policies is not None and P <= 32:
        if policies.ndim == 2:  # the Gaussian form: [policy][step] action indices
            labels = ["|".join(str(int(u)) for u in policies[k]) for k in range(P)]
        else:
            labels = ["|".join(",".join(str(int(u)) for u in step) if policies.shape[2] > 1
                               else str(int(step[0])) for step in policies[k]) for k in range(P)]
        ax.set_xticks(range(P), labels, rotation=90, fontsize=7)
        ax.set_xlabel("policy (controls per step, steps separated by |)")
    ax.grid(alpha=0.3, axis="y")
    ax.set_title(f"G per policy at step 0, agent {_first(a)}")


def _plot_means(ax, g, a):
    T = 0
    for name, label, style in (("G_chosen_mean", "G of the chosen policy" if a.get("sampling_mode") != "marginal"
                                 else "E_q(pi)[G]", "o-"),
                                ("free_energy_mean", "F (variational free energy)", "s-"),
                                ("policy_entropy_mean", "H[q(pi)]", "^-")):
        if name in g:
            v = np.array(g[name])
            T = len(v)
            ax.plot(np.arange(T), v, style, ms=4, lw=1.3, label=label)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xlabel("step")
    ax.set_ylabel("mean over agents [nats]")
    ax.grid(alpha=0.3)
    _step_ticks(ax, T)
    ax.legend(fontsize=8, loc="best")
    ax.set_title("per step, mean over agents")


def plot(file_or_group, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = group_of(file_or_group, "policy")
    meta = run_metadata(g)
    a = attrs_of(g)
    t = _sub(g, "trace")
    panels = []
    if "success_rate" in g and len(g["success_rate"]):
        panels.append(lambda ax: _plot_success(ax, g))
    if t is not None and "beliefs" in t and t["beliefs"].shape[0] > 0:
        panels.append(lambda ax: _plot_beliefs(ax, g, a))
    if t is not None and "belief_mean" in t and t["belief_mean"].shape[0] > 0:
        panels.append(lambda ax: _plot_gaussian_beliefs(ax, g))
    if t is not None and "G" in t and t["G"].shape[0] > 0 and t["G"].shape[1] > 0:
        panels.append(lambda ax: _plot_policy_G(ax, g, a))
    if any(name in g for name in ("G_chosen_mean", "free_energy_mean", "policy_entropy_mean")):
        panels.append(lambda ax: _plot_means(ax, g, a))
    cols = 1 if len(panels) <= 1 else 2
    rows = max(1, (len(panels) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols if cols > 1 else 9.0, 4.8 * rows),
                             squeeze=False)  # one panel: wide enough for the title
    axes = axes.ravel()
    for draw, ax in zip(panels, axes):
        draw(ax)
    for ax in axes[len(panels):]:
        ax.axis("off")
    if not panels:
        axes[0].text(0.5, 0.5, "no per-step or trace data in /policy", ha="center", va="center")
    fig.suptitle(f"prism policy: {a.get('task', 'linear-Gaussian' if a.get('model') == 'gaussian' else '?')}, {a.get('agents', '?')} agents x {a.get('steps', '?')} steps, "
                 f"{a.get('policies', '?')} policies, {a.get('action_selection', '?')} "
                 f"({meta.get('kokkos_backend', '?')}, {meta.get('ranks', '?')} ranks)")
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    plt.close(fig)
