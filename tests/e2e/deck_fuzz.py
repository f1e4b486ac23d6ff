#!/usr/bin/env python3
"""Seeded deck fuzzer: mutates the decks of inputs/ and tests/decks/ and runs
prism on each mutation.  Every `--check` must end with exit 0, or exit 2 and
a message naming the deck file and a line (FILE:LINE) or the --set key; a
mutation that passes the check is also run for real, stopped by SIGUSR1
after a moment, and must exit 0 (complete file, no .tmp left), 2, or 1 with
a "prism: error" message (e.g. a lattice too large for the memory limit).
Any crash, hang or leftover file fails the test.

usage: deck_fuzz.py PRISM SRC [--seed N] [--budget SECONDS] [--runs N]
"""
import argparse
import glob
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

# Decks whose single step outlasts the 30 s a run gets to stop after SIGUSR1.
LONG_STEP_DECKS = ["of nqs_heisenberg_10x10.toml ", "of nqs_heisenberg_10x10_symmetric.toml "]

NASTY = ["0", "-1", "1", "2", "3", "7", "1e308", "-1e308", "nan", "inf", "-inf", "1e-320", "1e9", "-1e9",
         "9223372036854775807", "-9223372036854775808", "2147483648", "4294967296", "3.5", "0.0", "-0.0",
         '""', '"x"', '"ising3d"', '"heisenberg"', '"float"', '"auto"', '"\u00e9\u00e9"', "true", "false", "[]",
         "[1, 2]", "[2.0, 1.0]", "[1e9, 2e9]", "{}", "{min = 1}", "{min = 2.0, max = 1.0, count = 3}",
         "{min = 1.0, max = 2.0, count = 100000}", "1979-05-27", '"' + "a" * 5000 + '"']


def mutate(text, rng):
    lines = text.split("\n")
    kind = rng.randrange(9)
    keyed = [i for i, l in enumerate(lines) if re.match(r"^\s*[A-Za-z_]+\s*=", l)]
    if kind <= 3 and keyed:  # a value replaced
        i = rng.choice(keyed)
        key = lines[i].split("=", 1)[0]
        lines[i] = key + "= " + rng.choice(NASTY)
    elif kind == 4 and keyed:  # a key misspelled
        i = rng.choice(keyed)
        k, v = lines[i].split("=", 1)
        lines[i] = k.strip() + rng.choice(["x", "_", "s"]) + " =" + v
    elif kind == 5 and lines:  # a line dropped or duplicated
        i = rng.randrange(len(lines))
        if rng.random() < 0.5:
            del lines[i]
        else:
            lines.insert(i, lines[i])
    elif kind == 6:  # a section added or renamed
        i = rng.randrange(len(lines) + 1)
        lines.insert(i, rng.choice(["[bogus]", "[nqs]", "[thermo]", "[run]", "[run.x]", "[[run]]"]))
    elif kind == 7:  # truncated
        return text[: rng.randrange(len(text) + 1)]
    else:  # bytes scribbled
        b = list(text)
        for _ in range(rng.randrange(1, 4)):
            if b:
                b[rng.randrange(len(b))] = rng.choice(["=", "[", "]", '"', "\x00", "\n", "{", "#", "\u00ff"])
        return "".join(b)
    return "\n".join(lines)


def located(stderr, deck):
    name = re.escape(deck)
    return re.search(name + r":[1-9][0-9]*: ", stderr) or re.search(r"--set [a-z_.]+[:=]", stderr)


def check(prism, deck, out, what, env):
    """--check of one mutated deck: (exit code, failures)."""
    try:
        p = subprocess.run([prism, "--check", "--output", out, deck], capture_output=True, text=True,
                           errors="replace", timeout=30, env=env)
    except subprocess.TimeoutExpired:
        return None, [f"{what}: --check hung"]
    fails = []
    if p.returncode == 2 and not located(p.stderr, deck):
        fails.append(f"{what}: message without FILE:LINE: {p.stderr.strip()[:300]}")
    elif p.returncode not in (0, 2):
        fails.append(f"{what}: --check exit {p.returncode}: {p.stderr.strip()[-300:]}")
    if os.path.exists(out) or os.path.exists(out + ".tmp"):
        fails.append(f"{what}: --check left a file")
    return p.returncode, fails


def run(prism, deck, out, what, env):
    """A real run of a deck that passed --check, limited to 6 GiB of address
    space and asked to stop (SIGUSR1) after a moment: failures."""
    proc = subprocess.Popen(["bash", "-c", 'ulimit -v 6291456; exec "$@"', "prism", prism, "--output", out, deck],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace", env=env)
    try:
        _, se = proc.communicate(timeout=1.5)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)
        try:
            _, se = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return [f"{what}: did not stop within 30 s of SIGUSR1"]
    rc, fails = proc.returncode, []
    if rc == 0 and not os.path.exists(out):
        fails.append(f"{what}: exit 0 without an output file")
    elif rc == 1 and "prism: error" not in se:
        fails.append(f"{what}: exit 1 without a prism error message: {se.strip()[-300:]}")
    elif rc == -signal.SIGUSR1:
        pass  # a workload that cannot stop early ends by the signal (its .tmp removed: checked below)
    elif rc not in (0, 1, 2):
        fails.append(f"{what}: run exit {rc}: {se.strip()[-300:]}")
    if os.path.exists(out + ".tmp"):
        fails.append(f"{what}: run left {out}.tmp")
    return fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("prism")
    ap.add_argument("src")
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds for the --check phase")
    ap.add_argument("--runs", type=int, default=16, help="mutations that pass --check run for real, at most")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--workers", type=int, default=6, help="concurrent --check calls (mostly MPI start-up waits)")
    args = ap.parse_args()
    # Sanitizer builds reserve terabytes of address space: no real runs under a limit there.
    if os.environ.get("PRISM_SANITIZED") == "1":
        args.runs = 0
    rng = random.Random(args.seed)
    sources = sorted(glob.glob(os.path.join(args.src, "inputs", "*.toml")) +
                     glob.glob(os.path.join(args.src, "tests", "decks", "*.toml")))
    texts = [open(p, encoding="utf-8").read() for p in sources]
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_PROC_BIND="false")
    failures, outcomes, passed = [], {}, []
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="prism-fuzz-") as work:
        cases = []
        for n in range(args.count):
            src = rng.randrange(len(texts))
            deck = os.path.join(work, f"m{n}.toml")
            with open(deck, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(mutate(texts[src], rng))
            cases.append((deck, os.path.join(work, f"m{n}.h5"),
                          f"mutation {n} of {os.path.basename(sources[src])} ({deck})"))

        def one(case):
            if time.monotonic() - start > args.budget:
                return None, []
            return check(args.prism, *case, env)

        with ThreadPoolExecutor(args.workers) as pool:
            for case, (rc, fails) in zip(cases, pool.map(one, cases)):
                failures += fails
                if rc is not None:
                    outcomes[rc] = outcomes.get(rc, 0) + 1
                if rc == 0:
                    passed.append(case)
        # A signal stops a run after its current step, and one step of a
        # benchmark-sized deck on one host thread takes minutes (an SR
        # iteration of the 10 x 10 nqs model): those are checked, not run.
        passed = [c for c in passed if not any(n in c[2] for n in LONG_STEP_DECKS)]
        with ThreadPoolExecutor(2) as pool:
            for fails in pool.map(lambda c: run(args.prism, *c, env), passed[: args.runs]):
                failures += fails
    checked = sum(outcomes.values())
    for f in failures:
        print("FAIL:", f)
    print(f"{checked} mutated decks checked (exit codes {outcomes}), {min(len(passed), args.runs)} run, "
          f"{time.monotonic() - start:.0f} s, {len(failures)} failures")
    return 1 if failures or checked < 100 else 0


if __name__ == "__main__":
    sys.exit(main())
