#!/usr/bin/env python3
"""Plot E/N, C/N, <|M|>/N and chi/N against T from a prism thermo run, with
the exact curves where they exist (2D Ising: Kaufman's finite-lattice energy
and specific heat at the run's L, Onsager's magnetisation of the infinite
lattice).  The figure is workloads/thermo.py's; plot.py draws it too.

usage: plot_thermo.py RUN.h5 [-o thermo.png]
"""
import plot

if __name__ == "__main__":
    plot.main(only="thermo", tool="plot_thermo.py", doc=__doc__)
