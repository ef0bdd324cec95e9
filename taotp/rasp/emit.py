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

from taotp.rasp import recipes
from taotp.rasp.allocate import Plan
from taotp.rasp.lower import Attend, Lookup, Var

BOS, NOT_BOS = 0, 1
# Noise a lookup must tolerate, as a multiple of machine epsilon times its largest input.
NOISE = 100.0
# A categorical lookup's comparators take a sum of k one-hots off by a quarter; a relative
# scale error of this much (times k <= 25 inputs... in practice 1-3) stays far below that.
CATEGORICAL_TOLERANCE = 0.2
MAX_LOSS = 0.05  # the largest rounding error a plateau lookup may make (snapping takes 1/4)


def encode(var: Var, value, plan: Plan, out: np.ndarray) -> None:
    """Add ``value``'s encoding in ``var``'s dims to the logical row ``out``."""
    dims = plan.dims(var)
    if var.numerical:
        out[dims.start:dims.stop] += recipes.balanced_number_with(float(value), var.bound)
    else:
        out[dims.start + var.slot(value)] += 1.0


def head(op: Attend, plan: Plan, d_head: int, scale: float, gap: float,
         shrink: float = 1.0) -> tuple:
    """``Q K V P`` (each ``(L, d_head)``) of one head; see ``recipes.select_scores``."""
    L = plan.d_logical
    Q, K, V, P = (np.zeros((L, d_head)) for _ in range(4))
    norm = d_head ** 0.5 / scale ** 2
    both = op.kind in ("copy", "mean")  # selected 2 gap, BOS gap; else both gap
    pattern = np.array(op.pattern, dtype=np.float64).reshape(len(op.queries.values),
                                                             len(op.keys.values))
    q, k, q_sink, k_sink = recipes.select_scores(pattern, (2 if both else 1) * gap * norm,
                                                 gap * norm)
    qd, kd = plan.offset[op.queries.label], plan.offset[op.keys.label]
    Q[qd:qd + len(q), :q.shape[1]] = q
    K[kd:kd + len(k), :k.shape[1]] = k
    Q[BOS, :len(q_sink)] += q_sink
    Q[NOT_BOS, :len(q_sink)] += q_sink
    K[BOS, :len(k_sink)] += k_sink
    # The BOS position reads as None whatever its Vars hold there.
    if op.queries.bos is not None:
        Q[BOS, :q.shape[1]] -= q[op.queries.slot(op.queries.bos)]
    if op.keys.bos is not None:
        K[BOS, :k.shape[1]] -= k[op.keys.slot(op.keys.bos)]
    values = op.values
    if op.kind == "copy":
        vd, od = plan.offset[values.label], plan.offset[op.out.label]
        for i, value in enumerate(values.domain()):
            V[vd + i, i] = 1.0 / scale
            P[od + op.out.slot(op.default if value is None else value), i] = 1.0
        if values.bos is not None:
            V[BOS, values.slot(values.bos)] -= 1.0 / scale
            V[BOS, values.slot(None)] += 1.0 / scale
        recipe = "categorical copy (select_scores, BOS sink)"
    else:
        s = plan.scratch[op.out.label]
        if op.kind == "width":
            V[BOS, 0] = 1.0 / scale
        else:
            V[plan.offset[values.label], 0] = 1.0 / scale
            V[BOS, 0] = ((op.default if op.kind == "mean" else 0.0) - values.bos) / scale
            if op.kind == "sum":
                V[BOS, 1] = 1.0 / scale
        for i in range(len(op.points[0][0])):
            P[s + i, i] = shrink
        recipe = f"{op.kind} to scratch (select_scores, BOS sink)"
    return Q, K, V, P, recipe


def scratch_points(op: Attend) -> tuple:
    """The scratch vectors ``y`` of a head, and the projection its cleanup reads them by."""
    ys = np.array([y for y, _ in op.points], dtype=np.float64)
    proj = np.ones(ys.shape[1])
    if ys.shape[1] == 2:  # (S / (w + 1), 1 / (w + 1)): t = y0 + lam y1 one-to-one
        proj[1] = _projection(tuple(map(tuple, ys)))
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
                alone: float | None = None, fused: tuple = ()) -> tuple:
    """An MLP turning the (shrunk) scratch average into ``op.out`` and erasing the scratch.

    The scratch changes the residual's norm a little (``shrink`` keeps that below every
    reader's tolerance), so the layer norm scale ``scale`` is the one without scratch. When
    it is the layer's only MLP work, ``alone`` (the squared norm without scratch) lets it
    use each point's exact scale instead, unshrunk. Each Lookup in ``fused`` reads
    ``op.out`` alone: the same plateaus write its value too (one MLP, not two)."""
    L = plan.d_logical
    s = plan.scratch[op.out.label]
    ys, proj = scratch_points(op)
    ts = (ys @ proj) * shrink * scale
    if alone is not None:  # the only scratch and reader: undo each point's exact scale
        ts = (ys @ proj) * np.array([recipes.layer_norm_scale(alone + float(y @ y), L + 1)
                                     for y in ys])
    _check_gap(op.out.label, ts, eps)
    rows = np.zeros((len(ys), L))
    tables = [(lk.out, {args[0]: v for args, v in lk.table}) for lk in fused]
    for row, (y, o) in zip(rows, op.points):
        encode(op.out, o, plan, row)
        for var, table in tables:
            encode(var, table[o], plan, row)
        row[s:s + len(y)] -= shrink * np.asarray(y)
    M1, b1, M2, b2 = recipes.plateau_lookup(ts, rows)
    read = np.zeros((L, 1))
    read[s:s + len(proj), 0] = proj
    also = "".join(f", fused {lk.out.label}" for lk in fused)
    return (read @ M1, b1, M2, b2,
            f"{op.out.label}: plateau_lookup cleanup of {op.kind}{also}", tolerance(ts))


def lookup_mlp(op: Lookup, plan: Plan, scale: float, eps: float) -> tuple:
    """An MLP for a Map/SequenceMap table: categorical_lookup or plateau_lookup."""
    L = plan.d_logical
    rows_of = [list(plan.dims(v)) for v in op.inputs]

    def enc(value):
        row = np.zeros(L)
        encode(op.out, value, plan, row)
        return row

    linear = _linear_lookup(op, plan, scale, eps, enc)
    if linear is not None:
        return linear
    if not any(v.numerical for v in op.inputs):
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
    _check_gap(op.out.label, ts, eps)
    read = np.zeros((L, 1))
    for w, v, dims in zip(weights, op.inputs, rows_of):
        if v.numerical:
            read[dims[0], 0] += w / scale
        else:
            read[dims, 0] += w * np.arange(v.width) / scale
    M1, b1, M2, b2 = recipes.plateau_lookup(ts, np.array([enc(o) for _, o in op.table]))
    return read @ M1, b1, M2, b2, f"{op.out.label}: plateau_lookup", tolerance(ts)


def _check_gap(label: str, ts: np.ndarray, eps: float) -> None:
    gap, top = recipes.min_gap(ts), float(np.abs(ts).max()) or 1.0
    if len(np.unique(ts)) != len(ts):
        raise ValueError(f"{label}: two inputs read as the same number (too many values, too close together for this dtype)")
    # Far from its point, a plateau's four ReLUs are large and cancel: each loses about
    # eps * 4 top / gap, and all the points below the input add up.
    loss = eps * 4 * top / gap * len(ts)
    if gap / 4 < NOISE * eps * top or loss > MAX_LOSS:
        raise ValueError(f"{label}: its {len(ts)} inputs are {gap:.3g} apart at magnitude "
                         f"{top:.3g}, too close to tell apart under this dtype's rounding "
                         f"(eps {eps:.3g}; estimated error {loss:.2g} > {MAX_LOSS})")


PROJECTIONS = ((1.0, -1.0), (1.0, 1.0), (1.0, -2.0), (2.0, -1.0), (1.0, 2.0), (2.0, 1.0))


def _linear_lookup(op: Lookup, plan: Plan, scale: float, eps: float, enc):
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
    if max(max(t) - min(t) for t in spread.values()) > recipes.min_gap(ts) / 64:
        return None
    _check_gap(op.out.label, ts, eps)
    read = np.zeros((plan.d_logical, 1))
    for wi, n, v in zip(w, nones, op.inputs):
        dims = list(plan.dims(v))
        if v.numerical:  # the number itself sits in its first dim
            read[dims[0], 0] += wi / scale
        else:
            read[dims, 0] += wi * np.array([float(x) for x in v.values] + [n]) / scale
    M1, b1, M2, b2 = recipes.plateau_lookup(ts, np.array([enc(o) for o in groups.values()]))
    return (read @ M1, b1, M2, b2,
            f"{op.out.label}: plateau_lookup of {w[0]:g} x + {w[1]:g} y", tolerance(ts))
