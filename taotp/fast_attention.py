"""Exact sparse attention: ``taotp.decoding._attend``'s result without the keys whose softmax
weight is provably exactly 0.

Softmax computes ``exp(s - max)``; below ``-underflow_gap(dtype)`` that exponential is exactly
0.0 (float32: about -104, float64: about -745), so such a key adds exactly nothing to the
softmax's sum or to the weighted value sum. A hardened head (the book's programs, scores of
thousands of logits) gives all but a handful of keys such weights, yet the dense pass
computes, exponentiates and sums every one of the ``n x m`` pairs.

Here each head's queries are cut into tiles and its keys into blocks of points that lie close
together in query (key) space (a k-d ordering of the vectors, not of the positions), so that
each tile's and block's bounding box is small. An interval bound on ``q . k / sqrt(d_head)``
over a (tile, block) pair, plus more than twice the rounding of any score, is at least every
score of the pair as any summation order computes it; a lower bound on each query's best
visible score (less the same rounding) comes from evaluating its tile's few most promising
blocks. A block whose bound is more than the underflow gap below those lower bounds -- for the
whole tile, then for each of its queries (its exact vector against the block's box) -- is
skipped: its exponentials are exactly 0 in the dense pass too. The rest are evaluated with the
dense pass's own formulas (scores, causal mask, ``softmax``, weights times values), so the
result is the dense one up to the order of the sums (and BLAS's rounding of a product of
another shape). Nothing about any program is assumed: where the bounds prune little (soft
heads), the head is computed densely.

On 10,000-digit long addition (30,002 positions, seven heads) a random input has 1.4 x 10^8
of its 3 x 10^9 causal query-key pairs scored, one in twenty (``bench/long_addition.py``).

Einsum axes as in ``taotp.model``.
"""
from __future__ import annotations

import numpy as np

from taotp.model import softmax

# Queries per tile and keys per block (small boxes, tight bounds).
TILE, BLOCK = 32, 16
# A head with fewer query-key pairs than this runs densely (bounds would not pay).
MIN_SCORES = 2 ** 22
# A head whose kept pairs exceed this share of its visible pairs runs densely.
DENSE_SHARE = 0.5
# Blocks evaluated per tile for its lower bound: best fully visible, best partly visible.
_PROBES = 2
# Elements of one chunk of evaluated scores.
_CHUNK = 2 ** 18


def underflow_gap(dtype) -> float:
    """A score gap past which ``exp(s - max)`` is exactly 0.0 in ``dtype``: exp underflows
    below log of half the smallest subnormal; 5 more cover the rounding of ``s - max``."""
    return -float(np.log(np.finfo(dtype).smallest_subnormal)) + 5.0


def attend(queries, keys, values, positions, record=None, causal=True, *,
           min_scores: int = MIN_SCORES):
    """``taotp.decoding._attend`` (same arguments and result), skipping keys whose weight is
    provably 0. Heads with fewer than ``min_scores`` query-key pairs, with non-finite inputs,
    or whose bounds prune too little are computed by ``_attend`` itself."""
    from taotp.batched import _attend

    b, n, n_heads, _ = queries.shape
    m = keys.shape[1]
    if n * m < min_scores:
        return _attend(queries, keys, values, positions, record, causal)
    dtype = np.result_type(queries, values)
    heads = np.empty((b, n, n_heads, values.shape[-1]), dtype=dtype)
    best = np.empty((b, n, n_heads), dtype=dtype) if record is not None else None
    orders = {}  # k-d orders by content: heads often share their keys or queries
    for i in range(b):
        for h in range(n_heads):
            q, k, v = queries[i, :, h], keys[i, :, h], values[i, :, h]
            out = _sparse_head(q, k, v, positions, causal, record is not None, orders)
            if out is None:  # the dense pass, on this one head
                sub = [] if record is not None else None
                dense = _attend(q[None, :, None], k[None, :, None], v[None, :, None],
                                positions, sub, causal)[0, :, 0]
                out = dense, (sub[0][0, :, 0] if sub is not None else None)
            heads[i, :, h] = out[0]
            if best is not None:
                best[i, :, h] = out[1]
    if record is not None:
        record.append(best)
    return heads


def kd_order(x: np.ndarray, leaf: int) -> np.ndarray:
    """A permutation of the rows of ``x (r, k)`` whose consecutive groups of ``leaf`` rows are
    compact: split in halves by rank along the widest dimension, recursively (a k-d tree)."""
    r = len(x)
    perm = np.arange(r)
    size = leaf
    while size < r:
        size *= 2
    while size > leaf:
        xs = x[perm]
        starts = np.arange(0, r, size)
        lo = np.minimum.reduceat(xs, starts, axis=0)
        spread = np.maximum.reduceat(xs, starts, axis=0) - lo
        dim = spread.argmax(axis=1)
        segment = np.arange(r) // size
        widest = spread[segment, dim[segment]]
        unit = (xs[np.arange(r), dim[segment]] - lo[segment, dim[segment]]) / np.where(
            widest > 0, widest, 1.0)
        perm = perm[np.argsort(segment * 2.0 + unit, kind="stable")]
        size //= 2
    return perm


def _order(x, leaf, orders):
    """``kd_order(x, leaf)``, computed once per content within one ``attend`` call."""
    key = (x.tobytes(), leaf)
    if key not in orders:
        orders[key] = kd_order(x, leaf)
    return orders[key]


def _boxes(xs, size):
    """Center and half-width ``(groups, k)`` of each group of ``size`` consecutive rows."""
    starts = np.arange(0, len(xs), size)
    lo = np.minimum.reduceat(xs, starts, axis=0)
    hi = np.maximum.reduceat(xs, starts, axis=0)
    return (lo + hi) / 2, (hi - lo) / 2


def _grouped(x, perm, size, fill):
    """``x[perm]`` in groups of ``size`` rows ``(groups + 1, size, ...)``: the last group
    padded with ``fill``, plus one group of ``fill`` only (a slot's padding)."""
    groups = (len(perm) + size - 1) // size + 1
    out = np.full((groups * size,) + x.shape[1:], fill, dtype=x.dtype)
    out[:len(perm)] = x[perm]
    return out.reshape((groups, size) + x.shape[1:])


def _sparse_head(q, k, v, positions, causal, want_best, orders):
    """One head: ``(out (n, kv), best weight (n,) or None)``, or None where dense pays."""
    n, d_head = q.shape
    if n == 0 or not all(np.all(np.isfinite(a)) for a in (q, k, v)):
        return None
    m = len(k)
    dtype = np.result_type(q, v)
    scale, gap = float(d_head ** 0.5), underflow_gap(dtype)
    q64, k64 = q.astype(np.float64), k.astype(np.float64)
    q_perm, k_perm = _order(q64, TILE, orders), _order(k64, BLOCK, orders)
    qc, qh = _boxes(q64[q_perm], TILE)
    kc, kh = _boxes(k64[k_perm], BLOCK)
    # max of x.y over two boxes <= c.c' + |c|.h' + h.|c'| + h.h', plus ``slack`` times
    # sum |q| |k|: more than twice the rounding of any score (dtype) or bound (float64).
    bound = np.hstack((qc, np.abs(qc), qh, qh)) @ np.hstack((kc, kh, np.abs(kc), kh)).T
    slack = 16 * (d_head + 4) * float(np.finfo(dtype).eps)
    bound = (bound + slack * ((np.abs(qc) + qh) @ (np.abs(kc) + kh).T)) / scale
    # Who sees what: a query sees the keys up to its limit (all of them when not causal).
    # Padding keys sit at position m, past every limit; padding queries see every key.
    limit = np.asarray(positions, dtype=np.int64) if causal else np.full(n, m - 1)
    tiles = _grouped(np.arange(n), q_perm, TILE, -1)
    limits = _grouped(limit, q_perm, TILE, m - 1)
    key_pos = _grouped(np.arange(m), k_perm, BLOCK, m)
    ctx = (_grouped(q, q_perm, TILE, 0), limits, _grouped(k, k_perm, BLOCK, 0),
           _grouped(v, k_perm, BLOCK, 0), key_pos, scale)
    real = tiles[:-1] >= 0
    key_first = key_pos[:-1].min(axis=1)
    key_last = np.where(key_pos[:-1] < m, key_pos[:-1], -1).max(axis=1)
    seen = key_first[None, :] <= np.where(real, limits[:-1], -1).max(axis=1)[:, None]
    whole = key_last[None, :] <= np.where(real, limits[:-1], m).min(axis=1)[:, None]
    bound = np.where(seen, bound, -np.inf)
    # Each query's best score in its tile's most promising blocks, less twice any score's
    # rounding: a lower bound on its best score however the sums are ordered.
    probe = _top(bound, whole) | _top(bound, seen & ~whole)
    rounding = slack * (np.abs(ctx[0]).astype(np.float64) @ np.abs(k64).max(axis=0)) / scale
    low = np.full(tiles.shape, np.inf)  # padding never lowers a tile's bound
    for t, s in _evaluate(*np.nonzero(probe), ctx):
        low[t] = np.where(tiles[t] >= 0, s.max(axis=-1) - rounding[t], np.inf)
    keep = seen & (bound >= (low[:-1].min(axis=1) - gap)[:, None])
    # The same test per query (its own vector against the block's box): a block stays if
    # some query of the tile may need it.
    reach = np.hstack((kc, kh + slack * (np.abs(kc) + kh), key_first[:, None]))
    reach = np.append(reach, np.zeros((1, reach.shape[1])), axis=0)  # the padding block
    rows, cols = [], []
    for t, slot in _chunks(*np.nonzero(keep), len(tiles) - 1, len(kc), 1):
        q_t = ctx[0][t].astype(np.float64)
        box = reach[slot].transpose(0, 2, 1)  # (T, 2 k + 1, width)
        top = (np.append(q_t, np.abs(q_t), axis=-1) @ box[:, :-1]) / scale
        need = (top >= low[t][:, :, None] - gap) & (box[:, None, -1] <= limits[t][:, :, None])
        need = need.any(axis=1) & (slot < len(kc))
        rows.append(np.broadcast_to(t[:, None], slot.shape)[need])
        cols.append(slot[need])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    order = np.argsort(rows, kind="stable")
    rows, cols = rows[order], cols[order]
    if len(rows) * TILE * BLOCK > DENSE_SHARE * int(np.minimum(limit + 1, m).sum()):
        return None
    out = np.zeros((n + 1, v.shape[-1]), dtype=dtype)  # row n: padding's sink
    best = np.zeros(n + 1, dtype=dtype)
    for t, s, values in _evaluate(rows, cols, ctx, with_values=True):
        weights = softmax(s, axis=-1)
        out[tiles[t]] = weights @ values  # (T, TILE, kv)
        if want_best:
            top = s.max(axis=-1, keepdims=True)
            ties = s >= top - 1e-9 * (1.0 + np.abs(top))
            best[tiles[t]] = np.where(ties, weights, 0.0).sum(axis=-1)
    return out[:n], (best[:n] if want_best else None)


def _top(bound, allowed):
    """The ``_PROBES`` blocks of highest bound per tile, among those allowed."""
    pick = np.zeros_like(allowed)
    rows = np.arange(len(bound))
    masked = np.where(allowed, bound, -np.inf)
    for _ in range(min(_PROBES, bound.shape[1])):
        best = masked.argmax(axis=1)
        pick[rows, best] = allowed[rows, best]
        masked[rows, best] = -np.inf
    return pick


def _slots(rows, cols, n_groups, n_blocks):
    """Per bucket of tiles (kept-block counts rounded up to 2^i or 1.5 * 2^i): the tiles and
    their block ids ``(T, width)``, padded with the padding block. ``rows`` sorted."""
    counts = np.bincount(rows, minlength=n_groups)
    rank = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    power = 2 ** np.floor(np.log2(np.maximum(counts, 1))).astype(np.int64)
    width = np.where(counts <= power, power,
                     np.where(counts <= power * 3 // 2, power * 3 // 2, 2 * power))
    width[counts == 0] = 0
    for w in np.unique(width[width > 0]):
        groups = np.flatnonzero(width == w)
        where = np.full(n_groups, -1)
        where[groups] = np.arange(len(groups))
        slot = np.full((len(groups), w), n_blocks, dtype=np.int64)
        sel = width[rows] == w
        slot[where[rows[sel]], rank[sel]] = cols[sel]
        yield groups, slot


def _chunks(rows, cols, n_tiles, n_blocks, block):
    """``_slots``' buckets cut into chunks of at most ``_CHUNK`` scores (blocks of ``block``
    keys): tile ids ``(T,)`` and their block ids ``(T, width)``."""
    for tile_ids, slot in _slots(rows, cols, n_tiles, n_blocks):
        step = max(1, _CHUNK // (TILE * slot.shape[1] * block))
        for at in range(0, len(tile_ids), step):
            yield tile_ids[at:at + step], slot[at:at + step]


def _evaluate(rows, cols, ctx, with_values=False):
    """Per chunk of tiles: tile ids ``(T,)`` and the scores ``(T, TILE, K)`` of their queries
    against their blocks (pairs ``rows``, ``cols``, sorted by tile), computed and masked as the
    dense pass does (and the keys' values ``(T, K, kv)`` if asked)."""
    q_tiles, limits, k_blocks, v_blocks, key_pos, scale = ctx
    for t, sl in _chunks(rows, cols, len(q_tiles) - 1, len(k_blocks) - 1, BLOCK):
        keys = k_blocks[sl].reshape(len(t), -1, k_blocks.shape[-1])
        scores = (q_tiles[t] @ keys.transpose(0, 2, 1)) / scale
        pos, lim = key_pos[sl].reshape(len(t), 1, -1), limits[t][:, :, None]
        if pos.max() > lim.min():  # some query does not see some key
            scores = np.where(pos <= lim, scores, -np.inf)
        if with_values:
            yield t, scores, v_blocks[sl].reshape(len(t), -1, v_blocks.shape[-1])
        else:
            yield t, scores
