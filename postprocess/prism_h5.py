"""Small helpers shared by the post-processing scripts (h5py + numpy only)."""
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


def run_metadata(obj):
    """/metadata attributes of the file an h5py file, group or dataset belongs to."""
    f = obj.file
    return attrs_of(f["metadata"]) if "metadata" in f else {}


def group_of(file_or_group, name):
    """/name of a file, or the group itself when given a group."""
    if isinstance(file_or_group, h5py.File) or file_or_group.name == "/":
        if name not in file_or_group:
            raise KeyError(f"{file_or_group.filename} has no /{name} group")
        return file_or_group[name]
    return file_or_group
