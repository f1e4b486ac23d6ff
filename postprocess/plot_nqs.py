#!/usr/bin/env python3
"""Plot a prism nqs run: variational energy with its error bar against
iteration, the exact reference when the deck gave nqs.reference_energy
(and the relative error on a log scale), and acceptance and split-R-hat.
The figure is workloads/nqs.py's; plot.py draws it too.

usage: plot_nqs.py RUN.h5 [-o nqs.png]
"""
import plot

if __name__ == "__main__":
    plot.main(only="nqs", tool="plot_nqs.py", doc=__doc__)
