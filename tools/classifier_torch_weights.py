#!/usr/bin/env python3
"""Convert classifier weights between a PyTorch state_dict and prism's HDF5 layout.

prism's classifier keeps its recognition network as a stack of fully
connected layers with ReLU between them, written to (and read back from, via
classifier.weights_file) the HDF5 group

    /classifier/widths            int64 [L+1]     features, hidden widths..., classes
    /classifier/weights           attrs activation="relu", layers=L
    /classifier/weights/W<l>      float64 [out][in]   l = 0 .. L-1
    /classifier/weights/b<l>      float64 [out]

W<l> and b<l> are in torch.nn.Linear order (y = W x + b, W of shape
[out_features][in_features]), so a PyTorch model of the form

    nn.Sequential(nn.Linear(D, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(), ..., nn.Linear(hk, C))

maps onto it one Linear layer per l, with no transposition.

usage:
    classifier_torch_weights.py to-hdf5  model.pt  weights.h5
        model.pt: a file written by torch.save(model.state_dict()). Its
        Linear layers are taken in state_dict order (keys ending in ".weight"
        with a 2-D tensor, each with its ".bias" 1-D tensor); the shapes must
        chain (out of layer l == in of layer l+1). The HDF5 file written can
        be given to prism as classifier.weights_file.
    classifier_torch_weights.py to-torch prism_output.h5  model.pt
        prism_output.h5: a prism output (or a file written by to-hdf5) with
        /classifier/weights. Writes a state_dict with the keys "0.weight",
        "0.bias", "2.weight", "2.bias", ... as nn.Sequential(Linear, ReLU,
        Linear, ..., Linear) names them, as float64 tensors
        (model.load_state_dict copies them into a float32 model as well).

torch is imported only by the commands that need it; h5py and numpy always.
"""
import argparse
import sys

GROUP = "/classifier"


class ConversionError(Exception):
    """A file that does not hold a Linear/ReLU stack in the expected layout."""


def _load_state_dict(path):
    """The state_dict in path as an ordered list of (key, float64 numpy array)."""
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # torch older than 1.13 has no weights_only
        obj = torch.load(path, map_location="cpu")
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()  # a whole module saved with torch.save(model)
    elif isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]  # a checkpoint dict with the state_dict inside
    if not isinstance(obj, dict):
        raise ConversionError(f"{path}: holds a {type(obj).__name__}, not a state_dict")
    out = []
    for key, value in obj.items():
        if not hasattr(value, "detach"):
            raise ConversionError(f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor")
        out.append((str(key), value.detach().cpu().double().numpy()))
    return out


def linear_layers(entries, where="state_dict"):
    """[(name, W [out][in], b [out])] of the Linear layers in entries, an
    ordered list of (key, array), with the shapes checked to chain."""
    layers, biases = [], {}
    for key, value in entries:
        if key.endswith(".weight") and value.ndim == 2:
            layers.append((key[: -len(".weight")], value))
        elif key.endswith(".bias") and value.ndim == 1:
            biases[key[: -len(".bias")]] = value
        else:
            raise ConversionError(
                f"{where}: entry {key!r} of shape {list(value.shape)} is not a Linear weight (2-D) or bias (1-D); "
                "only an nn.Sequential of Linear and ReLU layers can be converted")
    if not layers:
        raise ConversionError(f"{where}: no Linear layers (no key ending in '.weight' with a 2-D tensor)")
    names = {name for name, _ in layers}
    stray = sorted(set(biases) - names)
    if stray:
        raise ConversionError(f"{where}: bias {stray[0]!r}.bias has no matching {stray[0]!r}.weight")
    out = []
    for l, (name, W) in enumerate(layers):
        if name not in biases:
            raise ConversionError(f"{where}: layer {l} ({name!r}) has no bias; prism's layers all have one "
                                  "(nn.Linear(..., bias=True))")
        b = biases[name]
        if b.shape[0] != W.shape[0]:
            raise ConversionError(f"{where}: layer {l} ({name!r}): bias has {b.shape[0]} entries, "
                                  f"weight has {W.shape[0]} outputs")
        if out and out[-1][1].shape[0] != W.shape[1]:
            prev = out[-1]
            raise ConversionError(
                f"{where}: layers do not chain: layer {l - 1} ({prev[0]!r}) has {prev[1].shape[0]} outputs but "
                f"layer {l} ({name!r}) takes {W.shape[1]} inputs (weight shape {list(W.shape)})")
        out.append((name, W, b))
    return out


def write_hdf5(layers, path):
    """Writes /classifier/widths and /classifier/weights for layers [(name, W, b)]."""
    import h5py
    import numpy as np

    widths = [layers[0][1].shape[1]] + [W.shape[0] for _, W, _ in layers]
    with h5py.File(path, "w") as f:
        g = f.require_group(GROUP)
        g.attrs["features"] = np.int64(widths[0])
        g.attrs["classes"] = np.int64(widths[-1])
        g.create_dataset("widths", data=np.asarray(widths, dtype=np.int64))
        w = g.create_group("weights")
        w.attrs["activation"] = "relu"
        w.attrs["layers"] = np.int64(len(layers))
        for l, (_, W, b) in enumerate(layers):
            w.create_dataset(f"W{l}", data=np.ascontiguousarray(W, dtype=np.float64))
            w.create_dataset(f"b{l}", data=np.ascontiguousarray(b, dtype=np.float64))
    return widths


def read_hdf5(path):
    """[(W, b)] of /classifier/weights in path, checked to chain."""
    import h5py
    import numpy as np

    with h5py.File(path, "r") as f:
        if f"{GROUP}/weights" not in f:
            raise ConversionError(f"{path}: no {GROUP}/weights group")
        w = f[f"{GROUP}/weights"]
        layers = []
        while f"W{len(layers)}" in w:
            l = len(layers)
            if f"b{l}" not in w:
                raise ConversionError(f"{path}: {GROUP}/weights has W{l} but no b{l}")
            layers.append((f"W{l}", np.asarray(w[f"W{l}"], dtype=np.float64),
                           np.asarray(w[f"b{l}"], dtype=np.float64)))
        if not layers:
            raise ConversionError(f"{path}: {GROUP}/weights has no W0")
        declared = int(w.attrs["layers"]) if "layers" in w.attrs else len(layers)
        if declared != len(layers):
            raise ConversionError(f"{path}: {GROUP}/weights says layers={declared} but holds W0..W{len(layers) - 1}")
        act = w.attrs.get("activation", "relu")
        act = act.decode() if isinstance(act, bytes) else str(act)
        if act != "relu":
            raise ConversionError(f"{path}: activation {act!r}; only relu maps onto nn.ReLU")
        widths = np.asarray(f[f"{GROUP}/widths"]).tolist() if f"{GROUP}/widths" in f else None
    entries = []
    for name, W, b in layers:
        entries += [(f"{name}.weight", W), (f"{name}.bias", b)]
    checked = linear_layers(entries, where=path)
    if widths is not None:
        got = [checked[0][1].shape[1]] + [W.shape[0] for _, W, _ in checked]
        if [int(x) for x in widths] != got:
            raise ConversionError(f"{path}: {GROUP}/widths {widths} does not match the weight shapes {got}")
    return [(W, b) for _, W, b in checked]


def to_hdf5(pt, h5):
    layers = linear_layers(_load_state_dict(pt), where=pt)
    widths = write_hdf5(layers, h5)
    print(f"wrote {h5}: {len(layers)} layers, widths {'-'.join(map(str, widths))} "
          f"(from {', '.join(name for name, _, _ in layers)})")


def to_torch(h5, pt):
    import torch

    layers = read_hdf5(h5)
    state = {}
    for l, (W, b) in enumerate(layers):
        # nn.Sequential(Linear, ReLU, Linear, ...): Linear l sits at index 2 l.
        state[f"{2 * l}.weight"] = torch.from_numpy(W.copy())
        state[f"{2 * l}.bias"] = torch.from_numpy(b.copy())
    torch.save(state, pt)
    widths = [layers[0][0].shape[1]] + [W.shape[0] for W, _ in layers]
    print(f"wrote {pt}: {len(layers)} layers, widths {'-'.join(map(str, widths))} (keys {', '.join(state)})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__[__doc__.index("usage:"):__doc__.index("torch is imported")])
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("to-hdf5", help="PyTorch state_dict (.pt) -> HDF5 /classifier/weights")
    a.add_argument("model", help="a .pt file written by torch.save(model.state_dict())")
    a.add_argument("output", help="HDF5 file to write (usable as classifier.weights_file)")
    b = sub.add_parser("to-torch", help="HDF5 /classifier/weights -> PyTorch state_dict (.pt)")
    b.add_argument("run", help="prism HDF5 output (or a to-hdf5 file) with /classifier/weights")
    b.add_argument("output", help=".pt file to write")
    args = ap.parse_args(argv)
    try:
        if args.command == "to-hdf5":
            to_hdf5(args.model, args.output)
        else:
            to_torch(args.run, args.output)
    except ModuleNotFoundError as err:
        sys.exit(f"classifier_torch_weights.py: {err.name} is needed for {args.command} ({err})")
    except (ConversionError, OSError, KeyError) as err:
        sys.exit(f"classifier_torch_weights.py: {err}")


if __name__ == "__main__":
    main()
