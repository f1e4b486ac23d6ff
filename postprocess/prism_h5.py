"""Small helpers shared by the post-processing scripts (h5py + numpy only)."""
import sys

import h5py
import numpy as np


def attr_str(value):
    """HDF5 string attributes come back as bytes or str depending on h5py."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.dtype.kind == "S":
        return value.tobytes().decode("utf-8", "replace")
    return str(value) if not isinstance(value, (int, float, np.number)) else value


def read_run(path):
    """Returns (metadata dict, timings dict phase -> {min, mean, max, per_rank}, file handle)."""
    f = h5py.File(path, "r")
    meta = {k: attr_str(v) for k, v in f["/metadata"].attrs.items()}
    timings = {}
    if "timings" in f:
        for phase, grp in f["timings"].items():
            timings[phase] = {k: np.array(grp[k]) for k in grp}
    return meta, timings, f


def attrs_of(group):
    """A group's attributes as a dict of Python values (strings decoded)."""
    return {k: attr_str(v) for k, v in group.attrs.items()}


def read_workload(path, name, tool):
    """(metadata, file, /name group) of a run; exits naming the tool and file
    when the run has no such workload group."""
    meta, _, f = read_run(path)
    if name not in f:
        sys.exit(f"{tool}: {path} has no /{name} group")
    return meta, f, f[name]
