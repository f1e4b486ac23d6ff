#!/usr/bin/env python3
"""The PyTorch peer of prism's classifier on a GPU, and the reference outputs
prism's inference is tested against.

Benchmarks (one CSV row each): inference of N observations through the
100-64-32-16-5 ReLU network, softmax and the free energy against the Gaussian
generative model (what prism's inference computes), eager and torch.compile,
float32 (also with TF32 tensor cores allowed) and float64; and one training epoch of N samples with AdamW on
cross-entropy at the given batch size, eager.

With --reference IN --write OUT: reads the observations, weights and prism's q
that `bench_classifier --reference IN` wrote, computes q with PyTorch in
float64 (and float32), prints the largest difference to prism's and writes
OUT (features, weights, torch_q64, torch_q32) for tests/physics.

    classifier_torch.py [--n 1000000] [--batch 1024] [--csv FILE] [--reference IN --write OUT]
"""
import argparse
import csv
import datetime
import math
import os
import time

import h5py
import numpy as np
import torch


def network(widths, dtype, device):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).to(device=device, dtype=dtype)


def load_weights(net, h5):
    linear = [m for m in net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for l, m in enumerate(linear):
            m.weight.copy_(torch.from_numpy(h5[f"classifier/weights/W{l}"][...]))
            m.bias.copy_(torch.from_numpy(h5[f"classifier/weights/b{l}"][...]))


def make_step(net, mu, inv_var, log_norm):
    # log p(o|s) + log p(s) through matrix products: -1/2 sum_d (o_d - mu_sd)^2 / sigma_sd^2 + const.
    mu_iv = mu * inv_var
    const = log_norm - 0.5 * (mu * mu_iv).sum(1)

    def step(x):
        log_q = torch.log_softmax(net(x), dim=1)
        joint = -0.5 * (x * x) @ inv_var.T + x @ mu_iv.T + const
        q = log_q.exp()
        free_energy = (q * (log_q - joint)).sum(1)
        return q, free_energy

    return step


def timed(f, repeat=3):
    f()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--csv", default="classifier_torch.csv")
    ap.add_argument("--reference")
    ap.add_argument("--write")
    a = ap.parse_args()
    dev = torch.device("cuda")
    name = torch.cuda.get_device_name(0)
    widths = [100, 64, 32, 16, 5]
    if a.reference:
        with h5py.File(a.reference, "r") as h5:
            x = h5["features"][...]
            prism_q = h5["prism_q"][...]
            out = {}
            for dtype, key in ((torch.float64, "torch_q64"), (torch.float32, "torch_q32")):
                net = network(widths, dtype, dev)
                load_weights(net, h5)
                with torch.no_grad():
                    out[key] = torch.softmax(net(torch.from_numpy(x).to(dev, dtype)), 1).double().cpu().numpy()
                print(f"{key}: max |q_torch - q_prism| = {np.abs(out[key] - prism_q).max():.3e}", flush=True)
            if a.write:
                with h5py.File(a.write, "w") as o:
                    o["features"] = x
                    o["classifier/widths"] = h5["classifier/widths"][...]
                    for k in h5["classifier/weights"]:
                        o[f"classifier/weights/{k}"] = h5[f"classifier/weights/{k}"][...]
                    for k, v in out.items():
                        o[k] = v
                    o.attrs["torch"] = str(torch.__version__)
                    o.attrs["device"] = str(name)
    fresh = not os.path.exists(a.csv)
    with open(a.csv, "a", newline="") as f:
        w = csv.writer(f)
        if fresh:
            w.writerow(["date", "device", "torch", "what", "dtype", "samples", "batch", "seconds", "samples_per_s"])

        def row(what, dtype, s):
            print(f"torch {what:<22} {str(dtype):<14} {a.n} samples {s:9.4f} s {a.n / s:12.4g} samples/s ({name})",
                  flush=True)
            w.writerow([datetime.date.today().isoformat(), name, torch.__version__, what, str(dtype), a.n, a.batch,
                        s, a.n / s])

        gen = torch.Generator(device=dev).manual_seed(1)
        for dtype in (torch.float32, torch.float64):
            net = network(widths, dtype, dev)
            x = torch.randn(a.n, widths[0], device=dev, dtype=dtype, generator=gen)
            mu = 0.25 * torch.randn(widths[-1], widths[0], device=dev, dtype=dtype, generator=gen)
            sigma = 0.9 + 0.2 * torch.rand(widths[-1], widths[0], device=dev, dtype=dtype, generator=gen)
            prior = torch.tensor([0.7, 0.1, 0.1, 0.05, 0.05], device=dev, dtype=dtype)
            log_norm = prior.log() - (sigma.log() + 0.5 * math.log(2 * math.pi)).sum(1)
            step = make_step(net, mu, 1 / sigma**2, log_norm)
            with torch.no_grad():
                row("inference eager", dtype, timed(lambda: step(x)))
                compiled = torch.compile(step)
                row("inference compile", dtype, timed(lambda: compiled(x)))
                if dtype == torch.float32:
                    # PyTorch's own tensor-core option: one TF32 pass per product, about
                    # three decimal digits (prism's tensor kernel splits operands to keep float's).
                    torch.backends.cuda.matmul.allow_tf32 = True
                    torch._dynamo.reset()
                    compiled = torch.compile(step)
                    row("inference compile tf32", dtype, timed(lambda: compiled(x)))
                    torch.backends.cuda.matmul.allow_tf32 = False
                    torch._dynamo.reset()
            labels = torch.randint(0, widths[-1], (a.n,), device=dev, generator=gen)
            opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-2)
            loss_fn = torch.nn.CrossEntropyLoss()

            def epoch():
                order = torch.randperm(a.n, device=dev, generator=gen)
                for b in range(0, a.n, a.batch):
                    idx = order[b:b + a.batch]
                    opt.zero_grad(set_to_none=True)
                    loss_fn(net(x[idx]), labels[idx]).backward()
                    opt.step()

            row("training epoch eager", dtype, timed(epoch, repeat=1))


if __name__ == "__main__":
    main()
