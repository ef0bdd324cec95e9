"""Decoding: the book's greedy loop (Figure 1.2) and the fast paths beside it.

``decode`` is the book's loop over the plain forward pass, with the options of Exercises 1.6
(seeded temperature sampling) and 1.7 (a sliding window past ``block_size``).
``decode_cached`` keeps each layer's keys and values, so a step costs one position, not the
whole prefix (Exercise 1.3). ``decode_batch`` decodes many prompts at once, vectorised over
the batch and cached; ``feed`` pushes given tokens through a cache (a causal encoder's
stream). ``forward_batch`` runs whole sequences in one pass (teacher forcing),
which is what verification uses; ``taotp.fastpath`` holds a structure-aware stand-in for it
(tables, gathers, memoised MLPs), which ``decode_batch(fast=...)`` can decode on. All of them
agree with ``decode`` token for token; their
logits agree with ``transformer``'s to float rounding (tested at 1e-9 relative in float64).

Einsum axes as in ``taotp.model``, plus ``b`` for the batch.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

import numpy as np
from numpy.typing import ArrayLike

from taotp.model import layer_norm, softmax, transformer
from taotp.params import check_batch, check_params, check_tokens


def decode(tokens: ArrayLike, params: dict, max_steps: int = 1000, eos: int | None = None, *,
           sliding_window: bool = False, temperature: float = 0.0,
           seed: int | None = None) -> np.ndarray:
    """Greedy decoding (or sampling when ``temperature > 0``); returns prompt + output."""
    vocab_size, block_size = _check_call(params, max_steps, eos, temperature)
    tokens = check_tokens(tokens, vocab_size, None if sliding_window else block_size)
    rng = np.random.default_rng(seed)
    for _ in range(max_steps):
        if not sliding_window:
            check_block_size(len(tokens), block_size, "pass sliding_window=True or fewer max_steps")
        context = tokens[-block_size:]
        next_tok = _pick(transformer(context, **params)[-1], temperature, rng)
        tokens = np.append(tokens, next_tok)
        if next_tok == eos:
            break
    return tokens


def decode_cached(tokens: ArrayLike, params: dict, max_steps: int = 1000,
                  eos: int | None = None, *, sliding_window: bool = False,
                  temperature: float = 0.0, seed: int | None = None) -> np.ndarray:
    """``decode`` with a key/value cache: the same tokens, one position of work per step.

    Learned absolute positions mean a sliding window shifts every position's embedding, so
    once the window slides each step recomputes the window (no cache can be reused).
    """
    vocab_size, block_size = _check_call(params, max_steps, eos, temperature)
    tokens = check_tokens(tokens, vocab_size, None if sliding_window else block_size)
    rng = np.random.default_rng(seed)
    cache = KVCache(len(params["layers"]))
    fed = 0  # how many tokens of `tokens` are in the cache
    for _ in range(max_steps):
        if not sliding_window:
            check_block_size(len(tokens), block_size, "pass sliding_window=True or fewer max_steps")
        if len(tokens) > block_size:  # the window has slid: start again from its start
            cache, fed = KVCache(len(params["layers"])), 0
            window = tokens[-block_size:]
        else:
            window = tokens
        logits = _forward(params, window[None, fed:], fed, cache, logits_from=-1)
        fed = len(window)
        next_tok = _pick(logits[0, -1], temperature, rng)
        tokens = np.append(tokens, next_tok)
        if next_tok == eos:
            break
    return tokens


def decode_batch(prompts: Iterable[ArrayLike], params: dict, max_steps: int = 1000,
                 eos: int | None = None, *, temperature: float = 0.0, seed: int | None = None,
                 batch_size: int = 4096, fast=None) -> list[np.ndarray]:
    """Decode many prompts at once; returns one array (prompt + output) per prompt.

    Prompts may differ in length: those of one length are decoded together, in chunks of
    ``batch_size``. A sequence that emits ``eos`` stops there, as with ``decode``.
    ``fast``: a ``taotp.fastpath.FastPath`` built on ``params``; each step is then its
    forward pass over the whole sequences (no cache: its layer 0 comes from tables).
    """
    vocab_size, block_size = _check_call(params, max_steps, eos, temperature)
    if fast is not None and fast.params is not params:
        raise ValueError("decode_batch: fast must be a FastPath built on these params")
    prompts = list(prompts)
    rng = np.random.default_rng(seed)
    by_length = defaultdict(list)
    for i, prompt in enumerate(prompts):
        by_length[len(np.asarray(prompt))].append(i)
    results = [None] * len(prompts)
    for length, indices in sorted(by_length.items()):
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            batch = check_batch([prompts[i] for i in chunk], vocab_size, block_size)
            steps = min(max_steps, block_size - length + 1)
            out, finished = _decode_chunk(params, batch, steps, eos, temperature, rng, fast)
            if not finished:  # the last step would feed length + max_steps - 1 tokens
                check_block_size(length + max_steps - 1, block_size,
                                 "use fewer max_steps (or decode with a sliding window)")
            for i, row in zip(chunk, out):
                results[i] = row
    return results


def feed(tokens: ArrayLike, params: dict, cache: KVCache, start: int) -> np.ndarray:
    """Causal logits ``(t, v)`` for ``tokens`` fed at positions ``start..start+t-1``, after the
    ``start`` tokens already in ``cache`` (which they join): decoding a stream of given
    tokens, not the model's own outputs, one position of work per token."""
    vocab_size, block_size = _check_call(params, 0, None, 0.0)
    tokens = check_tokens(tokens, vocab_size, None)
    check_block_size(start + len(tokens), block_size, "feed fewer tokens")
    return _forward(params, tokens[None], start, cache, logits_from=0)[0]


def check_block_size(length: int, block_size: int, hint: str = "use fewer max_steps") -> None:
    """Refuse to feed more than ``block_size`` tokens: learned positions end there."""
    if length > block_size:
        raise ValueError(f"decoding past block_size={block_size}: {hint}")


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
    vocab_size, block_size = _check_call(params, 0, None, 0.0)
    tokens = check_batch(tokens, vocab_size, block_size)
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
    rows = np.flatnonzero(np.any(layer["M1"] != 0, axis=1))
    cols = np.flatnonzero(np.any(layer["M2"] != 0, axis=0))
    return rows, cols, layer["M1"][rows], layer["M2"][:, cols]


def _decode_chunk(params, batch, steps, eos, temperature, rng, fast=None):
    cache = KVCache(len(params["layers"]))
    b, length = batch.shape
    out = np.empty((b, length + steps), dtype=np.int64)
    out[:, :length] = batch
    done = np.zeros(b, dtype=bool)
    feed, start, n = batch, 0, length
    for _ in range(steps):
        if fast is None:
            logits = _forward(params, feed, start, cache, logits_from=-1)[:, -1]
        else:
            logits = fast.forward_batch(out[:, :n], logits_from=n - 1)[:, -1]
        next_tok = np.array([_pick(row, temperature, rng) for row in logits]) if temperature \
            else np.argmax(logits, axis=-1)
        next_tok = np.where(done, eos if eos is not None else 0, next_tok)
        out[:, n] = next_tok
        start, n, feed = n, n + 1, next_tok[:, None]
        if eos is not None:
            done |= next_tok == eos
            if done.all():
                break
    rows = out[:, :n]
    if eos is None:
        return list(rows), False
    trimmed = []
    for row in rows:
        hits = np.flatnonzero(row[length:] == eos)
        trimmed.append(row[:length + hits[0] + 1] if len(hits) else row)
    return trimmed, bool(done.all())


def _check_call(params, max_steps, eos, temperature):
    check_params(params)
    vocab_size, block_size = params["tok_emb"].shape[0], params["pos_emb"].shape[0]
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) \
            or max_steps < 0:
        raise ValueError(f"max_steps must be a non-negative integer, not {max_steps!r}")
    if eos is not None and not (isinstance(eos, (int, np.integer)) and 0 <= eos < vocab_size):
        raise ValueError(f"eos must be a token id in [0, {vocab_size}) or None, not {eos!r}")
    if not isinstance(temperature, (int, float)) or temperature < 0:
        raise ValueError(f"temperature must be a number >= 0, not {temperature!r}")
    return vocab_size, block_size


def _pick(logits, temperature, rng):
    if not temperature:
        return int(np.argmax(logits))
    probs = softmax(np.asarray(logits, dtype=np.float64) / float(temperature))
    return int(rng.choice(len(probs), p=probs / probs.sum()))
