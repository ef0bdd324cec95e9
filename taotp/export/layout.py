"""Our params, reshaped for libraries that want one shape for every layer (numpy only).

Our layers may differ in heads, head size and MLP width; TransformerLens and GPT-2 want one
``n_heads``, one ``d_head`` and one MLP width. Padding is exact: an extra head has zero
``Q K V P`` (it attends uniformly and writes 0), an extra head dimension adds 0 to every
score and writes 0, and an extra MLP unit has zero weights and bias (``relu(0) @ 0 == 0``).
The only change that rounds is a layer whose ``d_head`` is below the common one: its ``Q``
is multiplied by ``sqrt(d_head_common / d_head)`` so that the library's single
``1 / sqrt(d_head_common)`` becomes our ``1 / sqrt(d_head)``.

The layer-norm epsilons: we divide by ``std + 1e-10``, the libraries by ``sqrt(var + eps)``.
With ``eps = 1e-20`` the two agree to a relative ``1e-10 / std`` (exactly at ``std == 0``,
where both give 0). Hard attention can amplify that difference where keys tie: see
README's "How exact the exports are" for what was measured.

Einsum axes as in ``taotp.model``.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from taotp.params import Shape, check_params

OUR_EPSILON = 1e-10
# sqrt(var + OUR_EPSILON**2) is the closest a sqrt(var + eps) layer norm gets to std + OUR_EPSILON.
THEIR_EPSILON = 1e-20  # OUR_EPSILON ** 2, written exactly


def layout_of(params: dict, n_heads: int = 0, d_head: int = 0,
              block_size: int | None = None) -> Shape:
    """The smallest common shape (at least one head of one dimension), or a larger one asked for.

    Its ``d_ff`` is 0 when no layer has an MLP (nor a non-zero ``b2``): an attention-only export.

    ``block_size`` (at most the params') keeps only the first positions: for programs whose
    context is far longer than any sequence one will run.
    """
    check_params(params)
    layers = params["layers"]
    vocab_size, d_model = params["tok_emb"].shape
    full = params["pos_emb"].shape[0]
    if block_size is None:
        block_size = full
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) \
            or not 1 <= block_size <= full:
        raise ValueError(f"block_size must be an integer in [1, {full}], got {block_size!r}")
    heads = max([layer["Q"].shape[0] for layer in layers] + [1])
    head_size = max([layer["Q"].shape[2] for layer in layers] + [1])
    if n_heads and n_heads < heads or d_head and d_head < head_size:
        raise ValueError(f"cannot pad layers with {heads} heads of size {head_size} "
                         f"down to {n_heads} heads of size {d_head}")
    d_mlp = max([layer["M1"].shape[1] for layer in layers] + [0])
    if d_mlp == 0 and any(np.any(layer["b2"] != 0) for layer in layers):
        d_mlp = 1  # an empty MLP still adds b2: keep an MLP of one zero unit to carry it
    return Shape(vocab_size=vocab_size, block_size=int(block_size),
                 d_model=d_model, n_layers=len(layers), n_heads=n_heads or heads,
                 d_head=d_head or head_size, d_ff=d_mlp)


def padded_layers(params: dict, layout: Shape) -> list[dict]:
    """Every layer's ``Q K V P M1 b1 M2 b2`` padded to ``layout``; layer norms as vectors.

    ``Q K V P`` come out as ``(n_heads, d_model, d_head)``, ``M1 (d_model, d_mlp)``,
    ``b1 (d_mlp,)``, ``M2 (d_mlp, d_model)``, ``b2 (d_model,)``; ``ln1``/``ln2`` hold
    ``gamma``/``beta`` vectors of length ``d_model``.
    """
    dtype = check_params(params)
    d, h, k, f = layout.d_model, layout.n_heads, layout.d_head, layout.d_ff
    out = []
    for layer in params["layers"]:
        heads, _, head_size = layer["Q"].shape
        padded = {}
        for key in "QKVP":
            padded[key] = np.zeros((h, d, k), dtype)
            padded[key][:heads, :, :head_size] = layer[key]
        if 0 < head_size < k:
            padded["Q"] *= float((k / head_size) ** 0.5)
        width = layer["M1"].shape[1]
        padded["M1"] = np.zeros((d, f), dtype)
        padded["M1"][:, :width] = layer["M1"]
        padded["b1"] = np.zeros((f,), dtype)
        padded["b1"][:width] = layer["b1"]
        padded["M2"] = np.zeros((f, d), dtype)
        padded["M2"][:width] = layer["M2"]
        padded["b2"] = np.array(layer["b2"], dtype)
        padded["ln1"] = ln_vectors(layer["ln1"], d, dtype)
        padded["ln2"] = ln_vectors(layer["ln2"], d, dtype)
        out.append(padded)
    return out


def ln_vectors(ln: dict, d_model: int, dtype: DTypeLike) -> dict:
    """A layer norm's ``gamma``/``beta`` (scalars or vectors) as vectors of length ``d_model``."""
    return {key: np.broadcast_to(np.asarray(ln.get(key, default), dtype), (d_model,)).copy()
            for key, default in (("gamma", 1.0), ("beta", 0.0))}


def extend(w: np.ndarray, width: int) -> np.ndarray:
    """``w -> [w ; mean(w), ..., mean(w)]`` along the last axis, to ``width`` entries.

    GPT-2 needs a residual stream ``D >= d`` wide. Extending every vector written to it this
    way keeps the mean (``mean(ext(x)) == mean(x)``) and scales the variance by exactly
    ``d / D``, so layer norm of ``ext(x)`` is ``sqrt(D / d)`` times ours, padded with zeros,
    whatever ``x`` is. (A constant block would shift the mean once the residual is not
    layer-norm-fixed.) The map is linear, so sums of extended vectors stay extended.

    >>> extend(np.array([1.0, 2.0, 6.0]), 5)
    array([1., 2., 6., 3., 3.])
    """
    w = np.asarray(w)
    d = w.shape[-1]
    if width < d:
        raise ValueError(f"cannot extend {d} entries to {width}")
    mean = w.mean(axis=-1, keepdims=True)
    return np.concatenate([w, np.broadcast_to(mean, w.shape[:-1] + (width - d,))], axis=-1)
