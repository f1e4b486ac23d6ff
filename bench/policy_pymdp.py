#!/usr/bin/env python3
"""The pymdp (1.0, JAX) peer of prism's policy workload: reference numbers for
the numeric-equality check and the side-by-side benchmark.

pymdp and the pure-Python packages it needs come from .carry/py (what and from
which commit: .carry/py/SOURCES.txt); jax, numpy and h5py must be installed. No
network is used. From the repository root on the GPU machine:

    PYTHONPATH=.carry/py python3 bench/policy_pymdp.py --reference OUT_DIR [--steps 6]
    PYTHONPATH=.carry/py python3 bench/policy_pymdp.py --bench --csv policy_pymdp.csv

--reference OUT_DIR (float64: jax_enable_x64). For every model NAME in MODELS
(one, one_2mod, two, two_u1, two_deps, bench; seeded numpy draws: Dirichlet(0.5)
columns of A and B, C ~ N(0, 1), D and E uniform or Dirichlet(1)) it writes
  OUT_DIR/model_NAME.h5      the model in prism's layout, written by
                             tools/pymdp_to_prism.py from the pymdp Agent (/A<m>,
                             /A<m>_dependencies, /B<f>, /C<m>, /D<f>, /E), and
                             /observations (= /obs below: prism replays them)
  OUT_DIR/reference_NAME.h5  one agent given a fixed, seeded observation sequence:
    /obs                 [T][M] int64   observation of each modality at step t
    /prior<f>            [T][Ns_f]      empirical prior: D at t=0, then B(action) q(s)
    /qs<f>               [T][Ns_f]      posterior of infer_states
    /vfe                 [T]            its free energy (pymdp's calc_vfe)
    /neg_efe             [T][P]         -G per policy (infer_policies)
    /q_pi                [T][P]         q(pi)
    /action_marginal<f>  [T][Nu_f]      q(pi)'s marginal over first-step controls
    /action              [T][F] int64   the action taken (sample_action, deterministic)
    /policies            [P][policy_len][F] int64, pymdp's order
  and for the learning runs of LEARNING (a model of MODELS with learn_A and learn_B: pA = c A,
  pB = c B, infer_parameters from the second step on, after infer_policies, with that step's
  observation and posterior for A and the last two posteriors and the previous action for B)
    /pA<m>, /pB<f>       the concentrations after the last step
    and attributes learning_rate, prior_concentration;
  and, as attributes, the settings (Agent defaults = prism's defaults):
  inference_algo fpi, num_iter 16, gamma 1, alpha 1, use_utility 1,
  use_states_info_gain 1, use_param_info_gain 0, action_selection deterministic,
  sampling_mode (full, or --sampling-mode marginal), pymdp_commit, jax, device.

--bench: one jitted call of the vmapped Agent.infer_states + infer_policies
("step"), and each alone, for B agents of the benchmark model (obs [16, 8],
states [32, 4], controls [4, 1], policy_len 3: 64 policies), observations drawn
per agent, prior D; median of --repeat timed calls after the compiling call and
one warm-up. Each dtype runs in its own process (float64 with x64 on, float32
with x64 off, pymdp's default). One CSV row each (appended):
  date,device,jax,pymdp_commit,what,dtype,agents,seconds_per_step,agent_steps_per_s
Comparing with prism (model_NAME.h5 as `task = "hdf5"`): prism's
/policy/trace/G is G = -neg_efe; its beliefs are the qs<f> one after another.
"""
import argparse
import csv
import datetime
import importlib
import os
import re
import statistics
import subprocess
import sys
import time
import traceback
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CARRY = ROOT / ".carry" / "py"
# name: (num_obs, num_states, num_controls, policy_len, A_dependencies, random D, random E, seed)
MODELS = {
    "one": ([5], [6], [3], 2, None, True, False, 11),
    "one_2mod": ([5, 4], [6], [3], 2, None, False, False, 12),
    "two": ([4, 3], [5, 3], [3, 2], 2, None, True, True, 13),
    "two_u1": ([4, 3], [5, 3], [3, 1], 2, None, False, False, 14),
    "two_deps": ([4, 3], [5, 3], [3, 2], 2, [[0], [0, 1]], True, False, 15),
    "bench": ([16, 8], [32, 4], [4, 1], 3, None, False, False, 16),
}
# Runs with Dirichlet learning of A and B (pymdp's infer_parameters from the second step on, after
# policy inference): name: (model of MODELS, learning rate, prior concentration: pA = c A, pB = c B).
LEARNING = {
    "two_learn": ("two", 0.7, 3.0),
    "two_deps_learn": ("two_deps", 1.0, 2.0),
}
CONCENTRATION = 0.5
SETTINGS = dict(inference_algo="fpi", num_iter=16, gamma=1.0, alpha=1.0, use_utility=True,
                use_states_info_gain=True, use_param_info_gain=False, action_selection="deterministic")


def die(msg):
    print(f"policy_pymdp.py: {msg}", file=sys.stderr)
    sys.exit(2)


def load(x64):
    """Imports numpy, h5py, jax (x64 as asked) and pymdp; names whatever is missing."""
    if CARRY.is_dir() and str(CARRY) not in sys.path:
        sys.path.insert(0, str(CARRY))
    if (CARRY / "fallback").is_dir():
        sys.path.append(str(CARRY / "fallback"))  # after site-packages: installed copies win
    missing = []
    for name in ("numpy", "h5py", "jax"):
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 - report any failure to import
            missing.append(f"{name} ({type(e).__name__}: {e})")
    if missing:
        die("cannot import " + ", ".join(missing) + "; these must be installed on this machine")
    import jax

    jax.config.update("jax_enable_x64", x64)
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        import matplotlib.pyplot  # noqa: F401 - pymdp/utils.py imports it, only plots use it
    except Exception:  # noqa: BLE001 - missing or broken: an empty stand-in will do
        mpl, plt = types.ModuleType("matplotlib"), types.ModuleType("matplotlib.pyplot")
        mpl.pyplot = plt
        sys.modules.update({"matplotlib": mpl, "matplotlib.pyplot": plt})
    try:
        import pymdp
        from pymdp import control
        from pymdp.agent import Agent
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        bad = []
        for name in ("pymdp", "equinox", "jaxtyping", "multimethod", "wadler_lindig", "typing_extensions",
                     "opt_einsum"):
            try:
                importlib.import_module(name)
            except Exception as e:  # noqa: BLE001
                bad.append(f"{name} ({type(e).__name__}: {e})")
        die("cannot import pymdp.agent" + ("; failing: " + ", ".join(bad) if bad else "") +
            f". Run from the repository root with PYTHONPATH=.carry/py (looked in {CARRY}; see SOURCES.txt)")
    import h5py
    import jax.numpy as jnp
    import jax.tree_util as jtu
    import numpy as np

    sys.path.insert(0, str(ROOT / "tools"))
    from pymdp_to_prism import from_agent, write_model

    commit = "unknown"
    src = CARRY / "SOURCES.txt"
    if Path(pymdp.__file__).resolve().is_relative_to(CARRY.resolve()) and src.is_file():
        m = re.search(r"^\s*pymdp/\s+\S+\s+([0-9a-f]{40})", src.read_text(), re.M)
        commit = m.group(1)[:12] if m else commit
    return types.SimpleNamespace(np=np, h5py=h5py, jax=jax, jnp=jnp, jtu=jtu, Agent=Agent, control=control,
                                 commit=commit, from_agent=from_agent, write_model=write_model,
                                 device=jax.devices()[0].device_kind)


def make_model(np, spec):
    """A, B, C, D, E (None: uniform), A_dependencies as numpy float64, pymdp's index order."""
    num_obs, num_states, num_controls, policy_len, deps, random_d, random_e, seed = spec
    rng = np.random.default_rng(seed)
    deps = deps or [list(range(len(num_states)))] * len(num_obs)

    def columns(n, count):  # [count][n], each row a distribution
        c = rng.dirichlet(np.full(n, CONCENTRATION), size=count)
        return c / c.sum(axis=1, keepdims=True)

    A = []
    for m, no in enumerate(num_obs):
        shape = tuple(num_states[f] for f in deps[m])
        A.append(np.ascontiguousarray(columns(no, int(np.prod(shape))).T.reshape((no,) + shape)))
    B = [np.ascontiguousarray(columns(ns, ns * nu).reshape(ns, nu, ns).transpose(2, 0, 1))  # [next][prev][u]
         for ns, nu in zip(num_states, num_controls)]
    C = [rng.normal(0.0, 1.0, no) for no in num_obs]
    D = [rng.dirichlet(np.ones(ns)) if random_d else np.full(ns, 1.0 / ns) for ns in num_states]
    P = int(np.prod(num_controls)) ** policy_len
    E = rng.dirichlet(np.ones(P)) if random_e else None
    return dict(A=A, B=B, C=C, D=D, E=E, A_dependencies=[list(d) for d in deps]), rng


def make_agent(pm, model, policy_len, batch, dtype, sampling_mode, concentration=None):
    """pymdp's Agent; with a prior concentration c, learning A and B from pA = c A, pB = c B."""
    jnp = pm.jnp
    arr = lambda xs: [jnp.asarray(x, dtype=dtype) for x in xs]  # noqa: E731
    E = None if model["E"] is None else jnp.asarray(model["E"], dtype=dtype)
    s = dict(SETTINGS, gamma=jnp.asarray(1.0, dtype), alpha=jnp.asarray(1.0, dtype))
    if concentration is not None:
        s.update(learn_A=True, learn_B=True, pA=[concentration * a for a in arr(model["A"])],
                 pB=[concentration * b for b in arr(model["B"])])
    return pm.Agent(A=arr(model["A"]), B=arr(model["B"]), C=arr(model["C"]), D=arr(model["D"]), E=E,
                    A_dependencies=model["A_dependencies"], policy_len=policy_len, batch_size=batch,
                    sampling_mode=sampling_mode, **s)


def jitted(pm, agent):
    """jit of the Agent's methods with its arrays as arguments (the Agent's static fields stay in
    a treedef captured here, never hashed by jit)."""
    leaves, treedef = pm.jtu.tree_flatten(agent)
    un = lambda lv: pm.jtu.tree_unflatten(treedef, lv)  # noqa: E731

    def states(lv, obs, prior):
        return un(lv).infer_states(obs, prior)

    def policies(lv, qs):
        return un(lv).infer_policies(qs)

    def step(lv, obs, prior):
        ag = un(lv)
        qs = ag.infer_states(obs, prior)
        return (qs,) + tuple(ag.infer_policies(qs))

    def reference(lv, obs, prior):
        ag = un(lv)
        qs, info = ag.infer_states(obs, prior, return_info=True)
        q_pi, neg_efe = ag.infer_policies(qs)
        return qs, info["vfe"], q_pi, neg_efe

    j = pm.jax.jit
    return leaves, dict(states=j(states), policies=j(policies), step=j(step), reference=j(reference))


def reference(pm, a):
    np, jnp = pm.np, pm.jnp
    out = Path(a.reference)
    out.mkdir(parents=True, exist_ok=True)
    runs = [(name, spec, None) for name, spec in MODELS.items()]
    runs += [(name, MODELS[base], (lr, conc)) for name, (base, lr, conc) in LEARNING.items()]
    for name, spec, learning in runs:
        model, rng = make_model(np, spec)
        num_obs, num_states, num_controls, policy_len = spec[:4]
        agent = make_agent(pm, model, policy_len, 1, jnp.float64, a.sampling_mode,
                           concentration=learning[1] if learning else None)
        pm.write_model(str(out / f"model_{name}.h5"), **pm.from_agent(agent))
        leaves, fns = jitted(pm, agent)
        obs_seq = np.stack([rng.integers(0, no, size=a.steps) for no in num_obs], axis=1).astype(np.int64)
        policies = np.asarray(agent.policies.policy_arr).astype(np.int64)
        rec = {k: [] for k in ("vfe", "neg_efe", "q_pi", "action")}
        for f in range(len(num_states)):
            rec[f"prior{f}"], rec[f"qs{f}"], rec[f"action_marginal{f}"] = [], [], []
        prior = agent.D
        for t in range(a.steps):
            obs = [jnp.asarray(obs_seq[t, m:m + 1]) for m in range(len(num_obs))]
            qs, vfe, q_pi, neg_efe = fns["reference"](leaves, obs, prior)
            if learning and t > 0:
                # A from this step's observation and posterior; B from the last two posteriors
                # and the previous action (prism's schedule, docs/policy.md).
                agent = agent.infer_parameters(
                    [q[:, -1:] for q in qs], [o[:, None] for o in obs],
                    jnp.asarray(action)[:, None, :],
                    beliefs_B=[jnp.stack([qp[:, -1], q[:, -1]], axis=1) for qp, q in zip(qs_last, qs)],
                    lr_pA=learning[0], lr_pB=learning[0])
                leaves = pm.jtu.tree_flatten(agent)[0]
            qs_last = qs
            action = agent.sample_action(q_pi)
            marginals = pm.control.get_marginals(q_pi[0], agent.policies.policy_arr, agent.num_controls)
            for f in range(len(num_states)):
                rec[f"prior{f}"].append(np.asarray(prior[f][0]))
                rec[f"qs{f}"].append(np.asarray(qs[f][0, -1]))
                rec[f"action_marginal{f}"].append(np.asarray(marginals[f]))
            rec["vfe"].append(float(vfe[0]))
            rec["neg_efe"].append(np.asarray(neg_efe[0]))
            rec["q_pi"].append(np.asarray(q_pi[0]))
            rec["action"].append(np.asarray(action[0]).astype(np.int64))
            prior = agent.update_empirical_prior(action, qs)
        # The observations go into the model file too: prism replays a model's /observations.
        with pm.h5py.File(out / f"model_{name}.h5", "a") as h5:
            h5["observations"] = obs_seq
        with pm.h5py.File(out / f"reference_{name}.h5", "w") as h5:
            h5["obs"] = obs_seq
            h5["policies"] = policies
            for k, v in rec.items():
                h5[k] = np.asarray(v, dtype=np.int64 if k == "action" else np.float64)
            if learning:
                for m, pa in enumerate(agent.pA):
                    h5[f"pA{m}"] = np.asarray(pa[0])  # the concentrations after the last step
                for f, pb in enumerate(agent.pB):
                    h5[f"pB{f}"] = np.asarray(pb[0])
                h5.attrs["learning_rate"], h5.attrs["prior_concentration"] = learning
            attrs = dict(SETTINGS, sampling_mode=a.sampling_mode, policy_len=policy_len, steps=a.steps,
                         seed=spec[7], dirichlet_concentration=CONCENTRATION, model_file=f"model_{name}.h5",
                         pymdp_commit=pm.commit, jax=pm.jax.__version__, device=pm.device, dtype="float64")
            for k, v in attrs.items():
                h5.attrs[k] = int(v) if isinstance(v, bool) else v
        q = np.asarray(rec["q_pi"])
        print(f"{name:9s} P={len(policies):3d} T={a.steps} max|sum q_pi - 1|={np.abs(q.sum(1) - 1).max():.1e} "
              f"actions={np.asarray(rec['action']).tolist()}", flush=True)
    print(f"wrote {len(runs)} models and references to {out}")


def timed(pm, fn, args, repeat):
    block = pm.jax.block_until_ready
    block(fn(*args))  # compiles
    block(fn(*args))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        block(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(pm, a):
    np, jnp = pm.np, pm.jnp
    dtype = {"float64": jnp.float64, "float32": jnp.float32}[a.dtype]
    spec = MODELS["bench"]
    model, rng = make_model(np, spec)
    fresh = not os.path.exists(a.csv)
    with open(a.csv, "a", newline="") as fh:
        w = csv.writer(fh)
        if fresh:
            w.writerow(["date", "device", "jax", "pymdp_commit", "what", "dtype", "agents", "seconds_per_step",
                        "agent_steps_per_s"])
        for n in [int(x) for x in a.agents.split(",")]:
            agent = make_agent(pm, model, spec[3], n, dtype, a.sampling_mode)
            leaves, fns = jitted(pm, agent)
            obs = [jnp.asarray(rng.integers(0, no, size=n)) for no in spec[0]]
            prior = agent.D
            qs = fns["states"](leaves, obs, prior)
            for what, fn, args in (("infer_states+infer_policies", fns["step"], (leaves, obs, prior)),
                                   ("infer_states", fns["states"], (leaves, obs, prior)),
                                   ("infer_policies", fns["policies"], (leaves, qs))):
                s = timed(pm, fn, args, a.repeat)
                print(f"pymdp {what:<28} {a.dtype} {n:6d} agents {s:10.3e} s/step {n / s:12.4g} agent-steps/s "
                      f"({pm.device})", flush=True)
                w.writerow([datetime.date.today().isoformat(), pm.device, pm.jax.__version__, pm.commit, what,
                            a.dtype, n, f"{s:.6g}", f"{n / s:.6g}"])
                fh.flush()
            del agent, leaves, fns, qs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", metavar="OUT_DIR", help="write the models and pymdp's reference runs here")
    ap.add_argument("--steps", type=int, default=6, help="steps of each reference run (default 6)")
    ap.add_argument("--bench", action="store_true", help="time pymdp's jitted step")
    ap.add_argument("--csv", default="policy_pymdp.csv")
    ap.add_argument("--agents", default="1,1024,16384", help="batch sizes, comma-separated")
    ap.add_argument("--dtype", default="float64,float32", help="float64 and/or float32 (bench)")
    ap.add_argument("--repeat", type=int, default=10, help="timed calls per point (median)")
    ap.add_argument("--sampling-mode", choices=("full", "marginal"), default="full")
    a = ap.parse_args()
    if not a.reference and not a.bench:
        ap.print_help()
        return 2
    dtypes = [d.strip() for d in a.dtype.split(",") if d.strip()]
    if any(d not in ("float64", "float32") for d in dtypes):
        die(f"--dtype {a.dtype}: float64 and/or float32")
    rc = 0
    if a.reference:
        reference(load(x64=True), a)
    if a.bench and len(dtypes) == 1 and not a.reference:
        bench(load(x64=dtypes[0] == "float64"), argparse.Namespace(**{**vars(a), "dtype": dtypes[0]}))
    elif a.bench:  # jax_enable_x64 is process-wide: one process per dtype
        for d in dtypes:
            cmd = [sys.executable, __file__, "--bench", "--dtype", d, "--csv", a.csv, "--agents", a.agents,
                   "--repeat", str(a.repeat), "--sampling-mode", a.sampling_mode]
            rc = max(rc, subprocess.run(cmd).returncode)
    return rc


if __name__ == "__main__":
    sys.exit(main())
