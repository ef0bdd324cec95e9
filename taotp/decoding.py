"""Decoding: the book's greedy loop (Figure 1.2) and the fast paths beside it.

``decode`` is the book's loop over the plain forward pass, with the options of Exercises 1.6
(seeded temperature sampling) and 1.7 (a sliding window past ``block_size``).
``decode_cached`` keeps each layer's keys and values, so a step costs one position, not the
whole prefix (Exercise 1.3). ``decode_batch`` decodes many prompts at once, vectorised over
the batch and cached; ``feed`` pushes given tokens through a cache (a causal encoder's
stream). The batched pass they run, ``forward_batch`` (whole sequences in one pass, teacher
forcing, which is what verification uses) and ``KVCache`` live in ``taotp.batched`` and are
importable from here. ``taotp.fastpath`` holds a structure-aware stand-in for
``forward_batch`` (tables, gathers, memoised MLPs) and ``taotp.fastdecode`` a cached decoder
built from such pieces; ``decode_batch(fast=...)`` decodes on either. All of them agree with
``decode`` token for token; their logits agree with ``transformer``'s to float rounding.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

import numpy as np
from numpy.typing import ArrayLike

from taotp.batched import (  # noqa: F401  (re-exported: their home before the split)
    KVCache, _attend, _forward, _layer, _mlp, forward_batch, mlp_support,
)
from taotp.fastdecode import FastDecoder
from taotp.model import softmax, transformer
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
    ``fast``: ``"auto"`` decodes on a ``taotp.fastdecode.FastDecoder`` built here (cached
    steps; layer-0 tables and MLPs by sorted kinks where they pay: its ``describe()`` says
    which); pass a ``FastDecoder`` built on ``params`` to reuse its tables across calls. A
    ``taotp.fastpath.FastPath`` built on ``params`` decodes each step as its forward pass
    over the whole sequences (no cache: its layer 0 comes from tables).
    """
    vocab_size, block_size = _check_call(params, max_steps, eos, temperature)
    if isinstance(fast, str):
        if fast != "auto":
            raise ValueError(f"decode_batch: fast must be None, 'auto', a FastDecoder or a "
                             f"FastPath, not {fast!r}")
        fast = FastDecoder._checked(params)
    if fast is not None and fast.params is not params:
        raise ValueError("decode_batch: fast must be a FastDecoder or FastPath built on "
                         "these params")
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


def _decode_chunk(params, batch, steps, eos, temperature, rng, fast=None):
    b, length = batch.shape
    if isinstance(fast, FastDecoder):  # the last step feeds position length + steps - 2
        fast.prepare(length + steps - 1, b * (length + steps - 1))
        cache = fast.new_cache(b, length + steps - 1)
    else:
        cache = KVCache(len(params["layers"]))
    out = np.empty((b, length + steps), dtype=np.int64)
    out[:, :length] = batch
    done = np.zeros(b, dtype=bool)
    feed, start, n = batch, 0, length
    for _ in range(steps):
        if fast is None:
            logits = _forward(params, feed, start, cache, logits_from=-1)[:, -1]
        elif isinstance(fast, FastDecoder):
            logits = fast.forward(feed, start, cache)
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
