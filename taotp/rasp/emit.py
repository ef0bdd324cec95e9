"""Compiler stage 3: weights for every head and MLP, from the recipes, in a logical basis.

The logical residual has two flag dims (BOS, not BOS) and then every Var's dims. It keeps the
same squared norm at every position (categorical one-hots, balanced numbers), so each layer
norm is a known constant (``recipes.layer_norm_scale``) that the reading weights divide out;
``taotp.circuits.mean_free`` (stage 4) then makes the basis mean-free. Each function also
returns a short line naming the recipe it used, for the compiled program's report.
"""
from __future__ import annotations

import functools

import numpy as np

from taotp.rasp import accuracy, recipes
from taotp.rasp.accuracy import MAX_LOSS, NOISE  # noqa: F401 (limits of emit)
from taotp.rasp.allocate import Plan
from taotp.rasp.ir import Attend, Lookup, Term, Var

BOS, NOT_BOS = 0, 1
# A categorical lookup's comparators take a sum of k one-hots off by a quarter; a relative
# scale error of this much (times k <= 25 inputs... in practice 1-3) stays far below that.
CATEGORICAL_TOLERANCE = 0.2
# The residual's absolute rounding noise after a few lookups, in machine epsilons: measured
# up to 1.6e5 in the stored squares of reverse at max_seq_len 1,000 in float64.
RESIDUAL_NOISE = 1e6


class MatchPrecisionError(ValueError):
    """A shift match's scores are too large for the dtype (``compile`` then uses one-hots)."""


def encode(var: Var, value, plan: Plan, out: np.ndarray) -> None:
    """Add ``value``'s encoding in ``var``'s dims to the logical row ``out``."""
    dims = plan.dims(var)
    if var.numerical:
        out[dims.start:dims.stop] += (
            recipes.scaled_number(float(value), var.bound, var.squares)
            if var.squares or var.scaled
            else recipes.balanced_number_with(float(value), var.bound))
    else:
        out[dims.start + var.slot(value)] += 1.0


def bos_row(plan: Plan, reads) -> np.ndarray:
    """The logical residual at the BOS position, restricted to the flags and ``reads``."""
    row = np.zeros(plan.d_logical)
    row[BOS] = 1.0
    for var in reads:
        encode(var, var.bos, plan, row)
    return row


def term_blocks(term: Term, plan: Plan, gain: float) -> tuple:
    """``(Q, K)``, each ``(L, term.columns)``: score ``gain`` where the term selects, else at
    most 0 (categorical: ``recipes.select_scores``; shift: ``recipes.match_scores``)."""
    L, c = plan.d_logical, term.columns
    Q, K = np.zeros((L, c)), np.zeros((L, c))
    qd, kd = plan.offset[term.queries.label], plan.offset[term.keys.label]
    if term.shift is None:
        pattern = np.array(term.pattern, dtype=np.float64).reshape(
            len(term.queries.values), len(term.keys.values))
        q, k, _, _ = recipes.select_scores(pattern, gain, 0.0)
        Q[qd:qd + len(q)], K[kd:kd + len(k)] = q[:, :c], k[:, :c]
        return Q, K
    Wq, Wk = recipes.match_scores(term.keys.bound, term.queries.bound, term.shift, gain)
    for W, M, d in ((Wq, Q, qd), (Wk, K, kd)):
        M[[BOS, NOT_BOS]] = W[0]     # the constant 1: the two flags add up to it
        M[d:d + 2] = W[1:]
    return Q, K


def match_error(term: Term, gain: float, eps: float) -> float:
    """Rounding of a shift term's score: its largest terms times a few machine epsilons,
    plus the residual's noise (``RESIDUAL_NOISE`` epsilons) in the stored squares, which the
    score multiplies by ``B^2``."""
    top = max(abs(float(v)) for v in term.keys.values) + max(
        abs(float(v) + term.shift) for v in term.queries.values)
    squares = term.keys.bound ** 2 + term.queries.bound ** 2
    return gain * eps * (16 * (1.0 + top * top) + RESIDUAL_NOISE * squares)


def head(op: Attend, plan: Plan, d_head: int, scale: float, gap: float,
         shrink: float = 1.0, eps: float = 0.0) -> tuple:
    """``Q K V P`` (each ``(L, d_head)``) of one head.

    Every term scores ``a gap`` where it selects (``a`` = 2 for copy and mean, else 1) and at
    most ``(a - 1) gap`` elsewhere, so the keys every term selects score highest; the BOS key
    scores ``gap`` below them (copy, mean: it wins only when nothing is selected) or equal
    (sum, width: it takes its share ``1 / (w + 1)``)."""
    L = plan.d_logical
    Q, K, V, P = (np.zeros((L, d_head)) for _ in range(4))
    norm = d_head ** 0.5 / scale ** 2
    a = 2 if op.kind in ("copy", "mean") else 1
    unit = gap * norm
    bos, col = bos_row(plan, op.reads()), 0
    for term in op.terms:
        q, k = term_blocks(term, plan, a * unit)
        if term.shift is not None and match_error(term, a * unit, eps) > (
                unit / 4 if op.kind == "copy" else 1e-9):
            raise MatchPrecisionError(f"{op.out.label}: matching {term.keys.label} with "
                             f"{term.queries.label} needs scores too large for this dtype")
        # The BOS position reads as None whatever its Vars hold there.
        q[BOS] -= bos @ q
        k[BOS] -= bos @ k
        Q[:, col:col + term.columns], K[:, col:col + term.columns] = q, k
        col += term.columns
    sink = (len(op.terms) * a - (a - 1)) * unit
    Q[[BOS, NOT_BOS], col] = sink
    K[BOS, col] = 1.0
    values = op.values
    if op.kind == "copy":
        vd, od = plan.offset[values.label], plan.offset[op.out.label]
        for i, value in enumerate(values.domain()):
            V[vd + i, i] = 1.0 / scale
            P[od + op.out.slot(op.default if value is None else value), i] = 1.0
        if values.bos is not None:
            V[BOS, values.slot(values.bos)] -= 1.0 / scale
            V[BOS, values.slot(None)] += 1.0 / scale
        recipe = "categorical copy"
    else:
        s = plan.scratch[op.out.label]
        if op.kind == "width":
            V[BOS, 0] = 1.0 / scale
        else:
            V[plan.offset[values.label], 0] = values.unit / scale
            V[BOS, 0] = ((op.default if op.kind == "mean" else 0.0) - values.bos) / scale
            if op.kind == "sum":
                V[BOS, 1] = 1.0 / scale
        for i in range(len(op.points[0][0])):
            P[s + i, i] = shrink
        recipe = f"{op.kind} to scratch"
    how = " + ".join("match_scores" if t.shift is not None else "select_scores"
                     for t in op.terms)
    return Q, K, V, P, f"{recipe} ({how}, BOS sink)"


def scratch_points(op: Attend) -> tuple:
    """The scratch vectors ``y`` of a head, and the projection its cleanup reads them by."""
    ys = np.array([y for y, _ in op.points], dtype=np.float64)
    proj = np.ones(ys.shape[1])
    if ys.shape[1] == 2:  # (S / (w + 1), 1 / (w + 1)): spread w apart
        proj[1] = np.pi * (float(np.abs(ys[:, 0]).max()) / recipes.min_gap(ys[:, 1]) + 1.0)
    return ys, proj


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


def tolerance(ts: np.ndarray) -> float:
    """How far (relative to the largest point) a plateau lookup's input may stray."""
    return recipes.min_gap(ts) / 4 / (float(np.abs(ts).max()) or 1.0)


def cleanup_mlp(op: Attend, plan: Plan, scale: float, shrink: float, eps: float,
                alone: float | None = None, errors: dict | None = None,
                scratch_error: tuple = ()) -> tuple:
    """An MLP turning the (shrunk) scratch average into ``op.out`` and erasing the scratch.

    The scratch changes the residual's norm a little (``shrink`` keeps that below every
    reader's tolerance), so the layer norm scale ``scale`` is the one without scratch. When
    it is the layer's only MLP work, ``alone`` (the squared norm without scratch) lets it
    use each point's exact scale instead, unshrunk. ``scratch_error`` bounds each scratch
    column's error (``accuracy.head_error``); the output's goes to ``errors``."""
    L = plan.d_logical
    s = plan.scratch[op.out.label]
    ys, proj = scratch_points(op)
    factor = np.full(len(ys), shrink * scale)
    if alone is not None:  # the only scratch and reader: undo each point's exact scale
        factor = np.array([recipes.layer_norm_scale(alone + float(y @ y), L + 1) for y in ys])
    ts = (ys @ proj) * factor
    carried = float(factor.max()) * sum(abs(p) * e for p, e in zip(proj, scratch_error))
    _record(errors, op.out, accuracy.plateau(op.out.label, ts, eps, carried))
    rows = np.zeros((len(ys), L))
    for row, (y, o) in zip(rows, op.points):
        encode(op.out, o, plan, row)
        row[s:s + len(y)] -= shrink * np.asarray(y)
    M1, b1, M2, b2 = recipes.plateau_lookup(ts, rows, local=op.kind == "width")
    read = np.zeros((L, 1))
    read[s:s + len(proj), 0] = proj
    return (read @ M1, b1, M2, b2, f"{op.out.label}: plateau_lookup cleanup of {op.kind}",
            tolerance(ts))


def lookup_mlp(op: Lookup, plan: Plan, scale: float, eps: float,
               errors: dict | None = None) -> tuple:
    """An MLP for a Map/SequenceMap table: categorical_lookup or plateau_lookup. Reads
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
        _record(errors, op.out, accuracy.plateau(op.out.label, ts, eps, carried))
        read = np.zeros((L, 1))
        for w, v, dims in zip(op.weights, op.inputs, rows_of):
            read[dims[0], 0] += w * v.unit / scale
        M1, b1, M2, b2 = recipes.plateau_lookup(ts, np.array([enc(o) for _, o in op.table]),
                                                local=True)
        terms = " + ".join(f"{w:g} {v.label}" for w, v in zip(op.weights, op.inputs))
        return read @ M1, b1, M2, b2, f"{op.out.label}: plateau_lookup of {terms}", \
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
    _record(errors, op.out, accuracy.plateau(op.out.label, ts, eps, carried))
    read = np.zeros((L, 1))
    for w, v, dims in zip(weights, op.inputs, rows_of):
        if v.numerical:
            read[dims[0], 0] += w * v.unit / scale
        else:
            read[dims, 0] += w * np.arange(v.width) / scale
    M1, b1, M2, b2 = recipes.plateau_lookup(ts, np.array([enc(o) for _, o in op.table]))
    return read @ M1, b1, M2, b2, f"{op.out.label}: plateau_lookup", tolerance(ts)


def _record(errors: dict | None, out: Var, relative: float) -> None:
    """Store the error of a plateau lookup's output (``relative`` of its largest row)."""
    if errors is not None:
        errors[out.label] = relative * accuracy.size(out)


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
    _record(errors, op.out, accuracy.plateau(op.out.label, ts, eps, carried))
    read = np.zeros((plan.d_logical, 1))
    for wi, n, v in zip(w, nones, op.inputs):
        dims = list(plan.dims(v))
        if v.numerical:  # the number itself sits in its first dim
            read[dims[0], 0] += wi * v.unit / scale
        else:
            read[dims, 0] += wi * np.array([float(x) for x in v.values] + [n]) / scale
    M1, b1, M2, b2 = recipes.plateau_lookup(ts, np.array([enc(o) for o in groups.values()]))
    return (read @ M1, b1, M2, b2,
            f"{op.out.label}: plateau_lookup of {w[0]:g} x + {w[1]:g} y", tolerance(ts))
