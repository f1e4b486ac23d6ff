#!/usr/bin/env python3
"""The peer of prism's te on a GPU: KSG algorithm 1 transfer entropy
(k = l = 1, K = 4, max norm) written the way a PyTorch user would, with
torch.cdist(p=inf) + topk for the joint-space neighbours and broadcast
comparisons for the counts, in float64, over row chunks so that memory
stays bounded.  For each N it writes the series it used to DIR/pairN.txt
(two columns: source, target) so that prism can be run on the same data,
and appends one CSV row (N, seconds of the TE after a warm-up, TE,
joint-space pairs per second of the kNN search).

    te_torch_ksg.py --n 10000,65536 --dir DIR --csv FILE
"""
import argparse
import csv
import datetime
import os
import time

import numpy as np
import torch


def ksg1(x, xp, yp, K, chunk):
    n = x.shape[0]
    joint = torch.stack([x, xp, yp], 1)
    eps = torch.empty(n, dtype=x.dtype, device=x.device)
    knn_s = 0.0
    t0 = time.perf_counter()
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        d = torch.cdist(joint[s:e], joint, p=float("inf"))
        rows = torch.arange(e - s, device=x.device)
        d[rows, rows + s] = float("inf")  # not its own neighbour
        eps[s:e] = torch.topk(d, K, dim=1, largest=False).values[:, -1]
    torch.cuda.synchronize()
    knn_s = time.perf_counter() - t0
    nz = torch.empty(n, dtype=torch.int64, device=x.device)
    nxz, nyz = torch.empty_like(nz), torch.empty_like(nz)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        r = eps[s:e, None]
        inz = (xp[s:e, None] - xp[None, :]).abs() < r
        nz[s:e] = inz.sum(1) - 1  # minus itself (distance 0 < eps)
        nxz[s:e] = (inz & ((x[s:e, None] - x[None, :]).abs() < r)).sum(1) - 1
        nyz[s:e] = (inz & ((yp[s:e, None] - yp[None, :]).abs() < r)).sum(1) - 1
    dg = torch.special.digamma
    te = dg(torch.tensor(float(K), dtype=x.dtype)) + (
        dg((nz + 1).to(x.dtype)) - dg((nxz + 1).to(x.dtype)) - dg((nyz + 1).to(x.dtype))
    ).mean().cpu()
    return float(te), knn_s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="10000,65536")
    ap.add_argument("--dir", default=".")
    ap.add_argument("--csv", default="te_torch.csv")
    ap.add_argument("--chunk", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    dev = torch.device("cuda")
    name = torch.cuda.get_device_name(0)
    fresh = not os.path.exists(a.csv)
    with open(a.csv, "a", newline="") as f:
        w = csv.writer(f)
        if fresh:
            w.writerow(["date", "device", "torch", "observations", "seconds", "te", "knn_seconds", "knn_pairs_per_s"])
        for n in (int(v) for v in a.n.split(",")):
            rng = np.random.default_rng(n)
            y = rng.standard_normal(n + 1)
            x = np.empty(n + 1)
            x[0] = rng.standard_normal()
            x[1:] = (2.0 / 3.0) * y[:-1] + rng.standard_normal(n)
            np.savetxt(os.path.join(a.dir, f"pair{n}.txt"), np.column_stack([y, x]), fmt="%.17g")
            xt = torch.tensor(x[1:], device=dev)
            xp = torch.tensor(x[:-1], device=dev)
            yp = torch.tensor(y[:-1], device=dev)
            ksg1(xt, xp, yp, 4, a.chunk)  # warm-up
            times = []
            for _ in range(a.repeat):
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                te, knn_s = ksg1(xt, xp, yp, 4, a.chunk)
                times.append(time.perf_counter() - t0)
            s = sorted(times)[len(times) // 2]
            print(f"torch KSG1 N = {n}: {s * 1e3:.1f} ms (kNN {knn_s * 1e3:.1f} ms, "
                  f"{n * n / knn_s / 1e9:.2f} G pairs/s), TE {te:.9f}, {name}, torch {torch.__version__}", flush=True)
            w.writerow([datetime.date.today().isoformat(), name, torch.__version__, n, s, te, knn_s, n * n / knn_s])


if __name__ == "__main__":
    main()
