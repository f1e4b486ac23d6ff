"""gnn: an E(3)-equivariant interatomic potential (e3nn conventions; docs/gnn.md).

summary: the model and, per structure, atoms, edges, energy, energy per atom,
         the largest force and the closest pair; with NVE runs the largest
         deviation of the total energy from its start.
work:    atom evaluations: atoms * evaluations (the PERFORMANCE line's atom_evaluations).
plot:    NVE runs: potential, kinetic and total energy against time per
         structure (the total should stay flat); single points with reference
         energies or forces in the structure file: parity plots; otherwise
         energy per atom per structure and the distribution of force magnitudes.
"""
import numpy as np

from prism_h5 import attr_str, attrs_of, group_of, run_metadata


def _names(g):
    return [s for s in attr_str(g.attrs["structure_names"]).split("\n") if s]


def _forces_by_structure(g):
    if "forces" not in g:
        return None
    f, off = np.array(g["forces"]), np.array(g["atom_offset"])
    return [f[off[k]:off[k + 1]] for k in range(len(off) - 1)]


def summary(group, out):
    a = attrs_of(group)
    names = _names(group)
    print(f"\ngnn: model {a['model']} ({a['hidden']}, {a['layers']} layers, l <= {a['lmax']}, "
          f"r_cut {a['r_cut']}), {a['precision']}, {a['mode']}", file=out)
    energy, atoms, edges = np.array(group["energy"]), np.array(group["atoms"]), np.array(group["edges"])
    closest = np.array(group["closest"])
    forces = _forces_by_structure(group)
    print(f"  {'structure':>16} {'atoms':>9} {'edges':>11} {'energy [eV]':>18} {'eV/atom':>12} "
          f"{'max |F|':>10} {'closest':>8}", file=out)
    for k, name in enumerate(names[:40]):
        fmax = np.linalg.norm(forces[k], axis=1).max() if forces is not None and len(forces[k]) else float("nan")
        print(f"  {name:>16} {atoms[k]:>9} {edges[k]:>11} {energy[k]:>18.10f} {energy[k] / atoms[k]:>12.6f} "
              f"{fmax:>10.4g} {closest[k]:>8.4g}", file=out)
    if "reference_energy" in group:
        ref = np.array(group["reference_energy"])
        ok = np.isfinite(ref)
        print(f"  against the reference energies given with {ok.sum()} structure(s): mean |dE| per atom "
              f"{np.mean(np.abs(energy[ok] - ref[ok]) / atoms[ok]):.4g} eV", file=out)
    if "reference_forces" in group and "forces" in group:
        ref, f = np.array(group["reference_forces"]), np.array(group["forces"])
        ok = np.isfinite(ref[:, 0])
        print(f"  against the reference forces of {ok.sum()} atoms: mean |dF| component "
              f"{np.mean(np.abs(f[ok] - ref[ok])):.4g} eV/Angstrom", file=out)
    if "md" in group:
        pot, kin = np.array(group["md/potential"]), np.array(group["md/kinetic"])
        tot = pot + kin
        dev = np.abs(tot - tot[:, :1]).max(axis=1)
        m = attrs_of(group["md"])
        print(f"  NVE: {m['steps']} steps of {m['dt']} fs from {m['temperature']} K", file=out)
        for k, name in enumerate(names[:40]):
            print(f"  {name:>16} largest |E_total - E_total(0)| = {dev[k]:.3g} eV ({dev[k] / atoms[k]:.3g} eV/atom)",
                  file=out)


def work(group):
    a = group.attrs
    evaluations = 1 + (int(group["md"].attrs["steps"]) if "md" in group else 0)
    return float(np.sum(np.array(group["atoms"]))) * evaluations


def plot(file_or_group, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = group_of(file_or_group, "gnn")
    meta = run_metadata(g)
    names = _names(g)
    atoms = np.array(g["atoms"])
    if "md" in g:
        t = np.array(g["md/time"])
        pot, kin = np.array(g["md/potential"]), np.array(g["md/kinetic"])
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for k, name in enumerate(names[:6]):
            n = atoms[k]
            axes[0].plot(t, (pot[k] - pot[k][0]) / n, label=f"{name} potential")
            axes[0].plot(t, (kin[k] - kin[k][0]) / n, "--", label=f"{name} kinetic")
            axes[1].plot(t, (pot[k] + kin[k] - pot[k][0] - kin[k][0]) / n, label=name)
        axes[0].set(xlabel="time [fs]", ylabel="change per atom [eV]", title="potential and kinetic energy")
        axes[1].set(xlabel="time [fs]", ylabel="E_total - E_total(0) per atom [eV]", title="NVE: total energy")
        axes[0].legend(fontsize=7)
        axes[1].legend(fontsize=7)
    elif "reference_energy" in g or "reference_forces" in g:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
        for ax, (name, ref_name, unit, per_atom) in zip(
                axes, (("energy", "reference_energy", "eV/atom", True),
                       ("forces", "reference_forces", "eV/Angstrom", False))):
            if ref_name not in g or name not in g:
                ax.set_axis_off()
                continue
            got, ref = np.array(g[name]).ravel(), np.array(g[ref_name]).ravel()
            if per_atom:
                got, ref = got / atoms, ref / atoms
            ok = np.isfinite(ref)
            ax.plot(ref[ok], got[ok], ".", ms=3)
            lo, hi = min(ref[ok].min(), got[ok].min()), max(ref[ok].max(), got[ok].max())
            ax.plot([lo, hi], [lo, hi], "k-", lw=0.5)
            ax.set(xlabel=f"reference [{unit}]", ylabel=f"prism [{unit}]",
                   title=f"{name}: mean |difference| {np.mean(np.abs(got[ok] - ref[ok])):.3g}")
    else:
        energy = np.array(g["energy"])
        forces = _forces_by_structure(g)
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        axes[0].bar(range(len(names)), energy / atoms)
        axes[0].set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
        axes[0].set(ylabel="energy per atom [eV]", title="energies")
        if forces is not None:
            mags = np.concatenate([np.linalg.norm(f, axis=1) for f in forces])
            axes[1].hist(mags, bins=40)
            axes[1].set(xlabel="|F| [eV/Angstrom]", ylabel="atoms", title="force magnitudes")
    fig.suptitle(f"gnn, {meta.get('device', '')}", fontsize=9)
    fig.tight_layout()
    fig.savefig(output, dpi=120)
