"""The cookbook the RASP compiler is made of: small functions that return exact weights.

Each recipe is one idea from the book (*The Art of Transformer Programming*, chapters 3, 4
and 6) or the Transformer Cookbook (Yang, Chiang et al., TMLR 2026), written so that layer
norm is harmless: the compiler keeps the residual mean-free (``taotp.circuits.mean_free``)
and gives every position the same norm, so each layer norm is a known constant scale
(:func:`layer_norm_scale`) that the reading weights undo.

>>> import numpy as np
>>> M1, b1, M2, b2 = plateau_lookup([0.0, 1.0, 3.0], [[5.0], [6.0], [7.0]])
>>> x = np.array([[0.1], [1.0], [2.9]])        # each point, off by less than a quarter gap
>>> (np.maximum(x @ M1 + b1, 0.0) @ M2 + b2).ravel().round(9).tolist()
[5.0, 6.0, 7.0]
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Sequence

import numpy as np

from taotp.rasp.scores import (  # noqa: F401 (the cookbook's attention scores)
    circle_margin, circle_point, circle_scores, hardening_gap, match_scores, matching,
    select_dims, select_scores)
from taotp.rasp.staircase import (  # noqa: F401 (the cookbook's ReLU staircases)
    gated_staircase, piecewise_linear, projection_for_steps, staircase_lookup,
    staircase_steps)

LN_EPSILON = 1e-10  # taotp.model.layer_norm divides by std + 1e-10


def layer_norm_scale(squared_norm: float, d_model: int) -> float:
    """The factor layer norm multiplies a mean-free residual by, when its norm is known.

    Book, Section 4.1 (padding blocks): if every position's residual has mean 0 and the same
    squared norm, layer norm is multiplication by this constant, so a reader divides by it.
    Matches ``taotp.model.layer_norm`` exactly, epsilon included.

    >>> round(layer_norm_scale(4.0, 16), 6)
    2.0
    """
    if squared_norm <= 0 or d_model < 1:
        raise ValueError(f"layer_norm_scale needs a positive norm and d_model, got "
                         f"{squared_norm}, {d_model}")
    return 1.0 / (math.sqrt(squared_norm / d_model) + LN_EPSILON)


def balanced_number(values: Sequence[float]) -> np.ndarray:
    """``(len(values), 2)`` rows ``[x, sqrt(B^2 - x^2)]`` with ``B = max |x|``: constant norm.

    A number stored alone changes the residual's norm, so layer norm would rescale every
    other value by an amount that depends on it. Its partner coordinate (a padding block in
    the book's sense, Section 4.1) keeps the norm at ``B^2`` for every value.

    >>> (balanced_number([-3.0, 0.0, 2.0]) ** 2).sum(axis=1).tolist()
    [9.0, 9.0, 9.0]
    """
    x = np.asarray(values, dtype=np.float64)
    bound = float(np.max(np.abs(x))) if x.size else 0.0
    bound = bound if bound > 0 else 1.0
    return np.stack([x, np.sqrt(np.maximum(bound * bound - x * x, 0.0))], axis=1)


def balanced_number_with(x: float, bound: float) -> np.ndarray:
    """One row of :func:`balanced_number` for a known bound ``B >= |x|``."""
    return np.array([x, max(bound * bound - x * x, 0.0) ** 0.5])


def scaled_number(x: float, bound: float, squares: bool = False) -> np.ndarray:
    """``[u, sqrt(1 - u^2)]`` with ``u = x / B``, or ``[u, u^2, sqrt(2 - u^2 - u^4)]``.

    :func:`balanced_number` scaled to norm 1 (or 2), so a number as large as a position adds
    no more to the residual's norm than a one-hot; with its square, ready for
    :func:`match_scores`.

    >>> scaled_number(500.0, 1000.0, squares=True).round(4).tolist()
    [0.5, 0.25, 1.299]
    """
    u = x / bound
    if squares:
        return np.array([u, u * u, max(2.0 - u * u - u ** 4, 0.0) ** 0.5])
    return np.array([u, max(1.0 - u * u, 0.0) ** 0.5])


def plateau_lookup(points: Sequence[float], outputs, local: bool = False) -> tuple:
    """``M1 (1, 4m), b1, M2, b2``: a ReLU MLP equal to ``outputs[i]`` near ``points[i]``.

    The book's spike MLP (Theorem 6.1, ``taotp.build_MLP``) is exact on the points; this
    variant (four ReLUs per point instead of three) is flat on a quarter of the gap to the
    nearest other point, so inputs that are off by rounding (float32, softmax leakage) still
    give the exact output: every lookup also cleans its input up.

    ``local``: each point's trapezoid is only as steep as its own gaps need, and its ReLUs
    face the nearer end of the points (zero beyond the far side), so far from a point its
    units are small: a lookup over thousands of unevenly spaced points (``1 / (w + 1)``)
    does not sum thousands of large cancelling terms (its rounding noise drops from ~1e-6 to
    ~1e-10 at 1,001 points).

    >>> M1, b1, M2, b2 = plateau_lookup([0.0, 1.0, 3.0], [[5.0], [6.0], [7.0]], local=True)
    >>> x = np.array([[0.1], [1.0], [2.9]])
    >>> (np.maximum(x @ M1 + b1, 0.0) @ M2 + b2).ravel().round(9).tolist()
    [5.0, 6.0, 7.0]
    """
    x = np.asarray(points, dtype=np.float64)
    a = np.asarray(outputs, dtype=np.float64)
    if x.ndim != 1 or a.ndim != 2 or len(x) != len(a) or len(x) == 0:
        raise ValueError("plateau_lookup needs m points and an (m, d) array of outputs")
    order = np.argsort(x)
    s = x[order]
    gaps = np.diff(s)
    if len(s) > 1 and not np.all(gaps > 0):
        raise ValueError("plateau_lookup needs distinct points")
    near = np.full(len(s), float(gaps.min()) if len(s) > 1 else 1.0)
    if len(s) > 1 and local:
        near[order] = np.minimum(np.append(gaps, np.inf), np.insert(gaps, 0, np.inf))
    inner, outer = near / 4, near / 2
    corners = np.stack([x - outer, x - inner, x + inner, x + outer], axis=1)
    slope = 1.0 / (outer - inner)
    # right-facing units are active above their corner, left-facing ones below it
    right = (s[-1] - corners[:, 0]) <= (corners[:, 3] - s[0]) if local else np.ones(len(x), bool)
    sign = np.where(right, 1.0, -1.0)
    M1 = np.repeat(sign * slope, 4)[None, :]
    b1 = (-(sign * slope)[:, None] * corners).ravel()
    M2 = (np.array([1.0, -1.0, -1.0, 1.0])[None, :, None] * a[:, None, :]).reshape(-1, a.shape[1])
    return M1, b1, M2, np.zeros(a.shape[1])


def min_gap(points: Sequence[float]) -> float:
    """The smallest distance between distinct sorted points (1.0 for fewer than two)."""
    s = np.unique(np.asarray(points, dtype=np.float64))
    return float(np.diff(s).min()) if len(s) > 1 else 1.0


def injective_weights(code_sets: Sequence[Sequence[float]]) -> list:
    """Weights ``w`` with ``sum_i w[i] * c[i]`` one-to-one on the product of the code sets.

    How one MLP reads several numbers at once (an n-ary SequenceMap): each next code is
    scaled past the range of what came before, so the combined number still separates every
    combination by the first code's smallest gap.

    >>> injective_weights([[0, 1, 2], [0, 1]])
    [1.0, 3.0]
    """
    weights, lo, hi, gap = [], 0.0, 0.0, None
    for codes in code_sets:
        c = np.asarray(codes, dtype=np.float64)
        w = 1.0 if gap is None else (hi - lo + gap) / min_gap(c)
        new_lo, new_hi = lo + w * float(c.min()), hi + w * float(c.max())
        gap = min_gap(c) * w if gap is None else gap
        weights.append(w)
        lo, hi = new_lo, new_hi
    return weights


def categorical_lookup(n_slots: Sequence[int], table: dict, encode,
                       none_slots: Sequence[int] | None = None) -> tuple:
    """``M1 (sum n_slots, 2h), b1, M2, b2`` computing a function of k one-hot inputs.

    Transformer Cookbook's "finite function by a lookup table", made robust: per
    combination, the clipped ramp ``ReLU(4 (s - k + 1/2)) - ReLU(4 (s - k + 1/2) - 1)`` of
    the sum ``s`` of its k one-hot slots is exactly 1 when ``s >= k - 1/4`` and exactly 0
    when ``s <= k - 1/2`` (a ReLU comparator): noise below a quarter is erased, not passed
    on. The answer most combinations share is the bias ``b2``; every other combination's
    ramp adds its answer's difference from it, so at most one ramp is ever on and a pattern
    detector (one true combination) costs two units. ``table`` maps slot tuples to answers,
    ``encode`` an answer to its output vector.

    RASP's None propagates: where every combination with an input in its ``none_slots``
    slot answers None, one ramp of the sum of those slots (``ReLU(2 s - 1/2) -
    ReLU(2 s - 3/2)``: 1 when any input is None, 0 when none is) answers them all, and the
    other combinations get ramps of their own only where that is cheaper.

    >>> M1, b1, M2, b2 = categorical_lookup([2, 2], {(0, 0): 0, (0, 1): 1, (1, 0): 1,
    ...                                              (1, 1): 0}, lambda v: [float(v)])
    >>> M1.shape
    (4, 4)
    >>> x = np.array([[1.0, 0.0, 0.1, 0.9], [0.05, 0.95, 0.0, 1.0]])   # noisy one-hots
    >>> (np.maximum(x @ M1 + b1, 0.0) @ M2 + b2).ravel().tolist()
    [1.0, 0.0]
    """
    offsets = np.concatenate(([0], np.cumsum(n_slots))).astype(int)
    answers = {combo: np.asarray(encode(a), dtype=np.float64) for combo, a in table.items()}
    plain = _combo_ramps(offsets, answers)
    if none_slots is None:
        return plain
    nones = {c for c in table if any(s == n for s, n in zip(c, none_slots))}
    if not nones or len(nones) == len(table) or any(table[c] is not None for c in nones):
        return plain
    M1, b1, M2, b2 = _combo_ramps(offsets, {c: a for c, a in answers.items() if c not in nones})
    if M1.shape[1] + 2 >= plain[0].shape[1]:
        return plain
    col = np.zeros((int(offsets[-1]), 2))
    col[[offsets[i] + n for i, n in enumerate(none_slots)]] = 2.0
    change = answers[next(iter(nones))] - b2
    return (np.hstack([M1, col]), np.concatenate([b1, [-0.5, -1.5]]),
            np.vstack([M2, change, -change]), b2)


def _combo_ramps(offsets: np.ndarray, answers: dict) -> tuple:
    """:func:`categorical_lookup`'s ramps: the commonest answer as the bias, a clipped ramp
    for every combination (slot tuple) answering something else."""
    k = len(offsets) - 1
    counts: dict = {}
    for answer in answers.values():
        counts[answer.tobytes()] = counts.get(answer.tobytes(), 0) + 1
    common = max(counts, key=counts.get) if counts else b""
    default = next((a for a in answers.values() if a.tobytes() == common), np.zeros(1))
    combos = [c for c, a in answers.items() if a.tobytes() != common]
    M1 = np.zeros((int(offsets[-1]), 2 * len(combos)))
    M2 = np.zeros((2 * len(combos), len(default)))
    for h, combo in enumerate(combos):
        for i, slot in enumerate(combo):
            M1[offsets[i] + slot, 2 * h:2 * h + 2] = 4.0
        M2[2 * h] = answers[combo] - default
        M2[2 * h + 1] = default - answers[combo]
    b1 = np.tile([-4.0 * (k - 0.5), -4.0 * (k - 0.5) - 1.0], len(combos))
    return M1, b1, M2, default.copy()


def index_lookup(i: int, positions: int) -> tuple:
    """Query and key vectors that make position ``i`` the unique best key.

    Transformer Cookbook, "index lookup by quadratic maximisation": with ``q = [i, 1]`` and
    ``k_j = [2j, -j^2]``, ``q . k_j = i^2 - (i - j)^2`` peaks at ``j = i``, with gap at
    least 1 to every other position. Returns ``(q (2,), K (positions, 2))``.

    >>> q, K = index_lookup(3, 6)
    >>> int(np.argmax(K @ q))
    3
    """
    j = np.arange(positions, dtype=np.float64)
    return np.array([float(i), 1.0]), np.stack([2 * j, -j * j], axis=1)


def relu_max(a: float, b: float) -> float:
    """``max(a, b) = b + ReLU(a - b)``: one hidden unit (Transformer Cookbook, "min/max")."""
    return b + max(a - b, 0.0)


def relu_min(a: float, b: float) -> float:
    """``min(a, b) = a - ReLU(a - b)``."""
    return a - max(a - b, 0.0)


def relu_step(x: float, threshold: float, width: float) -> float:
    """A comparator ``[x >= threshold]``, exact when x is at least ``width`` from it:
    ``(ReLU(x - threshold + width) - ReLU(x - threshold)) / width``."""
    return (max(x - threshold + width, 0.0) - max(x - threshold, 0.0)) / width


def relu_and(*bits: float) -> float:
    """Boolean AND of 0/1 inputs: ``ReLU(sum - (k - 1))`` (OR is ``1 - AND`` of negations)."""
    return max(sum(bits) - (len(bits) - 1.0), 0.0)


def mean_values(values: Sequence, max_count: int, limit: int) -> list:
    """Every mean of 1..max_count values drawn (with repeats) from ``values``, exactly.

    What a numerical mean-Aggregate can output, so that its cleanup MLP has a finite table.
    Exact fractions, so that equal means are one point; refuses past ``limit`` points.

    >>> [str(m) for m in mean_values([0, 1], 3, 100)]
    ['0', '1/3', '1/2', '2/3', '1']
    """
    out: set = set()
    for total, count in sums_by_count(values, max_count, limit):
        if count:
            out.add(total / count)
    return sorted(out)


def sums_by_count(values: Sequence, max_count: int, limit: int) -> list:
    """Pairs ``(sum, count)`` for every multiset of 0..max_count values (sums exact)."""
    items = sorted({Fraction(v) for v in values})
    level = {Fraction(0)}
    out = [(Fraction(0), 0)]
    for count in range(1, max_count + 1):
        level = {s + v for s in level for v in items}
        out.extend((s, count) for s in level)
        if len(out) > limit:
            raise ValueError(f"more than {limit} possible sums/means (values {items[:5]}..., "
                             f"up to {max_count} of them)")
    return out
