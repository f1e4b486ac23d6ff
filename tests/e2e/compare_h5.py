#!/usr/bin/env python3
"""Bitwise comparison of one group of two prism HDF5 files: every dataset
(values, dtype, shape) and every attribute, recursively.

usage: compare_h5.py A.h5 B.h5 GROUP [--ignore PATH ...]
PATH is a dataset or group path ("/nqs/time") or an attribute ("/nqs/checkpoint@fingerprint").
Exit 0 when identical, 1 with a list of the differences otherwise.
"""
import argparse
import sys

import h5py
import numpy as np


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "SUO" or b.dtype.kind in "SUO":
        return a.shape == b.shape and a.tobytes() == b.tobytes() if a.dtype == b.dtype else str(a) == str(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("group")
    ap.add_argument("--ignore", nargs="*", default=[])
    args = ap.parse_args()
    ignore = set(args.ignore)
    diffs = []
    with h5py.File(args.a, "r") as fa, h5py.File(args.b, "r") as fb:
        def attrs(path):
            ka = {k for k in fa[path].attrs if f"{path}@{k}" not in ignore}
            kb = {k for k in fb[path].attrs if f"{path}@{k}" not in ignore}
            for k in sorted(ka ^ kb):
                diffs.append(f"{path}@{k}: only in {'A' if k in ka else 'B'}")
            for k in sorted(ka & kb):
                if not same(fa[path].attrs[k], fb[path].attrs[k]):
                    diffs.append(f"{path}@{k}: {fa[path].attrs[k]!r} != {fb[path].attrs[k]!r}")

        def walk(path):
            if path in ignore:
                return
            if path not in fa or path not in fb:
                diffs.append(f"{path}: only in {'A' if path in fa else 'B'}")
                return
            oa, ob = fa[path], fb[path]
            attrs(path)
            if isinstance(oa, h5py.Group):
                for k in sorted(set(oa) | set(ob)):
                    walk(f"{path}/{k}")
            elif not same(oa[()], ob[()]):
                diffs.append(f"{path}: values differ")

        walk(args.group)
    for d in diffs:
        print(d)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
