"""Compiler stage 3, last: the unembedding, which picks each position's output value.

Output ids score their value by quadratic maximisation (Transformer Cookbook, "index lookup";
the book's nearest-value decoding): a number ``x`` stored in the residual scores about
``2 v x - v^2`` for each value ``v`` (centred, :func:`decoding`), which peaks at the nearest
value; a one-hot scores its slot. Embeddings are tied, as in the book (:func:`unembedding`).

When the program's output is an average head (a mean or a SelectorWidth) its cleanup MLP can
go: the head's scratch column ``y`` (the mean, or ``1 / (w + 1)``) is read directly, value
``v`` scoring ``2 y_v y - y_v^2`` times the constant (the two flags). Every term is linear
in the residual, so the final layer norm, which only rescales a mean-free residual, scales
every logit alike and the argmax stays put, whatever the scratch does to the norm.
:func:`direct` marks such a head; ``accuracy.decoded`` checks its margin (``compile`` falls
back to the cleanup when the dtype cannot tell the points apart).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from taotp.rasp.allocate import Plan
from taotp.rasp.emit import BOS, NOT_BOS
from taotp.rasp.ir import Attend, Var

MAX_LIFT = 1e4  # past this, tied embeddings would round the decoding away: untie them


def direct(ops: list, out: Var) -> list:
    """``ops`` with the output head marked ``direct`` when its scratch can be decoded: one
    column (mean, width) whose points give each output value a single ``y``, or a sum of
    numbers whose empty selection gives 0 (its columns ``S / (w + 1)`` and ``1 / (w + 1)``)."""
    op = ops[-1] if ops else None
    if not (isinstance(op, Attend) and op.out is out and op.kind in ("mean", "width", "sum")):
        return ops
    if op.kind == "sum":
        empty = {value for (_, share), value in op.points if share == 1.0}
        if empty != {0} or not all(isinstance(v, (int, float)) for _, v in op.points):
            return ops
        return ops[:-1] + [replace(op, direct=True)]
    ys: dict = {}
    for (y,), value in op.points:
        if ys.setdefault(value, y) != y:
            return ops
    return ops[:-1] + [replace(op, direct=True)]


def points(op: Attend) -> dict:
    """Output value -> the number a ``direct`` head's scratch decodes to it: its ``y``, or
    for a sum the value itself (``S = (S / (w + 1)) / (1 / (w + 1))``)."""
    if op.kind == "sum":
        return {value: float(value) for _, value in op.points}
    return {value: y for (y,), value in op.points}


def error(op: Attend, written: tuple, max_seq_len: int) -> float:
    """A ``direct`` head's error in the units of its points: its scratch column's, or for a
    sum, ``S = a / s`` with ``s = 1 / (w + 1) >= 1 / (n + 1)``, off by ``(e_a + B e_s) / s``."""
    if op.kind != "sum":
        return written[0]
    bound = max(abs(float(v)) for v in points(op))
    return (written[0] + bound * written[1]) * (max_seq_len + 1)


def unembedding(plan: Plan, out: Var, tok_emb: np.ndarray, n_inputs: int,
                head: Attend | None = None, error: float = 0.0) -> tuple:
    """``(tok_emb, out_emb, reach)`` in the logical basis: tied (one array), as the book's
    programs have it, and the largest output row's norm in decoding units (``accuracy``
    rounds the logits by it).

    Input ids (and BOS) keep their embedding rows; each output id's row is its decoding row
    (:func:`decoding`) scaled and lifted on the constant (:func:`lift`) so the winning value
    always beats every input row. Output ids are never fed in, so their rows are free to be
    decoding rows. Where the embeddings write numbers so large that no lift could beat them
    without rounding the decoding away (past ``MAX_LIFT``), ``out_emb`` is its own array
    instead, its input rows scoring -1. ``error`` bounds the output's error (``accuracy``)."""
    decode = decoding(plan, out, head)
    scale, lift_by = lift(plan, decode, error)
    if lift_by > MAX_LIFT:
        out_emb = np.zeros_like(tok_emb)
        out_emb[:1 + n_inputs, [BOS, NOT_BOS]] = -1.0
        out_emb[1 + n_inputs:] = decode
        return tok_emb, out_emb, float(np.sqrt((decode ** 2).sum(axis=1)).max())
    decode *= scale
    decode[:, [BOS, NOT_BOS]] += lift_by
    tok_emb = tok_emb.copy()
    tok_emb[1 + n_inputs:] = decode
    return tok_emb, tok_emb, float(np.sqrt((decode ** 2).sum(axis=1)).max()) / scale


def decoding(plan: Plan, out: Var, head: Attend | None = None) -> np.ndarray:
    """One row per output value, scoring it (a linear function of the logical residual).

    A one-hot scores its slot. A number ``x`` (or a ``direct`` head's scratch point) scores
    ``2 (v - c) (x - c) - (v - c)^2 = (x - c)^2 - (x - v)^2`` for value ``v``, highest at the
    nearest value; ``c``, the middle of the values, keeps the terms as small as their spread
    (``v^2`` itself would round 1,000 + 0.001 t away in float64). A sum's scratch
    ``(S / (w + 1), 1 / (w + 1))`` scores the same times ``1 / (w + 1) > 0``, the second
    column standing for the constant; with nothing selected, ``(0, 1)``, the smallest value,
    0, wins. A value no point gives (None among them) scores ``-(1 + spread^2)``, below the
    nearest value's ``-(x - v)^2 >= -spread^2``: a score of 0 would tie with a value at the
    centre, whose score is ``(x - c)^2 - (x - c)^2 = 0`` wherever ``x`` is."""
    rows = np.zeros((len(out.domain()), plan.d_logical))
    constant = [BOS, NOT_BOS]
    if head is not None:
        d, ys, unit = plan.scratch[out.label], points(head), 1.0
        if head.kind == "sum":  # times 1 / (w + 1) > 0: the share column stands for 1
            constant = [d + 1]
    else:
        d, unit = plan.offset[out.label], out.unit
        ys = {v: float(v) for v in out.domain()} if out.numerical else None
    if ys is None:
        for row, value in zip(rows, out.domain()):  # (None too: a position with no value)
            if out.circle:  # its point: the cosine with the nearest point wins
                row[d:d + 2] = out.point(value)
            else:
                row[d + out.slot(value)] = 1.0
        return rows
    c = (max(ys.values()) + min(ys.values())) / 2
    spread = max(ys.values()) - min(ys.values())
    for row, value in zip(rows, out.domain()):
        if value in ys:
            v = float(ys[value]) - c
            row[d] = 2.0 * v * unit
            row[constant] = -2.0 * v * c - v * v
        else:
            row[constant] = -(1.0 + spread * spread)
    return rows


def lift(plan: Plan, decode: np.ndarray, error: float) -> tuple:
    """``(scale, lift)``: output rows are the decoding rows times ``scale``, plus ``lift``
    on the constant, so the winner beats each input row.

    An input row (BOS flag or the other flag, then the encodings of Vars the embeddings
    write, which no layer changes) scores at most ``1 + sum |v|^2`` over those Vars. The
    winning output scores at least ``-scale error^2`` (the nearest value by quadratic
    maximisation) or ``scale (1 - error)`` (a one-hot's slot) before the lift: a lift of
    ``2 + sum |v|^2 + scale (error + error^2)`` keeps them at least 1 apart. ``scale`` makes
    the decoding rows ten times the lift's base, so the lift adds little rounding."""
    # (a pre-filled one-hot's None slot is in every input row too)
    base = 2.0 + sum(op.out.squared_norm for op in plan.ops if plan.from_start(op))
    top = float(np.sqrt((decode ** 2).sum(axis=1)).max()) or 1.0
    scale = max(1.0, 10.0 * base / top)
    return scale, base + scale * (error + error * error)
