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

from taotp.rasp import expr as rx
from taotp.rasp.ir import MAX_VALUES, Attend, Embed, Lookup, Var, new_var

MAX_SUMS = 200_000  # multisets of selected rows enumerated per count


class _TooMany(Exception):
    """More sums than ``MAX_SUMS``."""


def reachable(inputs: tuple, ops: list, vocab: tuple, max_seq_len: int,
              limit: int) -> list | None:
    """The value tuples ``inputs`` can hold together at one position (BOS included), when
    they are means over one selector of values fixed by each position's token or index;
    None when that does not apply or there would be more than ``limit``."""
    attends = _means(inputs, ops)
    rows = attends and _rows(attends, ops, vocab, max_seq_len)
    if not rows:
        return None
    out = {tuple(float(a.default) for a in attends)}  # nothing selected, and BOS
    try:
        for count, sums in _sums(rows, max_seq_len):
            out.add(tuple(float(s / count) for s in sums))
            if len(out) > limit:
                return None
    except _TooMany:
        return None
    if not all(set(map(float, v.values)) >= {t[i] for t in out} for i, v in enumerate(inputs)):
        return None  # (the Vars' own value sets are what the table must be keyed by)
    return sorted(out)


def _means(inputs: tuple, ops: list) -> list | None:
    """The mean heads writing ``inputs``, when there are several over one selector."""
    heads = {op.out.label: op for op in ops if isinstance(op, Attend)}
    attends = [heads.get(v.label) for v in inputs]
    if len(inputs) < 2 or any(a is None or a.kind != "mean" for a in attends) or len(
            {a.terms for a in attends}) != 1:
        return None
    return attends


def _rows(attends: list, ops: list, vocab: tuple, max_seq_len: int) -> set | None:
    """The tuples of averaged values one position can contribute (exact fractions), when
    each position's token (or index) fixes them all; else None."""
    per_position = [_position_values(a.values, ops, vocab, max_seq_len) for a in attends]
    if any(p is None or not all(isinstance(x, (int, float)) for x in p[1].values())
           for p in per_position):
        return None
    sources = {source for source, _ in per_position} - {"full"}
    if len(sources) > 1:
        return None
    xs = next(iter(table for source, table in per_position if source != "full"),
              per_position[0][1])
    return {tuple(Fraction(table.get(x, table.get(None))) for _, table in per_position)
            for x in xs}


def _sums(rows: set, max_seq_len: int):
    """``(count, sums)`` for every multiset of 1..max_seq_len rows: their column sums."""
    sums = {tuple(Fraction(0) for _ in next(iter(rows)))}
    for count in range(1, max_seq_len + 1):
        sums = {tuple(s + r for s, r in zip(total, row)) for total in sums for row in rows}
        if len(sums) > MAX_SUMS:
            raise _TooMany
        for total in sums:
            yield count, total


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


def combined_mean(state, node, numerical: bool, inputs: tuple, consumers: list):
    """``a x + b y`` of two means over one selector as one mean head over ``a x + b y``
    (``pair_balance``: ``opens - closes`` is the mean of +1 per open, -1 per close), or None.

    The head's scratch holds the exact mean, the output is what the evaluator computes from
    the two means; several floats for one exact mean (``2/3 - 1/3`` and ``1/3 - 0``) are kept
    only where nothing could tell them apart: the program's output (they agree far inside its
    promised resolution), or Maps giving each of them the same value."""
    attends = _means(inputs, state.ops)
    if not attends or len(attends) != 2:
        return None
    rows = _rows(attends, state.ops, state.vocab, state.max_seq_len)
    if not rows:
        return None
    a, b = Fraction(node.fst_fac), Fraction(node.snd_fac)
    default = node.f(*(h.default for h in attends))
    groups: dict = {float(default): {default}}
    try:
        for count, (s1, s2) in _sums(rows, state.max_seq_len):
            outs = groups.setdefault(float((a * s1 + b * s2) / count), set())
            outs.add(node.f(float(s1 / count), float(s2 / count)))
    except _TooMany:
        return None
    if len(groups) > MAX_VALUES or not all(
            _indistinguishable(outs, consumers) for outs in groups.values()):
        return None
    summand = state.lookup(node, f"{node.label}:summand", True,
                           tuple(h.values for h in attends),
                           lambda x, y: node.fst_fac * x + node.snd_fac * y)
    points = tuple(((y,), min(outs)) for y, outs in sorted(groups.items()))
    out = new_var(node, numerical, {o for _, o in points}, default)
    return state.add(Attend(out, "mean", attends[0].terms, summand, default, points))


def _indistinguishable(outs: set, consumers: list) -> bool:
    """One value, or floats no reader can tell apart (see ``combined_mean``)."""
    if len(outs) == 1:
        return True
    if not consumers:  # the output: compared to 1e-9 relative at worst
        top = max(abs(o) for o in outs)
        return max(outs) - min(outs) <= 1e-12 * max(1.0, top)
    for reader in consumers:
        if not isinstance(reader, rx.Map):
            return False
        try:
            if len({reader.f(o) for o in outs}) != 1:
                return False
        except Exception:
            return False
    return True
