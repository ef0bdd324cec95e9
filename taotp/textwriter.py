"""TAOTP text from params (chapter 8): ``to_TAOTP``, the writer ``taotp.textformat`` reads.

The text compiles (``compile_TAOTP``) to the same params bit for bit, in float64 or float32:
each float32 number is written with its shortest float32 digits when those read back exactly,
else with the float64 digits of the same value; a tied ``out_emb`` is left out (omitting it
ties it again); a large all-zero array is written ``{"zeros": shape}``.
"""
from __future__ import annotations

import numpy as np

from taotp.params import EMBEDDINGS, LAYER_KEYS, LAYER_NORMS, check_params


def to_TAOTP(params: dict) -> str:
    """TAOTP text for ``params``; ``compile_TAOTP`` of it gives the same arrays, bit for bit."""
    dtype = check_params(params)
    lines = ["{"]
    if dtype == np.float32:
        lines.append('    "dtype": "float32",')
    for key in EMBEDDINGS:
        tok, out = params["tok_emb"], params["out_emb"]
        if key == "out_emb" and (tok.shape, tok.tobytes()) == (out.shape, out.tobytes()):
            continue  # tied: omitting it ties it again
        lines.append(f'    "{key}": {_format(params[key], 1)},')
    if params["layers"]:
        lines.append('    "layers": [')
        for layer in params["layers"]:
            lines.append("        {")
            for key in LAYER_KEYS:
                value = (_format_ln(layer[key]) if key in LAYER_NORMS
                         else _format(layer[key], 3, key))
                lines.append(f'            "{key}": {value},')
            lines.append("        },")
        lines.append("    ],")
    else:
        lines.append('    "layers": [],')
    lines.append(f'    "lnf": {_format_ln(params["lnf"])},')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _number(x) -> str:
    """Digits that read back (as float64, then cast to x's dtype) as exactly ``x``."""
    if isinstance(x, np.float32):
        short = str(x)  # numpy's shortest float32 digits
        if np.float32(float(short)).tobytes() == x.tobytes():
            return short
    return repr(float(x))


def _format(a, indent, key=None, top=True):
    """Nested-list text for an array, one innermost row per line (``{"zeros": shape}`` only
    for a whole array, ``top``: the reader takes it where an array goes, not as a row)."""
    if (a.size == 0 and not _list_keeps_shape(a, key)) or (top and _large_and_zero(a)):
        return '{"zeros": ' + str(list(a.shape)) + "}"
    if a.ndim <= 1:
        return "[" + ", ".join(_number(x) for x in a) + "]"
    if a.shape[0] == 0:
        return "[]"
    if a.ndim == 2 and a.shape[1] == 0:
        return "[" + ", ".join("[]" for _ in range(a.shape[0])) + "]"
    pad = "    " * indent
    rows = [pad + "    " + _format(row, indent + 1, top=False) for row in a]
    return "[\n" + ",\n".join(rows) + ",\n" + pad + "]"


def _large_and_zero(a) -> bool:
    """A big all-(+0.0) array (e.g. a 10^6-position ``pos_emb`` that holds nothing) is
    written as ``{"zeros": shape}``: listing it would cost ~8 bytes a number to write and
    far more to parse back."""
    return a.size >= 10_000 and not a.any() and not np.signbit(a).any()


def _list_keeps_shape(a, key):
    """Whether ``compile_TAOTP`` reads ``a.tolist()`` back with ``a``'s shape."""
    return (np.shape(a.tolist()) == a.shape
            or (key == "M2" and a.shape[0] == 0)  # read as (0, d_model)
            or (key in ("Q", "K", "V", "P") and a.shape[0] == 0 and a.shape[2] == 0))


def _format_ln(ln):
    parts = [f'"{k}": ' + (_format(v, 0) if isinstance(v, np.ndarray) and v.ndim else
                           _number(np.float64(v))) for k, v in ln.items()]
    return "{" + ", ".join(parts) + "}"

