"""Params as ``.npz`` (chapter 8's storage, without pickle): one array per weight, keys
``tok_emb``, ``layers.0.Q``, ``layers.0.ln1.gamma``, ``lnf.beta`` and ``n_layers``.

Loading reads every array's header before any data, so a hostile or damaged file is refused
with a ValueError before anything large is allocated; nothing in the file is ever executed.

>>> import io
>>> params = {"tok_emb": np.eye(2), "pos_emb": np.zeros((1, 2)), "out_emb": np.eye(2),
...           "layers": [], "lnf": {"gamma": 1.0, "beta": 0.0}}
>>> buffer = io.BytesIO(); save_npz(params, buffer); _ = buffer.seek(0)
>>> load_npz(buffer)["tok_emb"].tolist()
[[1.0, 0.0], [0.0, 1.0]]
"""
from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from taotp.checks import MAX_PARAM_ELEMENTS, check_elements, excerpt
from taotp.params import EMBEDDINGS, LAYER_ARRAYS, LAYER_NORMS, check_params


def save_npz(params: dict, path: str | Path | BinaryIO) -> None:
    """Write ``params`` with ``np.savez`` to a path or binary file (keys like ``layers.0.Q``)."""
    check_params(params)
    arrays = {key: params[key] for key in EMBEDDINGS}
    arrays["n_layers"] = np.array(len(params["layers"]))
    for i, layer in enumerate(params["layers"]):
        for key in LAYER_ARRAYS:
            arrays[f"layers.{i}.{key}"] = layer[key]
        for key in LAYER_NORMS:
            arrays.update({f"layers.{i}.{key}.{k}": np.asarray(v) for k, v in layer[key].items()})
    arrays.update({f"lnf.{k}": np.asarray(v) for k, v in params["lnf"].items()})
    if hasattr(path, "write"):
        np.savez(path, **arrays)
        return
    with open(path, "wb") as file:  # a file object: np.savez must not add ".npz" itself
        np.savez(file, **arrays)


def load_npz(path: str | Path | BinaryIO) -> dict:
    """Params written by ``save_npz``; a ValueError names any key that is missing or unknown.

    Every array's header is read first: a declared shape that the stored bytes cannot hold,
    or more than ``MAX_PARAM_ELEMENTS`` numbers in all, is refused before anything is
    allocated; a damaged zip (bad CRC, truncated, not a zip) is a ValueError too.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            _check_npz_headers(path, archive)
            stored = {}
            for info in archive.infolist():
                with archive.open(info) as file:
                    stored[info.filename.removesuffix(".npy")] = np.lib.format.read_array(
                        file, allow_pickle=False)
    except (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"{path}: not a taotp .npz file ({excerpt(error, 120)})") from None
    if "n_layers" not in stored or stored["n_layers"].shape != ():
        raise ValueError(f"{path}: not a taotp .npz file (no 'n_layers')")
    n_layers = int(stored.pop("n_layers"))

    def take(key):
        if key not in stored:
            raise ValueError(f"{path}: missing array {key!r}")
        return stored.pop(key)

    def ln(prefix):
        values = {name: stored.pop(f"{prefix}.{name}")
                  for name in ("gamma", "beta") if f"{prefix}.{name}" in stored}
        return {name: float(v) if v.ndim == 0 else v for name, v in values.items()}

    params = {key: take(key) for key in EMBEDDINGS}
    params["layers"] = [{**{key: take(f"layers.{i}.{key}") for key in LAYER_ARRAYS},
                         **{key: ln(f"layers.{i}.{key}") for key in LAYER_NORMS}}
                        for i in range(n_layers)]
    params["lnf"] = ln("lnf")
    if stored:
        raise ValueError(f"{path}: unknown arrays {', '.join(sorted(stored))}")
    check_params(params)
    return params


def _check_npz_headers(path, archive):
    """Each member is a .npy of a float or int dtype whose declared size its bytes can hold."""
    total = 0
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            raise ValueError(f"member {excerpt(info.filename)} is not a .npy array")
        with archive.open(info) as file:
            version = np.lib.format.read_magic(file)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"array {excerpt(info.filename)} has .npy version {version}")
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read(file)
        if dtype.hasobject or dtype.kind not in "fiu":
            raise ValueError(f"array {excerpt(info.filename)} has dtype {dtype}; "
                             "expected numbers")
        count = math.prod(shape)
        if count * dtype.itemsize > info.file_size:
            raise ValueError(f"array {excerpt(info.filename)} declares shape {shape}, "
                             f"more than its {info.file_size:,} bytes hold")
        total += count
    check_elements(f"{path}", total, MAX_PARAM_ELEMENTS)
