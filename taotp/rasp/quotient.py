"""Compiler stage 1, last: one-hots over the classes their readers can tell apart.

A categorical Var read only by selectors (as keys or queries of ``pattern`` terms) needs no
slot per value: two values whose columns (as keys) and rows (as queries) agree in every
pattern that reads it are never told apart, so one slot serves both. ``count_less_freq``
compares ``hist <= n`` on its keys only: ``max_seq_len + 1`` counts become two classes, its
cleanup one step instead of ``n``. The Var keeps the first value of each class; its producer
(an embedding, a lookup's table or an averaging head's points) writes that value instead.
A Var only equality selectors read goes further: two dims on a circle (:func:`circles`); so
does the output a copy head writes (:func:`circle_output`).
"""
from __future__ import annotations

from dataclasses import replace

from taotp.rasp.ir import Attend, Embed, Lookup, Term, Var
from taotp.rasp.scores import circle_fits


def quotient(ops: list, out: Var, vocab: tuple, max_seq_len: int) -> list:
    """``ops`` with every Var that selectors alone read stored by its classes."""
    roles = _roles(ops)
    merged = {}
    for var in _stored(ops, out):
        rep = _classes(var, roles.get(var.label, []))
        if rep is not None:
            merged[var.label] = (rep, replace(var, values=tuple(dict.fromkeys(rep.values())),
                                              bos=rep.get(var.bos, var.bos)))
    if not merged:
        return ops
    return [_rewrite(op, merged, vocab, max_seq_len) for op in ops]


def _stored(ops: list, out: Var) -> list:
    """The one-hot Vars whose encoding is free to change: not the output (the unembedding
    reads its slots), not a copy's (its head writes the copied slots)."""
    return [op.out for op in ops
            if not (op.out.numerical or op.out.constant or op.out.label == out.label
                    or (isinstance(op, Attend) and op.kind == "copy"))]


def _roles(ops: list) -> dict:
    """``label -> [(role, term)]``: ``role`` is keys or queries of a pattern term, or other."""
    roles: dict = {}
    for op in ops:
        if isinstance(op, Lookup):
            for v in op.inputs:
                roles.setdefault(v.label, []).append(("other", None))
        elif isinstance(op, Attend):
            if op.values is not None:
                roles.setdefault(op.values.label, []).append(("other", None))
            for term in op.terms:
                shift = term.shift is not None
                roles.setdefault(term.keys.label, []).append(("other" if shift else "keys", term))
                roles.setdefault(term.queries.label, []).append(
                    ("other" if shift else "queries", term))
    return roles


def _classes(var: Var, roles: list) -> dict | None:
    """``value -> the first value of its class``, when selectors alone read ``var`` and
    some values share a class; else None."""
    if not roles or any(role == "other" for role, _ in roles):
        return None
    first: dict = {}
    rep = {}
    for i, value in enumerate(var.values):
        signature = tuple(tuple(row[i] for row in term.pattern) if role == "keys"
                          else term.pattern[i] for role, term in roles)
        rep[value] = first.setdefault(signature, value)
    return rep if len(first) < len(var.values) else None


def _rewrite(op, merged: dict, vocab: tuple, max_seq_len: int):
    """``op`` reading and writing the merged Vars."""
    if op.out.label in merged:
        rep, var = merged[op.out.label]
        if isinstance(op, Embed):
            xs = {"tokens": vocab, "indices": range(max_seq_len), "full": (None,)}[op.source]
            op = replace(op, out=var, table=tuple((x, rep[op.value(x)]) for x in xs))
        elif isinstance(op, Lookup):
            op = replace(op, out=var, table=tuple(
                (args, None if o is None else rep[o]) for args, o in op.table))
        else:  # a width or mean written as a one-hot
            op = replace(op, out=var, points=tuple((y, rep[o]) for y, o in op.points),
                         default=rep.get(op.default, op.default))
    if isinstance(op, Attend):
        op = replace(op, terms=tuple(_term(t, merged) for t in op.terms))
    return op


def _term(term: Term, merged: dict) -> Term:
    """``term`` over the merged Vars: the pattern's rows and columns of their kept values."""
    if term.shift is not None:
        return term
    keys, queries, pattern = term.keys, term.queries, term.pattern
    if queries.label in merged:
        old, queries = queries, merged[queries.label][1]
        pattern = tuple(pattern[old.values.index(v)] for v in queries.values)
    if keys.label in merged:
        old, keys = keys, merged[keys.label][1]
        cols = [old.values.index(v) for v in keys.values]
        pattern = tuple(tuple(row[c] for c in cols) for row in pattern)
    return replace(term, keys=keys, queries=queries, pattern=pattern)


def circles(ops: list, out: Var) -> list:
    """``ops`` with every Var that only equality selectors read (the same Var as keys and
    queries) stored as points of a circle (``recipes.circle_scores``): two dims, not a slot
    per value."""
    roles = _roles(ops)
    found = {}
    for var in _stored(ops, out):
        uses = roles.get(var.label, [])
        if (uses and circle_fits(len(var.values))
                and all(role != "other" and term.keys.label == term.queries.label == var.label
                        and _identity(term.pattern) for role, term in uses)):
            found[var.label] = replace(var, circle=True)
    if not found:
        return ops
    rewritten = []
    for op in ops:
        if op.out.label in found:
            op = replace(op, out=found[op.out.label])
        if isinstance(op, Attend):
            op = replace(op, terms=tuple(
                replace(t, keys=found[t.keys.label], queries=found[t.keys.label])
                if t.keys.label in found else t for t in op.terms))
        rewritten.append(op)
    return rewritten


def _identity(pattern: tuple) -> bool:
    """Each value selects itself alone."""
    return all(bool(x) == (i == j) for i, row in enumerate(pattern) for j, x in enumerate(row))


def circle_output(ops: list, out: Var) -> tuple:
    """``(ops, out)`` with the program's output on a circle when a copy head writes it: two
    dims instead of a slot per value and None, its values (None among them) points of the
    circle; each output id scores its point (``unembed.decoding``), and the margin between
    neighbours, ``1 - cos(2 pi / m)``, is checked against the copy's error
    (``accuracy.check_output``)."""
    op = ops[-1] if ops else None
    if not (isinstance(op, Attend) and op.kind == "copy" and op.out is out and not out.numerical
            and out.width > 2 and circle_fits(len(out.domain()))):
        return ops, out
    circled = replace(out, circle=True, circle_none=True)
    op = replace(op, out=circled)
    values = op.values
    embedded = any(isinstance(o, Embed) and o.out.label == values.label for o in ops)
    if (embedded and values.bos is None and not (values.circle or values.constant)
            and set(values.values) | ({op.default} - {None}) == set(out.values)
            and _only_copied(ops, values, ops[-1])):
        # What it copies (written by the embeddings, read by nothing else), on the same
        # circle: copied as is. The BOS row holds the default's point (a head reads the BOS
        # position as nothing selected: the default).
        on_circle = replace(values, values=out.values, bos=op.default, circle=True,
                            circle_none=True)
        ops = [replace(o, out=on_circle) if o.out.label == values.label else o for o in ops]
        op = replace(op, values=on_circle)
    return ops[:-1] + [op], circled


def _only_copied(ops: list, var: Var, head: Attend) -> bool:
    """``var`` is read by ``head``'s values alone."""
    for op in ops:
        terms = op.terms if isinstance(op, Attend) else ()
        if (isinstance(op, Lookup) and var in op.inputs
                or any(var.label in (t.keys.label, t.queries.label) for t in terms)
                or isinstance(op, Attend) and op is not head and op.values is not None
                and op.values.label == var.label):
            return False
    return True

