"""Compiler stage 3, the MLPs of Map and SequenceMap tables (``lookup_mlp``): a categorical
lookup over one-hots, or a staircase (plateau) lookup over one number that tells the
table's inputs apart (a weighted sum, ``a x + b y``, or injective weights), each with its
error accounted (``taotp.rasp.accuracy``).
"""
from __future__ import annotations

import functools

import numpy as np

from taotp.rasp import accuracy, recipes
from taotp.rasp.accuracy import NOISE
from taotp.rasp.allocate import Plan
from taotp.rasp.emit import encode, record_error, tolerance
from taotp.rasp.ir import Lookup

# A categorical lookup's comparators take a sum of k one-hots off by a quarter; a relative
# scale error of this much (times k <= 25 inputs... in practice 1-3) stays far below that.
CATEGORICAL_TOLERANCE = 0.2


def lookup_mlp(op: Lookup, plan: Plan, scale: float, eps: float,
               errors: dict | None = None) -> tuple:
    """An MLP for a Map/SequenceMap table: categorical_lookup or staircase_lookup. Reads
    the inputs' error bounds from ``errors`` and writes the output's there
    (``taotp.rasp.accuracy``)."""
    L = plan.d_logical
    errors = {} if errors is None else errors
    norm = (L + 1) / scale ** 2  # the squared norm this MLP reads (layer_norm_scale)
    rows_of = [list(plan.dims(v)) for v in op.inputs]

    def enc(value):
        row = np.zeros(L)
        encode(op.out, value, plan, row)
        return row

    if op.weights:  # a function of sum w_i x_i: one plateau per value of the sum
        ts = np.array([float(t) for (t,), _ in op.table])
        carried = sum(accuracy.read_error(v, errors, eps, norm, w)
                      for w, v in zip(op.weights, op.inputs))
        record_error(errors, op.out, accuracy.plateau(op.out.label, ts, eps, carried))
        read = np.zeros((L, 1))
        for w, v, dims in zip(op.weights, op.inputs, rows_of):
            read[dims[0], 0] += w * v.unit / scale
        M1, b1, M2, b2 = recipes.staircase_lookup(ts, np.array([enc(o) for _, o in op.table]))
        terms = " + ".join(f"{w:g} {v.label}" for w, v in zip(op.weights, op.inputs))
        return read @ M1, b1, M2, b2, f"{op.out.label}: staircase_lookup of {terms}", \
            tolerance(ts)
    linear = _linear_lookup(op, plan, scale, eps, enc, errors)
    if linear is not None:
        return linear
    if not any(v.numerical for v in op.inputs):
        carried = sum(accuracy.read_error(v, errors, eps, norm, coefficients=[1.0])
                      for v in op.inputs)
        if carried > CATEGORICAL_TOLERANCE:
            raise ValueError(f"{op.out.label}: its one-hot inputs may be off by {carried:.2g}, "
                             f"more than its comparators take ({CATEGORICAL_TOLERANCE})")
        errors[op.out.label] = NOISE * eps
        table = {tuple(v.slot(a) for v, a in zip(op.inputs, args)): out
                 for args, out in op.table}
        m1, b1, M2, b2 = recipes.categorical_lookup([v.width for v in op.inputs], table, enc)
        M1 = np.zeros((L, m1.shape[1]))
        np.add.at(M1, sum(rows_of, []), m1 / scale)
        return M1, b1, M2, b2, f"{op.out.label}: categorical_lookup", CATEGORICAL_TOLERANCE
    weights = recipes.injective_weights([[v.code(a) for a in v.domain()] for v in op.inputs])
    if len(op.inputs) == 2:  # a better-conditioned pair of weights, when the grid finds one
        pairs = {tuple(v.code(a) for v, a in zip(op.inputs, args)) for args, _ in op.table}
        weights = [1.0, _projection(tuple(sorted(pairs)), weights[1])]
    ts = np.array([sum(w * v.code(a) for w, v, a in zip(weights, op.inputs, args))
                   for args, _ in op.table])
    carried = sum(accuracy.read_error(v, errors, eps, norm, w, w * np.arange(v.width))
                  for w, v in zip(weights, op.inputs))
    record_error(errors, op.out, accuracy.plateau(op.out.label, ts, eps, carried))
    read = np.zeros((L, 1))
    for w, v, dims in zip(weights, op.inputs, rows_of):
        if v.numerical:
            read[dims[0], 0] += w * v.unit / scale
        else:
            read[dims, 0] += w * np.arange(v.width) / scale
    M1, b1, M2, b2 = recipes.staircase_lookup(ts, np.array([enc(o) for _, o in op.table]))
    return read @ M1, b1, M2, b2, f"{op.out.label}: staircase_lookup", tolerance(ts)


@functools.lru_cache(maxsize=64)
def _projection(points: tuple, safe: float | None = None) -> float:
    """The ``lam`` on a grid that keeps ``y0 + lam y1`` farthest apart relative to its
    largest value: rounding costs ``eps * top / gap``, so float32 needs that ratio small.
    ``safe`` (by default a bound past which no two points meet) is the fallback."""
    ys = np.array(points)
    if safe is None:
        safe = np.pi * (float(np.abs(ys[:, 0]).max()) / recipes.min_gap(ys[:, 1]) + 1.0)
    best, best_lam = 0.0, safe  # a ratio of 0 is a collision
    grid = np.concatenate(([safe], np.geomspace(safe / 1e3, 3 * safe, 1500)))
    for chunk in np.array_split(grid, max(1, len(grid) * len(ys) // 2_000_000)):
        ts = np.sort(ys[:, 0][None, :] + chunk[:, None] * ys[:, 1][None, :], axis=1)
        ratio = np.diff(ts, axis=1).min(axis=1) / np.abs(ts).max(axis=1)
        i = int(np.argmax(ratio))
        if ratio[i] > best:
            best, best_lam = float(ratio[i]), float(chunk[i])
    return best_lam


PROJECTIONS = ((1.0, -1.0), (1.0, 1.0), (1.0, -2.0), (2.0, -1.0), (1.0, 2.0), (2.0, 1.0))


def _linear_lookup(op: Lookup, plan: Plan, scale: float, eps: float, enc, errors: dict):
    """A function of two numbers that depends only on ``a x + b y`` (like ``length - i``)
    needs one plateau per value of ``a x + b y``, not one unit per pair. Only the pairs of
    non-None values and the BOS pair must be right: a None input means the evaluator's
    value there is None (or it refuses the input)."""
    if len(op.inputs) != 2 or len(op.table) < 64 or not all(
            isinstance(x, (int, float)) for v in op.inputs for x in v.values):
        return None
    nones = [max(map(float, v.values)) + (max(map(float, v.values)) - min(map(float, v.values)))
             + 2.0 for v in op.inputs]
    bos = tuple(v.bos for v in op.inputs)
    rows = [(args, out) for args, out in op.table
            if all(a is not None for a in args) or args == bos]
    best = None
    for w in PROJECTIONS:
        groups: dict = {}
        spread: dict = {}  # numerical means: t's equal but for float rounding share a key
        for args, out in rows:
            t = sum(wi * (n if a is None else float(a)) for wi, n, a in zip(w, nones, args))
            key = round(t, 9)
            spread.setdefault(key, []).append(t)
            if groups.setdefault(key, out) != out:
                break
        else:
            if best is None or len(groups) < len(best[1]):
                best = (w, groups, spread)
    if best is None or 4 * len(best[1]) >= 2 * len(op.table):
        return None
    w, groups, spread = best
    ts = np.array([spread[key][0] for key in groups], dtype=np.float64)
    wobble = max(max(t) - min(t) for t in spread.values())
    if wobble > recipes.min_gap(ts) / 64:
        return None
    norm = (plan.d_logical + 1) / scale ** 2
    carried = wobble + sum(accuracy.read_error(v, errors, eps, norm, wi, wi * np.array(
        [float(x) for x in v.values] + [n])) for wi, n, v in zip(w, nones, op.inputs))
    record_error(errors, op.out, accuracy.plateau(op.out.label, ts, eps, carried))
    read = np.zeros((plan.d_logical, 1))
    for wi, n, v in zip(w, nones, op.inputs):
        dims = list(plan.dims(v))
        if v.numerical:  # the number itself sits in its first dim
            read[dims[0], 0] += wi * v.unit / scale
        else:
            read[dims, 0] += wi * np.array([float(x) for x in v.values] + [n]) / scale
    M1, b1, M2, b2 = recipes.staircase_lookup(ts, np.array([enc(o) for o in groups.values()]))
    return (read @ M1, b1, M2, b2,
            f"{op.out.label}: staircase_lookup of {w[0]:g} x + {w[1]:g} y", tolerance(ts))
