"""The cookbook's attention scores: query and key blocks that select exactly.

Part of the compiler's cookbook (``taotp.rasp.recipes`` re-exports them): a categorical
Select as a lookup of one-hots (:func:`select_scores`), equality on a circle
(:func:`circle_scores`), a shift match by quadratic maximisation (:func:`match_scores`), and
the scale that hardens softmax into the selection (:func:`hardening_gap`).
"""
from __future__ import annotations

import math

import numpy as np


def match_scores(key_bound: float, query_bound: float, shift: int, gain: float) -> tuple:
    """``(Wq (3, 3), Wk (3, 3))``: head scores ``gain (1 - (k - q - shift)^2)``.

    Transformer Cookbook, "index lookup by quadratic maximisation" (:func:`index_lookup`),
    read from integers stored by :func:`scaled_number` with squares: the rows of ``Wq`` and
    ``Wk`` read ``(1, x / B, (x / B)^2)`` of the query and the key. The score is ``gain``
    where ``k == q + shift`` and at most 0 elsewhere, with three head dimensions for any
    number of positions.

    >>> Wq, Wk = match_scores(10.0, 10.0, 1, 5.0)
    >>> feats = lambda x: np.array([1.0, x / 10, (x / 10) ** 2])
    >>> [round(float(feats(3) @ Wq @ (feats(k) @ Wk)), 9) for k in (3, 4, 5)]
    [0.0, 5.0, 0.0]
    """
    s, bq, bk = float(shift), float(query_bound), float(key_bound)
    Wq = gain * np.array([[2 * s, 1 - s * s, -1.0],
                          [2 * bq, -2 * s * bq, 0.0],
                          [0.0, -bq * bq, 0.0]])
    Wk = np.array([[0.0, 1.0, 0.0], [bk, 0.0, 0.0], [0.0, 0.0, bk * bk]])
    return Wq, Wk


def hardening_gap(n_keys: int, tolerance: float) -> float:
    """The score gap gamma that makes softmax as good as hardmax to ``tolerance``.

    Book, Section 3.1, and the Transformer Cookbook's bound
    ``||hardmax - softmax||_1 <= 2 n e^(-gamma)`` when every unselected key scores at least
    gamma below the selected ones. A tolerance below float64's smallest number makes the
    unselected weights underflow to exactly 0.

    >>> round(hardening_gap(10, 1e-6), 3)
    16.811
    """
    if n_keys < 1 or not 0 < tolerance < 1:
        raise ValueError(f"hardening_gap needs n_keys >= 1 and 0 < tolerance < 1, got "
                         f"{n_keys}, {tolerance}")
    return math.log(2 * n_keys) - math.log(tolerance)


def select_scores(pattern: np.ndarray, gap: float, sink: float) -> tuple:
    """Query and key blocks of a head whose score is ``gap`` where ``pattern[q, k]``, else 0.

    Categorical Select (Transformer Cookbook, "attention as a lookup"): the query's one-hot
    picks a row of the selection matrix, the key's one-hot picks a column. Queries with the
    same row share a head dimension (or keys with the same column, whichever are fewer), and
    queries that select nothing (keys that nobody selects) need none, so a selector that
    ignores one side (``Comparison.TRUE``, ``key == "x"``) costs one and ``key < query`` on
    ``n`` values ``n - 1``. One extra head dimension scores the BOS key ``sink`` for every
    query, so a query that selects nothing attends to BOS (the book's default sink, Section
    6.4). Returns ``(q_block, k_block, q_sink, k_sink)``: rows are the one-hot slots, the
    sink rows are read from the query's constant and the key's BOS flag. The head dimension
    is :func:`select_dims` ``+ 1``.

    >>> q, k, qs, ks = select_scores(np.array([[1, 0], [1, 1]]), 10.0, 5.0)
    >>> (q @ k.T).tolist(), float(qs @ ks)
    ([[10.0, 0.0], [10.0, 10.0]], 5.0)
    >>> q, k, _, _ = select_scores(np.ones((3, 4)), 10.0, 0.0)   # one distinct row
    >>> q.shape, (q @ k.T).tolist()[0]
    ((3, 2), [10.0, 10.0, 10.0, 10.0])
    >>> q, k, _, _ = select_scores(np.tril(np.ones((4, 4)), -1), 1.0, 0.0)   # key < query
    >>> q.shape, (q @ k.T).tolist() == np.tril(np.ones((4, 4)), -1).tolist()
    ((4, 4), True)
    """
    pattern = np.asarray(pattern, dtype=np.float64)
    rows, row_of = _classes(pattern)
    cols, col_of = _classes(pattern.T)
    dim = min(len(rows), len(cols))
    if len(rows) <= len(cols):   # a query picks its row class; a key lists its column there
        q_block = gap * _one_hots(row_of, dim)
        k_block = rows.T
    else:
        q_block = gap * cols.T
        k_block = _one_hots(col_of, dim)
    q_block = np.hstack([q_block, np.zeros((len(q_block), 1))])
    k_block = np.hstack([k_block, np.zeros((len(k_block), 1))])
    q_sink, k_sink = np.zeros(dim + 1), np.zeros(dim + 1)
    q_sink[dim], k_sink[dim] = sink, 1.0
    return q_block, k_block, q_sink, k_sink


def _classes(pattern: np.ndarray) -> tuple:
    """The distinct nonzero rows of ``pattern`` and each row's index among them (-1: zero)."""
    rows, row_of = np.unique(pattern, axis=0, return_inverse=True)
    row_of = row_of.ravel()
    zero = [i for i, row in enumerate(rows) if not row.any()]
    if zero:
        rows = np.delete(rows, zero[0], axis=0)
        row_of = np.where(row_of == zero[0], -1, row_of - (row_of > zero[0]))
    return rows, row_of


def _one_hots(index: np.ndarray, dim: int) -> np.ndarray:
    """Row ``i`` is the one-hot of ``index[i]`` over ``dim`` slots (zero where it is -1)."""
    out = np.zeros((len(index), dim))
    out[index >= 0, index[index >= 0]] = 1.0
    return out


MAX_CIRCLE = 50.0  # the largest score scale 1 / (1 - cos(2 pi / m)) a circle may take


def circle_fits(m: int) -> bool:
    """``m`` points (at least two) whose circle scores stay within ``MAX_CIRCLE``."""
    return m >= 2 and 1.0 / circle_margin(m) <= MAX_CIRCLE


def matching(pattern) -> tuple | None:
    """``(query points, key points, m)`` when ``pattern`` can be scored on a circle of ``m``
    points (:func:`circle_scores`, read from one-hots): every query selects at most one key
    (the keys selected get a point each, a query takes its key's) or every key is selected by
    at most one query (the other way round). -1 marks a query that selects nothing or a key
    nobody selects: its vector is 0, so it scores the constant, at most 0. None otherwise.

    >>> matching(np.eye(3, dtype=bool))
    ([0, 1, 2], [0, 1, 2], 3)
    >>> matching(np.array([[1, 0, 0], [1, 0, 0], [0, 0, 0]]))   # two queries, one key
    ([0, 0, -1], [0, -1, -1], 1)
    >>> matching(np.array([[1, 1], [0, 1]])) is None
    True
    """
    pattern = np.asarray(pattern, dtype=bool)
    for flip in (False, True):
        p = pattern.T if flip else pattern
        if (p.sum(axis=1) <= 1).all():  # each row picks at most one column
            chosen = sorted({int(np.argmax(row)) for row in p if row.any()})
            point = {c: i for i, c in enumerate(chosen)}
            rows = [point[int(np.argmax(row))] if row.any() else -1 for row in p]
            cols = [point.get(c, -1) for c in range(p.shape[1])]
            return (cols, rows, len(chosen)) if flip else (rows, cols, len(chosen))
    return None


def circle_point(i: int, m: int) -> np.ndarray:
    """The ``i``-th of ``m`` points of the unit circle (angle ``2 pi i / m``); 0 for -1."""
    if i < 0:
        return np.zeros(2)
    angle = 2 * math.pi * i / m
    return np.array([math.cos(angle), math.sin(angle)])


def circle_margin(m: int) -> float:
    """``1 - cos(2 pi / m)``: how far below an equal pair's cosine (1) the cosine of any two
    distinct points of ``m`` on the unit circle lies.

    >>> round(circle_margin(4), 12)
    1.0
    """
    return 1.0 - math.cos(2 * math.pi / m)


def circle_scores(m: int, gap: float) -> tuple:
    """``(q, k, q_const, k_const)``: an equality Select on ``m`` values stored as points of
    the unit circle (value ``i`` at angle ``2 pi i / m``), scoring ``gap`` where the query's
    and the key's values are equal and at most 0 elsewhere.

    Two dims instead of a one-hot's ``m + 1``: ``cos(a - b)`` is 1 for equal angles and at
    most ``cos(2 pi / m)`` otherwise, so ``alpha cos + gap - alpha`` with ``alpha = gap /
    (1 - cos(2 pi / m))`` separates them; the constant goes on another head dimension (the
    compiler shares its BOS sink's: the query's constant times the key's not-BOS flag).

    >>> q, k, qc, kc = circle_scores(5, 10.0)
    >>> pts = np.array([[np.cos(2 * np.pi * i / 5), np.sin(2 * np.pi * i / 5)] for i in range(5)])
    >>> scores = (pts @ q) @ (pts @ k).T + qc * kc
    >>> float(scores[2, 2].round(12)), bool((scores - 10.0 * np.eye(5) <= 1e-12).all())
    (10.0, True)
    """
    alpha = gap / circle_margin(m)
    return alpha * np.eye(2), np.eye(2), gap - alpha, 1.0


def select_dims(pattern) -> int:
    """Head dimensions :func:`select_scores` spends on ``pattern`` (without the sink): the
    fewer of its distinct nonzero rows and distinct nonzero columns."""
    pattern = np.asarray(pattern, dtype=np.float64)
    return min(len(_classes(pattern)[0]), len(_classes(pattern.T)[0]))
