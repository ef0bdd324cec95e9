"""Position-like SOps without one-hots: the analyses that let ``lower`` store them as numbers.

A one-hot index needs ``max_seq_len`` residual dims; a number needs two (three with its
square). These functions decide where that is possible and exact:

- :func:`counts`: whether an Aggregate is a count in disguise (RASPy's ``.value(1)``: the
  sum of ones over a selector is its width), lowered like a SelectorWidth;
- :func:`wishes`: which SOps to store as numbers (keys and queries of a categorical
  Aggregate's Select that may be a shift match, the SelectorWidths and Maps that feed them,
  SelectorWidths nothing reads as a one-hot);
- :func:`shift_of`: whether a Select is ``key == query + s`` on integers (then one head
  matches by quadratic maximisation, ``recipes.match_scores``);
- :func:`lex_order`: whether a SequenceMap key ``f(a, b)`` orders like the pair ``(a, b)``
  (sort's tie-broken key ``x + i / n``), so ``key_k < key_q`` is ``a_k < a_q`` or
  (``a_k == a_q`` and ``b_k < b_q``): two heads over ``a`` and ``b`` instead of a one-hot
  over every value of the key;
- :func:`projection`: whether a function of numbers depends only on ``sum w_i x_i`` (like
  ``length - i - 1``): one plateau per value of the sum instead of one per tuple;
- :func:`prefix_only` and :func:`always`: selectors that read positions alone, seen through a
  causal mask. A program whose every selector selects only keys at or before the query (tracr's
  ``frac_prevs``: ``Select(indices, indices, LEQ)``) computes the same with and without the
  mask, and under the mask such a selector is "all keys": no scores at all.
"""
from __future__ import annotations

import itertools
import math
from typing import Callable

import numpy as np

from taotp.rasp import expr as rx
from taotp.rasp.evaluate import evaluate_all
from taotp.rasp.graph import nodes
from taotp.rasp.ir import Var

# Integer weight pairs tried by ``projection`` (a function of x + y, x - y, ...).
PROJECTIONS = ((1, 1), (1, -1), (-1, 1), (1, 2), (2, 1), (1, -2), (-2, 1))
MAX_SCAN = 4_000_000  # tuples ``projection`` and ``shift_of`` may evaluate
# What a selector reading positions alone may be built from: pointwise functions of indices,
# the same at every input length (a width or an Aggregate would depend on the length).
POINTWISE = (rx.IndicesType, rx.Full, rx.Map, rx.SequenceMap, rx.Select, rx.SelectorAnd,
             rx.SelectorOr, rx.SelectorNot)
STRICT = {rx.Comparison.LT: rx.Comparison.LT, rx.Comparison.LEQ: rx.Comparison.LT,
          rx.Comparison.GT: rx.Comparison.GT, rx.Comparison.GEQ: rx.Comparison.GT}


def wishes(program: rx.SOp) -> dict:
    """``label -> "squares" | "plain"``: SOps worth storing as numbers, if their values are
    integers (``lower`` checks that)."""
    order = list(nodes(program))
    wish: dict = {}
    one_hot: set = set()   # read as a one-hot somewhere: keep those categorical
    for node in order:
        if isinstance(node, rx.Aggregate):
            sel, copy = node.selector, rx.NUMERICAL != node.annotations["encoding"]
            if copy and isinstance(sel, rx.Select) and _may_shift(sel.predicate):
                wish[sel.keys.label] = wish[sel.queries.label] = "squares"
            one_hot.add(node.sop.label)
        if isinstance(node, rx.Select):
            one_hot.update((node.keys.label, node.queries.label))
    for node in reversed(order):
        if isinstance(node, (rx.Map, rx.SequenceMap)) and node.label in wish:
            for child in node.children:
                if (isinstance(child, (rx.IndicesType, rx.SelectorWidth, rx.Map, rx.SequenceMap))
                        or counts(child)) and child.label not in one_hot:
                    wish.setdefault(child.label, "plain")
    for node in order:
        if (isinstance(node, rx.SelectorWidth) or counts(node)) and node.label not in one_hot:
            wish.setdefault(node.label, "plain")
    return wish


def counts(node) -> bool:
    """``node`` is a sum of the constant 1 (or True) over a selector, with default 0 or None:
    the selector's width, which the evaluator returns as an int."""
    if not (isinstance(node, rx.Aggregate) and node.reduction == "sum"
            and isinstance(node.sop, rx.Full)):
        return False
    one, default = node.sop.fill, node.default
    return ((one is True or (type(one) is int and one == 1))
            and (default is None or (type(default) is int and default == 0)))


def _may_shift(predicate) -> bool:
    return predicate is rx.Comparison.EQ or not isinstance(predicate, rx.Comparison)


def integers(values) -> bool:
    """All values are ints (not bools) or integral floats: a match can tell them apart."""
    return all(not isinstance(v, bool) and isinstance(v, (int, float)) and float(v).is_integer()
               for v in values)


def shift_of(keys: Var, queries: Var, predicate) -> int | None:
    """``s`` if ``predicate(k, q)`` is exactly ``k == q + s`` on the integer value sets."""
    if not (keys.numerical and queries.numerical and keys.squares and queries.squares
            and integers(keys.values) and integers(queries.values)):
        return None
    if predicate is rx.Comparison.EQ:
        return 0
    if len(keys.values) * len(queries.values) > MAX_SCAN:
        return None
    shift = None
    key_set = set(float(k) for k in keys.values)
    for q in queries.values:
        try:
            hits = [k for k in keys.values if predicate(k, q)]
        except Exception:
            return None
        if len(hits) > 1:
            return None
        if hits:
            s = float(hits[0]) - float(q)
            if shift is None:
                shift = s
            elif s != shift:
                return None
    if shift is None:
        return None
    for q in queries.values:  # a query whose match exists must select it
        if float(q) + shift in key_set and not any(
                predicate(k, q) for k in keys.values if float(k) == float(q) + shift):
            return None
    return int(shift)


def lex_order(f: Callable, a: Var, b: Var) -> bool:
    """``f(a, b)`` is strictly increasing in the lexicographic order of ``(a, b)``."""
    previous = None
    for pair in itertools.product(a.values, b.values):
        try:
            key = f(*pair)
            if previous is not None and not previous < key:
                return False
        except Exception:
            return False
        previous = key
    return previous is not None


def projection(inputs: tuple, f: Callable, bos_args: tuple) -> tuple | None:
    """``(weights, {t: f})`` if ``f`` on numbers depends only on ``t = sum w_i x_i``.

    Tuples where ``f`` raises are left out (unreachable); the BOS tuple must agree too, or it
    gets the value of its ``t``. None when no candidate fits or it saves less than half."""
    if len(inputs) != 2 or not all(v.numerical for v in inputs):
        return None
    combos = math.prod(len(v.values) for v in inputs)
    if combos > MAX_SCAN:
        return None
    for w in PROJECTIONS:
        groups: dict = {}
        ok = True
        for args in itertools.product(*(v.values for v in inputs)):
            try:
                out = f(*args)
            except Exception:
                continue
            if out is None:
                continue
            t = w[0] * args[0] + w[1] * args[1]
            if groups.setdefault(t, out) != out:
                ok = False
                break
        if ok and groups and 2 * len(groups) <= combos:
            t_bos = w[0] * bos_args[0] + w[1] * bos_args[1]
            groups.setdefault(t_bos, None)
            return w, groups
    return None


def position_pattern(sel, max_seq_len: int) -> np.ndarray | None:
    """``P[q, k]``: whether ``sel`` selects key position ``k`` for query position ``q``, when
    it reads positions alone (indices, constants and Maps of them), so that ``P`` is the
    same at every input length; else None. Computed by the evaluator itself."""
    if not all(isinstance(node, POINTWISE) for node in nodes(sel)):
        return None
    try:
        rows = evaluate_all(sel, [None] * max_seq_len)[sel.label]
    except Exception:  # a Map undefined at some position: no pattern, no claim
        return None
    return np.array(rows, dtype=bool).reshape(max_seq_len, max_seq_len)


class Patterns:
    """The position patterns of one program's selectors (:func:`position_pattern`, an
    ``n x n`` evaluation each), computed once and shared: ``compile`` asks whether the
    program reads only prefixes, and every lowering of it which selectors the mask makes
    constant. Keyed by label, which ``nodes`` makes unique within a program."""

    def __init__(self, max_seq_len: int):
        self.max_seq_len = max_seq_len
        self._known: dict = {}

    def __call__(self, sel) -> np.ndarray | None:
        if sel.label not in self._known:
            self._known[sel.label] = position_pattern(sel, self.max_seq_len)
        return self._known[sel.label]

    def always(self, sel) -> bool:
        """``sel`` selects every key at or before its query: through a causal mask,
        everything the query sees (a constant selector, no scores)."""
        pattern = self(sel)
        return pattern is not None and bool(pattern[np.tril_indices(self.max_seq_len)].all())

    def prefix_only(self, program: rx.SOp) -> bool:
        """Every selector of ``program`` selects only keys at or before its query, so output
        ``i`` depends on tokens ``0..i`` alone and RASP's causal evaluation equals the
        non-causal one: ``compile`` may then use the causal mask. False for a program
        without selectors."""
        selectors = [node.selector for node in nodes(program)
                     if isinstance(node, (rx.Aggregate, rx.SelectorWidth))]
        return bool(selectors) and all(self._prefix(sel) for sel in selectors)

    def _prefix(self, sel) -> bool:
        pattern = self(sel)
        if pattern is not None:
            return not np.triu(pattern, 1).any()
        if isinstance(sel, rx.SelectorAnd):
            return self._prefix(sel.fst) or self._prefix(sel.snd)
        if isinstance(sel, rx.SelectorOr):
            return self._prefix(sel.fst) and self._prefix(sel.snd)
        return False


def always(sel, max_seq_len: int) -> bool:
    """:meth:`Patterns.always` of one selector."""
    return Patterns(max_seq_len).always(sel)


def prefix_only(program: rx.SOp, max_seq_len: int) -> bool:
    """:meth:`Patterns.prefix_only` of one program."""
    return Patterns(max_seq_len).prefix_only(program)
