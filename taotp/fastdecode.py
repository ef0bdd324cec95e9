"""A cached decoder that pays for a program's structure, not its dense size:
``decode_batch(..., fast="auto")``.

It is ``decode_batch``'s own step (``taotp.batched._forward``: one new position per step,
keys and values cached) with stand-ins, each used only where it pays:

- **Layer 0 from tables.** Layer 0 sees ``tok_emb[t] + pos_emb[n]``, a function of
  (position, token), so its embedding, queries, keys and values are gathered from tables
  built once for the positions a decode reaches, when there are fewer (position, token)
  pairs than rows the decode would otherwise compute (``prepare``). A step of a program
  whose last layer is layer 0 is then a few gathers and two batched matmuls over the cache.
- **MLPs that read one dimension, by sorted kinks** (``taotp.kinks.KinkMLP``), when they are
  wide enough (``_KINK_WIDTH`` hidden units) that sorting them once beats evaluating them
  per row; MLPs that read nothing are their constant output; the others run dense
  (``_mlp``, their support found once, not per step).

With none of them it is the batched cached pass. Tokens equal ``decode``'s (tested on every
registered program, on random models, and on all 10^6 three-digit additions); logits differ
from the dense pass's by rounding only (the kink MLPs sum the same terms in another order).

A ``FastDecoder`` holds what it derived from its params when built (MLP kinks, tables): it
must not outlive a change to them (build a new one). ``fast="auto"`` builds one per call, so
it always reads the params as they are; nothing is cached between calls behind the caller's
back.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from taotp.batched import KVCache, _attend, _layer, _mlp, mlp_support
from taotp.kinks import KinkMLP
from taotp.model import layer_norm, softmax
from taotp.params import check_params

# Fewest hidden units for which an MLP reading one dimension is evaluated by its kinks.
_KINK_WIDTH = 256
# Layer-0 tables are built when they hold at most this many (position, token) rows, or at
# most as many as the rows the decode feeds.
_TABLE_ROWS = 2 ** 12


class FastDecoder:
    """Layer-0 tables and per-layer MLP evaluators for one params dict (build once, reuse:
    the tables grow to the longest decode asked for)."""

    def __init__(self, params: dict) -> None:
        check_params(params)
        self._build(params)

    @classmethod
    def _checked(cls, params: dict) -> FastDecoder:
        """Built on params that the caller has just checked (``check_params`` reads every
        weight, a cost a cold decode should pay once)."""
        decoder = cls.__new__(cls)
        decoder._build(params)
        return decoder

    def _build(self, params):
        self.params = params
        self.mlps = [_pick_mlp(layer) for layer in params["layers"]]
        if params["layers"]:  # layer 0's P as one (h k, d) matrix, for a step's one matmul
            P = params["layers"][0]["P"]
            self._P0 = np.ascontiguousarray(P.transpose(0, 2, 1).reshape(-1, P.shape[1]))
        self.tables = None  # layer 0's per (position, token) rows, once ``prepare`` builds them

    def describe(self) -> str:
        """Which stand-ins this decoder uses for its params, in a few words."""
        parts = []
        if self.tables is not None:
            n, v = self.tables["emb"].shape[:2]
            parts.append(f"layer 0 from tables ({n} positions x {v} tokens)")
        kinks = [f"{i} ({len(m.kinks):,} units)" for i, m in enumerate(self.mlps)
                 if isinstance(m, KinkMLP)]
        if kinks:
            parts.append("MLP " + ", ".join(kinks) + " by sorted kinks")
        constant = [str(i) for i, m in enumerate(self.mlps) if isinstance(m, _ConstantMLP)]
        if constant:
            parts.append("MLP " + ", ".join(constant) + " constant")
        return "cached decoding" + (": " + "; ".join(parts) if parts else
                                    " (the batched pass: no structure that pays)")

    def prepare(self, positions: int, rows: int) -> None:
        """Build layer 0's tables for positions ``0..positions-1`` if they are no bigger than
        ``rows``, the rows a decode of ``rows // positions`` sequences would compute (or
        ``_TABLE_ROWS``); a decode reaching past them computes layer 0 in full."""
        p = self.params
        if not p["layers"] or (self.tables is not None
                               and len(self.tables["emb"]) >= positions):
            return
        vocab = p["tok_emb"].shape[0]
        if positions * vocab > max(_TABLE_ROWS, rows):
            return
        layer = p["layers"][0]
        emb = p["tok_emb"][None, :, :] + p["pos_emb"][:positions, None, :]  # (n, v, d)
        h = layer_norm(emb, **layer["ln1"])
        self.tables = {"emb": emb, **{M: np.tensordot(h, layer[M], axes=([2], [1]))
                                      for M in "QKV"}}  # (n, v, h, k)

    def new_cache(self, batch: int, positions: int) -> Cache:
        """An empty cache for ``batch`` sequences of up to ``positions`` positions."""
        return Cache(self.params, batch, positions)

    def forward(self, tokens: np.ndarray, start: int, cache: Cache) -> np.ndarray:
        """Logits ``(b, v)`` at the last of ``tokens (b, t)`` fed at ``start..start+t-1``
        after the ``start`` positions in ``cache`` (``taotp.batched._forward``'s step)."""
        p = self.params
        t = tokens.shape[1]
        keep = np.arange(t)[-1:]
        layers = p["layers"]
        x = None
        for i, layer in enumerate(layers):
            rows = keep if i == len(layers) - 1 else None
            if i == 0 and self.tables is not None and start + t <= len(self.tables["emb"]):
                x = self._layer0(tokens, start, cache, rows)
                continue
            if x is None:
                x = p["tok_emb"][tokens] + p["pos_emb"][start:start + t]
            x = _layer(x, layer, i, cache, start, rows, None, True, self.mlps[i])
        if x is None:
            x = (p["tok_emb"][tokens] + p["pos_emb"][start:start + t])[:, keep]
        return np.einsum("bd,vd->bv", layer_norm(x[:, -1], **p["lnf"]), p["out_emb"])

    def _layer0(self, tokens, start, cache, rows):
        """``_layer`` for layer 0, its embedding, queries, keys and values gathered."""
        tab, layer = self.tables, self.params["layers"][0]
        b, t = tokens.shape
        positions = start + np.arange(t)
        if rows is not None or t == 1:  # only the last position goes on: a decoding step
            if t > 1:
                cache.extend(0, tab["K"][positions[:-1], tokens[:, :-1]],
                             tab["V"][positions[:-1], tokens[:, :-1]])
            n, last = positions[-1], tokens[:, -1]
            return self._layer0_step(last, n, cache)
        keys, values = cache.extend(0, tab["K"][positions, tokens], tab["V"][positions, tokens])
        heads = _attend(tab["Q"][positions, tokens], keys, values, positions, None)
        x = tab["emb"][positions, tokens] + np.einsum("bnhk,hdk->bnd", heads, layer["P"])
        return _add_mlp(x, layer, self.mlps[0])

    def _layer0_step(self, tokens, n, cache):
        """Layer 0 at one position ``n`` per sequence (after ``n`` cached ones): no mask
        (every key is at or before ``n``), two matmuls over the cache as it lies."""
        tab, layer = self.tables, self.params["layers"][0]
        keys, values = cache.append(0, tab["K"][n, tokens], tab["V"][n, tokens])  # (b, h, m, k)
        queries = tab["Q"][n, tokens]  # (b, h, k)
        scores = np.matmul(keys, queries[..., None])[..., 0] / float(queries.shape[-1] ** 0.5)
        heads = np.matmul(softmax(scores, axis=-1)[:, :, None, :], values)[:, :, 0]
        x = tab["emb"][n, tokens] + heads.reshape(len(tokens), -1) @ self._P0
        return _add_mlp(x, layer, self.mlps[0])[:, None]


class Cache:
    """``KVCache`` with room for every position from the start (no copy per step), kept as
    ``(b, h, m, k)`` so that a step's attention is two batched matmuls."""

    def __init__(self, params: dict, batch: int, positions: int) -> None:
        dtype = params["tok_emb"].dtype
        self.keys, self.values = [], []
        for layer in params["layers"]:
            h, _, k = layer["K"].shape
            self.keys.append(np.empty((batch, h, positions, k), dtype=dtype))
            self.values.append(np.empty((batch, h, positions, layer["V"].shape[2]), dtype=dtype))
        self.fed = [0] * len(params["layers"])

    def extend(self, i: int, keys: np.ndarray, values: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """Append this step's keys and values ``(b, t, h, k)`` to layer ``i``'s; return all of
        them, ``(b, m, h, k)`` as ``KVCache.extend`` does."""
        start, end = self.fed[i], self.fed[i] + keys.shape[1]
        self.keys[i][:, :, start:end] = keys.transpose(0, 2, 1, 3)
        self.values[i][:, :, start:end] = values.transpose(0, 2, 1, 3)
        self.fed[i] = end
        return (self.keys[i][:, :, :end].transpose(0, 2, 1, 3),
                self.values[i][:, :, :end].transpose(0, 2, 1, 3))

    def append(self, i: int, keys: np.ndarray, values: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """Append one position's keys and values ``(b, h, k)``; return all ``(b, h, m, k)``."""
        end = self.fed[i] + 1
        self.keys[i][:, :, end - 1] = keys
        self.values[i][:, :, end - 1] = values
        self.fed[i] = end
        return self.keys[i][:, :, :end], self.values[i][:, :, :end]


class _ConstantMLP:
    """An MLP that reads nothing: its output, computed once as ``_mlp`` computes it."""

    def __init__(self, layer):
        self.out = layer["b2"] + np.maximum(layer["b1"], 0.0) @ layer["M2"]

    def __call__(self, h, layer=None):
        return self.out


def _add_mlp(x, layer, mlp):
    """``x + mlp(layer_norm(x))``; a constant MLP needs no layer norm."""
    if isinstance(mlp, _ConstantMLP):
        return x + mlp.out
    return x + mlp(layer_norm(x, **layer["ln2"]), layer)


def _pick_mlp(layer):
    """The layer's MLP as ``mlp(h, layer)``: a constant if it reads nothing, by kinks if it
    reads one dimension through at least ``_KINK_WIDTH`` units, else the dense ``_mlp``
    with its support found once."""
    if not layer["M1"].any():
        return _ConstantMLP(layer)
    if layer["M1"].shape[1] >= _KINK_WIDTH and np.count_nonzero(layer["M1"].any(axis=1)) == 1:
        return KinkMLP(layer)
    return partial(_mlp, support=mlp_support(layer))
