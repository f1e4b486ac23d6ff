#!/usr/bin/env python3
"""The gnn workload's model in PyTorch/e3nn, its HDF5 weights layout, and references.

prism's `gnn` evaluates an E(3)-equivariant interatomic potential built from
e3nn modules.  This script is the PyTorch side of it:

  * `build_model(arch)` makes the model from e3nn modules (o3.Linear,
    o3.TensorProduct, o3.spherical_harmonics, nn.FullyConnectedNet, nn.Gate);
  * `write_prism(model, path)` / `read_prism(path)` convert it to and from
    prism's HDF5 weights file (the layout is in docs/gnn.md); from the
    command line, `convert ARCH.json STATE.pt OUT.h5` does the same for a
    model trained elsewhere as build_model(arch) and saved as a state_dict;
  * `reference` writes a seeded random model, test structures (extended XYZ)
    and the model's energies, forces and virials on them in float64 and
    float32, plus e3nn's spherical harmonics and Wigner 3j tables, for
    tests/reference/gnn;
  * `bench` times the model (forward, and forward + forces by autograd) on
    a GPU, for BENCHMARKS.md; with `--input` and `--layers 1` the model is
    one convolution layer with a given input (the issue's single-layer
    comparison: `--input 10x0e+10x1e --hidden 20x0e+10x1e`).

The model (all sizes from the architecture):

  edge i <- j, d = r_j - r_i (+ periodic image), r = |d| < r_cut
  Y(d)  = o3.spherical_harmonics(0..lmax, d, normalize=True, normalization="component")
  B_n(r) = sqrt(2/r_cut) sin(n pi r / r_cut) / r * u(r / r_cut),  n = 1..n_basis
  u(x)  = 1 - (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) - p(p+1)/2 x^(p+2)   (x < 1)
  h0_i  = Linear(S x0e -> input)(one_hot(species_i))   (input "C x0e" unless the arch sets one;
          the embedding fills its scalars, its other blocks are zero)
  layer t:  w_e = FullyConnectedNet([n_basis, *radial_hidden, numel], silu)(B(r_e))
            m_i = sum_j TP(h_j, Y(d_ij), w_e) / avg_num_neighbors
            z_i = Linear(m_i) + Linear_sc(h_i);  h_i <- Gate(z_i)
  energy:   e_i = Linear(h_i -> 1x0e) + shift[species_i],  E = sum_i e_i

TP has one "uvu" path for every input irrep (mul x l1), harmonic l2 and
output irrep l3 of l1 x l2 that the hidden irreps contain, in that loop
order, each path its own output block.  Gate: silu on the scalars, sigmoid
gates (one per gated irrep copy) on the l > 0 irreps.

torch and e3nn are imported only by the commands that need them.
"""
import argparse
import math
import sys

import h5py
import numpy as np

FORMAT = "prism-gnn-1"


# --------------------------------------------------------------------------
# architecture and model
# --------------------------------------------------------------------------
def default_arch(**over):
    arch = dict(species=[1, 8], r_cut=4.0, n_basis=8, envelope_p=6, lmax=2,
                hidden="8x0e+4x1o+2x2e", radial_hidden=[16], layers=2,
                avg_num_neighbors=12.0, input=None)
    arch.update(over)
    return arch


def build_model(arch):
    import torch
    from e3nn import nn as enn
    from e3nn import o3

    class Layer(torch.nn.Module):
        def __init__(self, irreps_in, sh, hidden):
            super().__init__()
            targets = [ir for _, ir in hidden]
            out, instr = [], []
            for i1, (mul, ir1) in enumerate(irreps_in):
                for i2, (_, ir2) in enumerate(sh):
                    for ir3 in ir1 * ir2:
                        if ir3 in targets:
                            instr.append((i1, i2, len(out), "uvu", True))
                            out.append((mul, ir3))
            self.tp = o3.TensorProduct(irreps_in, sh, o3.Irreps(out), instr,
                                       shared_weights=False, internal_weights=False)
            self.fc = enn.FullyConnectedNet([arch["n_basis"]] + list(arch["radial_hidden"]) +
                                            [self.tp.weight_numel], torch.nn.functional.silu)
            scalars = o3.Irreps([(m, ir) for m, ir in hidden if ir.l == 0])
            gated = o3.Irreps([(m, ir) for m, ir in hidden if ir.l > 0])
            self.gate = enn.Gate(scalars, [torch.nn.functional.silu],
                                 o3.Irreps(f"{gated.num_irreps}x0e"), [torch.sigmoid], gated)
            self.lin = o3.Linear(self.tp.irreps_out, self.gate.irreps_in)
            self.sc = o3.Linear(irreps_in, self.gate.irreps_in)
            self.irreps_out = self.gate.irreps_out

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.arch = dict(arch)
            S = len(arch["species"])
            hidden = o3.Irreps(arch["hidden"])
            self.sh = o3.Irreps.spherical_harmonics(arch["lmax"])
            C = sum(m for m, ir in hidden if ir.l == 0)
            self.embed = o3.Linear(f"{S}x0e", arch.get("input") or f"{C}x0e")
            irreps = self.embed.irreps_out
            self.layers = torch.nn.ModuleList()
            for _ in range(arch["layers"]):
                layer = Layer(irreps, self.sh, hidden)
                self.layers.append(layer)
                irreps = layer.irreps_out
            self.readout = o3.Linear(irreps, "1x0e")
            self.register_buffer("shift", torch.zeros(S))

        def basis(self, r):
            rc, nb, p = self.arch["r_cut"], self.arch["n_basis"], self.arch["envelope_p"]
            n = torch.arange(1, nb + 1, dtype=r.dtype, device=r.device)
            b = math.sqrt(2.0 / rc) * torch.sin(n * math.pi * r[:, None] / rc) / r[:, None]
            x = r / rc
            u = (1 - (p + 1) * (p + 2) / 2 * x**p + p * (p + 2) * x**(p + 1)
                 - p * (p + 1) / 2 * x**(p + 2)) * (x < 1)
            return b * u[:, None]

        def forward(self, pos, species, src, dst, shift_vec, keep=None):
            """Per-atom energies.  Edge e: receiver src[e], sender dst[e]."""
            d = pos[dst] - pos[src] + shift_vec
            r = d.norm(dim=1)
            Y = o3.spherical_harmonics(self.sh, d, normalize=True, normalization="component")
            B = self.basis(r)
            onehot = torch.nn.functional.one_hot(species, len(self.arch["species"])).to(pos.dtype)
            h = self.embed(onehot)
            for layer in self.layers:
                msg = layer.tp(h[dst], Y, layer.fc(B))
                m = torch.zeros(h.shape[0], msg.shape[1], dtype=h.dtype, device=h.device)
                m = m.index_add(0, src, msg) / self.arch["avg_num_neighbors"]
                h = layer.gate(layer.lin(m) + layer.sc(h))
                if keep is not None:
                    keep.append(h.detach().clone())
            return self.readout(h)[:, 0] + self.shift[species]

    return Model()


def act_constants(model):
    """normalize2mom constants e3nn applies to silu and sigmoid (per run, from its fixed sample)."""
    import torch
    one = torch.ones(1, dtype=torch.float64)
    gate = model.layers[0].gate
    silu = float(gate.act_scalars.acts[0](one) / torch.nn.functional.silu(one))
    sig = float(gate.act_gates.acts[0](one) / torch.sigmoid(one))
    fc_act = model.layers[0].fc[0].act
    fc = float(fc_act(one) / torch.nn.functional.silu(one))
    return silu, sig, fc


# --------------------------------------------------------------------------
# prism's HDF5 weights file
# --------------------------------------------------------------------------
def write_prism(model, path):
    a = model.arch
    silu, sig, fc = act_constants(model)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["species"] = np.asarray(a["species"], dtype=np.int64)
        for k in ("r_cut", "avg_num_neighbors"):
            f.attrs[k] = float(a[k])
        for k in ("n_basis", "envelope_p", "lmax", "layers"):
            f.attrs[k] = int(a[k])
        f.attrs["hidden"] = a["hidden"]
        if a.get("input"):
            f.attrs["input"] = a["input"]
        f.attrs["radial_hidden"] = np.asarray(a["radial_hidden"], dtype=np.int64)
        f.attrs["gate_silu_cst"] = silu
        f.attrs["gate_sigmoid_cst"] = sig
        f.attrs["radial_silu_cst"] = fc
        put = lambda name, t: f.create_dataset(name, data=t.detach().cpu().double().numpy())
        put("embed", model.embed.weight)
        for t, layer in enumerate(model.layers):
            g = f"layer{t}"
            f.create_group(g).attrs["tp_irreps_out"] = str(layer.tp.irreps_out)
            f[g].attrs["gate_irreps_in"] = str(layer.gate.irreps_in)
            f[g].attrs["irreps_out"] = str(layer.irreps_out)
            for k, lin in enumerate(layer.fc):
                put(f"{g}/radial{k}", lin.weight)
            put(f"{g}/linear", layer.lin.weight)
            put(f"{g}/self", layer.sc.weight)
        put("readout", model.readout.weight)
        put("shift", model.shift)


def read_prism(path):
    import torch
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != FORMAT:
            sys.exit(f"{path}: not a prism gnn weights file (format attribute != {FORMAT})")
        arch = default_arch(
            species=[int(z) for z in f.attrs["species"]], r_cut=float(f.attrs["r_cut"]),
            n_basis=int(f.attrs["n_basis"]), envelope_p=int(f.attrs["envelope_p"]),
            lmax=int(f.attrs["lmax"]), hidden=str(f.attrs["hidden"]),
            radial_hidden=[int(h) for h in f.attrs["radial_hidden"]], layers=int(f.attrs["layers"]),
            avg_num_neighbors=float(f.attrs["avg_num_neighbors"]),
            input=str(f.attrs["input"]) if "input" in f.attrs else None)
        model = build_model(arch)
        get = lambda name: torch.from_numpy(f[name][...])
        with torch.no_grad():
            model.embed.weight.copy_(get("embed"))
            for t, layer in enumerate(model.layers):
                for k, lin in enumerate(layer.fc):
                    lin.weight.copy_(get(f"layer{t}/radial{k}"))
                layer.lin.weight.copy_(get(f"layer{t}/linear"))
                layer.sc.weight.copy_(get(f"layer{t}/self"))
            model.readout.weight.copy_(get("readout"))
            model.shift.copy_(get("shift"))
    return model


# --------------------------------------------------------------------------
# structures, neighbours, energies and forces
# --------------------------------------------------------------------------
SYMBOLS = {1: "H", 6: "C", 7: "N", 8: "O"}


def neighbours(pos, cell, pbc, rc):
    """All (i, j, image) with |r_j + image - r_i| < rc, by brute force over images."""
    n = len(pos)
    if pbc:
        inv = np.linalg.inv(cell)
        # images needed along each lattice vector: rc over the plane spacing
        spacing = 1.0 / np.linalg.norm(inv, axis=0)
        reach = [int(math.ceil(rc / s)) for s in spacing]
        images = np.array([(a, b, c) for a in range(-reach[0], reach[0] + 1)
                           for b in range(-reach[1], reach[1] + 1) for c in range(-reach[2], reach[2] + 1)])
    else:
        images = np.zeros((1, 3), dtype=int)
    src, dst, shifts = [], [], []
    for img in images:
        sv = img @ cell if pbc else np.zeros(3)
        d = pos[None, :, :] + sv - pos[:, None, :]
        r = np.linalg.norm(d, axis=2)
        ok = r < rc
        if not img.any():
            np.fill_diagonal(ok, False)
        i, j = np.nonzero(ok)
        src.append(i), dst.append(j), shifts.append(np.repeat(sv[None], len(i), axis=0))
    return np.concatenate(src), np.concatenate(dst), np.concatenate(shifts)


def evaluate(model, s, dtype):
    """Energy, per-atom energies, forces (-dE/dr) and virial (-dE/d strain)."""
    import copy
    import torch
    model = copy.deepcopy(model).to(dtype)
    zs = model.arch["species"]
    species = torch.tensor([zs.index(z) for z in s["z"]])
    src, dst, sh = neighbours(s["pos"], s["cell"], s["pbc"], model.arch["r_cut"])
    pos = torch.tensor(s["pos"], dtype=dtype, requires_grad=True)
    strain = torch.zeros(3, 3, dtype=dtype, requires_grad=True)
    eye = torch.eye(3, dtype=dtype) + strain
    keep = []
    e = model(pos @ eye, species, torch.tensor(src), torch.tensor(dst),
              torch.tensor(sh, dtype=dtype) @ eye, keep)
    E = e.sum()
    gpos, gstrain = torch.autograd.grad(E, [pos, strain])
    return dict(energy=E.item(), atom_energies=e.detach().numpy(), forces=-gpos.numpy(),
                virial=-gstrain.numpy(), n_edges=len(src), features=[k.numpy() for k in keep])


def write_extxyz(path, structures):
    with open(path, "w") as f:
        for s in structures:
            f.write(f"{len(s['pos'])}\n")
            lattice = ""
            if s["pbc"]:
                lattice = 'Lattice="' + " ".join(f"{x:.17g}" for x in s["cell"].ravel()) + '" '
            pbc = "T T T" if s["pbc"] else "F F F"
            f.write(f'{lattice}Properties=species:S:1:pos:R:3 pbc="{pbc}" name={s["name"]}\n')
            for z, p in zip(s["z"], s["pos"]):
                f.write(f"{SYMBOLS[z]} {p[0]:.17g} {p[1]:.17g} {p[2]:.17g}\n")


def random_positions(rng, n, box, dmin):
    """n points in the box (rows = lattice vectors), no two closer than dmin (with images)."""
    pts = []
    while len(pts) < n:
        p = rng.random(3) @ box
        ok = True
        for q in pts:
            d = p - q
            frac = np.linalg.solve(box.T, d)
            d = (frac - np.round(frac)) @ box
            ok = ok and np.linalg.norm(d) >= dmin
        if ok:
            pts.append(p)
    return np.array(pts)


def test_structures(seed):
    rng = np.random.default_rng(seed)
    out = []
    # a molecule-like cluster, open boundaries
    pos = random_positions(rng, 7, np.eye(3) * 3.2, 0.9)
    out.append(dict(name="cluster", z=list(rng.choice([1, 8], 7)), pos=pos, cell=np.zeros((3, 3)), pbc=False))
    # a triclinic cell thinner than the cutoff: images of atoms, and of each atom itself
    cell = np.array([[3.1, 0.0, 0.0], [0.7, 3.4, 0.0], [-0.4, 0.5, 3.6]])
    pos = random_positions(rng, 5, cell, 1.0)
    out.append(dict(name="triclinic", z=list(rng.choice([1, 8], 5)), pos=pos, cell=cell, pbc=True))
    # a cubic cell wider than the cutoff
    cell = np.eye(3) * 8.5
    pos = random_positions(rng, 24, cell, 1.1)
    out.append(dict(name="cubic", z=list(rng.choice([1, 8], 24)), pos=pos, cell=cell, pbc=True))
    return out


def cmd_reference(args):
    import torch
    from e3nn import __version__ as e3nn_version
    from e3nn import o3
    import os
    os.makedirs(args.out, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(args.seed)
    model = build_model(default_arch(layers=args.layers))
    with torch.no_grad():
        model.shift.copy_(torch.tensor([-0.5, -2.0]))
    write_prism(model, f"{args.out}/model.h5")
    model = read_prism(f"{args.out}/model.h5")  # what prism reads is what is evaluated
    # For prism's bad-input test: the same weights under another architecture's attributes.
    import shutil
    shutil.copy(f"{args.out}/model.h5", f"{args.out}/model_other_arch.h5")
    with h5py.File(f"{args.out}/model_other_arch.h5", "a") as f:
        f.attrs["hidden"] = "8x0e+2x1o+2x2e"
    structs = test_structures(args.seed)
    write_extxyz(f"{args.out}/structures.xyz", structs)
    with h5py.File(f"{args.out}/reference.h5", "w") as f:
        f.attrs["e3nn_version"] = str(e3nn_version)
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["made_by"] = "tools/gnn_e3nn.py reference"
        vec = torch.randn(20, 3)
        f["sh/vectors"] = vec.numpy()
        f["sh/values"] = o3.spherical_harmonics(list(range(4)), vec, normalize=True,
                                                normalization="component").numpy()
        for l1 in range(4):
            for l2 in range(4):
                for l3 in range(abs(l1 - l2), min(l1 + l2, 3) + 1):
                    f[f"w3j/{l1}_{l2}_{l3}"] = o3.wigner_3j(l1, l2, l3).numpy()
        for s in structs:
            g = f.create_group(f"structures/{s['name']}")
            for k in ("pos", "cell", "z"):
                g[k] = np.asarray(s[k])
            g.attrs["pbc"] = int(s["pbc"])
            for dtype, tag in ((torch.float64, ""), (torch.float32, "_f32")):
                r = evaluate(model, s, dtype)
                for k in ("energy", "atom_energies", "forces", "virial", "n_edges"):
                    g[k + tag] = r[k]
                if not tag:
                    for t, h in enumerate(r["features"]):
                        g[f"features{t}"] = h
            print(f"{s['name']}: {len(s['pos'])} atoms, {g['n_edges'][()]} edges, "
                  f"E = {g['energy'][()]:.15g} (float32 {g['energy_f32'][()]:.8g})")


def jittered_lattice(n, a, jitter, seed):
    """n^3 atoms on a cubic lattice of spacing a, each moved by up to jitter*a per axis."""
    rng = np.random.default_rng(seed)
    g = np.stack(np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing="ij"), -1).reshape(-1, 3)
    pos = (g + rng.uniform(-jitter, jitter, g.shape)) * a
    z = rng.choice([1, 8], len(pos))
    return dict(name=f"lattice{n}", z=list(z), pos=pos, cell=np.eye(3) * n * a, pbc=True)


def lattice_edges(s, n, a, jitter, rc, device):
    """Edges of a jittered cubic lattice through lattice offsets (no O(N^2) search), on the GPU."""
    import torch
    pos = torch.tensor(s["pos"], device=device)
    L = n * a
    K = int(math.ceil((rc + 2 * jitter * a) / a))
    idx = torch.arange(n**3, device=device)
    g = torch.stack([idx // (n * n), idx // n % n, idx % n], 1)
    src, dst, sh = [], [], []
    for ox in range(-K, K + 1):
        for oy in range(-K, K + 1):
            for oz in range(-K, K + 1):
                if ox == oy == oz == 0:
                    continue
                o = torch.tensor([ox, oy, oz], device=device)
                t = g + o
                img = torch.div(t, n, rounding_mode="floor")
                t = t - img * n
                j = (t[:, 0] * n + t[:, 1]) * n + t[:, 2]
                d = pos[j] + img * L - pos
                ok = d.norm(dim=1) < rc
                src.append(idx[ok]), dst.append(j[ok]), sh.append((img * L)[ok])
    return torch.cat(src), torch.cat(dst), torch.cat(sh)


def cmd_bench(args):
    """Files for prism's bench_gnn and e3nn's timings of the same model on the same structures."""
    import os
    import time
    import torch
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    arch = default_arch(hidden=args.hidden, layers=args.layers, r_cut=args.r_cut,
                        radial_hidden=[args.radial], avg_num_neighbors=args.avg, input=args.input)
    torch.set_default_dtype(torch.float64)
    write_prism(build_model(arch), f"{args.out}/bench_model.h5")
    model = read_prism(f"{args.out}/bench_model.h5")
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rows = []
    with h5py.File(f"{args.out}/bench_structures.h5", "w") as f:
        for n in args.sizes:
            s = jittered_lattice(n, args.spacing, 0.1, args.seed)
            g = f.create_group(f"structures/{s['name']}")
            g["pos"], g["z"], g["cell"] = s["pos"], np.asarray(s["z"]), s["cell"]
            g.attrs["pbc"] = 1
    if args.no_e3nn:
        return
    for n in args.sizes:
        s = jittered_lattice(n, args.spacing, 0.1, args.seed)
        for dtype in [{"float": torch.float32, "double": torch.float64}[p] for p in args.precision]:
            m = read_prism(f"{args.out}/bench_model.h5").to(device=dev, dtype=dtype)
            src, dst, sh = lattice_edges(s, n, args.spacing, 0.1, args.r_cut, dev)
            sh = sh.to(dtype)
            species = torch.tensor([arch["species"].index(z) for z in s["z"]], device=dev)
            pos0 = torch.tensor(s["pos"], dtype=dtype, device=dev)

            def forward():
                with torch.no_grad():
                    return m(pos0, species, src, dst, sh).sum()

            def forces():
                pos = pos0.clone().requires_grad_(True)
                E = m(pos, species, src, dst, sh).sum()
                return torch.autograd.grad(E, pos)[0]

            for name, fn in (("forward", forward), ("forces", forces)):
                try:
                    fn()
                    torch.cuda.synchronize()
                    times = []
                    for _ in range(args.reps):
                        t0 = time.perf_counter()
                        fn()
                        torch.cuda.synchronize()
                        times.append(time.perf_counter() - t0)
                    t = float(np.median(times))
                except torch.OutOfMemoryError:
                    t = float("nan")
                    torch.cuda.empty_cache()
                rows.append((n**3, len(src), str(dtype).split(".")[-1], name, t))
                print(f"e3nn {n**3} atoms {len(src)} edges {dtype} {name}: {t * 1e3:.2f} ms "
                      f"({len(src) / t / 1e6:.1f} M edges/s)", flush=True)
            del m
            torch.cuda.empty_cache()
    with open(f"{args.out}/gnn_e3nn.csv", "w") as f:
        f.write(f"# e3nn {__import__('e3nn').__version__}, torch {torch.__version__}, "
                f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}; median of {args.reps}; "
                "edges from lattice offsets, on the device; timings exclude the neighbour search\n")
        f.write("atoms,edges,dtype,what,seconds\n")
        for r in rows:
            f.write(",".join(str(x) for x in r) + "\n")


def cmd_convert(args):
    """A trained model to prism's weights file: the architecture as JSON (the
    keys of default_arch) and the PyTorch state_dict of build_model(arch)."""
    import json
    import torch
    with open(args.arch) as f:
        arch = default_arch(**json.load(f))
    unknown = set(arch) - set(default_arch())
    if unknown:
        sys.exit(f"{args.arch}: unknown architecture keys {sorted(unknown)} (known: {sorted(default_arch())})")
    torch.set_default_dtype(torch.float64)
    model = build_model(arch)
    state = torch.load(args.state, map_location="cpu")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        sys.exit(f"{args.state}: not a state_dict of this architecture (missing {missing}, unexpected {unexpected})")
    write_prism(model, args.out)
    print(f"wrote {args.out}: {arch['hidden']}, {arch['layers']} layers, l <= {arch['lmax']}, "
          f"r_cut {arch['r_cut']}, species {arch['species']}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("reference", help="seeded model, test structures and e3nn's answers")
    r.add_argument("out")
    r.add_argument("--seed", type=int, default=7)
    r.add_argument("--layers", type=int, default=2)
    b = sub.add_parser("bench", help="bench model and structures; e3nn's timings on them")
    b.add_argument("out")
    b.add_argument("--sizes", type=int, nargs="+", default=[22, 46], help="lattice edge n (n^3 atoms)")
    b.add_argument("--spacing", type=float, default=1.7)
    b.add_argument("--hidden", default="32x0e+16x1o+8x2e")
    b.add_argument("--layers", type=int, default=3)
    b.add_argument("--input", default=None,
                   help="the first layer's input irreps (default: the hidden scalars), e.g. 10x0e+10x1e")
    b.add_argument("--radial", type=int, default=64)
    b.add_argument("--r-cut", type=float, default=4.0)
    b.add_argument("--avg", type=float, default=54.0)
    b.add_argument("--reps", type=int, default=5)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--no-e3nn", action="store_true", help="write the files only")
    b.add_argument("--precision", nargs="+", choices=["float", "double"], default=["float", "double"],
                   help="which precisions e3nn runs in")
    c = sub.add_parser("convert", help="a trained model (architecture JSON + state_dict) to prism's weights file")
    c.add_argument("arch", help="JSON object with the keys of default_arch (species, r_cut, hidden, ...)")
    c.add_argument("state", help="torch.save(model.state_dict()) of build_model(arch)")
    c.add_argument("out", help="prism weights file to write")
    args = p.parse_args()
    {"reference": cmd_reference, "bench": cmd_bench, "convert": cmd_convert}[args.cmd](args)


if __name__ == "__main__":
    main()
