"""Compiler stage 1, selectors: the terms of the head that computes a selector.

A Select on categorical SOps becomes one ``pattern[q][k]`` term (composite selectors are
flattened into one pattern over tuples of their SOps); a Select that is a shift match on
numbers (``positions.shift_of``) becomes one match term; and ``key < key`` on a key that
orders like a pair becomes two heads (``lex_split``), so no one-hot ever spans the key.
Under a causal mask, a selector of positions that selects every key the query sees
(``positions.always``: ``indices <= indices``) is a constant: it reads nothing.
"""
from __future__ import annotations

from dataclasses import replace

from taotp.rasp import expr as rx
from taotp.rasp import positions
from taotp.rasp.ir import Attend, Embed, Term, Var

MAX_PATTERN = 1_000_000  # a Select's query-by-key matrix larger than this is refused


class Selectors:
    """The selector half of ``lower``'s state (it needs ``vars``, ``converted``, ``lookup``)."""

    def lex_split(self, sel):
        """Terms of the two disjoint halves of ``Select(key, key, <)`` on a key that orders
        like a pair: (a before) and (a equal, b before); or None."""
        if not (isinstance(sel, rx.Select) and sel.keys is sel.queries
                and sel.predicate in positions.STRICT
                and isinstance(sel.keys, rx.SequenceMap) and len(sel.keys.children) == 2):
            return None
        a, b = (self.converted(self.vars[c.label], False, sel) for c in sel.keys.children)
        f = sel.keys.f
        if positions.lex_order(f, a, b):
            first, second = a, b
        elif positions.lex_order(lambda y, x: f(x, y), b, a):
            first, second = b, a
        else:
            return None
        for var in (first, second):
            if len(var.values) ** 2 > MAX_PATTERN:
                raise ValueError(f"{sel.label} ({type(sel).__name__}): compares {var.label} as "
                                 f"a {len(var.values):,} x {len(var.values):,} one-hot matrix, "
                                 f"more than {MAX_PATTERN:,} entries")
        strict = positions.STRICT[sel.predicate]
        before = Term(first, first, _pattern(first, first, strict))
        ties = (Term(first, first, _pattern(first, first, rx.Comparison.EQ)),
                Term(second, second, _pattern(second, second, sel.predicate)))
        return (before,), ties

    def always(self, sel) -> bool:
        """Under this compile's causal mask, ``sel`` selects every key the query sees."""
        return self.causal and self.patterns.always(sel)

    def selector(self, sel, match: bool = False) -> tuple:
        """The terms of a head selecting ``sel``: one pattern[q][k], or (``match``: a copy
        head, which tolerates the match's rounding) one shift match."""
        if match and isinstance(sel, rx.Select) and not self.always(sel):
            keys, queries = self.vars[sel.keys.label], self.vars[sel.queries.label]
            shift = positions.shift_of(keys, queries, sel.predicate)
            if shift is not None:
                return (Term(keys, queries, shift=shift),)
        key_vars, query_vars, pred = self.flatten(sel)
        if not key_vars:  # every part reads positions alone: through the mask, all or none
            constant = self.constant()
            return (Term(constant, constant, ((bool(pred((), ())),),)),)
        keys, queries = self.tuple_var(sel, key_vars), self.tuple_var(sel, query_vars)
        if len(keys.values) * len(queries.values) > MAX_PATTERN:
            raise ValueError(f"{sel.label} ({type(sel).__name__}): a {len(queries.values):,} x "
                             f"{len(keys.values):,} selection matrix, more than "
                             f"{MAX_PATTERN:,} entries")
        pattern = []
        for q in queries.values:
            row = []
            for k in keys.values:
                kt = k if len(key_vars) > 1 else (k,)
                qt = q if len(query_vars) > 1 else (q,)
                try:
                    row.append(bool(pred(kt, qt)))
                except Exception:
                    row.append(False)
            pattern.append(tuple(row))
        if all(all(row) for row in pattern):  # reads neither side: a constant selects all
            keys = queries = self.constant()
            pattern = ((True,),)
        return (Term(keys, queries, tuple(pattern)),)

    def constant(self) -> Var:
        """A Var that is True at every position (None at BOS, like any input): the flags."""
        label = "full:True"
        if label not in self.vars:
            self.add(Embed(Var(label, False, (True,), constant=True), "full", True))
        return self.vars[label]

    def flatten(self, sel) -> tuple:
        """(key Vars, query Vars, predicate on tuples of their values); no Vars and a
        predicate that is always True for a part that selects all the query sees."""
        if self.always(sel):
            return (), (), lambda kt, qt: True
        if isinstance(sel, rx.Select):
            k = self.converted(self.vars[sel.keys.label], False, sel)
            q = self.converted(self.vars[sel.queries.label], False, sel)
            p = sel.predicate
            return (k,), (q,), lambda kt, qt: p(kt[0], qt[0])
        if isinstance(sel, rx.SelectorNot):
            k, q, p = self.flatten(sel.inner)
            return k, q, lambda kt, qt: not p(kt, qt)
        if isinstance(sel, (rx.SelectorAnd, rx.SelectorOr)):
            k1, q1, p1 = self.flatten(sel.fst)
            k2, q2, p2 = self.flatten(sel.snd)
            keys, kmap = _merge(k1, k2)
            queries, qmap = _merge(q1, q2)
            either = isinstance(sel, rx.SelectorOr)

            def pred(kt, qt):
                a = p1(tuple(kt[i] for i in kmap[0]), tuple(qt[i] for i in qmap[0]))
                b = p2(tuple(kt[i] for i in kmap[1]), tuple(qt[i] for i in qmap[1]))
                return (a or b) if either else (a and b)
            return keys, queries, pred
        raise ValueError(f"not supported yet: {sel.label} ({type(sel).__name__})")

    def tuple_var(self, owner, parts: tuple) -> Var:
        """One categorical Var for several (a Lookup building tuples), or the Var itself."""
        if len(parts) == 1:
            return parts[0]
        label = "(" + ",".join(v.label for v in parts) + ")"
        if label in self.vars:
            return self.vars[label]
        return self.lookup(owner, label, False, parts, lambda *xs: tuple(xs))


def one_hot_queries(ops: list) -> list:
    """``ops`` with each shift match whose query is an embedded number with a one-hot twin
    (the same source as ``label:categorical``, which another selector needed) reading the
    twin: any function of a one-hot is linear in it, so ``recipes.match_scores``'s query
    features ``(1, x / B, (x / B)^2)`` become its rows, and the number itself, with its
    three dims, is dropped when nothing else reads it. The twin is embedded, hence exact;
    only a twin placed before the head is used (the order stays topological)."""
    embeds, out = {}, []
    for op in ops:
        if isinstance(op, Embed):
            embeds[op.out.label] = op.out
        elif isinstance(op, Attend):
            op = replace(op, terms=tuple(
                replace(t, queries=embeds[f"{t.queries.label}:categorical"])
                if t.shift is not None and t.queries.label in embeds
                and f"{t.queries.label}:categorical" in embeds else t for t in op.terms))
        out.append(op)
    return out


def _merge(a: tuple, b: tuple) -> tuple:
    """Vars of ``a`` then new ones of ``b``, and where each side's Vars sit in the result."""
    merged = list(a)
    for v in b:
        if v not in merged:
            merged.append(v)
    return tuple(merged), ([merged.index(v) for v in a], [merged.index(v) for v in b])


def _pattern(keys: Var, queries: Var, predicate) -> tuple:
    """``pattern[q][k]`` of a comparison between two categorical Vars."""
    return tuple(tuple(bool(predicate(k, q)) for k in keys.values) for q in queries.values)
