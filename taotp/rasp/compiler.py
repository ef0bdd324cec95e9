"""Compile a RASP program to the book's transformer: pre-LN, layer norm everywhere, exact.

Stages, each its own module: ``lower`` (finite value sets, one operation per node) and
``quotient`` (one-hots over what their readers tell apart), ``allocate`` (layers, residual
layout), ``emit`` and ``lookups`` (weights from ``recipes``), ``unembed`` (the output's
decoding), and ``assemble`` below (embeddings, the mean-free basis). The result is an
ordinary params dict, in a ``CompiledProgram`` (``compiled.py``).

>>> from taotp import rasp
>>> length = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE))
>>> flip = rasp.Aggregate(rasp.Select(rasp.indices, length - rasp.indices - 1,
...                                   rasp.Comparison.EQ), rasp.tokens)
>>> compiled = rasp.compile(flip, vocab={"a", "b", "c"}, max_seq_len=5)
>>> compiled.run("abcc")
['c', 'c', 'b', 'a']
"""
from __future__ import annotations

import numpy as np

from taotp.circuits import mean_free
from taotp.params import astype
from taotp.rasp import accuracy, emit, lookups, positions, recipes, unembed
from taotp.rasp import expr as rx
from taotp.rasp.allocate import Plan, allocate, uses_scratch
from taotp.rasp.compiled import CompiledProgram
from taotp.rasp.evaluate import check_input
from taotp.rasp.lower import Attend, Embed, Lookup, Var, lower
from taotp.rasp.quotient import circle_output, circles, quotient

# Softmax leakage allowed per key (recipes.hardening_gap): underflow in float64, below
# float32's resolution in float32.
TOLERANCE = {np.dtype(np.float64): 1e-300, np.dtype(np.float32): 1e-9}
# The relative precision of numerical outputs: values closer than this may come out as
# either (``accuracy.check_output``).
RESOLUTION = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-5}


class SharedScratchError(ValueError):
    """Averaging heads cannot share a layer at this dtype (``compile`` then isolates them)."""


def compile(program, vocab, max_seq_len: int, causal: bool = False,  # noqa: A001
            dtype=np.float64) -> CompiledProgram:
    """Weights on which greedy decoding reproduces ``rasp.evaluate(program, xs, causal)``.

    ``causal``: RASP's causal semantics, run under the causal mask. A program whose every
    selector selects only keys at or before its query (``positions.prefix_only``, e.g.
    tracr's ``frac_prevs``) means the same either way; it gets the causal mask whatever
    ``causal`` says (``.causal`` is True, ``report`` says so), since under the mask such a
    selector needs no scores.

    Raises ValueError naming the node when a part cannot be compiled exactly, including when
    the error a value may carry (rounding at its magnitude, softmax leak; the bound is
    ``taotp.rasp.accuracy``'s) exceeds the margin of what reads it. One rule it
    cannot check: a categorical Aggregate must select a single value or equal values (tracr's
    rule); where it selects distinct values the evaluator averages numbers, the model does not.
    """
    dtype = np.dtype(dtype)
    if dtype not in TOLERANCE:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 1:
        raise ValueError(f"max_seq_len must be a positive int, got {max_seq_len!r}")
    vocab = tuple(check_input(sorted(set(vocab), key=repr)))
    if not vocab:
        raise ValueError("vocab must not be empty")
    patterns = positions.Patterns(max_seq_len)  # (computed once for every lowering)
    masked = causal or patterns.prefix_only(program)
    try:
        params, notes, out = _build(program, vocab, max_seq_len, dtype, True, masked, patterns)
    except emit.MatchPrecisionError:  # positions as one-hots instead of numbers
        params, notes, out = _build(program, vocab, max_seq_len, dtype, False, masked,
                                    patterns)
    numerical = rx.NUMERICAL == program.annotations["encoding"]
    return CompiledProgram(astype(params, dtype), vocab, out.domain(), max_seq_len, masked,
                           numerical, tuple(notes), prefix=masked and not causal)


def _build(program, vocab: tuple, max_seq_len: int, dtype, numbers: bool, causal: bool,
           patterns: positions.Patterns) -> tuple:
    ops, out = lower(program, vocab, max_seq_len, numbers, causal=causal, patterns=patterns)
    try:
        return _build_ops(ops, out, vocab, max_seq_len, dtype)
    except emit.MatchPrecisionError:
        raise
    except ValueError:  # too fine for the dtype: try the means apart (their readers see less)
        apart, out = lower(program, vocab, max_seq_len, numbers, combine=False, causal=causal,
                           patterns=patterns)
        if apart == ops:
            raise
        return _build_ops(apart, out, vocab, max_seq_len, dtype)


def _build_ops(ops: list, out: Var, vocab: tuple, max_seq_len: int, dtype) -> tuple:
    ops, out = circle_output(circles(quotient(ops, out, vocab, max_seq_len), out), out)
    try:  # an output head decoded from its scratch, where the dtype can tell its points apart
        return (*_place(unembed.direct(ops, out), out, vocab, max_seq_len, dtype), out)
    except accuracy.DecodeError:
        return (*_place(ops, out, vocab, max_seq_len, dtype), out)


def _place(ops: list, out: Var, vocab: tuple, max_seq_len: int, dtype) -> tuple:
    try:
        return assemble(allocate(ops), out, vocab, max_seq_len, dtype)
    except SharedScratchError:  # one layer per averaging head instead
        return assemble(allocate(ops, isolate=True), out, vocab, max_seq_len, dtype)


def assemble(plan: Plan, out: Var, vocab: tuple, max_seq_len: int, dtype) -> tuple:
    """The params dict (mean-free basis) and the recipe notes."""
    L, eps = plan.d_logical, float(np.finfo(dtype).eps)
    gap = recipes.hardening_gap(max_seq_len + 1, TOLERANCE[dtype])
    layers, notes = [], []
    errors: dict = {}  # label -> error bound (taotp.rasp.accuracy)
    decoded = None     # the output head, when the unembedding reads its scratch
    share = 1.0 / max(1, sum(uses_scratch(op) for op in plan.ops))  # of an erase's residue
    for layer in range(plan.n_layers):
        heads = plan.ops_in(layer, Attend)
        scale = recipes.layer_norm_scale(plan.norm_before(2 * layer), plan.d_model)
        d_head = max([_head_dims(op) for op in heads] + [1])
        mlp_norm = plan.norm_before(2 * layer + 1)
        mlp_scale = recipes.layer_norm_scale(mlp_norm, plan.d_model)
        written = _head_errors(heads, errors, eps, plan.norm_before(2 * layer), gap, dtype)
        mlps = [lookups.lookup_mlp(op, plan, mlp_scale, eps, errors)
                for op in plan.ops_in(layer, Lookup)]
        scratch = [op for op in heads if uses_scratch(op) and not op.direct]
        for op in heads:
            if op.direct:  # its error in the points' units
                decoded, errors[op.out.label] = op, unembed.error(op, written[op.out.label],
                                                                  max_seq_len)
        alone = mlp_norm if len(scratch) == 1 and not mlps else None
        shrink = {op.out.label: 1.0 for op in scratch} if alone else _shrink(
            scratch, mlps, mlp_norm, eps)
        built = [emit.head(op, plan, d_head, scale, gap, shrink.get(op.out.label, 1.0), eps)
                 for op in heads]
        notes += [(layer, f"head {h}: {op.out.label}: {b[4]}")
                  for h, (op, b) in enumerate(zip(heads, built))]
        Q, K, V, P = (np.stack([b[i] for b in built]) if built else np.zeros((1, L, 1))
                      for i in range(4))
        mlps = [emit.cleanup_mlp(op, plan, mlp_scale, shrink[op.out.label], eps, alone,
                                 errors, written[op.out.label], mlp_norm, share)
                for op in scratch] + mlps
        notes += [(layer, f"mlp: {m[4]}") for m in mlps]
        if not mlps:
            mlps = [(np.zeros((L, 1)), np.zeros(1), np.zeros((1, L)), np.zeros(L), "", 1.0)]
        layers.append({
            "Q": Q, "K": K, "V": V, "P": P,
            "M1": np.concatenate([m[0] for m in mlps], axis=1),
            "b1": np.concatenate([m[1] for m in mlps]),
            "M2": np.concatenate([m[2] for m in mlps], axis=0),
            "b2": sum(m[3] for m in mlps),
            "ln1": {"gamma": 1.0, "beta": 0.0}, "ln2": {"gamma": 1.0, "beta": 0.0}})
    error = errors.get(out.label, 0.0)
    tok_emb, pos_emb = _embeddings(plan, vocab, max_seq_len, len(out.domain()))
    tok_emb, out_emb, reach = unembed.unembedding(plan, out, tok_emb, len(vocab), decoded,
                                                  error)
    final = plan.norm_before(2 * plan.n_layers)  # the residual's squared norm at the end
    if decoded is None:
        accuracy.check_output(out, errors, eps, RESOLUTION[dtype], reach, final)
    else:
        ys = list(unembed.points(decoded).values())
        share = 1.0 / (max_seq_len + 1) if decoded.kind == "sum" else 1.0
        accuracy.decoded(out.label, ys, error, eps, final + _scratch_norm(decoded), reach,
                         share)
    logical = {"tok_emb": tok_emb, "pos_emb": pos_emb, "out_emb": out_emb, "layers": layers,
               "lnf": {"gamma": 1.0, "beta": 0.0}}
    return mean_free(logical, plan.fixed), notes


def _scratch_norm(op: Attend) -> float:
    """The largest squared norm a head's scratch adds to the residual."""
    return max(sum(y * y for y in ys) for ys, _ in op.points)


def _shrink(scratch: list, lookups: list, norm: float, eps: float) -> dict:
    """Scale factors for the scratch heads of one layer, small enough that the norm they add
    moves every MLP reader by under a twentieth of its tolerance (``emit.tolerance``)."""
    if not scratch:
        return {}
    rhos = [m[5] for m in lookups]
    for op in scratch:
        ys, proj = emit.scratch_points(op)
        rhos.append(emit.tolerance(ys @ proj))
    budget = 0.05 * min(rhos)  # relative change of the layer-norm scale allowed
    out = {}
    for op in scratch:
        ys, proj = emit.scratch_points(op)
        top = float(np.sqrt((ys ** 2).sum(axis=1).max())) or 1.0
        shrink = min(1.0, (2 * norm * budget / len(scratch)) ** 0.5 / top)
        out[op.out.label] = shrink
        # the residual's rounding (about eps * its norm) against the cleanup's margin
        margin = shrink * recipes.min_gap(ys @ proj) / 4
        floor = emit.NOISE * eps * norm ** 0.5 * float(np.abs(proj).max()) / margin
        if floor > 1.0:
            raise SharedScratchError(f"{op.out.label}: its scratch values are too close together to "
                             f"share a layer in this dtype (rounding {floor:.2g}x its margin)")
    return out


def _head_errors(heads: list, errors: dict, eps: float, norm: float, gap: float,
                 dtype) -> dict:
    """Each head's written error (``accuracy.head_error``); a copy's goes to ``errors``."""
    written = {}
    for op in heads:
        a = 2 if op.kind in ("copy", "mean") else 1
        leak = accuracy.leak(op, errors, a * gap, TOLERANCE[dtype])
        written[op.out.label] = accuracy.head_error(op, errors, eps, norm, leak)
        if op.kind == "copy":
            errors[op.out.label] = written[op.out.label][0]
    return written


def _head_dims(op: Attend) -> int:
    qk = op.score_dims()
    if op.kind == "copy":  # a copy onto a circle reads each value's point straight in
        v = 2 if op.out.circle else op.values.width
    else:
        v = len(op.points[0][0])
    return max(qk, v)


def _embeddings(plan: Plan, vocab: tuple, max_seq_len: int, n_outputs: int) -> tuple:
    L = plan.d_logical
    tok = np.zeros((1 + len(vocab) + n_outputs, L))
    pos = np.zeros((max_seq_len + 1, L))
    tok[0, emit.BOS] = 1.0
    tok[1:, emit.NOT_BOS] = 1.0
    for op in plan.ops:
        if not isinstance(op, Embed):
            continue
        v = op.out
        if op.source == "tokens":
            emit.encode(v, v.bos, plan, tok[0])
            for i, x in enumerate(vocab):
                emit.encode(v, op.value(x), plan, tok[1 + i])
        elif op.source == "indices":
            emit.encode(v, v.bos, plan, pos[0])
            for p in range(max_seq_len):
                emit.encode(v, op.value(p), plan, pos[1 + p])
        else:
            emit.encode(v, v.bos, plan, tok[0])
            for row in tok[1:]:
                emit.encode(v, op.value(None), plan, row)
    for op in plan.ops:  # one-hots a layer writes: their None slot until then
        if op.out.label in plan.prefilled:
            tok[:, plan.offset[op.out.label] + op.out.slot(None)] += 1.0
    return tok, pos
