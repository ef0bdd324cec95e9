"""RASPy's spelling on taotp's nodes: ``key(x) == query(y)``, ``where``, ``sel.value(...)``.

RASPy (Sasha Rush's "Thinking Like Transformers" blog) builds the same graph as tracr with
lighter syntax; here its operators make the very same ``Select``/``Map``/``SequenceMap``/
``Aggregate`` nodes, so one program can be written in either style and compiled the same way.

>>> from taotp.rasp import key, query, tokens, indices, where
>>> flip = (key((key(1) == query(1)).value(1) - indices - 1) == query(indices)).value(tokens)
>>> flip("hello")
['o', 'l', 'l', 'e', 'h']
>>> where((tokens == "h") | (tokens == "l"), tokens, "q")("hello")
['h', 'q', 'l', 'l', 'q']
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from taotp.rasp.expr import Comparison, Map, Select, SequenceMap, SOp, lift


@dataclass(frozen=True, eq=False)
class Query:
    """The query side of a comparison: RASPy's ``query(sop)``."""

    sop: SOp
    rasp_side = True  # SOp operators refuse it: a query only meets a key


def _compare(comparison: Comparison):
    def method(self, other):
        if not isinstance(other, Query):
            raise TypeError(f"a key compares with a query: key(...) {comparison.value} "
                            f"query(...), got {type(other).__name__} {other!r}")
        return Select(self.sop, other.sop, comparison)
    method.__doc__ = f"``Select(keys, queries, Comparison.{comparison.name})``."
    return method


@dataclass(frozen=True, eq=False)
class Key:
    """The key side of a comparison: ``key(x) < query(y)`` selects keys smaller than the query."""

    sop: SOp
    rasp_side = True

    __eq__ = _compare(Comparison.EQ)  # type: ignore[assignment]
    __ne__ = _compare(Comparison.NEQ)  # type: ignore[assignment]
    __lt__ = _compare(Comparison.LT)
    __le__ = _compare(Comparison.LEQ)
    __gt__ = _compare(Comparison.GT)
    __ge__ = _compare(Comparison.GEQ)
    __hash__ = None  # type: ignore[assignment]


def key(x: Any) -> Key:
    """RASPy's ``key(sop_or_constant)``."""
    return Key(lift(x))


def query(x: Any) -> Query:
    """RASPy's ``query(sop_or_constant)``."""
    return Query(lift(x))


def where(cond: Any, a: Any, b: Any) -> SOp:
    """``a`` where ``cond`` holds, else ``b`` (each an SOp or a constant), elementwise."""
    cond = lift(cond)
    a_sop, b_sop = isinstance(a, SOp), isinstance(b, SOp)
    if not a_sop and not b_sop:
        lift(a), lift(b)  # type check
        return Map(lambda c: a if c else b, cond)
    if a_sop and not b_sop:
        lift(b)
        return SequenceMap(lambda c, x: x if c else b, cond, a)
    if b_sop and not a_sop:
        lift(a)
        return SequenceMap(lambda c, y: a if c else y, cond, b)
    pairs = SequenceMap(lambda x, y: (x, y), a, b)
    return SequenceMap(lambda c, xy: xy[0] if c else xy[1], cond, pairs)
