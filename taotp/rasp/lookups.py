"""Compiler stage 3, the MLPs of Map and SequenceMap tables (``lookup_mlp``): a categorical
lookup over one-hots, or a staircase lookup over one number that tells the table's inputs apart
(a weighted sum, ``a x + b y``, or injective weights), each with its error accounted
(``taotp.rasp.accuracy``).
"""
from __future__ import annotations

import numpy as np

from taotp.rasp import accuracy, recipes
from taotp.rasp.accuracy import NOISE
from taotp.rasp.allocate import Plan
from taotp.rasp.emit import record_error, tolerance, written
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
    norm = plan.d_model / scale ** 2  # the squared norm this MLP reads (layer_norm_scale)
    rows_of = [list(plan.dims(v)) for v in op.inputs]

    def enc(value):
        row = np.zeros(L)
        written(op.out, value, plan, row)
        return row

    if op.weights:  # a function of sum w_i x_i: one step per change along the sum
        ts = np.array([float(t) for (t,), _ in op.table])
        carried = sum(accuracy.read_error(v, errors, eps, norm, w)
                      for w, v in zip(op.weights, op.inputs))
        read = np.zeros((L, 1))
        for w, v, dims in zip(op.weights, op.inputs, rows_of):
            read[dims[0], 0] += w * v.unit / scale
        terms = " + ".join(f"{w:g} {v.label}" for w, v in zip(op.weights, op.inputs))
        return _staircase(op, read, ts, [enc(o) for _, o in op.table], eps, carried, errors,
                          f"of {terms}")
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
        m1, b1, M2, b2 = recipes.categorical_lookup([v.width for v in op.inputs], table, enc,
                                                    [v.slot(None) for v in op.inputs])
        M1 = np.zeros((L, m1.shape[1]))
        np.add.at(M1, sum(rows_of, []), m1 / scale)
        return M1, b1, M2, b2, f"{op.out.label}: categorical_lookup", CATEGORICAL_TOLERANCE
    weights = recipes.injective_weights([[v.code(a) for a in v.domain()] for v in op.inputs])
    if len(op.inputs) == 2:  # the best-conditioned pair of weights the grid finds
        codes = np.array([[v.code(a) for v, a in zip(op.inputs, args)] for args, _ in op.table])
        first: dict = {}
        ids = np.array([first.setdefault(o, len(first)) for _, o in op.table])
        unit = [accuracy.read_error(v, errors, eps, norm, 1.0, np.arange(v.width))
                for v in op.inputs]
        weights = [1.0, recipes.projection_for_steps(codes, ids, unit, eps, weights[1],
                                                          NOISE, accuracy.MAX_LOSS)]
    ts = np.array([sum(w * v.code(a) for w, v, a in zip(weights, op.inputs, args))
                   for args, _ in op.table])
    carried = sum(accuracy.read_error(v, errors, eps, norm, w, w * np.arange(v.width))
                  for w, v in zip(weights, op.inputs))
    merged: dict = {}  # points that coincide must agree (the grid keeps those apart)
    for t, (_, o) in zip(ts, op.table):
        if merged.setdefault(t, o) != o:
            raise ValueError(f"{op.out.label}: two inputs with different outputs read as "
                             f"the same number")
    ts, table = np.array(list(merged)), list(merged.values())
    read = np.zeros((L, 1))
    for w, v, dims in zip(weights, op.inputs, rows_of):
        if v.numerical:
            read[dims[0], 0] += w * v.unit / scale
        else:
            read[dims, 0] += w * np.arange(v.width) / scale
    try:
        return _staircase(op, read, ts, [enc(o) for o in table], eps, carried, errors)
    except ValueError:  # a one-hot and a number: one staircase per slot may still fit
        gated = _gated(op, plan, scale, eps, enc, errors, norm)
        if gated is None:
            raise
        return gated


def _gated(op: Lookup, plan: Plan, scale: float, eps: float, enc, errors: dict,
           norm: float):
    """A function of a one-hot and a number as one staircase over the number per slot
    (``recipes.gated_staircase``), or None when the inputs are not one of each."""
    if len(op.inputs) != 2 or sum(v.numerical for v in op.inputs) != 1:
        return None
    i = 0 if not op.inputs[0].numerical else 1
    c, x = op.inputs[i], op.inputs[1 - i]
    e_c = accuracy.read_error(c, errors, eps, norm, coefficients=[1.0])
    if e_c > CATEGORICAL_TOLERANCE:
        return None
    by_slot: dict = {}
    for args, out in op.table:
        by_slot.setdefault(args[i], {})[float(args[1 - i])] = out
    reach = max(abs(float(v)) for v in x.values) or 1.0
    e_x = accuracy.read_error(x, errors, eps, norm)
    slots, loss, rho = {}, 0.0, 1.0
    for value, table in by_slot.items():
        ts, rows = np.array(list(table)), np.array([enc(o) for o in table.values()])
        steps = recipes.staircase_steps(ts, rows)
        gaps = [hi - lo for lo, hi, _, _ in steps]
        carried = e_x + (3 * reach + max(gaps, default=0.0)) * e_c  # the gate's shift
        # gated units add G (onehot - 1) to what they round: twice the ungated error
        loss = max(loss, accuracy.staircase(f"{op.out.label} (where {c.label} is {value!r})",
                                            ts, rows, 2 * eps, carried))
        rho = min([rho] + [g / 16 / reach for g in gaps])
        slots[c.slot(value)] = (ts, rows)
    record_error(errors, op.out, loss)
    m1, b1, M2, b2 = recipes.gated_staircase(slots, c.width, reach)
    M1 = np.zeros((plan.d_logical, m1.shape[1]))
    M1[list(plan.dims(c))] = m1[:-1] / scale
    M1[plan.dims(x)[0]] += m1[-1] * x.unit / scale
    steps = (M1.shape[1] - 2 * len(slots)) // 2
    return (M1, b1, M2, b2, f"{op.out.label}: gated_staircase ({steps} steps over "
            f"{len(slots)} slots of {c.label})", rho)


def _staircase(op: Lookup, read: np.ndarray, ts: np.ndarray, rows: list, eps: float,
               carried: float, errors: dict, what: str = "") -> tuple:
    """The staircase lookup of ``rows`` over the number ``read`` (points ``ts``, read off
    by up to ``carried``), checked, its error recorded; and its tolerance: how far
    (relative to the largest point) the input may stray, a quarter of its smallest step."""
    rows = np.array(rows, dtype=np.float64)
    record_error(errors, op.out, accuracy.staircase(op.out.label, ts, rows, eps, carried))
    M1, b1, M2, b2 = recipes.staircase_lookup(ts, rows)
    steps = recipes.staircase_steps(ts, rows)
    gap = min((hi - lo for lo, hi, _, _ in steps), default=None)
    rho = 1.0 if gap is None else gap / 4 / (float(np.abs(ts).max()) or 1.0)
    return (read @ M1, b1, M2, b2,
            f"{op.out.label}: staircase_lookup{' ' + what if what else ''} "
            f"({len(steps)} steps over {len(ts)} points)", rho)


PROJECTIONS = ((1.0, -1.0), (1.0, 1.0), (1.0, -2.0), (2.0, -1.0), (1.0, 2.0), (2.0, 1.0))


def _linear_lookup(op: Lookup, plan: Plan, scale: float, eps: float, enc, errors: dict):
    """A function of two numbers that depends only on ``a x + b y`` (like ``length - i``)
    needs a staircase over ``a x + b y``, not one unit per pair. Only the pairs of
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
    norm = plan.d_model / scale ** 2
    carried = wobble + sum(accuracy.read_error(v, errors, eps, norm, wi, wi * np.array(
        [float(x) for x in v.values] + [n])) for wi, n, v in zip(w, nones, op.inputs))
    read = np.zeros((plan.d_logical, 1))
    for wi, n, v in zip(w, nones, op.inputs):
        dims = list(plan.dims(v))
        if v.numerical:  # the number itself sits in its first dim
            read[dims[0], 0] += wi * v.unit / scale
        else:
            read[dims, 0] += wi * np.array([float(x) for x in v.values] + [n]) / scale
    return _staircase(op, read, ts, [enc(o) for o in groups.values()], eps, carried, errors,
                      f"of {w[0]:g} x + {w[1]:g} y")
