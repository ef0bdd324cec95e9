"""Value sets of several SOps together: means over one selector share their denominator.

``lower`` tabulates a Map or SequenceMap over the product of its inputs' value sets. Means
over the same selector of values that each position's token (or index) determines are not
independent: ``opens`` and ``closes`` of a prefix are ``(a / c, b / c)`` with ``a + b <= c``,
not any two fractions. :func:`reachable` lists such combinations (every one an input can
give, and fewer), so a table over them has fewer points, farther apart: ``opens - closes``
takes the values ``(a - b) / c``, at least ``1 / n^2`` apart, instead of differences of
unrelated fractions (``1 / 2520`` apart at length 10).
"""
from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from taotp.rasp.ir import Attend, Embed, Lookup, Var


def reachable(inputs: tuple, ops: list, vocab: tuple, max_seq_len: int,
              limit: int) -> list | None:
    """The value tuples ``inputs`` can hold together at one position (BOS included), when
    they are means over one selector of values fixed by each position's token or index;
    None when that does not apply or there would be more than ``limit``."""
    if len(inputs) < 2:
        return None
    heads = {op.out.label: op for op in ops if isinstance(op, Attend)}
    attends = [heads.get(v.label) for v in inputs]
    if any(a is None or a.kind != "mean" for a in attends) or len(
            {a.terms for a in attends}) != 1:
        return None
    per_position = [_position_values(a.values, ops, vocab, max_seq_len) for a in attends]
    if any(p is None or not all(isinstance(x, (int, float)) for x in p[1].values())
           for p in per_position):
        return None
    sources = {source for source, _ in per_position} - {"full"}
    if len(sources) > 1:
        return None
    xs = next(iter(table for source, table in per_position if source != "full"),
              per_position[0][1])
    rows = {tuple(Fraction(table.get(x, table.get(None))) for _, table in per_position)
            for x in xs}
    sums = {tuple(Fraction(0) for _ in inputs)}
    out = {tuple(float(a.default) for a in attends)}  # nothing selected, and BOS
    for count in range(1, max_seq_len + 1):  # the multisets of ``count`` selected rows
        sums = {tuple(s + r for s, r in zip(total, row)) for total in sums for row in rows}
        out.update(tuple(float(s / count) for s in total) for total in sums)
        if len(out) > limit:
            return None
    if not all(set(map(float, v.values)) >= {t[i] for t in out} for i, v in enumerate(inputs)):
        return None  # (the Vars' own value sets are what the table must be keyed by)
    return sorted(out)


def _position_values(var: Var, ops: list, vocab: tuple, max_seq_len: int):
    """``(source, {token or index: value})`` when each position's token (or index) fixes
    ``var`` there: an Embed, or a Lookup of such Vars of one source; else None."""
    producer = next((op for op in ops if op.out.label == var.label), None)
    if isinstance(producer, Embed):
        if producer.source == "full":
            return "full", {None: producer.value(None)}
        xs = vocab if producer.source == "tokens" else range(max_seq_len)
        return producer.source, {x: producer.value(x) for x in xs}
    if not isinstance(producer, Lookup) or producer.weights:
        return None
    parts = [_position_values(v, ops, vocab, max_seq_len) for v in producer.inputs]
    if any(p is None for p in parts) or len({s for s, _ in parts} - {"full"}) > 1:
        return None
    source = next((s for s, _ in parts if s != "full"), "full")
    xs = next((table for s, table in parts if s != "full"), {None: None})
    table = dict(producer.table)
    values = {}
    for x in xs:
        out = table.get(tuple(t.get(x, t.get(None)) for _, t in parts))
        if out is None:  # (f failed there: leave it to the product)
            return None
        values[x] = out
    return source, values


def merge_close_outputs(op, relative: float = 1e-12):
    """The program's output Lookup with numerical outputs closer than ``relative`` made one:
    rounding in ``f`` (``0.3 - 0.1`` against ``0.2``) gives one value several floats, which
    no staircase could tell apart, and the compiled model promises numbers to 1e-9 (float64)
    or 1e-5 (float32) only. Nothing reads the output, so no reader sees the change."""
    if not isinstance(op, Lookup) or not op.out.numerical:
        return op
    values = sorted({float(o) for _, o in op.table})
    snap, first = {}, None
    for v in values:
        if first is None or v - first > relative * max(1.0, abs(first), abs(v)):
            first = v
        snap[v] = first
    if len(set(snap.values())) == len(values):
        return op
    table = tuple((args, snap[float(o)]) for args, o in op.table)
    out = replace(op.out, values=tuple(sorted(set(snap.values()))), bos=snap[float(op.out.bos)])
    return replace(op, out=out, table=table)
