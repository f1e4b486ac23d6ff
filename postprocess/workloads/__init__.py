"""The one table of post-processing modules: workload name (its deck section
and its /<name> group in the HDF5 file) -> module.

Each module provides
    summary(group, out)          print the results of /<name> to the stream out
    work(group)                  the work the run did, for scaling.py
    plot(file_or_group, output)  draw its figure into the PNG path output

summary.py, scaling.py and plot.py find a run's workload here and name none.
Adding a workload: one module in this folder and one line in WORKLOADS.
"""
from importlib import import_module

from prism_h5 import attr_str


def _module(name):
    """workloads/<name>.py, imported here so that each row below is the only
    line a new workload adds."""
    return import_module(f".{name}", __name__)


WORKLOADS = {
    "thermo": _module("thermo"),
    "nqs": _module("nqs"),
    "te": _module("te"),
    "classifier": _module("classifier"),
    "policy": _module("policy"),
    "gnn": _module("gnn"),
    "oscillators": _module("oscillators"),
}


def declared(f):
    """The workload /metadata names (\"\" when it names none)."""
    meta = f["metadata"].attrs if "metadata" in f else {}
    return attr_str(meta["workload"]) if "workload" in meta else ""


def found_in(f):
    """[(name, group, module)] of every workload of the table with a group in
    the open file f, the one /metadata names first."""
    first = declared(f)
    names = sorted(WORKLOADS, key=lambda n: n != first)
    return [(n, f[n], WORKLOADS[n]) for n in names if n in f]
