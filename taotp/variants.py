"""Architecture variants from the exercises: RMSNorm, Post-LN, and re-basing the residual stream.

* ``transformer_variant(..., norm="rms", post_ln=True)``: the book's transformer (Figure 1.1)
  with RMSNorm [Zhang and Sennrich, 2019] instead of layer norm (Exercises 2.6, 7.6) and/or
  Post-LN sublayers [Vaswani et al., 2017] instead of Pre-LN (Exercises 3.7, 4.2, 7.11).
  ``decode_variant`` is the book's greedy loop (Figure 1.2) over it. With the defaults
  (``norm="layer"``, ``post_ln=False``) it is exactly ``taotp.transformer``.
* ``scramble_transformer`` (Exercise 1.8): new weights whose residual stream is the old one
  times a matrix ``M`` (row vectors: ``new_tok_emb = tok_emb @ M``) computing the same
  function. See its docstring for exactly which ``M`` work, and why layer norm restricts them.

Einsum axes as in ``taotp.model`` (``n m h d k v``; ``j`` the input of a projection).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from taotp.decoding import check_block_size
from taotp.model import layer_norm, transformer
from taotp.params import check_params, check_tokens

NORMS = ("layer", "rms")


def rms_norm(x: np.ndarray, gamma: ArrayLike = 1.0, beta: ArrayLike = 0.0, axis: int = -1,
             epsilon: float = 1e-10) -> np.ndarray:
    """RMSNorm: ``x / rms(x)`` (no mean subtraction), written like the book's layer norm.

    Its fixed points are the whole sphere of radius sqrt(d) (layer norm's are that sphere
    intersected with the hyperplane ``sum(x) = 0``): one dimension more to work with.
    """
    return beta + gamma * x / ((x * x).mean(axis=axis, keepdims=True) ** 0.5 + epsilon)


def _norm_fn(norm: str):
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, not {norm!r}")
    return layer_norm if norm == "layer" else rms_norm


def transformer_variant(tokens: ArrayLike, tok_emb: np.ndarray, pos_emb: np.ndarray,
                        out_emb: np.ndarray, layers: list, lnf: dict, *, norm: str = "layer",
                        post_ln: bool = False, causal: bool = True) -> np.ndarray:
    """Logits ``(n, v)``: the book's transformer with a choice of norm and of LN placement.

    Pre-LN (the book):  ``x = x + attn(N1(x)); x = x + mlp(N2(x))``; logits ``Nf(x) @ out_emb.T``.
    Post-LN (original): ``x = N1(x + attn(x)); x = N2(x + mlp(x))``; logits ``Nf(x) @ out_emb.T``.
    The final norm is kept in Post-LN too, so that a 0-layer model is the same in both; after a
    Post-LN layer with default gamma/beta it changes nothing (norms are idempotent). The math
    is ``taotp.transformer``'s, given another norm function and LN placement.
    """
    return transformer(tokens, tok_emb, pos_emb, out_emb, layers, lnf, causal,
                       normalize=_norm_fn(norm), post_ln=post_ln)


def decode_variant(tokens: ArrayLike, params: dict, max_steps: int = 1000,
                   eos: int | None = None, *, norm: str = "layer",
                   post_ln: bool = False) -> np.ndarray:
    """Greedy decoding (Figure 1.2) over ``transformer_variant``; returns prompt + output."""
    _norm_fn(norm)
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 0:
        raise ValueError(f"max_steps must be a non-negative integer, not {max_steps!r}")
    block_size = params["pos_emb"].shape[0]
    tokens = check_tokens(tokens, params["tok_emb"].shape[0], block_size)
    for _ in range(max_steps):
        check_block_size(len(tokens), block_size)
        logits = transformer_variant(tokens, **params, norm=norm, post_ln=post_ln)
        next_tok = int(np.argmax(logits[-1]))
        tokens = np.append(tokens, next_tok)
        if next_tok == eos:
            break
    return tokens


def scramble_transformer(tok_emb: np.ndarray, pos_emb: np.ndarray, out_emb: np.ndarray,
                         layers: list, lnf: dict, M: ArrayLike, *, atol: float = 1e-8
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list, dict]:
    """Weights computing the same function with residual stream ``x @ M`` (Exercise 1.8).

    Convention: row vectors, ``new_tok_emb = tok_emb @ M`` (the book's assert; its prose
    writes ``M . tok_emb[i]``, the same thing with column vectors and ``M`` transposed).

    Which parameters change: everything that reads or writes the residual stream. Writers
    (``tok_emb, pos_emb``, ``P``, ``M2, b2``) are multiplied by ``M`` on the model axis;
    readers (``Q K V``, ``M1``, ``out_emb``) by the inverse map ``A.T + J`` (below). ``b1``,
    ``gamma`` and ``beta`` stay as they are.

    Which ``M`` work. Layer norm subtracts the mean, i.e. removes the component along
    ``1 = (1, ..., 1)``, then divides by the norm of the rest. The old network never sees the
    ``1``-component of its stream; the new one must not see it either, and must see the rest
    up to a rotation and a common scale. With ``C = I - 11^T/d`` (centering) that is exactly:

    1. ``1^T M = a 1^T`` for some number ``a`` (adding a constant to every coordinate of the
       old stream adds one to every coordinate of the new stream), and
    2. ``B = C M C`` is a scaled isometry of the hyperplane ``1^⊥``: ``B B^T = c^2 C``, c > 0.

    Then ``layer_norm(x @ M) = layer_norm(x) @ A`` (plus beta terms handled by ``J``) with
    ``A = B / c``. Every orthonormal ``M`` with ``M 1 = ±1`` qualifies (a = ±1, c = 1), and so
    does ``c`` times one plus any "shear" along ``1`` — but a generic orthonormal ``M`` does
    NOT: it turns some of the stream's invisible ``1``-component into a visible direction and
    hides a visible one, and layer norm's nonlinearity (the division by the norm) then mixes
    them; no choice of the other weights undoes that for all inputs. A non-orthonormal
    ``M`` fails condition 2 (the norm layer norm divides by changes non-uniformly). ``gamma``
    and ``beta`` must be scalars (an elementwise gamma would have to commute with ``A``).

    Returns ``(new_tok_emb, new_pos_emb, new_out_emb, new_layers, new_lnf)``; raises
    ValueError, naming the failed condition, for an ``M`` outside this class.

    >>> import numpy as np
    >>> from taotp import transformer, base_params
    >>> params = base_params(5, 4, 3); params["tok_emb"] = params["out_emb"] = np.eye(5, 3)
    >>> M = ones_preserving_orthogonal(3, seed=0)
    >>> new = dict(zip(("tok_emb", "pos_emb", "out_emb", "layers", "lnf"),
    ...                scramble_transformer(**params, M=M)))
    >>> bool(np.allclose(transformer(np.arange(4), **new), transformer(np.arange(4), **params)))
    True
    """
    dtype = check_params(dict(tok_emb=tok_emb, pos_emb=pos_emb, out_emb=out_emb, layers=layers,
                              lnf=lnf))
    d = tok_emb.shape[1]
    M = np.asarray(M, dtype=np.float64)
    if M.shape != (d, d):
        raise ValueError(f"M must be a ({d}, {d}) matrix (d_model = {d}), got shape {M.shape}")
    A = _ln_compatible_part(M, atol)
    read = A.T + np.full((d, d), 1.0 / d)  # maps normalised new-stream vectors back to old ones
    for where, ln in [("lnf", lnf)] + [(f"layers[{i}]['{k}']", layer[k])
                                       for i, layer in enumerate(layers) for k in ("ln1", "ln2")]:
        for key, value in ln.items():
            if np.ndim(value) > 0 and not np.all(np.asarray(value) == np.asarray(value).flat[0]):
                raise ValueError(f"{where}['{key}'] is not a scalar: an elementwise {key} does "
                                 "not commute with the change of basis")

    def cast(x):
        return np.asarray(x, dtype=dtype)

    new_layers = []
    for layer in layers:
        new = dict(layer)
        for key in "QKV":
            new[key] = cast(np.einsum("ej,hjk->hek", read, layer[key]))
        new["P"] = cast(np.einsum("de,hdk->hek", M, layer["P"]))
        new["M1"] = cast(read @ layer["M1"])
        new["M2"] = cast(layer["M2"] @ M)
        new["b2"] = cast(layer["b2"] @ M)
        new["ln1"], new["ln2"] = dict(layer["ln1"]), dict(layer["ln2"])
        new_layers.append(new)
    new_tok_emb = cast(tok_emb @ M)
    new_out_emb = cast(out_emb @ read.T)
    return new_tok_emb, cast(pos_emb @ M), new_out_emb, new_layers, dict(lnf)


def _ln_compatible_part(M, atol):
    """``A = C M C / c`` after checking the two conditions of ``scramble_transformer``."""
    d = M.shape[0]
    ones = np.ones(d)
    row = ones @ M
    if not np.allclose(row, row.mean() * ones, atol=atol * max(1.0, np.abs(M).max())):
        raise ValueError("M must map the all-ones row vector to a multiple of itself "
                         "(1^T M = a 1^T): otherwise layer norm's mean subtraction removes a "
                         "different direction in the new basis than in the old one")
    C = np.eye(d) - np.full((d, d), 1.0 / d)
    B = C @ M @ C
    c2 = np.trace(B @ B.T) / max(d - 1, 1)
    if d < 2 or c2 <= 0 or not np.allclose(B @ B.T, c2 * C, atol=atol * max(1.0, c2)):
        raise ValueError("M restricted to the hyperplane perpendicular to (1, ..., 1) must be a "
                         "scaled orthonormal map (C M C (C M C)^T = c^2 C): otherwise layer "
                         "norm divides by a different norm in the new basis")
    return B / c2 ** 0.5


def ones_preserving_orthogonal(d: int, seed: int | None = None) -> np.ndarray:
    """A random orthonormal ``(d, d)`` matrix with ``1 @ M = 1``: a rotation of ``1^⊥``.

    >>> M = ones_preserving_orthogonal(4, seed=1)
    >>> bool(np.allclose(M @ M.T, np.eye(4))) and bool(np.allclose(np.ones(4) @ M, np.ones(4)))
    True
    """
    if not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    rng = np.random.default_rng(seed)
    # An orthonormal basis whose first vector is 1/sqrt(d): rotate the other d-1 at random.
    basis, _ = np.linalg.qr(np.column_stack([np.ones(d), rng.standard_normal((d, d - 1))]))
    rotation, _ = np.linalg.qr(rng.standard_normal((d - 1, d - 1)))
    inner = np.eye(d)
    inner[1:, 1:] = rotation
    return basis @ inner @ basis.T
