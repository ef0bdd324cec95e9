"""The TAOTP language (chapter 8, Figures 8.1-8.3, Exercise 8.4): weights as text, and npz.

A TAOTP program is a Python-literal dict (Figure 8.2): ``tok_emb``, ``pos_emb``, optional
``out_emb`` (tied to ``tok_emb`` when omitted), ``layers`` and ``lnf``. ``compile_TAOTP``
reads it with ``ast`` and ``ast.literal_eval`` only: nothing in the text is ever executed.

The book's interpreter (Figure 8.1) calls ``np.array`` on every layer value, so any program
with layers (Figure 8.3 included) gets 0-d object arrays for ``ln1``/``ln2`` and fails in the
forward pass; and its empty MLP ``"M2": []`` has shape ``(0,)``. Here layer-norm dicts stay
dicts of floats (or arrays), ``M2 = []`` becomes ``(0, d_model)``, and the conveniences of
Exercise 8.4 are accepted:

* ``lnf``, ``ln1``, ``ln2`` default to ``{"gamma": 1.0, "beta": 0.0}``; ``layers`` to ``[]``;
* a layer without ``M1 b1 M2 b2`` gets an empty MLP (d_ff = 0, ``b2`` zeros);
* ``"block_size": n`` with no ``pos_emb`` gives ``n`` zero position embeddings;
* ``{"zeros": [shape]}`` wherever an array goes;
* ``"dtype": "float32"`` (default ``"float64"``) for the arrays' dtype.

Malformed text raises a ValueError naming the line and column (syntax, or anything that is
not a literal) or the key path (``layers[0]['Q'][1]``); wrong shapes raise
``taotp.params.check_params``'s error. ``to_TAOTP`` (``taotp.textwriter``, importable from
here) writes params back as text that compiles to the same params bit for bit, in float64 or
float32. ``save_npz``/``load_npz`` store the same thing with ``np.savez`` (no
pickle, ``taotp.npzformat``). ``save``/``load`` pick the format from the suffix (.npz, .taotp
or .txt).

The book's two programs (typed in ``tests/data``): Figure 8.2 (HELLO WORLD, 0 layers,
d_model 3, 72 parameters) still prints "Hello World!" with its one-decimal numbers.
Figure 8.3 (one head, no MLP, vocab 20, block 8, d_model 3) attends to the minimum token,
but its one-decimal ``tok_emb`` is off the layer-norm circle and the tied unembedding then
names a neighbour for 8 of the 20 tokens (1 4 6 8 11 13 15 18); with
``tok_emb = layer_norm(tok_emb)`` it outputs MIN on every input we tried (all prompts of
length <= 3, 3000 random ones of each length 4-7).

>>> params = compile_TAOTP('{"tok_emb": [[1.0, -1.0], [-1.0, 1.0]], "block_size": 2}')
>>> params["pos_emb"].shape, params["out_emb"].tolist(), params["lnf"]
((2, 2), [[1.0, -1.0], [-1.0, 1.0]], {'gamma': 1.0, 'beta': 0.0})
>>> compile_TAOTP(to_TAOTP(params))["tok_emb"].tolist()
[[1.0, -1.0], [-1.0, 1.0]]
>>> compile_TAOTP('{"tok_emb": [[1.0, oops]]}')
Traceback (most recent call last):
ValueError: line 1, column 20: 'oops' is not a literal (TAOTP text holds only numbers, lists and dicts)
"""
from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np

from taotp.checks import check_elements, excerpt
from taotp.npzformat import load_npz, save_npz
from taotp.params import EMBEDDINGS, LAYER_ARRAYS, LAYER_KEYS, LAYER_NORMS, check_params
from taotp.textwriter import to_TAOTP

TOP_KEYS = EMBEDDINGS + ("layers", "lnf", "dtype", "block_size")
DTYPES = {"float64": np.dtype(np.float64), "float32": np.dtype(np.float32)}
_LITERAL_NODES = (ast.Expression, ast.Dict, ast.List, ast.Tuple, ast.Constant, ast.Load)
# Largest TAOTP text read (parsing costs ~50x the text in memory) and largest integer
# literal in it (weights are floats; a 401-digit integer does not fit in one).
MAX_TEXT_BYTES = 64 * 2 ** 20
MAX_LITERAL = 10 ** 30


def compile_TAOTP(program: str) -> dict:
    """Params from TAOTP text (Figure 8.1, fixed and extended as the module docstring says)."""
    if not isinstance(program, str):
        raise TypeError(f"a TAOTP program is a str, not {type(program).__name__}")
    if len(program) > MAX_TEXT_BYTES:
        raise ValueError(f"a TAOTP program of {len(program):,} characters is too long to "
                         f"parse (at most {MAX_TEXT_BYTES:,}); save large params as .npz")
    raw = _literal(program)
    if not isinstance(raw, dict):
        raise ValueError(f"a TAOTP program is a dict, not a {type(raw).__name__}")
    unknown = [k for k in raw if k not in TOP_KEYS]
    if unknown:
        raise ValueError(f"unknown keys {', '.join(map(repr, unknown))}; "
                         f"a TAOTP program has {', '.join(TOP_KEYS)}")
    dtype = raw.get("dtype", "float64")
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise ValueError(f"'dtype' must be 'float64' or 'float32', not {dtype!r}")
    dtype = DTYPES[dtype]
    if "tok_emb" not in raw:
        raise ValueError("a TAOTP program needs 'tok_emb'")
    tok_emb = _array("tok_emb", raw["tok_emb"], dtype)
    d_model = tok_emb.shape[-1] if tok_emb.ndim == 2 else 0
    params = {"tok_emb": tok_emb,
              "out_emb": _array("out_emb", raw["out_emb"], dtype) if "out_emb" in raw
              else tok_emb.copy()}
    if "pos_emb" in raw:
        params["pos_emb"] = _array("pos_emb", raw["pos_emb"], dtype)
        if "block_size" in raw and raw["block_size"] != params["pos_emb"].shape[0]:
            raise ValueError(f"'block_size' is {raw['block_size']!r} but pos_emb has "
                             f"{params['pos_emb'].shape[0]} rows")
    elif "block_size" in raw:
        n = raw["block_size"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"'block_size' must be a positive integer, not {excerpt(n)}")
        check_elements(f"pos_emb of block_size {n:,}", n * d_model)
        params["pos_emb"] = np.zeros((n, d_model), dtype=dtype)
    else:
        raise ValueError("a TAOTP program needs 'pos_emb' or 'block_size'")
    layers = raw.get("layers", [])
    if not isinstance(layers, list):
        raise ValueError(f"'layers' must be a list of dicts, not {type(layers).__name__}")
    params["layers"] = [_layer(f"layers[{i}]", layer, d_model, dtype)
                        for i, layer in enumerate(layers)]
    params["lnf"] = _ln("lnf", raw.get("lnf", {"gamma": 1.0, "beta": 0.0}), dtype)
    check_params(params)
    return params


def save(params: dict, path: str | Path) -> None:
    """``save_npz`` for .npz paths, ``to_TAOTP`` text for .taotp and .txt."""
    if _kind(path) == "npz":
        save_npz(params, path)
    else:  # the text is made before the file is opened: no half-written file on error
        Path(path).write_text(to_TAOTP(params), encoding="utf-8")


def load(path: str | Path) -> dict:
    """Params from a .npz, .taotp or .txt file (what ``taotp params FILE`` reads)."""
    if _kind(path) == "npz":
        return load_npz(path)
    size = Path(path).stat().st_size
    if size > MAX_TEXT_BYTES:
        raise ValueError(f"{path}: {size:,} bytes is too long for TAOTP text (at most "
                         f"{MAX_TEXT_BYTES:,}); save large params as .npz")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") \
            from None
    return compile_TAOTP(text)


def _kind(path):
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return "npz"
    if suffix in (".taotp", ".txt"):
        return "text"
    raise ValueError(f"{path}: unknown suffix {suffix!r}; use .npz, .taotp or .txt")


def _literal(program):
    """``ast.literal_eval`` with the place of the first problem in the message."""
    try:
        tree = ast.parse(program, mode="eval")
    except SyntaxError as error:
        where = f"line {error.lineno}, column {error.offset}: " if error.lineno else ""
        raise ValueError(where + error.msg) from None
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes, deep nesting
        raise ValueError(f"cannot read the program: {error or 'nested too deeply'}") from None
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}, column {getattr(node, 'col_offset', -1) + 1}"
        signed = (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
                  and isinstance(node.operand, ast.Constant))
        if not (isinstance(node, _LITERAL_NODES) or signed
                or isinstance(node, (ast.USub, ast.UAdd)) or node is tree):
            raise ValueError(f"{where}: {ast.unparse(node)!r} is not a literal "
                             "(TAOTP text holds only numbers, lists and dicts)")
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            twice = sorted({repr(k) for k in keys if keys.count(k) > 1})
            if twice:
                raise ValueError(f"{where}: key {twice[0]} appears twice in one dict")
    try:
        return ast.literal_eval(tree)
    except (ValueError, TypeError) as error:  # e.g. -"text", or an unhashable dict key
        raise ValueError(f"not a TAOTP literal: {error}") from None


def _array(where, value, dtype, d_model=None, key=None):
    if isinstance(value, dict):
        shape = value.get("zeros") if set(value) == {"zeros"} else None
        if not (isinstance(shape, list) and all(isinstance(n, int) and not isinstance(n, bool)
                                                and n >= 0 for n in shape)):
            raise ValueError(f"{where} must be a nested list of numbers or "
                             '{"zeros": [shape]}')
        check_elements(where, math.prod(shape))
        return np.zeros(shape, dtype=dtype)
    _check_nested(where, value)
    if value == [] and key in ("M2", "Q", "K", "V", "P"):  # Figure 8.3's M2; no heads
        return np.zeros((0, d_model) if key == "M2" else (0, d_model, 0), dtype=dtype)
    array = np.array(value, dtype=np.float64)
    with np.errstate(over="ignore"):
        cast = array.astype(dtype)
    if not np.all(np.isfinite(cast)):
        raise ValueError(f"{where} holds a number beyond the range of {dtype} (weights must "
                         "be finite)")
    return cast


def _check_nested(where, value):
    """Raise unless ``value`` is a number or a rectangular nest of lists of numbers."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_LITERAL:
        raise ValueError(f"{where} is an integer of {len(str(abs(value)))} digits; weights "
                         f"are floats of at most {MAX_LITERAL:.0e} in size")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ()
    if not isinstance(value, list):
        raise ValueError(f"{where} is {value!r}; expected a number or a list of numbers")
    shapes = [_check_nested(f"{where}[{i}]", item) for i, item in enumerate(value)]
    for i, shape in enumerate(shapes):
        if shape != shapes[0]:
            raise ValueError(f"{where}[{i}] has shape {shape}, but {where}[0] has {shapes[0]}")
    return (len(value),) + (shapes[0] if shapes else ())


def _layer(where, layer, d_model, dtype):
    if not isinstance(layer, dict):
        raise ValueError(f"{where} must be a dict, not {type(layer).__name__}")
    unknown = [k for k in layer if k not in LAYER_KEYS]
    if unknown:
        raise ValueError(f"{where} has unknown keys {', '.join(map(repr, unknown))}")
    layer = dict(layer)
    if not any(k in layer for k in ("M1", "b1", "M2", "b2")):  # an attention-only layer
        layer.update(M1={"zeros": [d_model, 0]}, b1=[], M2=[], b2={"zeros": [d_model]})
    out = {key: _array(f"{where}['{key}']", layer[key], dtype, d_model, key)
           for key in LAYER_ARRAYS if key in layer}
    for key in LAYER_NORMS:
        out[key] = _ln(f"{where}['{key}']", layer.get(key, {"gamma": 1.0, "beta": 0.0}), dtype)
    return out  # missing arrays are reported by check_params


def _ln(where, value, dtype):
    if not isinstance(value, dict) or set(value) - {"gamma", "beta"}:
        raise ValueError(f"{where} must be a dict with keys 'gamma' and 'beta'")
    out = {}
    for k, v in value.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            _check_nested(f"{where}['{k}']", v)
            if not math.isfinite(float(v)):
                raise ValueError(f"{where}['{k}'] is {v}; weights must be finite")
            out[k] = float(v)
        else:
            out[k] = _array(f"{where}['{k}']", v, dtype)
    return out

