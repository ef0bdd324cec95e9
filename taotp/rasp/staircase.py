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
    x = np.asarray(points, dtype=np.float64)
    a = np.asarray(outputs, dtype=np.float64)
    if x.ndim != 1 or a.ndim != 2 or len(x) != len(a) or len(x) == 0:
        raise ValueError("staircase_lookup needs m points and an (m, d) array of outputs")
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
