#!/usr/bin/env python3
"""Plot a prism run with its workload's figure (the module in workloads/ that
the table in workloads/__init__.py names for the run's /<workload> group).

usage: plot.py RUN.h5 [-o out.png]
"""
import argparse
import sys

import workloads
from prism_h5 import read_run


def main(only=None, tool="plot.py", doc=__doc__):
    """The command line of plot.py; plot_<name>.py wrappers pass only=<name>."""
    ap = argparse.ArgumentParser(prog=tool, description=doc.split("\n")[0])
    ap.add_argument("run", help=f"prism HDF5 output file{f' with an /{only} group' if only else ''}")
    ap.add_argument("-o", "--output", default=None,
                    help=f"PNG path (default: RUN_{only or '<workload>'}.png)")
    args = ap.parse_args()
    try:
        _, _, f = read_run(args.run)
    except (OSError, KeyError) as err:
        sys.exit(f"{tool}: cannot read {args.run}: {err}")
    found = [w for w in workloads.found_in(f) if only is None or w[0] == only]
    if not found:
        what = f"no /{only} group" if only else \
            f"no workload group with a post-processing module ({', '.join(workloads.WORKLOADS)})"
        sys.exit(f"{tool}: {args.run} has {what}")
    stem = args.run.rsplit(".h5", 1)[0]
    for name, group, module in found:
        if args.output and len(found) == 1:
            out = args.output
        elif args.output:  # one figure per workload the file holds
            out = args.output.rsplit(".png", 1)[0] + f"_{name}.png"
        else:
            out = f"{stem}_{name}.png"
        module.plot(group, out)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
