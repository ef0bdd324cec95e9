"""RASP's nodes, part 2: selectors (attention patterns) and the ops that read them.

``Select`` compares every key with every query; ``SelectorAnd/Or/Not`` combine patterns;
``Aggregate`` and ``SelectorWidth`` are the attention heads.

>>> from taotp.rasp.sop import tokens, indices, Map
>>> flip = Aggregate(Select(indices, Map(lambda i: 2 - i, indices), Comparison.EQ), tokens)
>>> flip.children[0].predicate.name, flip.named("flip").label
('EQ', 'flip')
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable

from taotp.rasp.node import RASPExpr, _token
from taotp.rasp.sop import SOp, _check_sop, lift


class Comparison(enum.Enum):
    """Select's predicates; each compares a **key** with a **query** (LT: key < query)."""

    EQ = "=="
    LT = "<"
    LEQ = "<="
    GT = ">"
    GEQ = ">="
    NEQ = "!="
    TRUE = "True"
    FALSE = "False"

    def __call__(self, key: Any, query: Any) -> bool:
        return _COMPARE[self.name](key, query)


_COMPARE = MappingProxyType({
    "EQ": lambda k, q: k == q, "LT": lambda k, q: k < q, "LEQ": lambda k, q: k <= q,
    "GT": lambda k, q: k > q, "GEQ": lambda k, q: k >= q, "NEQ": lambda k, q: k != q,
    "TRUE": lambda k, q: True, "FALSE": lambda k, q: False,
})


class Selector(RASPExpr):
    """A query-by-key boolean matrix (an attention pattern); combine with ``& | ~``."""

    kind = "selector"
    __hash__ = RASPExpr.__hash__

    def __and__(self, other: Selector) -> Selector:
        return SelectorAnd(self, other)

    def __or__(self, other: Selector) -> Selector:
        return SelectorOr(self, other)

    def __invert__(self) -> Selector:
        return SelectorNot(self)

    def value(self, sop: Any, default: Any = 0) -> SOp:
        """RASPy's aggregation: the **sum** of the selected values (``default`` if none)."""
        return Aggregate(self, lift(sop), default=default, reduction="sum")

    def name(self, name: str) -> Selector:
        """RASPy's ``.name(str)``: same as ``named``."""
        return self.named(name)


@dataclass(frozen=True, eq=False, repr=False)
class Select(Selector):
    """Selects key position k for query position q when ``predicate(keys[k], queries[q])``."""

    keys: SOp
    queries: SOp
    predicate: Callable[[Any, Any], bool]
    kind = "select"

    def __post_init__(self) -> None:
        _check_sop(self.keys, "keys", "Select")
        _check_sop(self.queries, "queries", "Select")
        if not callable(self.predicate) or isinstance(self.predicate, RASPExpr):
            raise TypeError(f"Select: predicate must be a Comparison or a function of "
                            f"(key, query), got {self.predicate!r}")
        super().__post_init__()

    @property
    def children(self) -> tuple:
        """Direct dependencies, in argument order."""
        return (self.keys, self.queries)

    def _params(self) -> tuple:
        return (_token(self.predicate),)


def _check_selector(x: Any, role: str, owner: str) -> None:
    if not isinstance(x, Selector):
        raise TypeError(f"{owner}: {role} must be a Selector, got {type(x).__name__} {x!r}")


@dataclass(frozen=True, eq=False, repr=False)
class _SelectorPair(Selector):
    """Two selectors combined elementwise (And and Or are siblings, not subclasses)."""

    fst: Selector
    snd: Selector

    def __post_init__(self) -> None:
        _check_selector(self.fst, "fst", type(self).__name__)
        _check_selector(self.snd, "snd", type(self).__name__)
        super().__post_init__()

    @property
    def children(self) -> tuple:
        """Direct dependencies, in argument order."""
        return (self.fst, self.snd)


@dataclass(frozen=True, eq=False, repr=False)
class SelectorAnd(_SelectorPair):
    """Both selectors select."""

    kind = "selector_and"


@dataclass(frozen=True, eq=False, repr=False)
class SelectorOr(_SelectorPair):
    """Either selector selects."""

    kind = "selector_or"


@dataclass(frozen=True, eq=False, repr=False)
class SelectorNot(Selector):
    """Selects exactly what ``inner`` does not."""

    inner: Selector
    kind = "selector_not"

    def __post_init__(self) -> None:
        _check_selector(self.inner, "inner", "SelectorNot")
        super().__post_init__()

    @property
    def children(self) -> tuple:
        """Direct dependencies, in argument order."""
        return (self.inner,)


@dataclass(frozen=True, eq=False, repr=False)
class SelectorWidth(SOp):
    """How many keys each query selects."""

    selector: Selector
    kind = "selector_width"

    def __post_init__(self) -> None:
        _check_selector(self.selector, "selector", "SelectorWidth")
        super().__post_init__()

    @property
    def children(self) -> tuple:
        """Direct dependencies, in argument order."""
        return (self.selector,)


REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True, eq=False, repr=False)
class Aggregate(SOp):
    """Attention: per query, the mean (tracr) or sum (RASPy's ``.value``) of selected values."""

    selector: Selector
    sop: SOp
    default: Any = None
    reduction: str = "mean"
    kind = "aggregate"

    def __post_init__(self) -> None:
        _check_selector(self.selector, "selector", "Aggregate")
        _check_sop(self.sop, "sop", "Aggregate")
        if self.default is not None and not isinstance(self.default, (str, int, float, bool)):
            raise TypeError(f"Aggregate: default must be None, str, int, float or bool, "
                            f"got {self.default!r}")
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"Aggregate: reduction must be one of {REDUCTIONS}, "
                             f"got {self.reduction!r}")
        super().__post_init__()

    @property
    def children(self) -> tuple:
        """Direct dependencies, in argument order."""
        return (self.selector, self.sop)

    def _params(self) -> tuple:
        return (type(self.default).__name__, repr(self.default), self.reduction)
