#!/usr/bin/env python3
"""The plain-JAX peer of prism's nqs benchmark: time per SR iteration of the
10x10 Heisenberg model, written for this benchmark (not taken from NetKet).

Same problem as prism's `nqs` workload (docs/nqs.md): H = J sum_<ij> (SxSx +
SySy + Delta SzSz), S = sigma/2, on a periodic LxL square lattice or chain,
sampled in the Sz = 0 sector; an RBM with real parameters times the Marshall
sign; Metropolis exchanges of nearest-neighbour pairs with per-chain theta
tables updated on accepted moves; local energies from the same tables; SR
solved by matrix-free CG (jax.scipy.sparse.linalg.cg), warm-started.

    python3 bench/nqs_jax.py --L 10 --chains 16384 --samples 4 --iterations 20 --csv out.csv
    python3 bench/nqs_jax.py --chain 8 --chains 1024 --iterations 300   # exact E/N: -0.456387
    python3 bench/nqs_jax.py --selftest-numpy                          # no JAX needed

The formula functions take an array module `xp` (numpy or jax.numpy), so the
numpy self-test runs the very code the JAX path jits.
"""
import argparse
import csv
import math
import os
import time

import numpy as np


def lattice(Lx, Ly):
    """Bonds (each nearest-neighbour pair once, periodic) and sublattice A mask."""
    bonds = []
    for y in range(Ly):
        for x in range(Lx):
            k = x + Lx * y
            bonds.append((k, (x + 1) % Lx + Lx * y))
            if Ly > 1:
                bonds.append((k, x + Lx * ((y + 1) % Ly)))
    sub_a = np.array([(k % Lx + k // Lx) % 2 == 0 for k in range(Lx * Ly)])
    bonds = np.array(bonds, dtype=np.int32)
    # The Marshall factor -1 on every exchange needs each bond to join A and B.
    assert np.all(sub_a[bonds[:, 0]] != sub_a[bonds[:, 1]]), "lattice is not bipartite (odd side?)"
    return bonds, sub_a


# ---- formulas shared by the JAX path and the numpy self-test -------------------------

def logcosh(xp, x):
    # |x| + log(1 + e^{-2|x|}) - log 2: no overflow of cosh for large angles.
    ax = xp.abs(x)
    return ax + xp.log1p(xp.exp(-2.0 * ax)) - math.log(2.0)


def unpack(p, N, M):
    """Flat parameters [a, b, W column-major] as in prism -> a (N), b (M), Wt = W^T (N, M)."""
    return p[:N], p[N:N + M], p[N + M:].reshape(N, M)


def angles(s, b, Wt):
    return s @ Wt + b                                     # theta_j = b_j + sum_i W_ji s_i


def log_psi(xp, p, s, N, M):
    a, b, Wt = unpack(p, N, M)
    return s @ a + xp.sum(logcosh(xp, angles(s, b, Wt)), -1)


def exchange_logratio(xp, a, Wt, theta, si, sj, i, j):
    """log |psi_RBM(s')/psi_RBM(s)| for exchanging the spins of sites i, j, and theta(s').

    Exchanging s_i, s_j changes s_i by d = s_j - s_i and s_j by -d (d = 0 when they are
    equal), so theta' = theta + d (W[:, i] - W[:, j]): O(M), no recomputation.
    Shapes broadcast: theta (..., M), si/sj (...), i/j index Wt's rows.
    """
    d = sj - si
    theta_new = theta + d[..., None] * (Wt[i] - Wt[j])
    lr = d * (a[i] - a[j]) + xp.sum(logcosh(xp, theta_new) - logcosh(xp, theta), -1)
    return lr, theta_new


def metropolis_step(xp, a, Wt, bonds, s, theta, bond_idx, u):
    """One exchange proposal per chain: s (C, N), theta (C, M), bond_idx/u (C,)."""
    i, j = bonds[bond_idx, 0], bonds[bond_idx, 1]
    rows = xp.arange(s.shape[0])
    si, sj = s[rows, i], s[rows, j]
    lr, theta_new = exchange_logratio(xp, a, Wt, theta, si, sj, i, j)
    # min(1, |psi'/psi|^2); equal spins count as rejected (the move changes nothing).
    accept = (si != sj) & (xp.log(u) < 2.0 * lr)
    # Exchanging anti-aligned spins = negating both; a one-hot mask keeps this xp-generic.
    pos = xp.arange(s.shape[1])
    hit = accept[:, None] & ((pos == i[:, None]) | (pos == j[:, None]))
    return xp.where(hit, -s, s), xp.where(accept[:, None], theta_new, theta), accept


def local_energy(xp, a, Wt, bonds, s, theta, J, Delta, sign):
    """E_loc(s) = J Delta/4 sum_b s_i s_j + J/2 * sign * sum_{b: s_i != s_j} |psi(s')/psi(s)|.

    sign = -1 with the Marshall rule: every nearest-neighbour exchange changes the
    number of up spins on sublattice A by one. Vectorised over samples and bonds.
    """
    i, j = bonds[:, 0], bonds[:, 1]
    si, sj = s[:, i], s[:, j]                             # (Ns, nb)
    lr, _ = exchange_logratio(xp, a, Wt, theta[:, None, :], si, sj, i, j)
    diag = (J * Delta / 4.0) * xp.sum(si * sj, -1)
    off = xp.sum(xp.where(si != sj, xp.exp(lr), 0.0), -1)
    return diag + (J / 2.0) * sign * off


def log_derivatives(xp, s, t):
    """O = d log psi / d p in prism's order: a: s_i; b: tanh theta_j; W (column-major): t_j s_i."""
    Ns = s.shape[0]
    return xp.concatenate([s, t, (s[:, :, None] * t[:, None, :]).reshape(Ns, -1)], axis=1)


def sr_matvec(Ob, v, shift):
    """(S + lambda I) v with S = Ob^T Ob / Ns, never formed."""
    return Ob.T @ (Ob @ v) / Ob.shape[0] + shift * v


# ---- the JAX benchmark -----------------------------------------------------------------

def run_jax(args):
    import jax
    jax.config.update("jax_enable_x64", True)
    if args.float32:                                      # no TF32 in the float32 matrix products
        jax.config.update("jax_default_matmul_precision", "highest")
    import jax.numpy as jnp
    from jax.scipy.sparse.linalg import cg

    Lx, Ly = (args.chain, 1) if args.chain else (args.L, args.L)
    bonds_np, _ = lattice(Lx, Ly)
    N, nb = Lx * Ly, len(bonds_np)
    assert N % 2 == 0, "Sz = 0 needs an even number of sites"
    M = int(round(args.alpha * N))
    P = N + M + N * M
    C, S = args.chains, args.samples
    Ns = C * S
    dtype = jnp.float32 if args.float32 else jnp.float64
    J, Delta, sign = 1.0, 1.0, -1.0
    bonds = jnp.asarray(bonds_np)
    chunk = max(k for k in range(1, min(args.energy_chunk, Ns) + 1) if Ns % k == 0)

    key = jax.random.key(args.seed)
    k_init, k_spin, k_run = jax.random.split(key, 3)
    p = (args.init_scale * jax.random.normal(k_init, (P,), dtype=jnp.float64)).astype(dtype)
    # Each chain starts from a random configuration with exactly N/2 up spins.
    u0 = jax.random.uniform(k_spin, (C, N))
    spins = jnp.where(u0 < jnp.sort(u0, axis=1)[:, N // 2:N // 2 + 1], 1.0, -1.0).astype(dtype)

    def proposals(a, Wt, s, theta, nacc, key, n):
        def body(q, carry):
            s, theta, nacc = carry
            kb, ku = jax.random.split(jax.random.fold_in(key, q))
            bi = jax.random.randint(kb, (C,), 0, nb)
            u = jax.random.uniform(ku, (C,), dtype=dtype)
            s, theta, acc = metropolis_step(jnp, a, Wt, bonds, s, theta, bi, u)
            return s, theta, nacc + jnp.sum(acc)
        return jax.lax.fori_loop(0, n, body, (s, theta, nacc))

    @jax.jit
    def sample(p, s, key):
        a, b, Wt = unpack(p, N, M)
        theta = angles(s, b, Wt)                          # fresh tables each iteration
        s, theta, nacc = proposals(a, Wt, s, theta, jnp.int64(0), jax.random.fold_in(key, 0),
                                   args.thermalization * N)

        def record(carry, k):                             # one sweep, then one sample
            s, theta, nacc = proposals(a, Wt, *carry, jax.random.fold_in(key, k + 1), N)
            return (s, theta, nacc), (s, theta)
        (s, _, nacc), (ss, tt) = jax.lax.scan(record, (s, theta, nacc), jnp.arange(S))
        ss, tt = ss.reshape(Ns, N), tt.reshape(Ns, M)
        # Chunks over samples bound the (chunk, bonds, M) intermediate of the energy.
        eloc = jax.lax.map(lambda x: local_energy(jnp, a, Wt, bonds, x[0], x[1], J, Delta, sign),
                           (ss.reshape(-1, chunk, N), tt.reshape(-1, chunk, M))).reshape(Ns)
        return s, ss, tt, eloc, nacc / ((args.thermalization + S) * N * C)

    @jax.jit
    def sr(p, ss, tt, eloc, delta0, eta):
        Ob = log_derivatives(jnp, ss, jnp.tanh(tt))
        Ob = Ob - jnp.mean(Ob, axis=0)
        F = Ob.T @ (eloc - jnp.mean(eloc)) / Ns
        delta, _ = cg(lambda v: sr_matvec(Ob, v, args.diag_shift), F, x0=delta0,
                      tol=args.cg_tol, atol=0.0, maxiter=args.cg_maxiter)
        return p - eta * delta, delta

    device = jax.devices()[0].device_kind
    print(f"nqs_jax: {Lx}x{Ly} Heisenberg, N={N} M={M} P={P}, {C} chains x {S} samples = {Ns}, "
          f"{'float32' if args.float32 else 'float64'}, device {device}")
    delta = jnp.zeros(P, dtype)
    warmup, t_sample, t_sr, energy = 2, 0.0, 0.0, float("nan")
    for it in range(warmup + args.iterations):
        eta = jnp.asarray(args.lr / (1.0 + args.decay * it), dtype)
        t0 = time.perf_counter()
        spins, ss, tt, eloc, acc = sample(p, spins, jax.random.fold_in(k_run, it))
        eloc.block_until_ready()
        t1 = time.perf_counter()
        p, delta = sr(p, ss, tt, eloc, delta, eta)
        p.block_until_ready()
        t2 = time.perf_counter()
        if it >= warmup:                                  # the first two compile
            t_sample += t1 - t0
            t_sr += t2 - t1
        energy = float(jnp.mean(eloc)) / N
        if it % 10 == 0 or it == warmup + args.iterations - 1:
            print(f"iter {it:5d}  E/N {energy:.6f}  acceptance {float(acc):.3f}  "
                  f"sample {t1 - t0:.3f} s  sr {t2 - t1:.3f} s")
    n = max(args.iterations, 1)
    ts, tr = t_sample / n, t_sr / n
    rel = abs((energy - args.reference) / args.reference)
    print(f"summary: jax on {device}, {ts:.4f} s/iter sampling+E_loc, {tr:.4f} s/iter SR, "
          f"{ts + tr:.4f} s/iter total, final E/N {energy:.6f} (relative error {rel:.3g} "
          f"vs {args.reference})")
    if args.csv:
        new = not os.path.exists(args.csv)
        with open(args.csv, "a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["implementation", "device", "N", "M", "chains", "samples_per_iteration",
                            "iterations_timed", "sample_s_per_iter", "sr_s_per_iter",
                            "total_s_per_iter", "final_energy_per_site"])
            w.writerow(["jax-float32" if args.float32 else "jax", device, N, M, C, Ns,
                        args.iterations, f"{ts:.6g}", f"{tr:.6g}", f"{ts + tr:.6g}", f"{energy:.8g}"])


# ---- numpy self-test of the shared formulas ----------------------------------------------

def selftest_numpy():
    rng = np.random.default_rng(7)
    N, M = 8, 16
    bonds, sub_a = lattice(N, 1)
    J, Delta = 1.0, 1.0
    # All 2^N states; site k is up when bit N-1-k is 0 (kron order, |up> first).
    idx = np.arange(2 ** N)
    allst = 1.0 - 2.0 * ((idx[:, None] >> (N - 1 - np.arange(N))) & 1)
    sector = allst.sum(1) == 0
    sec = allst[sector]                                   # the 70 Sz = 0 states
    marshall = (-1.0) ** np.sum((allst > 0) & sub_a, axis=1)

    # Dense H from Pauli matrices, independent of the local-energy code.
    sx = np.array([[0, 1], [1, 0]]) / 2
    sy = np.array([[0, -1j], [1j, 0]]) / 2
    sz = np.array([[1, 0], [0, -1]]) / 2

    def site_op(op, k):
        out = np.eye(1)
        for q in range(N):
            out = np.kron(out, op if q == k else np.eye(2))
        return out
    H = sum(J * (site_op(sx, i) @ site_op(sx, j) + site_op(sy, i) @ site_op(sy, j)
                 + Delta * site_op(sz, i) @ site_op(sz, j)) for i, j in bonds)
    assert np.abs(H.imag).max() == 0
    H = H.real

    def check(name, ok, detail):
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
        assert ok, name

    # (c) exact ground state of the N = 8 chain, and the Marshall sign makes it positive.
    w, v = np.linalg.eigh(H)
    check("exact E0 of the N=8 periodic chain", abs(w[0] + 3.651093408937) < 1e-9,
          f"{w[0]:.12f} (expected -3.651093408937)")
    g = (v[:, 0] * marshall)[sector]
    check("Marshall sign makes the ground state one-signed", np.all(g * np.sign(g.sum()) > 0),
          f"min |amplitude| {np.abs(g).min():.3e}")

    p = 0.3 * rng.standard_normal(N + M + N * M)
    a, b, Wt = unpack(p, N, M)

    # (a) theta-table exchange log-ratio against log psi recomputed from scratch.
    theta = angles(sec, b, Wt)
    err = 0.0
    for i, j in bonds:
        lr, th_new = exchange_logratio(np, a, Wt, theta, sec[:, i], sec[:, j], i, j)
        s2 = sec.copy()
        s2[:, [i, j]] = s2[:, [j, i]]
        err = max(err, np.abs(lr - (log_psi(np, p, s2, N, M) - log_psi(np, p, sec, N, M))).max(),
                  np.abs(th_new - angles(s2, b, Wt)).max())
    check("exchange log-ratio and new angles from tables vs from scratch", err < 1e-12, f"max error {err:.2e}")

    # (b) <E_loc> under exact |psi|^2 equals <psi|H|psi>/<psi|psi>, with and without Marshall sign.
    lp = log_psi(np, p, allst, N, M)
    weight = np.exp(2 * (lp[sector] - lp[sector].max()))
    for sgn, amp in ((-1.0, marshall), (1.0, np.ones_like(marshall))):
        psi = np.where(sector, amp * np.exp(lp - lp.max()), 0.0)
        e_dense = psi @ H @ psi / (psi @ psi)
        e_l = np.sum(weight * local_energy(np, a, Wt, bonds, sec, theta, J, Delta, sgn)) / weight.sum()
        check(f"<E_loc> vs dense <H>, sign {sgn:+.0f}", abs(e_l - e_dense) < 1e-10,
              f"{e_l:.12f} vs {e_dense:.12f}")

    # (d) log-derivatives against central differences of log psi.
    O = log_derivatives(np, sec, np.tanh(theta))
    h, fd = 1e-6, np.empty_like(O)
    for k in range(len(p)):
        dp = np.zeros_like(p)
        dp[k] = h
        fd[:, k] = (log_psi(np, p + dp, sec, N, M) - log_psi(np, p - dp, sec, N, M)) / (2 * h)
    check("log-derivatives vs finite differences", np.abs(O - fd).max() < 1e-8,
          f"max error {np.abs(O - fd).max():.2e}")
    Ob = O - O.mean(0)
    x = rng.standard_normal(len(p))
    S = Ob.T @ Ob / len(O)
    check("matrix-free SR product vs dense S", np.allclose(sr_matvec(Ob, x, 0.01), S @ x + 0.01 * x,
                                                           rtol=1e-12, atol=1e-12), "")

    # (e) the Metropolis step samples |psi|^2, keeps Sz = 0 and keeps its tables exact.
    def sample(p, s, n_therm, n_samples, rng):
        a, b, Wt = unpack(p, N, M)
        theta, out, nacc = angles(s, b, Wt), [], 0
        for k in range((n_therm + n_samples) * N):
            s, theta, acc = metropolis_step(np, a, Wt, bonds, s, theta,
                                            rng.integers(0, len(bonds), len(s)), rng.random(len(s)))
            nacc += acc.sum()
            if k >= n_therm * N and (k + 1) % N == 0:
                out.append((s, theta))
        return s, np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])

    # Weights of 0.1: with 0.3 above, |psi|^2 has modes that take thousands of sweeps to cross.
    p = 0.1 * rng.standard_normal(N + M + N * M)
    a, b, Wt = unpack(p, N, M)
    lp = log_psi(np, p, sec, N, M)
    weight = np.exp(2 * (lp - lp.max()))
    e_vmc = np.sum(weight * local_energy(np, a, Wt, bonds, sec, angles(sec, b, Wt), J, Delta, -1.0)) / weight.sum()
    C = 2048
    s0 = np.array([rng.permutation(np.repeat([1.0, -1.0], N // 2)) for _ in range(C)])
    _, ss, tt = sample(p, s0, 50, 10, rng)
    check("Sz = 0 conserved and theta tables exact after sampling",
          np.all(ss.sum(1) == 0) and np.abs(tt - angles(ss, b, Wt)).max() < 1e-12,
          f"theta drift {np.abs(tt - angles(ss, b, Wt)).max():.1e}")
    el = local_energy(np, a, Wt, bonds, ss, tt, J, Delta, -1.0).reshape(10, C)
    err = el.mean(0).std() / math.sqrt(C)                 # chains are independent
    check("sampled <E_loc> vs exact", abs(el.mean() - e_vmc) < 5 * err,
          f"{el.mean():.5f} +- {err:.5f} vs {e_vmc:.5f}")

    # (f) a short VMC run with the SR update as the JAX path does it (dense solve here).
    p = 0.01 * rng.standard_normal(N + M + N * M)
    s, hist = s0[:512], []
    for it in range(200):
        s, ss, tt = sample(p, s, 2, 4, rng)
        a, b, Wt = unpack(p, N, M)
        el = local_energy(np, a, Wt, bonds, ss, tt, J, Delta, -1.0)
        Ob = log_derivatives(np, ss, np.tanh(tt))
        Ob -= Ob.mean(0)
        F = Ob.T @ (el - el.mean()) / len(el)
        delta = np.linalg.solve(Ob.T @ Ob / len(el) + 0.01 * np.eye(len(p)), F)
        p = p - 0.05 / (1 + 0.002 * it) * delta
        hist.append(el.mean())
    e_end = np.mean(hist[-20:])
    check("VMC with SR reaches the N=8 ground state", abs(e_end / -3.651093408937 - 1) < 5e-3,
          f"E {hist[0]:.4f} -> {e_end:.5f} (mean of last 20) vs -3.651093")
    print("selftest-numpy: all checks passed")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--L", type=int, default=10, help="periodic L x L square lattice")
    ap.add_argument("--chain", type=int, default=0, help="periodic chain of N sites instead")
    ap.add_argument("--alpha", type=float, default=2.0)
    ap.add_argument("--chains", type=int, default=16384)
    ap.add_argument("--samples", type=int, default=4, help="samples per chain per iteration")
    ap.add_argument("--thermalization", type=int, default=2, help="sweeps discarded per iteration")
    ap.add_argument("--iterations", type=int, default=20, help="timed SR iterations (after 2 warm-up)")
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--decay", type=float, default=0.002)
    ap.add_argument("--diag-shift", type=float, default=0.01)
    ap.add_argument("--cg-maxiter", type=int, default=100)
    ap.add_argument("--cg-tol", type=float, default=1e-5)
    ap.add_argument("--init-scale", type=float, default=0.01)
    ap.add_argument("--energy-chunk", type=int, default=1024, help="samples per local-energy batch")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--float32", action="store_true")
    ap.add_argument("--csv")
    ap.add_argument("--reference", type=float, default=None,
                    help="E/N to compare with (default -0.671549, the 10x10 value; exact for --chain 8)")
    ap.add_argument("--selftest-numpy", action="store_true")
    args = ap.parse_args()
    if args.selftest_numpy:
        return selftest_numpy()
    if args.reference is None:
        args.reference = -3.651093408937 / 8 if args.chain == 8 else -0.671549
    run_jax(args)


if __name__ == "__main__":
    main()
