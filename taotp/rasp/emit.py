"""Compiler stage 3: weights for every head and cleanup MLP, from the recipes, in a logical
basis (the MLPs of Map and SequenceMap tables are ``taotp.rasp.lookups``).

The logical residual has two flag dims (BOS, not BOS) and then every Var's dims. It keeps the
same squared norm at every position (categorical one-hots, balanced numbers), so each layer
norm is a known constant (``recipes.layer_norm_scale``) that the reading weights divide out;
``taotp.circuits.mean_free`` (stage 4) then makes the basis mean-free. Each function also
returns a short line naming the recipe it used, for the compiled program's report.
"""
from __future__ import annotations

import numpy as np

from taotp.rasp import accuracy, recipes
from taotp.rasp.accuracy import MAX_LOSS, NOISE  # noqa: F401 (limits of emit)
from taotp.rasp.allocate import BOS, NOT_BOS, Plan
from taotp.rasp.ir import Attend, Term, Var

# The residual's absolute rounding noise after a few lookups, in machine epsilons: measured
# up to 1.6e5 in the stored squares of reverse at max_seq_len 1,000 in float64.
RESIDUAL_NOISE = 1e6


class MatchPrecisionError(ValueError):
    """A shift match's scores are too large for the dtype (``compile`` then uses one-hots)."""


def encode(var: Var, value, plan: Plan, out: np.ndarray) -> None:
    """Add ``value``'s encoding in ``var``'s dims to the logical row ``out``."""
    if var.constant:  # the flags say it
        return
    dims = plan.dims(var)
    if var.circle:
        out[dims.start:dims.stop] += var.point(value)
        return
    if var.numerical:
        out[dims.start:dims.stop] += (
            recipes.scaled_number(float(value), var.bound, var.squares)
            if var.squares or var.scaled
            else recipes.balanced_number_with(float(value), var.bound))
    else:
        out[dims.start + var.slot(value)] += 1.0


def written(var: Var, value, plan: Plan, out: np.ndarray) -> None:
    """Add what a head or an MLP writes for ``value`` to the logical row ``out``: its
    encoding, less the None slot the embeddings pre-filled (``Plan.prefilled``)."""
    encode(var, value, plan, out)
    if var.label in plan.prefilled:
        out[plan.offset[var.label] + var.slot(None)] -= 1.0


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
    if term.keys.constant:  # selects every key but BOS, for every query but BOS (or none)
        if c:
            Q[NOT_BOS, 0], K[NOT_BOS, 0] = gain, 1.0
        return Q, K
    if term.keys.circle:  # equal points: the cosine of their angle is 1, else at most cos d
        q, k, _, _ = recipes.circle_scores(term.keys.circle_size, gain)  # (constant: head)
        Q[qd:qd + 2], K[kd:kd + 2] = q, k
        return Q, K
    if term.matched is not None:  # each one-hot slot to its point: the same scores
        rows, cols, m = term.matched
        q, k, _, _ = recipes.circle_scores(m, gain)
        for i, point in enumerate(rows):
            Q[qd + i] = recipes.circle_point(point, m) @ q
        for j, point in enumerate(cols):
            K[kd + j] = recipes.circle_point(point, m) @ k
        return Q, K
    if term.shift is None:
        pattern = np.array(term.pattern, dtype=np.float64).reshape(
            len(term.queries.values), len(term.keys.values))
        q, k, _, _ = recipes.select_scores(pattern, gain, 0.0)
        Q[qd:qd + len(q)], K[kd:kd + len(k)] = q[:, :c], k[:, :c]
        return Q, K
    Wq, Wk = recipes.match_scores(term.keys.bound, term.queries.bound, term.shift, gain)
    sides = ((Wq, Q, qd), (Wk, K, kd)) if term.queries.numerical else ((Wk, K, kd),)
    for W, M, d in sides:
        M[[BOS, NOT_BOS]] = W[0]     # the constant 1: the two flags add up to it
        M[d:d + 2] = W[1:]
    if not term.queries.numerical:  # a one-hot query (``lower_select.one_hot_queries``)
        B = term.queries.bound
        for v in term.queries.values:
            Q[qd + term.queries.slot(v)] = np.array([1.0, v / B, (v / B) ** 2]) @ Wq
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
    bos, col, constant = bos_row(plan, op.reads()), 0, 0.0
    for term in () if op.selects_all else op.terms:
        if term.circle:  # its constant score rides on the sink's dimension, below
            constant += recipes.circle_scores(term.circle_size, a * unit)[2]
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
    K[NOT_BOS, col] = constant / sink  # every other key: the circle terms' constant
    if op.selects_all:  # every key but BOS scores the terms' a gap, on this dimension alone
        ratio = len(op.terms) * a * unit / sink   # (> 1: a = 2)
        K[NOT_BOS, col] = ratio
        Q[BOS, col] = sink / (1.0 - ratio)  # the BOS query: BOS still wins by sink
    values = op.values
    if op.kind == "copy":
        vd, od = plan.offset[values.label], plan.offset[op.out.label]
        if values.circle:  # on the output's own circle (``quotient.circle_output``): as is
            V[vd:vd + 2, :2] = np.eye(2) / scale
        else:  # each slot to its value's point on the output's circle, or its own slot
            for i, value in enumerate(values.domain()):
                target = op.default if value is None else value
                if op.out.circle:
                    V[vd + i, :2] = np.asarray(op.out.point(target)) / scale
                else:  # (less the None slot, where the embeddings pre-filled it)
                    V[vd + i, i] = 1.0 / scale
                    written(op.out, target, plan, P[:, i])
            if values.bos is not None:  # BOS reads as None: the default
                V[BOS] += (V[vd + values.slot(None)] - V[vd + values.slot(values.bos)])
        if op.out.circle:
            P[od:od + 2, :2] = np.eye(2)
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
    how = "every key, on the sink's dimension" if op.selects_all else " + ".join(
        "match_scores" if t.shift is not None else "circle_scores" if t.circle else
        "select_scores" for t in op.terms)
    return Q, K, V, P, f"{recipe} ({how}, BOS sink)"


def scratch_points(op: Attend) -> tuple:
    """The scratch vectors ``y`` of a head, and the projection its cleanup reads them by."""
    ys = np.array([y for y, _ in op.points], dtype=np.float64)
    proj = np.ones(ys.shape[1])
    if ys.shape[1] == 2:  # (S / (w + 1), 1 / (w + 1)): spread w apart, as far as a grid
        # finds relative to the largest point (the bound past which none meet, by default)
        safe = np.pi * (float(np.abs(ys[:, 0]).max()) / recipes.min_gap(ys[:, 1]) + 1.0)
        proj[1] = recipes.projection_for_steps(ys, np.arange(len(ys)), [0.0, 0.0], 0.0, safe)
    return ys, proj


def tolerance(ts: np.ndarray) -> float:
    """How far (relative to the largest point) a plateau lookup's input may stray."""
    return recipes.min_gap(ts) / 4 / (float(np.abs(ts).max()) or 1.0)


def cleanup_mlp(op: Attend, plan: Plan, scale: float, shrink: float, eps: float,
                alone: float | None = None, errors: dict | None = None,
                scratch_error: tuple = (), norm: float = 1.0, share: float = 1.0) -> tuple:
    """An MLP turning the (shrunk) scratch average into ``op.out`` and erasing the scratch.

    The scratch changes the residual's norm a little (``shrink`` keeps that below every
    reader's tolerance), so the layer norm scale ``scale`` is the one without scratch. When
    it is the layer's only MLP work, ``alone`` (the squared norm without scratch) lets it
    use each point's exact scale instead, unshrunk. ``scratch_error`` bounds each scratch
    column's error (``accuracy.head_error``); the output's goes to ``errors``. ``norm``: the
    squared norm of the residual without scratch, ``share`` the part of it an erase's
    residue may add (``accuracy.erase``)."""
    L = plan.d_logical
    s = plan.scratch[op.out.label]
    ys, proj = scratch_points(op)
    factor = np.full(len(ys), shrink * scale)
    if alone is not None:  # the only scratch and reader: undo each point's exact scale
        factor = np.array([recipes.layer_norm_scale(alone + float(y @ y), plan.d_model)
                           for y in ys])
    ts = (ys @ proj) * factor
    carried = float(factor.max()) * sum(abs(p) * e for p, e in zip(proj, scratch_error))
    values, erase = np.zeros((len(ys), L)), np.zeros((len(ys), L))
    for row, wipe, (y, o) in zip(values, erase, op.points):
        written(op.out, o, plan, row)
        wipe[s:s + len(y)] = -shrink * np.asarray(y)
    apart = _erase_apart(ts, values, erase, carried, eps, norm, share)
    rows = values if apart else values + erase
    record_error(errors, op.out, accuracy.staircase(op.out.label, ts, rows, eps, carried))
    M1, b1, M2, b2 = recipes.staircase_lookup(ts, rows)
    how = f"{op.out.label}: staircase_lookup cleanup of {op.kind}"
    if apart:
        M1, b1, M2, b2 = (np.concatenate([M1, apart[0]], axis=1), np.concatenate([b1, apart[1]]),
                          np.concatenate([M2, apart[2]]), b2 + apart[3])
        how += f" + piecewise_linear erase ({apart[0].shape[1]} units)"
    read = np.zeros((L, 1))
    read[s:s + len(proj), 0] = proj
    return read @ M1, b1, M2, b2, how, tolerance(ts)


def _erase_apart(ts: np.ndarray, values: np.ndarray, erase: np.ndarray, carried: float,
                 eps: float, norm: float, share: float) -> tuple | None:
    """A ``recipes.piecewise_linear`` erase of the scratch, when it and a staircase of the
    values alone take fewer units than one staircase of both (whose every point is a step:
    the scratch differs at each), and what it leaves behind is negligible (``accuracy.erase``);
    else None."""
    if len(np.unique(ts)) != len(ts):  # the staircase's check says why
        return None
    together = len(recipes.staircase_steps(ts, values + erase))
    lookup = recipes.piecewise_linear(ts, erase)
    units = 2 * len(recipes.staircase_steps(ts, values)) + lookup[0].shape[1]
    if units >= 2 * together or not accuracy.erase(ts, erase, lookup, carried, eps, norm,
                                                   share):
        return None
    return lookup


def record_error(errors: dict | None, out: Var, relative: float) -> None:
    """Store the error of a plateau lookup's output (``relative`` of its largest row)."""
    if errors is not None:
        errors[out.label] = relative * accuracy.size(out)
