"""Compiler stage 1: a RASP graph becomes a list of finite operations (value-set inference).

Every SOp becomes a :class:`Var` with its finite value set, inferred from the vocabulary and
``max_seq_len``; every operation becomes an :class:`Embed` (tokens, indices, Full), a
:class:`Lookup` (Map, SequenceMap: a finite table, one MLP) or an :class:`Attend` (Aggregate,
SelectorWidth: one head). Composite selectors are flattened into one selection matrix over
tuples of their SOps; numerical selector inputs get a categorical copy first. Print the list
to see what the compiler will build.

At the BOS position (the compiler's first, hidden position) every Var holds its ``bos`` value
(``None`` for the inputs); heads read the BOS position as ``None`` whatever it holds.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable

from taotp.rasp import expr as rx
from taotp.rasp.graph import nodes
from taotp.rasp.ir import Attend, Embed, Lookup, Var
from taotp.rasp.recipes import mean_values, sums_by_count

MAX_VALUES = 20_000    # a value set larger than this is refused (its MLP would be huge)
MAX_COMBOS = 100_000   # likewise the table of a Lookup
MAX_PATTERN = 1_000_000  # likewise a Select's query-by-key matrix
MAX_INLINE = 5_000     # a Lookup reads through the Lookups feeding it up to this table size


def lower(program: rx.SOp, vocab, max_seq_len: int) -> tuple[list, Var]:
    """The operations (in an order where inputs come first) and the output Var."""
    if not isinstance(program, rx.SOp):
        raise TypeError(f"compile needs an SOp, got {type(program).__name__}")
    state = _State(tuple(vocab), max_seq_len)
    for node in nodes(program):
        if isinstance(node, rx.SOp):
            state.lower_sop(node)
    out = state.vars[program.label]
    return _prune(state.ops, out), out


def _prune(ops: list, out: Var) -> list:
    """Drop operations nothing reads (Lookups that were inlined into their readers)."""
    needed, kept = {out.label}, []
    for op in reversed(ops):
        if op.out.label in needed:
            kept.append(op)
            reads = op.inputs if isinstance(op, Lookup) else (
                (op.keys, op.queries, op.values) if isinstance(op, Attend) else ())
            needed.update(v.label for v in reads if v is not None)
    return kept[::-1]


@dataclass
class _State:
    vocab: tuple
    max_seq_len: int

    def __post_init__(self):
        self.ops: list = []
        self.vars: dict = {}

    def add(self, op):
        self.ops.append(op)
        self.vars[op.out.label] = op.out
        return op.out

    def lower_sop(self, node):
        numerical = rx.NUMERICAL == node.annotations["encoding"]
        label = node.label
        if isinstance(node, (rx.TokensType, rx.IndicesType, rx.Full)):
            source = {rx.TokensType: "tokens", rx.IndicesType: "indices"}.get(type(node), "full")
            values = {"tokens": self.vocab, "indices": tuple(range(self.max_seq_len)),
                      "full": (getattr(node, "fill", None),)}[source]
            bos = (values[0] if source != "full" else node.fill) if numerical else None
            var = _var(node, numerical, values, bos)
            return self.add(Embed(var, source, getattr(node, "fill", None)))
        if isinstance(node, (rx.Map, rx.SequenceMap)):
            inputs = tuple(self.vars[c.label] for c in node.children)
            return self.lookup(node, label, numerical, inputs, node.f)
        if isinstance(node, rx.SelectorWidth):
            keys, queries, pattern = self.selector(node.selector)
            n = self.max_seq_len
            points = tuple(((1.0 / (w + 1),), w) for w in range(n + 1))
            out = _var(node, numerical, tuple(range(n + 1)), 0)
            return self.add(Attend(out, "width", keys, queries, pattern, points=points))
        if isinstance(node, rx.Aggregate):
            return self.aggregate(node, numerical)
        raise ValueError(f"not supported yet: {label} ({type(node).__name__})")

    def lookup(self, node, label, numerical, inputs, f: Callable):
        inputs, f = self.inline(inputs, f)
        folded = self.fold(node, label, numerical, inputs, f)
        if folded is not None:
            return self.add(folded)
        combos = math.prod(len(v.domain()) for v in inputs)
        if combos > MAX_COMBOS:
            raise ValueError(f"{label} ({type(node).__name__}): its table has {combos:,} input "
                             f"combinations, more than {MAX_COMBOS:,}")
        table = []
        for args in itertools.product(*(v.domain() for v in inputs)):
            out = None
            if all(a is not None for a in args):
                try:
                    out = f(*args)
                except Exception:  # unreachable combinations of over-approximated values
                    out = None
            table.append((args, out))
        var, table = _output(node, label, numerical, table,
                             dict(table).get(tuple(v.bos for v in inputs)))
        return self.add(Lookup(var, inputs, table))

    def fold(self, node, label, numerical, inputs, f: Callable) -> Embed | None:
        """A function of the embeddings of one source (tokens or indices, plus constants)
        is written by the embeddings themselves: no MLP, no layer."""
        embeds = {op.out.label: op for op in self.ops if isinstance(op, Embed)}
        parts = [embeds.get(v.label) for v in inputs]
        sources = {op.source for op in parts if op is not None} - {"full"}
        if None in parts or len(sources) > 1:
            return None
        source = sources.pop() if sources else "full"
        xs = {"tokens": self.vocab, "indices": range(self.max_seq_len), "full": (None,)}[source]
        table = []
        for x in xs:
            try:
                table.append((x, f(*(op.value(x) for op in parts))))
            except Exception:  # the evaluator fails there too: the input is refused
                table.append((x, None))
        bos = None
        if all(v.bos is not None for v in inputs):
            try:
                bos = f(*(v.bos for v in inputs))
            except Exception:
                bos = None
        var, table = _output(node, label, numerical, table, bos)
        return Embed(var, source, table=table)

    def inline(self, inputs: tuple, f: Callable) -> tuple:
        """Read through Lookups feeding this one (one MLP instead of a chain) when the
        combined table stays small."""
        producers = {op.out.label: op for op in self.ops if isinstance(op, Lookup)}
        parts = [producers.get(v.label) for v in inputs]
        while True:  # read through as many producers as keep the table small, largest last;
            # partly only for categorical tables (numerical ones lose float32 precision)
            flat = []
            for v, op in zip(inputs, parts):
                for u in (op.inputs if op else (v,)):
                    if u not in flat:
                        flat.append(u)
            if math.prod(len(u.domain()) for u in flat) <= MAX_INLINE or not any(parts):
                break
            if any(u.numerical for u in flat):
                parts = [None] * len(parts)
                continue
            sizes = [math.prod(len(u.domain()) for u in op.inputs) if op else 0 for op in parts]
            parts[sizes.index(max(sizes))] = None
        if flat == list(inputs) or math.prod(len(u.domain()) for u in flat) > MAX_INLINE:
            return inputs, f
        tables = [dict(op.table) if op else None for op in parts]
        where = [[flat.index(u) for u in (op.inputs if op else (v,))]
                 for v, op in zip(inputs, parts)]

        def composed(*args):
            xs = [t[tuple(args[j] for j in w)] if t is not None else args[w[0]]
                  for t, w in zip(tables, where)]
            if any(x is None for x in xs):
                raise ValueError("None")
            return f(*xs)
        return tuple(flat), composed

    def converted(self, var: Var, numerical: bool, owner) -> Var:
        """``var`` itself, or a copy in the other encoding (one extra Lookup)."""
        if var.numerical == numerical:
            return var
        label = f"{var.label}:{'numerical' if numerical else 'categorical'}"
        if label in self.vars:
            return self.vars[label]
        return self.lookup(owner, label, numerical, (var,), lambda x: x)

    def selector(self, sel) -> tuple:
        """Flatten ``sel`` to (key Var, query Var, pattern[q][k])."""
        key_vars, query_vars, pred = self.flatten(sel)
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
        return keys, queries, tuple(pattern)

    def flatten(self, sel) -> tuple:
        """(key Vars, query Vars, predicate on tuples of their values)."""
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

    def aggregate(self, node, numerical: bool):
        keys, queries, pattern = self.selector(node.selector)
        values = self.vars[node.sop.label]
        n, default = self.max_seq_len, node.default
        numbers = all(isinstance(v, (int, float)) for v in values.values)
        if not numerical and (node.reduction == "mean" or not numbers):
            # one selected value (or equal ones) is copied; a sum of one non-number is itself
            values = self.converted(values, False, node)
            outs = set(values.values) | ({default} - {None})
            out = _var(node, False, outs, default)
            return self.add(Attend(out, "copy", keys, queries, pattern, values, default))
        values = self.converted(values, True, node)
        stand_in = 0 if default is None else default  # where the evaluator says None
        try:
            if node.reduction == "mean":
                means = mean_values(values.values, n, MAX_VALUES)
                points = [((float(m),), float(m)) for m in means]
                points.append(((float(stand_in),), stand_in))
            else:
                points = [((float(s) / (w + 1), 1.0 / (w + 1)), float(s) if w else stand_in)
                          for s, w in sums_by_count(values.values, n, MAX_VALUES)]
        except ValueError as exc:
            raise ValueError(f"{node.label} (Aggregate, {node.reduction}): {exc}") from exc
        outs = {o for _, o in points}
        out = _var(node, numerical, outs, stand_in)
        kind = "mean" if node.reduction == "mean" else "sum"
        return self.add(Attend(out, kind, keys, queries, pattern, values, stand_in,
                               tuple(dict(points).items())))


def _output(node, label: str, numerical: bool, table: list, bos) -> tuple:
    """The Var of a table's outputs and the table (a numerical None becomes the BOS value)."""
    values = {out for _, out in table if out is not None}
    if numerical:
        bos = bos if bos is not None else (min(values, key=float) if values else 0)
        values.add(bos)
        table = [(x, bos if out is None else out) for x, out in table]
    return _var(node, numerical, values, bos, label), tuple(table)


def _merge(a: tuple, b: tuple) -> tuple:
    """Vars of ``a`` then new ones of ``b``, and where each side's Vars sit in the result."""
    merged = list(a)
    for v in b:
        if v not in merged:
            merged.append(v)
    return tuple(merged), ([merged.index(v) for v in a], [merged.index(v) for v in b])


def _var(node, numerical: bool, values, bos, label: str | None = None) -> Var:
    label = label or node.label
    values = set(values)
    if len(values) > MAX_VALUES:
        raise ValueError(f"{label} ({type(node).__name__}): {len(values):,} possible values, "
                         f"more than {MAX_VALUES:,}")
    if numerical:
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                if not isinstance(v, bool):
                    raise ValueError(f"{label} ({type(node).__name__}) is numerical but can be "
                                     f"{v!r}, which is not a finite number")
        ordered = tuple(sorted(values, key=float))
    else:
        for v in values:
            try:
                hash(v)
            except TypeError as exc:
                raise ValueError(f"{label} ({type(node).__name__}) can be {v!r}, "
                                 f"which is not hashable") from exc
        ordered = tuple(sorted(values, key=_order))
    return Var(label, numerical, ordered, bos)


def _order(value) -> tuple:
    """Numbers in numerical order first (slots then follow the values), then the rest."""
    if isinstance(value, (int, float)):
        return (0, float(value), type(value).__name__, "")
    return (1, 0.0, type(value).__name__, repr(value))
