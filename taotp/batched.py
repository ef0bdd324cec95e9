"""The batched forward pass with a key/value cache: what ``decode_batch``, ``feed``,
verification and the fast paths run.

``forward_batch`` feeds whole sequences in one pass (teacher forcing); ``_forward`` feeds any
slice of positions after those already in a ``KVCache``, so a decoder pays one position per
step. The book's one-screen pass (``taotp.model.transformer``) stays the definition: these
agree with it token for token and, in float64, to 1e-9 of the logit scale (tested).

Einsum axes as in ``taotp.model``, plus ``b`` for the batch.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from taotp.model import layer_norm, softmax
from taotp.params import check_batch, check_params


def forward_batch(tokens: ArrayLike, params: dict, logits_from: int = 0, hardness: bool = False,
                  causal: bool = True) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Logits ``(b, n - logits_from, v)`` for a batch of equal-length sequences, in one pass.

    Feeding prompt + expected output gives, at each output position, the logits greedy
    decoding would see there, so it checks a whole decode at once. ``causal=False`` lets
    every position see every other (an encoder pass, as compiled RASP programs run). With
    ``hardness=True``
    it also returns, for those positions, every head's attention weight on its best-scoring
    key(s) (ties pooled), shape ``(b, n - logits_from, layers, heads)``: 1 is hard attention.
    """
    check_params(params)
    tokens = check_batch(tokens, params["tok_emb"].shape[0], params["pos_emb"].shape[0])
    record = [] if hardness else None
    logits = _forward(params, tokens, 0, KVCache(len(params["layers"])), logits_from, record,
                      causal)
    if not hardness:
        return logits
    n_out = logits.shape[1]
    heads = max((layer["Q"].shape[0] for layer in params["layers"]), default=0)
    out = np.ones(logits.shape[:2] + (len(record), heads), dtype=logits.dtype)
    for i, weight in enumerate(record):
        out[:, :, i, :weight.shape[-1]] = weight[:, -n_out:]
    return logits, out


class KVCache:
    """Per layer, the keys and values ``(b, m, h, k)`` of every position fed so far."""

    def __init__(self, n_layers: int) -> None:
        self.keys = [None] * n_layers
        self.values = [None] * n_layers

    def extend(self, i: int, keys: np.ndarray, values: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """Append this step's keys and values to layer ``i``'s; return all of them."""
        if self.keys[i] is not None:
            keys = np.concatenate((self.keys[i], keys), axis=1)
            values = np.concatenate((self.values[i], values), axis=1)
        self.keys[i], self.values[i] = keys, values
        return keys, values


def _forward(params, tokens, start, cache, logits_from, record=None, causal=True):
    """Feed ``tokens (b, t)`` at positions ``start..start+t-1``; logits from ``logits_from``.
    (``causal=False`` only makes sense for a whole sequence fed at once, ``start=0``.)

    The last layer only needs queries and MLP rows at the positions whose logits are asked
    for (every position's keys and values still enter the cache). MLP input rows that are all
    zero are skipped (the book's spike MLPs read one dimension). ``record`` collects each
    layer's attention weight on the best-scoring keys.
    """
    t = tokens.shape[1]
    x = params["tok_emb"][tokens] + params["pos_emb"][start:start + t]
    keep = np.arange(t)[logits_from:]
    for i, layer in enumerate(params["layers"]):
        last = i == len(params["layers"]) - 1
        x = _layer(x, layer, i, cache, start, keep if last else None, record, causal, _mlp)
    if not params["layers"]:
        x = x[:, keep]
    return np.einsum("bnd,vd->bnv", layer_norm(x, **params["lnf"]), params["out_emb"])


def _layer(x, layer, i, cache, start, keep, record, causal, mlp, attend=None):
    """One layer on ``x (b, t, d)`` fed at ``start``; only rows ``keep`` come out (all when
    None). ``mlp(h, layer)`` is the MLP (``_mlp``, or a fast path's exact stand-in);
    ``attend`` the attention (``_attend``, or ``taotp.fast_attention.attend``)."""
    h = layer_norm(x, **layer["ln1"])
    keys, values = cache.extend(i, *(np.einsum("bnj,hjk->bnhk", h, layer[M]) for M in "KV"))
    positions = start + np.arange(x.shape[1])
    if keep is not None:
        x, h, positions = x[:, keep], h[:, keep], positions[keep]
    queries = np.einsum("bnj,hjk->bnhk", h, layer["Q"])
    heads = (attend or _attend)(queries, keys, values, positions, record, causal)
    x = x + np.einsum("bnhk,hdk->bnd", heads, layer["P"])
    return x + mlp(layer_norm(x, **layer["ln2"]), layer)


def _attend(queries, keys, values, positions, record, causal=True):
    """Softmax attention (causal unless told), a chunk of queries at a time so that the score array
    ``(b, h, n, m)`` stays within ``_SCORES`` elements (10,000-token inputs fit in memory).
    Batched matmuls rather than einsum: BLAS does the heavy products."""
    b, n, n_heads, d_head = queries.shape
    m = keys.shape[1]
    q = queries.transpose(0, 2, 1, 3)  # (b, h, n, k)
    k_t = keys.transpose(0, 2, 3, 1)  # (b, h, k, m)
    v = values.transpose(0, 2, 1, 3)  # (b, h, m, k)
    heads = np.empty((b, n_heads, n, v.shape[-1]), dtype=np.result_type(queries, values))
    best_weight = np.empty((b, n_heads, n), dtype=heads.dtype) if record is not None else None
    step = max(1, _SCORES // max(1, b * m * n_heads))
    scale = float(d_head ** 0.5)
    for s in range(0, n, step):
        qk = (q[:, :, s:s + step] @ k_t) / scale
        if causal:
            mask = np.arange(m)[None, :] <= positions[s:s + step, None]
            qk = np.where(mask, qk, -np.inf)
        weights = softmax(qk, axis=-1)
        if record is not None:
            best = qk.max(axis=-1, keepdims=True)
            ties = qk >= best - 1e-9 * (1.0 + np.abs(best))
            best_weight[:, :, s:s + step] = np.where(ties, weights, 0.0).sum(axis=-1)
        heads[:, :, s:s + step] = weights @ v
    if record is not None:
        record.append(best_weight.transpose(0, 2, 1))
    return heads.transpose(0, 2, 1, 3)


_SCORES = 2 ** 24  # elements of one chunk of attention scores


def _mlp(h, layer, support=None):
    """The MLP, skipping all-zero rows of M1 and columns of M2 (the book's spike MLPs read
    one dimension and write a few), with the ReLU done in place: same sums, less traffic.
    ``support``: ``mlp_support(layer)``, when the caller keeps it."""
    rows, cols, M1, M2 = mlp_support(layer) if support is None else support
    out = np.broadcast_to(layer["b2"], h.shape[:-1] + layer["b2"].shape).copy()
    if len(rows) == 0:  # the hidden units are constants
        out += np.maximum(layer["b1"], 0.0) @ layer["M2"]
        return out
    if len(rows) == 1:  # an outer product: BLAS is slower at it than a broadcast multiply
        hidden = h[..., rows] * M1[0]
    else:
        hidden = h[..., rows] @ M1
    hidden += layer["b1"]
    np.maximum(hidden, 0.0, out=hidden)
    out[..., cols] += hidden @ M2
    return out


def mlp_support(layer: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The model dimensions an MLP reads (non-zero rows of M1) and writes (columns of M2),
    and those rows of M1 and columns of M2."""
    rows = np.flatnonzero(layer["M1"].any(axis=1))
    cols = nonzero_columns(layer["M2"])
    return rows, cols, layer["M1"][rows], layer["M2"][:, cols]


def nonzero_columns(M: np.ndarray, fold: int = 64) -> np.ndarray:
    """The columns of a 2-D array with a non-zero entry. ``M.any(axis=0)`` loops over rows of
    a few columns; folding ``fold`` rows into one long row first is ~7x faster on M2."""
    m = len(M) // fold * fold
    if m == 0 or M.shape[1] == 0:
        return np.flatnonzero(M.any(axis=0))
    wide = M[:m].reshape(-1, fold * M.shape[1]).any(axis=0).reshape(fold, -1).any(axis=0)
    return np.flatnonzero(wide | M[m:].any(axis=0))
