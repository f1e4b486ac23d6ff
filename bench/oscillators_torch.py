#!/usr/bin/env python3
"""The peer of prism's oscillators on a GPU: the same all-to-all noisy
Kuramoto model (first order, Euler-Maruyama, K/N coupling through the order
parameter Z = sum_j exp(i theta_j)) written plainly in PyTorch, as a user of
that library would: one step is a few whole-array operations (cos, sin, two
sums, randn, an update), in float64 or float32, optionally through
torch.compile.  It times `steps` steps after a warm-up and appends one CSV
row per configuration (N, dtype, mode, seconds per step, oscillator-steps
per ns, and r at the end as a sanity check against prism's).

    oscillators_torch.py --n 100000000 --steps 100 --csv FILE [--compile]
"""
import argparse
import csv
import datetime
import os
import time

import torch


def step(theta, omega, K, T, dt):
    z_re = torch.cos(theta).sum()
    z_im = torch.sin(theta).sum()
    n = theta.shape[0]
    # sum_j sin(theta_j - theta_i) = Im(exp(-i theta_i) Z)
    force = omega + (K / n) * (z_im * torch.cos(theta) - z_re * torch.sin(theta))
    return theta + dt * force + (2 * T * dt) ** 0.5 * torch.randn_like(theta)


def run(n, steps, dtype, compiled, K=2.0, T=1.0, dt=0.01):
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(1)
    theta = 2 * torch.pi * torch.rand(n, generator=g, device=dev, dtype=dtype)
    omega = torch.zeros(n, device=dev, dtype=dtype)
    f = torch.compile(step) if compiled else step
    for _ in range(5):  # warm-up (and compilation)
        theta = f(theta, omega, K, T, dt)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        theta = f(theta, omega, K, T, dt)
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - t0) / steps
    r = torch.abs(torch.exp(1j * theta.to(torch.float64)).mean()).item()
    return seconds, r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="100000000")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--csv", default="oscillators_torch.csv")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile")
    a = ap.parse_args()
    fresh = not os.path.exists(a.csv) or os.path.getsize(a.csv) == 0
    with open(a.csv, "a", newline="") as fh:
        w = csv.writer(fh)
        if fresh:
            w.writerow(["date", "peer", "device", "N", "dtype", "mode", "seconds_per_step",
                        "oscillator_steps_per_ns", "r_end"])
        for n in (int(x) for x in a.n.split(",")):
            for dtype in (torch.float64, torch.float32):
                for compiled in ([False, True] if a.compile else [False]):
                    s, r = run(n, a.steps, dtype, compiled)
                    mode = "compile" if compiled else "eager"
                    rate = n / s * 1e-9
                    print(f"torch {mode:8s} {str(dtype):14s} N={n}: {s * 1e3:.3f} ms/step, "
                          f"{rate:.2f} oscillator-steps/ns, r = {r:.4f}", flush=True)
                    w.writerow([datetime.date.today().isoformat(), "pytorch", torch.cuda.get_device_name(),
                                n, str(dtype).replace("torch.", ""), mode, f"{s:.6g}", f"{rate:.4g}", f"{r:.5f}"])


if __name__ == "__main__":
    main()
