#!/usr/bin/env python3
"""Write a discrete active-inference model in the HDF5 layout prism's policy
workload reads (`task = "hdf5"`, docs/policy.md), from pymdp objects or plain
arrays.

Layout (all float64 unless noted; pymdp's index order):
    /A<m>               [outcomes][states of each factor it depends on...]
    /A<m>_dependencies  int64, the factors of modality m (default: all)
    /B<f>               [next state][previous state][control]
    /C<m>               [outcomes] log-preferences (default: uniform 1/outcomes, as pymdp)
    /D<f>               [states] initial-state prior (default: uniform)
    /E                  [policies] policy prior (default: uniform)
    /policies           int64 [policies][policy_len][factor]: the agent's own list
                        (default: every sequence of policy_len control tuples)
    /world_D<f>         [states] the world's initial states (default: D)
    /world_A<m>, /world_B<f>  the world's own likelihoods and transitions, shaped as
                        A<m> and B<f> (default: the model's)
    /success            int64 [modality, outcome] counted as task success (optional)

From Python:
    from pymdp_to_prism import write_model, from_agent
    write_model("model.h5", A, B, C=C, D=D, A_dependencies=deps)
    write_model("model.h5", **from_agent(agent))   # a pymdp (JAX) Agent

Command line:
    pymdp_to_prism.py --check model.h5   prints the shapes and checks the columns
"""
import argparse
import sys


def _array(x):
    import numpy as np

    return np.asarray(x, dtype=np.float64)


def from_agent(agent, batch_index=0):
    """A, B, C, D, E, A_dependencies and the policies of a pymdp Agent, without its batch axis."""

    def unbatch(arrays):
        return [_array(a)[batch_index] for a in arrays]

    import numpy as np

    return dict(A=unbatch(agent.A), B=unbatch(agent.B), C=unbatch(agent.C), D=unbatch(agent.D),
                E=_array(agent.E)[batch_index], A_dependencies=[list(d) for d in agent.A_dependencies],
                policies=np.asarray(agent.policies.policy_arr).astype(np.int64))


def write_model(path, A, B, C=None, D=None, E=None, A_dependencies=None, world_D=None, success=None,
                policies=None, world_A=None, world_B=None):
    import h5py
    import numpy as np

    A = [_array(a) for a in A]
    B = [_array(b) for b in B]
    num_states = [b.shape[0] for b in B]
    for f, b in enumerate(B):
        if b.ndim != 3 or b.shape[0] != b.shape[1]:
            raise ValueError(f"B[{f}] has shape {b.shape}; [states][states][controls] is needed")
    deps = A_dependencies or [list(range(len(B)))] * len(A)
    with h5py.File(path, "w") as h5:
        for m, a in enumerate(A):
            want = (a.shape[0],) + tuple(num_states[d] for d in deps[m])
            if a.shape != want:
                raise ValueError(f"A[{m}] has shape {a.shape}; {want} is needed for factors {deps[m]}")
            h5[f"A{m}"] = a
            h5[f"A{m}_dependencies"] = np.asarray(deps[m], dtype=np.int64)
            if C is not None:
                h5[f"C{m}"] = _array(C[m])
            if world_A is not None and world_A[m] is not None:
                if _array(world_A[m]).shape != a.shape:
                    raise ValueError(f"world_A[{m}] has shape {_array(world_A[m]).shape}; A[{m}]'s {a.shape} is needed")
                h5[f"world_A{m}"] = _array(world_A[m])
        for f, b in enumerate(B):
            h5[f"B{f}"] = b
            if D is not None:
                h5[f"D{f}"] = _array(D[f])
            if world_D is not None:
                h5[f"world_D{f}"] = _array(world_D[f])
            if world_B is not None and world_B[f] is not None:
                if _array(world_B[f]).shape != b.shape:
                    raise ValueError(f"world_B[{f}] has shape {_array(world_B[f]).shape}; B[{f}]'s {b.shape} is needed")
                h5[f"world_B{f}"] = _array(world_B[f])
        if E is not None:
            h5["E"] = _array(E)
        if success is not None:
            h5["success"] = np.asarray(success, dtype=np.int64)
        if policies is not None:
            pol = np.asarray(policies, dtype=np.int64)
            if pol.ndim != 3 or pol.shape[2] != len(B):
                raise ValueError(f"policies has shape {pol.shape}; [policies][policy_len][{len(B)}] is needed")
            h5["policies"] = pol


def check(path):
    import h5py
    import numpy as np

    with h5py.File(path, "r") as h5:
        for name in sorted(h5):
            data = h5[name][...]
            line = f"{name:20s} {data.shape}"
            if name[0] in "AB" and not name.endswith("_dependencies"):
                worst = np.abs(data.sum(axis=0) - 1).max()
                line += f"  columns sum to 1 within {worst:.1e}"
            print(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", metavar="MODEL_H5", help="print the arrays of a model file and check its columns")
    a = ap.parse_args()
    if not a.check:
        ap.print_help()
        return 2
    check(a.check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
