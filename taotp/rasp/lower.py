"""Compiler stage 1: a RASP graph becomes a list of finite operations (value-set inference).

Every SOp becomes a :class:`Var` with its finite value set, inferred from the vocabulary and
``max_seq_len``; every operation becomes an :class:`Embed` (tokens, indices, Full), a
:class:`Lookup` (Map, SequenceMap: a finite table, one MLP) or an :class:`Attend` (Aggregate,
SelectorWidth: one head; its selector's terms come from ``lower_select``). Position-like
SOps (indices, widths, ``length - i - 1``) are stored as numbers where ``positions`` finds
that exact, so their width does not grow with ``max_seq_len``. Print the list to see what
the compiler will build.

At the BOS position (the compiler's first, hidden position) every Var holds its ``bos`` value
(``None`` for the inputs); heads read the BOS position as ``None`` whatever it holds.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import partial
from typing import Callable

from taotp.rasp import expr as rx
from taotp.rasp import joint, positions
from taotp.rasp.graph import consumers, nodes
from taotp.rasp.inline import read_through
from taotp.rasp.ir import MAX_VALUES, Attend, Embed, Lookup, Var, new_var, table_var
from taotp.rasp.lower_select import (  # noqa: F401 (MAX_PATTERN: a limit of lower)
    MAX_PATTERN, Selectors, one_hot_queries)
from taotp.rasp.recipes import mean_values, sums_by_count

MAX_COMBOS = 100_000   # likewise the table of a Lookup


def lower(program: rx.SOp, vocab, max_seq_len: int, numbers: bool = True,
          combine: bool = True, causal: bool = False,
          patterns: positions.Patterns | None = None) -> tuple[list, Var]:
    """The operations (in an order where inputs come first) and the output Var.

    ``numbers``: position-like SOps as numbers where that helps (``positions``); ``combine``:
    ``a x + b y`` of two means over one selector as one head (``joint.combined_mean``);
    ``causal``: the heads will be causally masked, so a selector that selects every key at
    or before its query (``positions.Patterns.always``) selects all keys; ``patterns``: the
    program's position patterns, when the caller has computed some already."""
    if not isinstance(program, rx.SOp):
        raise TypeError(f"compile needs an SOp, got {type(program).__name__}")
    state = _State(tuple(vocab), max_seq_len, positions.wishes(program) if numbers else {},
                   consumers(program), combine, causal,
                   patterns or positions.Patterns(max_seq_len))
    for node in nodes(program):
        if isinstance(node, rx.SOp):
            state.lower_sop(node)
    ops = state.ops[:-1] + [joint.merge_close_outputs(state.ops[-1])]  # the output's
    out = ops[-1].out if ops[-1].out.label == program.label else state.vars[program.label]
    return _prune(one_hot_queries(ops), out), out


def _exact_levels(var: Var) -> bool:
    """A number whose stored rows ``[x, sqrt(B^2 - x^2)]`` are exact in float32: every
    value 0 or +-B, with B a whole number float32 holds."""
    bound = var.bound
    return bound.is_integer() and bound <= 2 ** 24 and all(
        abs(float(v)) in (0.0, bound) for v in var.values)


def _prune(ops: list, out: Var) -> list:
    """Drop operations nothing reads (Lookups that were inlined into their readers)."""
    needed, kept = {out.label}, []
    for op in reversed(ops):
        if op.out.label in needed:
            kept.append(op)
            reads = op.inputs if isinstance(op, Lookup) else (
                op.reads() if isinstance(op, Attend) else ())
            needed.update(v.label for v in reads)
    return kept[::-1]


@dataclass
class _State(Selectors):
    vocab: tuple
    max_seq_len: int
    wishes: dict
    consumers: dict
    combine: bool = True
    causal: bool = False
    patterns: positions.Patterns | None = None

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
            wish = self.wishes.get(label) if positions.integers(values) else None
            squares = wish == "squares"
            numerical = numerical or squares
            bos = (values[0] if source != "full" else node.fill) if numerical else None
            var = new_var(node, numerical, values, bos, squares=squares, scaled=wish is not None)
            return self.add(Embed(var, source, getattr(node, "fill", None)))
        if isinstance(node, (rx.Map, rx.SequenceMap)):
            inputs = tuple(self.vars[c.label] for c in node.children)
            return self.lookup(node, label, numerical, inputs, node.f)
        if isinstance(node, rx.SelectorWidth) or positions.counts(node):
            return self.width(node, numerical)
        if isinstance(node, rx.Aggregate):
            return self.aggregate(node, numerical)
        raise ValueError(f"not supported yet: {label} ({type(node).__name__})")

    def width(self, node, numerical: bool):
        """One width head, or two (and their sum) for a lexicographic comparison."""
        n, wish = self.max_seq_len, self.wishes.get(node.label)
        points = tuple(((1.0 / (w + 1),), w) for w in range(n + 1))
        split = None if self.always(node.selector) else self.lex_split(node.selector)
        if split is None:
            out = new_var(node, numerical or wish is not None, tuple(range(n + 1)), 0,
                       squares=wish == "squares", scaled=wish is not None)
            return self.add(Attend(out, "width", self.selector(node.selector), points=points))
        # The halves select disjoint keys, and "before" never the query itself: it counts at
        # most n - 1, as do "ties" and the sum when the order is strict (else n; larger
        # sums are unreachable, left out of the table).
        most = n - 1 if node.selector.predicate in (rx.Comparison.LT, rx.Comparison.GT) else n
        parts = []
        for suffix, terms, top in zip(("before", "ties"), split, (n - 1, most)):
            out = new_var(node, True, tuple(range(top + 1)), 0, f"{node.label}:{suffix}",
                       scaled=True)
            parts.append(self.add(Attend(out, "width", terms, points=points[:top + 1])))
        return self.lookup(node, node.label, numerical, tuple(parts), partial(_at_most, most))

    def lookup(self, node, label, numerical, inputs, f: Callable):
        if self.combine and isinstance(node, rx.LinearSequenceMap) and label == node.label:
            combined = joint.combined_mean(self, node, numerical, inputs,
                                           self.consumers.get(label, []))
            if combined is not None:
                return combined
        wish = self.wishes.get(label)
        producer = self.producer(inputs)
        if producer is not None:  # a Map of a projection: the same projection
            table = []
            for (t,), out in producer.table:
                try:
                    table.append(((t,), None if out is None else f(out)))
                except Exception:
                    table.append(((t,), None))
            return self.project(node, label, numerical, wish, producer.inputs,
                                producer.weights, table)
        found = None if self.reachable(inputs) else positions.projection(
            inputs, f, tuple(v.bos for v in inputs))
        if found is not None:
            weights, groups = found
            return self.project(node, label, numerical, wish, inputs, weights,
                                [((t,), out) for t, out in sorted(groups.items())])
        inputs, f = read_through(self.ops, inputs, f)
        # categorical tables, or numbers every dtype stores exactly (0 and +-B: indicator
        # Maps); other numerical outputs stay Lookups, whose error accuracy.py accounts for
        # (folding them let rounding through unrefused in the stress tests)
        folded = None if wish else self.fold(node, label, numerical, inputs, f)
        if folded is not None and numerical and not _exact_levels(folded.out):
            folded = None
        if folded is not None:
            return self.add(folded)
        reach = self.reachable(inputs)  # (joint: means over one selector, fewer combinations)
        combos = len(reach) if reach else math.prod(len(v.domain()) for v in inputs)
        if combos > MAX_COMBOS:
            raise ValueError(f"{label} ({type(node).__name__}): its table has {combos:,} input "
                             f"combinations, more than {MAX_COMBOS:,}")
        table = []
        for args in reach or itertools.product(*(v.domain() for v in inputs)):
            out = None
            if all(a is not None for a in args):
                try:
                    out = f(*args)
                except Exception:  # unreachable combinations of over-approximated values
                    out = None
            table.append((args, out))
        values = {out for _, out in table if out is not None}
        if wish and not numerical and positions.integers(values) and all(
                out is not None for args, out in table if None not in args):
            numerical = True
        var, table = table_var(node, label, numerical, table,
                             dict(table).get(tuple(v.bos for v in inputs)), wish)
        return self.add(Lookup(var, inputs, table))

    def reachable(self, inputs: tuple) -> list | None:
        """The combinations ``inputs`` can hold together, when ``joint`` knows them."""
        return joint.reachable(inputs, self.ops, self.vocab, self.max_seq_len, MAX_COMBOS)

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
        var, table = table_var(node, label, numerical, table, bos)
        return Embed(var, source, table=table)

    def producer(self, inputs: tuple):
        """The projection Lookup writing the only input, if there is one."""
        if len(inputs) != 1:
            return None
        for op in self.ops:
            if isinstance(op, Lookup) and op.weights and op.out.label == inputs[0].label:
                return op
        return None

    def project(self, node, label, numerical, wish, inputs, weights, table):
        """A Lookup of ``t = sum w_i x_i``: ``table`` maps ``(t,)`` to the output."""
        values = {out for _, out in table if out is not None}
        numerical = numerical or bool(wish and positions.integers(values))
        t_bos = sum(w * v.bos for w, v in zip(weights, inputs))
        var, table = table_var(node, label, numerical, table, dict(table).get((t_bos,)), wish)
        return self.add(Lookup(var, inputs, table, tuple(weights)))

    def converted(self, var: Var, numerical: bool, owner) -> Var:
        """``var`` itself, or a copy in the other encoding (an extra Embed or Lookup)."""
        if var.numerical == numerical:
            return var
        label = f"{var.label}:{'numerical' if numerical else 'categorical'}"
        if label in self.vars:
            return self.vars[label]
        embed = next((op for op in self.ops if isinstance(op, Embed)
                      and op.out.label == var.label), None)
        if embed is not None and not numerical:  # (to numbers: a Lookup, as before)
            bos = var.values[0] if numerical and var.values else None
            return self.add(Embed(Var(label, numerical, var.values, bos), embed.source,
                                  embed.fill, embed.table))
        return self.lookup(owner, label, numerical, (var,), lambda x: x)

    def aggregate(self, node, numerical: bool):
        values = self.vars[node.sop.label]
        n, default = self.max_seq_len, node.default
        numbers = all(isinstance(v, (int, float)) for v in values.values)
        copy = not numerical and (node.reduction == "mean" or not numbers)
        terms = self.selector(node.selector, match=copy)
        if copy:
            # one selected value (or equal ones) is copied; a sum of one non-number is itself
            values = self.converted(values, False, node)
            outs = set(values.values) | ({default} - {None})
            out = new_var(node, False, outs, default)
            return self.add(Attend(out, "copy", terms, values, default))
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
        out = new_var(node, numerical, outs, stand_in)
        kind = "mean" if node.reduction == "mean" else "sum"
        return self.add(Attend(out, kind, terms, values, stand_in,
                               tuple(dict(points).items())))


def _at_most(limit: int, x: int, y: int) -> int:
    """``x + y``, which must not exceed ``limit`` (raises: an unreachable combination)."""
    if x + y > limit:
        raise ValueError(f"{x} + {y} is more than {limit}")
    return x + y
