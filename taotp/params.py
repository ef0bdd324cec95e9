"""Parameter dicts: validation, counting (Figure 1.4), dtype conversion and shape summary."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from taotp.checks import check_finite

EMBEDDINGS = ("tok_emb", "pos_emb", "out_emb")
LAYER_ARRAYS = ("Q", "K", "V", "P", "M1", "b1", "M2", "b2")
LAYER_NORMS = ("ln1", "ln2")
LAYER_KEYS = LAYER_ARRAYS + LAYER_NORMS
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class HumanReadableDict(dict):
    """Counts printed with thousands separators, as the book prints them."""
    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k}: {v:,}" for k, v in self.items()) + "}"


def count_params(params: dict,
                 count: Callable[[np.ndarray], int] = lambda x: x.size) -> dict[str, int]:
    """Parameter counts with the book's keys; tied ``out_emb`` is counted once.

    Layer-norm gammas and betas are left out, as in the book (they are never changed).
    """
    embs = ["tok_emb", "pos_emb"]
    if not is_tied(params):
        embs.append("out_emb")
    emb_params = {emb: int(count(params[emb])) for emb in embs}
    non_emb_params = 0
    for layer in params["layers"]:
        for param in layer.values():
            if isinstance(param, np.ndarray):
                non_emb_params += int(count(param))
    return HumanReadableDict(
        {"n_params": sum(emb_params.values()) + non_emb_params}
        | emb_params
        | {"non_emb": non_emb_params})


count_non0_params = partial(count_params, count=lambda x: (x != 0).sum())


def is_tied(params: dict) -> bool:
    """Tied embeddings (``out_emb == tok_emb``), which the book's programs use."""
    tok, out = params["tok_emb"], params["out_emb"]
    return tok.shape == out.shape and bool(np.all(tok == out))


@dataclass(frozen=True)
class Shape:
    """The architecture a params dict implies."""
    vocab_size: int
    block_size: int
    d_model: int
    n_layers: int
    n_heads: int
    d_head: int
    d_ff: int  # the widest MLP of any layer


def shape_of(params: dict) -> Shape:
    """The architecture of a params dict (the widest layer wins when layers differ)."""
    check_params(params)
    layers = params["layers"]
    return Shape(
        vocab_size=params["tok_emb"].shape[0],
        block_size=params["pos_emb"].shape[0],
        d_model=params["tok_emb"].shape[1],
        n_layers=len(layers),
        n_heads=max((layer["Q"].shape[0] for layer in layers), default=0),
        d_head=max((layer["Q"].shape[2] for layer in layers), default=0),
        d_ff=max((layer["M1"].shape[1] for layer in layers), default=0),
    )


def params_dtype(params: dict) -> np.dtype:
    """The one float dtype all parameters share (an error if they mix)."""
    return check_params(params)


def astype(params: dict, dtype: str | np.dtype) -> dict:
    """A copy of ``params`` with every array (and layer-norm value) in ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, not {dtype}")

    def ln(d):
        return {k: (np.asarray(v, dtype) if isinstance(v, np.ndarray) else float(v))
                for k, v in d.items()}

    return {
        **{emb: np.asarray(params[emb], dtype=dtype) for emb in EMBEDDINGS},
        "layers": [{k: (ln(v) if k in LAYER_NORMS else np.asarray(v, dtype=dtype))
                    for k, v in layer.items()} for layer in params["layers"]],
        "lnf": ln(params["lnf"]),
    }


def check_params(params: dict) -> np.dtype:
    """Raise a ValueError/TypeError naming the key if ``params`` is malformed; return its dtype."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict, not {type(params).__name__}")
    missing = [k for k in EMBEDDINGS + ("layers", "lnf") if k not in params]
    if missing:
        raise ValueError(f"params is missing {', '.join(missing)}")
    dtypes = {}

    def array(where, value, ndim):
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{where} must be a numpy array, not {type(value).__name__}")
        if value.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{where} has dtype {value.dtype}; expected float32 or float64")
        if value.ndim != ndim:
            raise ValueError(f"{where} must have {ndim} dimensions, has shape {value.shape}")
        check_finite(where, value)
        dtypes[where] = value.dtype
        return value.shape

    vocab_size, d_model = array("tok_emb", params["tok_emb"], 2)
    if array("out_emb", params["out_emb"], 2)[1] != d_model:
        raise ValueError(f"out_emb has shape {params['out_emb'].shape}; "
                         f"its rows must have d_model={d_model} entries like tok_emb's")
    if array("pos_emb", params["pos_emb"], 2)[1] != d_model:
        raise ValueError(f"pos_emb has shape {params['pos_emb'].shape}; "
                         f"its rows must have d_model={d_model} entries like tok_emb's")
    _check_ln("lnf", params["lnf"], d_model, dtypes)
    if not isinstance(params["layers"], (list, tuple)):
        raise TypeError("params['layers'] must be a list of layer dicts")
    for i, layer in enumerate(params["layers"]):
        where = f"layers[{i}]"
        if not isinstance(layer, dict):
            raise TypeError(f"{where} must be a dict, not {type(layer).__name__}")
        missing = [k for k in LAYER_KEYS if k not in layer]
        if missing:
            raise ValueError(f"{where} is missing {', '.join(missing)}")
        extra = [k for k in layer if k not in LAYER_KEYS]
        if extra:
            raise ValueError(f"{where} has unknown keys {', '.join(map(str, extra))}")
        heads = array(f"{where}['Q']", layer["Q"], 3)
        if heads[1] != d_model:
            raise ValueError(f"{where}['Q'] has shape {heads}; expected (n_heads, {d_model}, d_head)")
        for key in "KVP":
            if array(f"{where}['{key}']", layer[key], 3) != heads:
                raise ValueError(f"{where}['{key}'] has shape {layer[key].shape}; "
                                 f"expected {heads} like Q")
        d_ff = array(f"{where}['M1']", layer["M1"], 2)
        for key, ndim, expected in (("b1", 1, (d_ff[1],)), ("M2", 2, (d_ff[1], d_model)),
                                    ("b2", 1, (d_model,))):
            if array(f"{where}['{key}']", layer[key], ndim) != expected:
                raise ValueError(f"{where}['{key}'] has shape {layer[key].shape}; expected {expected}")
        if d_ff[0] != d_model:
            raise ValueError(f"{where}['M1'] has shape {d_ff}; expected ({d_model}, d_ff)")
        for key in LAYER_NORMS:
            _check_ln(f"{where}['{key}']", layer[key], d_model, dtypes)
    kinds = set(dtypes.values())
    if len(kinds) > 1:
        by_kind = {kind: [w for w, d in dtypes.items() if d == kind][0] for kind in kinds}
        raise TypeError("params mix dtypes ("
                        + ", ".join(f"{w} is {k}" for k, w in by_kind.items())
                        + "); convert them with taotp.astype(params, dtype)")
    return kinds.pop()


def _check_ln(where, ln, d_model, dtypes):
    if not isinstance(ln, dict) or set(ln) - {"gamma", "beta"}:
        raise ValueError(f"{where} must be a dict with keys 'gamma' and 'beta'")
    for key, value in ln.items():
        if isinstance(value, np.ndarray) and value.ndim > 0:
            if value.shape != (d_model,):
                raise ValueError(f"{where}['{key}'] has shape {value.shape}; "
                                 f"expected a scalar or ({d_model},)")
            if value.dtype not in FLOAT_DTYPES:
                raise TypeError(f"{where}['{key}'] has dtype {value.dtype}; expected a float")
            dtypes[f"{where}['{key}']"] = value.dtype
        elif not isinstance(value, (int, float, np.floating, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{where}['{key}'] must be a number or an array, "
                            f"not {type(value).__name__}")
        check_finite(f"{where}['{key}']", value)


def check_tokens(tokens, vocab_size: int, block_size: int | None) -> np.ndarray:
    """A 1-D int array of ids in ``[0, vocab_size)``, no longer than ``block_size``."""
    array = np.asarray(tokens)
    if array.ndim != 1:
        raise ValueError(f"tokens must be a 1-D sequence of ids, got shape {array.shape}")
    return _check_ids(array, vocab_size, block_size)


def check_batch(prompts, vocab_size: int, block_size: int | None) -> np.ndarray:
    """A 2-D int array ``(batch, n)`` of ids, every prompt the same length."""
    try:
        array = np.asarray(prompts)
    except ValueError as error:  # ragged input
        raise ValueError("prompts in one batch must all have the same length") from error
    if array.ndim != 2:
        raise ValueError(f"prompts must be a 2-D (batch, length) array, got shape {array.shape}")
    return _check_ids(array, vocab_size, block_size)


def _check_ids(array, vocab_size, block_size):
    if array.shape[-1] == 0:
        raise ValueError("tokens must not be empty")
    if array.dtype.kind not in "iu":
        if array.dtype.kind == "f" and np.all(array == np.round(array)):
            array = array.astype(np.int64)
        else:
            raise TypeError(f"token ids must be integers, got dtype {array.dtype}")
    bad = (array < 0) | (array >= vocab_size)
    if bad.any():
        raise ValueError(f"token id {array[bad].flat[0]} is outside the vocabulary "
                         f"[0, {vocab_size})")
    if block_size is not None and array.shape[-1] > block_size:
        raise ValueError(f"{array.shape[-1]} tokens do not fit in block_size={block_size} "
                         "(ask for a sliding window to decode past it)")
    return array
