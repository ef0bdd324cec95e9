"""Staircase lookups: ReLU MLPs whose output changes only where a table's output does.

Part of the compiler's cookbook (``taotp.rasp.recipes`` re-exports them). A plateau lookup
spends four ReLUs on every point of a table; a staircase spends two on every place where
neighbouring points' outputs differ, and is flat in between, so ``x - y < 0`` over a
thousand differences is one ramp, and only the gaps at its steps must survive rounding
(``taotp.rasp.accuracy.staircase``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def staircase_steps(points: Sequence[float], outputs) -> list:
    """``(lo, hi, change, rising)`` of each step of :func:`staircase_lookup`: neighbouring
    sorted points whose outputs differ, the output's change between them, and whether its
    ramp is active above its step (it faces the nearer end of the points)."""
    x = np.asarray(points, dtype=np.float64)
    a = np.asarray(outputs, dtype=np.float64)
    order = np.argsort(x)
    s, a = x[order], a[order]
    if len(s) > 1 and not np.all(np.diff(s) > 0):
        raise ValueError("staircase_lookup needs distinct points")
    return [(float(s[k]), float(s[k + 1]), a[k + 1] - a[k],
             bool(s[-1] - s[k] <= s[k + 1] - s[0]))
            for k in range(len(s) - 1) if np.any(a[k + 1] != a[k])]


def _table(points, outputs, name: str) -> tuple:
    """``points`` (m,) and ``outputs`` (m, d) as float64 arrays, checked for ``name``."""
    x = np.asarray(points, dtype=np.float64)
    a = np.asarray(outputs, dtype=np.float64)
    if x.ndim != 1 or a.ndim != 2 or len(x) != len(a) or len(x) == 0:
        raise ValueError(f"{name} needs m points and an (m, d) array of outputs")
    return x, a


def staircase_lookup(points: Sequence[float], outputs) -> tuple:
    """``M1 (1, 2s), b1, M2, b2``: equal to ``outputs[i]`` within a quarter gap of
    ``points[i]``, with two ReLUs per step (``s`` places where neighbouring outputs differ).

    ``recipes.plateau_lookup`` with its plateaus merged: between two neighbouring points whose
    outputs differ, one clipped ramp ``ReLU(u) - ReLU(u - 1)`` (the Transformer Cookbook's
    ReLU comparator, ``recipes.relu_step``) climbs over the middle half of their gap; elsewhere
    the output is flat, so a function with few runs (``x - y < 0`` over a thousand
    differences) costs a few units, and only the gaps at its steps need telling apart. Each
    ramp faces the nearer end of the points: on its far side both ReLUs are exactly 0.

    >>> M1, b1, M2, b2 = staircase_lookup([-1.0, -0.5, 0.0, 0.5], [[1.0], [1.0], [0.0], [0.0]])
    >>> M1.shape
    (1, 2)
    >>> x = np.array([[-1.1], [-0.45], [0.1], [0.5]])
    >>> (np.maximum(x @ M1 + b1, 0.0) @ M2 + b2).ravel().round(9).tolist()
    [1.0, 1.0, 0.0, 0.0]
    """
    x, a = _table(points, outputs, "staircase_lookup")
    steps = staircase_steps(x, a)
    M1, b1 = np.zeros((1, 2 * len(steps))), np.zeros(2 * len(steps))
    M2, b2 = np.zeros((2 * len(steps), a.shape[1])), a[np.argmin(x)].copy()
    for k, (left, right, change, rising) in enumerate(steps):
        lo, hi = left + (right - left) / 4, right - (right - left) / 4
        slope = 1.0 / (hi - lo)
        if rising:  # 0 below lo, 1 above hi
            M1[0, 2 * k:2 * k + 2], b1[2 * k:2 * k + 2] = slope, [-slope * lo, -slope * lo - 1]
            M2[2 * k], M2[2 * k + 1] = change, -change
        else:  # 1 below lo, 0 above hi: the change sits in b2
            M1[0, 2 * k:2 * k + 2], b1[2 * k:2 * k + 2] = -slope, [slope * hi, slope * hi - 1]
            M2[2 * k], M2[2 * k + 1] = -change, change
            b2 += change
    return M1, b1, M2, b2


def piecewise_linear(points: Sequence[float], outputs) -> tuple:
    """``M1 (1, k), b1, M2, b2``: the ReLU MLP through ``(points[i], outputs[i])``, linear
    between neighbouring points and flat a gap beyond the ends, one ReLU per change of slope
    (``k <= m``; rows on one line cost one).

    The Transformer Cookbook's piecewise-linear functions: ``f(t) = f(t_0 - g) + sum_k
    c_k ReLU(t - t_k)`` with a kink at each point where the slope changes. Unlike a staircase
    it is exact at its points only, and off by ``slope * delta`` at ``t_i + delta``; the
    compiler uses it where that is harmless (erasing a head's scratch, ``emit.cleanup_mlp``).

    >>> M1, b1, M2, b2 = piecewise_linear([0.0, 1.0, 3.0], [[0.0], [2.0], [2.0]])
    >>> M1.shape
    (1, 2)
    >>> x = np.array([[0.0], [0.5], [1.0], [3.0]])
    >>> (np.maximum(x @ M1 + b1, 0.0) @ M2 + b2).ravel().round(9).tolist()
    [0.0, 1.0, 2.0, 2.0]
    """
    x, a = _table(points, outputs, "piecewise_linear")
    order = np.argsort(x)
    x, a = x[order], a[order]
    if not np.all(np.diff(x) > 0):
        raise ValueError("piecewise_linear needs distinct points")
    if len(x) == 1:
        return np.zeros((1, 1)), np.zeros(1), np.zeros((1, a.shape[1])), a[0].copy()
    slopes = np.diff(a, axis=0) / np.diff(x)[:, None]
    knots, changes, previous = [x[0] - (x[1] - x[0])], [slopes[0]], slopes[0]
    for k in range(1, len(slopes)):  # a kink where the slope changes
        if not np.allclose(slopes[k], previous, rtol=1e-12, atol=0.0):
            knots.append(x[k])
            changes.append(slopes[k] - previous)
            previous = slopes[k]
    M1 = np.ones((1, len(knots)))
    b1 = -np.array(knots)
    M2 = np.array(changes)
    b2 = a[0] - slopes[0] * (x[1] - x[0])
    return M1, b1, M2, b2


def gated_staircase(by_slot: dict, n_slots: int, reach: float) -> tuple:
    """``M1 (n_slots + 1, h), b1, M2, b2``: a function of a one-hot (rows ``0..n_slots-1``)
    and a number ``x`` (the last row), one :func:`staircase_lookup` over ``x`` per slot.

    ``by_slot[j] = (points, outputs)`` for slot ``j``. Each slot's ramps carry a gate
    ``G (onehot_j - 1)`` with ``G`` past the largest value the ramp can reach (``reach``
    bounds ``|x|``), so they are exactly 0 unless slot ``j`` is on; the slot's first output
    is a clipped ramp of the one-hot itself (``recipes.categorical_lookup``'s comparator). Only
    one slot's steps are ever active, and each slot's steps only need its own points told
    apart: a table of (kind, count) pairs is a short staircase per kind, not one long one.

    >>> M1, b1, M2, b2 = gated_staircase({0: ([0.0, 1.0], [[1.0], [2.0]]),
    ...                                   1: ([0.0, 1.0], [[3.0], [3.0]])}, 2, 1.0)
    >>> x = np.array([[1, 0, 0.0], [1, 0, 1.0], [0, 1, 0.0], [0, 1, 1.0]])
    >>> (np.maximum(x @ M1 + b1, 0.0) @ M2 + b2).ravel().round(9).tolist()
    [1.0, 2.0, 3.0, 3.0]
    """
    cols, biases, rows = [], [], []
    for j, (points, outputs) in sorted(by_slot.items()):
        a = np.asarray(outputs, dtype=np.float64)
        m1, b1, m2, b2 = staircase_lookup(points, a)
        for unit in range(m1.shape[1]):  # gate: G (onehot_j - 1) pushes it below 0
            gate = abs(m1[0, unit]) * 2 * reach + abs(b1[unit]) + 2.0
            col = np.zeros(n_slots + 1)
            col[j], col[n_slots] = gate, m1[0, unit]
            cols.append(col)
            biases.append(b1[unit] - gate)
            rows.append(m2[unit])
        for bias, sign in ((-1.0, 1.0), (-2.0, -1.0)):  # b2 when slot j is on
            col = np.zeros(n_slots + 1)
            col[j] = 4.0
            cols.append(col)
            biases.append(bias)
            rows.append(sign * b2)
    width = len(next(iter(by_slot.values()))[1][0]) if by_slot else 1
    M1 = np.array(cols, dtype=np.float64).reshape(-1, n_slots + 1).T
    M2 = np.array(rows, dtype=np.float64).reshape(-1, width)
    return M1, np.array(biases, dtype=np.float64), M2, np.zeros(width)


def projection_for_steps(codes: np.ndarray, ids: np.ndarray, unit: Sequence[float],
                         eps: float, safe: float, noise: float = 100.0,
                         max_loss: float = 0.05) -> float:
    """The ``lam`` on a grid (both signs, a wide range, ``safe`` included: a bound past
    which no two points meet) whose ``t = c0 + lam c1`` leaves the staircase over ``t`` the
    widest margin: its smallest step's quarter gap, less the read error ``unit[0] + |lam|
    unit[1]`` and the rounding at its magnitude (``noise eps``), relative to that magnitude
    (what ``taotp.rasp.accuracy.staircase`` checks; ``max_loss`` caps its rounding loss).
    ``ids[i]`` names point ``i``'s output: points with equal outputs may meet. Among weights
    within a fifth of the best margin, the one with the fewest steps.

    >>> codes = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> lam = projection_for_steps(codes, np.array([0, 1, 2, 3]), [0.0, 0.0], 0.0, 3.0)
    >>> len({c0 + lam * c1 for c0, c1 in codes})
    4
    """
    if len(codes) < 2:  # one point: any weight separates it
        return safe
    spread = [float(np.ptp(codes[:, i])) or 1.0 for i in range(2)]
    base = np.geomspace(1e-4, 1e4, 161) * spread[0] / spread[1]
    grid = np.concatenate(([safe], base, -base, [1.0, -1.0, 2.0, -2.0, 0.5, -0.5]))
    best = []  # (margin, steps, lam)
    chunk = max(1, 2_000_000 // max(len(codes), 1))
    for start in range(0, len(grid), chunk):
        lams = grid[start:start + chunk]
        ts = codes[:, 0][None, :] + lams[:, None] * codes[:, 1][None, :]
        order = np.argsort(ts, axis=1)
        ts = np.take_along_axis(ts, order, axis=1)
        step = ids[order][:, 1:] != ids[order][:, :-1]
        gaps = np.where(step, np.diff(ts, axis=1), np.inf)
        top = np.maximum(np.abs(ts).max(axis=1), 1e-300)
        smallest = gaps.min(axis=1)
        carried = unit[0] + np.abs(lams) * unit[1] + noise * eps * top
        with np.errstate(divide="ignore"):
            inverse = np.where(step, 1.0 / np.where(step, gaps, 1.0), 0.0).sum(1)
        loss = 16 * eps * top * inverse if eps else np.zeros(len(lams))
        margin = np.where((smallest > 0) & (loss <= max_loss),
                          (smallest / 4 - carried) / top, -np.inf)
        best += zip(margin.tolist(), step.sum(axis=1).tolist(), lams.tolist())
    top_margin = max(m for m, _, _ in best)
    if not np.isfinite(top_margin) or top_margin <= 0:
        return safe  # nothing fits: the check that follows says why
    good = [b for b in best if b[0] >= 0.8 * top_margin]
    return min(good, key=lambda b: (b[1], -b[0]))[2]
