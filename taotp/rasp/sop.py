"""RASP's nodes, part 1: the expression base and the SOps (one value per position).

A RASP program is a graph of these nodes (tracr's names and fields, so a tracr program ports by
changing its import). Every node has a ``label`` that is unique per distinct node without any
global counter: an explicit ``.named(name)``, else the node kind plus a digest of what the node
computes (its children's labels, its function's identity, its parameters, its annotations).

>>> from taotp.rasp.sop import tokens, Map
>>> m = Map(lambda x: x + 1, tokens)
>>> m.label.startswith("map_"), m.named("plus_one").label, m.children == (tokens,)
(True, 'plus_one', True)
"""
from __future__ import annotations

import copy
import enum
import functools
import hashlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

CATEGORICAL = "categorical"
NUMERICAL = "numerical"


def _token(f: Any) -> str:
    """What identifies a function in a label: its name and, for live objects, its identity."""
    if isinstance(f, enum.Enum):
        return f"{type(f).__name__}.{f.name}"
    return f"{getattr(f, '__qualname__', type(f).__name__)}@{id(f):x}"


@dataclass(frozen=True, eq=False)
class RASPExpr:
    """Base of every node; ``given_label``/``given_annotations`` come from ``named``/``numerical``.

    Hash by label; ``==`` on SOps builds a Map (RASP's sugar), so key dicts by ``node.label``.
    """

    given_label: str | None = field(default=None, kw_only=True, repr=False)
    given_annotations: tuple = field(default=(), kw_only=True, repr=False)

    kind = "expr"

    def __post_init__(self) -> None:
        # Labels are computed at construction, children first, so a deep graph never
        # recurses to compute one.
        self.label

    @property
    def children(self) -> tuple:
        """Direct dependencies, in argument order."""
        return ()

    def _params(self) -> tuple:
        """What besides the children defines the node (functions by identity)."""
        return ()

    @property
    def annotations(self) -> Mapping[str, Any]:
        """Read-only annotations; ``encoding`` defaults to categorical for SOps."""
        notes = dict(self.given_annotations)
        if isinstance(self, SOp):
            notes.setdefault("encoding", CATEGORICAL)
        return MappingProxyType(notes)

    def content(self) -> tuple:
        """The node's identity as data: kind, parameters, children labels, annotations."""
        return (type(self).__name__, self._params(), tuple(c.label for c in self.children),
                tuple(sorted(self.given_annotations)))

    @functools.cached_property
    def label(self) -> str:
        """Unique per distinct node: the given name, else kind + digest of ``content()``."""
        if self.given_label is not None:
            return self.given_label
        digest = hashlib.sha1(repr(self.content()).encode()).hexdigest()[:8]
        return f"{self.kind}_{digest}"

    def named(self, name: str):
        """A copy carrying ``name`` as its label (the compiler and pictures show it)."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"a label must be a non-empty str, got {name!r}")
        return self._copy(given_label=name)

    def annotated(self, **annotations: Any):
        """A copy with extra annotations (same explicit label, if any)."""
        merged = {**dict(self.given_annotations), **annotations}
        return self._copy(given_annotations=tuple(sorted(merged.items())))

    def _copy(self, **changes: Any):
        new = copy.copy(self)
        new.__dict__.pop("label", None)  # the cached label belongs to the original
        for key, value in changes.items():
            object.__setattr__(new, key, value)
        return new

    def __hash__(self) -> int:
        return hash(self.label)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label})"

    def __call__(self, xs, causal: bool = False, vocab=None):
        """Evaluate on one input (``rasp.evaluate``)."""
        from taotp.rasp.evaluate import evaluate
        return evaluate(self, xs, causal=causal, vocab=vocab)

    def input(self, xs, causal: bool = False, vocab=None):
        """RASPy's spelling of ``program(xs)``."""
        return self(xs, causal=causal, vocab=vocab)


def _check_sop(x: Any, role: str, owner: str) -> None:
    if not isinstance(x, SOp):
        raise TypeError(f"{owner}: {role} must be an SOp, got {type(x).__name__} {x!r}")


def _check_fn(f: Any, owner: str) -> None:
    if not callable(f) or isinstance(f, RASPExpr):
        raise TypeError(f"{owner}: f must be a plain function, got {type(f).__name__}")


def lift(x: Any) -> SOp:
    """An SOp as is; a constant as ``Full(constant)`` (RASPy broadcasts scalars)."""
    if isinstance(x, SOp):
        return x
    if x is None or isinstance(x, (str, int, float, bool)):
        return Full(x)
    raise TypeError(f"expected an SOp or a constant (str, int, float, bool), "
                    f"got {type(x).__name__} {x!r}")


def _check_operand(other: Any, symbol: str) -> None:
    if isinstance(other, RASPExpr) or getattr(other, "rasp_side", False):
        raise TypeError(f"cannot combine an SOp with {type(other).__name__} {other!r} by "
                        f"{symbol}: only SOps and constants mix")


def _binary(op: Callable[[Any, Any], Any], symbol: str):
    def method(self, other):
        if isinstance(other, SOp):
            return SequenceMap(op, self, other)
        _check_operand(other, symbol)
        return Map(lambda x: op(x, other), self)
    method.__doc__ = f"``self {symbol} other`` as a Map (constant) or SequenceMap (SOp)."
    return method


def _rbinary(op: Callable[[Any, Any], Any], symbol: str):
    def method(self, other):
        _check_operand(other, symbol)
        return Map(lambda x: op(other, x), self)
    method.__doc__ = f"``other {symbol} self`` for a constant ``other``, as a Map."
    return method


class SOp(RASPExpr):
    """A sequence operation: one value per position (a slice of the residual stream)."""

    kind = "sop"

    __lt__ = _binary(lambda a, b: a < b, "<")
    __le__ = _binary(lambda a, b: a <= b, "<=")
    __gt__ = _binary(lambda a, b: a > b, ">")
    __ge__ = _binary(lambda a, b: a >= b, ">=")
    __eq__ = _binary(lambda a, b: a == b, "==")  # type: ignore[assignment]
    __ne__ = _binary(lambda a, b: a != b, "!=")  # type: ignore[assignment]
    __add__ = _binary(lambda a, b: a + b, "+")
    __sub__ = _binary(lambda a, b: a - b, "-")
    __mul__ = _binary(lambda a, b: a * b, "*")
    __truediv__ = _binary(lambda a, b: a / b, "/")
    __floordiv__ = _binary(lambda a, b: a // b, "//")
    __mod__ = _binary(lambda a, b: a % b, "%")
    __and__ = _binary(lambda a, b: a and b, "&")
    __or__ = _binary(lambda a, b: a or b, "|")
    __radd__ = _rbinary(lambda a, b: a + b, "+")
    __rsub__ = _rbinary(lambda a, b: a - b, "-")
    __rmul__ = _rbinary(lambda a, b: a * b, "*")
    __rtruediv__ = _rbinary(lambda a, b: a / b, "/")
    __rand__ = _rbinary(lambda a, b: a and b, "&")
    __ror__ = _rbinary(lambda a, b: a or b, "|")
    __hash__ = RASPExpr.__hash__

    def __invert__(self) -> SOp:
        """Logical not, as a Map."""
        return Map(lambda x: not x, self)

    def __neg__(self) -> SOp:
        """Arithmetic negation, as a Map."""
        return Map(lambda x: -x, self)

    def __bool__(self) -> bool:
        raise TypeError(f"{self.label}: an SOp has no truth value (use rasp.where or &, |, ~)")

    def map(self, f: Callable[[Any], Any]) -> SOp:
        """RASPy's ``sop.map(f)``."""
        return Map(f, self)

    def name(self, name: str) -> SOp:
        """RASPy's ``sop.name(str)``: same as ``named``."""
        return self.named(name)


@dataclass(frozen=True, eq=False, repr=False)
class TokensType(SOp):
    """The input tokens."""

    kind = "tokens"

    @functools.cached_property
    def label(self) -> str:
        """``tokens`` unless renamed."""
        return self.given_label or "tokens"


@dataclass(frozen=True, eq=False, repr=False)
class IndicesType(SOp):
    """The positions 0, 1, ..., n-1."""

    kind = "indices"

    @functools.cached_property
    def label(self) -> str:
        """``indices`` unless renamed."""
        return self.given_label or "indices"


tokens = TokensType()
indices = IndicesType()


@dataclass(frozen=True, eq=False, repr=False)
class Map(SOp):
    """``f`` applied elementwise; nested Maps fuse into one (tracr's ``simplify``): one MLP."""

    f: Callable[[Any], Any]
    inner: SOp
    simplify: bool = True
    kind = "map"

    def __post_init__(self) -> None:
        _check_fn(self.f, "Map")
        _check_sop(self.inner, "inner", "Map")
        if self.simplify and isinstance(self.inner, Map):
            outer, inner_f = self.f, self.inner.f
            object.__setattr__(self, "f", lambda x: outer(inner_f(x)))
            object.__setattr__(self, "inner", self.inner.inner)
        super().__post_init__()

    @property
    def children(self) -> tuple:
        """Direct dependencies, in argument order."""
        return (self.inner,)

    def _params(self) -> tuple:
        return (_token(self.f),)


@dataclass(frozen=True, eq=False, repr=False)
class SequenceMap(SOp):
    """``f(fst[i], snd[i])`` at every position: an MLP reading two SOps."""

    f: Callable[[Any, Any], Any]
    fst: SOp
    snd: SOp
    kind = "sequence_map"

    def __post_init__(self) -> None:
        _check_fn(self.f, type(self).__name__)
        _check_sop(self.fst, "fst", type(self).__name__)
        _check_sop(self.snd, "snd", type(self).__name__)
        super().__post_init__()

    @property
    def children(self) -> tuple:
        """Direct dependencies, in argument order."""
        return (self.fst, self.snd)

    def _params(self) -> tuple:
        return (_token(self.f),)


@dataclass(frozen=True, eq=False, repr=False, init=False)
class LinearSequenceMap(SequenceMap):
    """``fst_fac * fst + snd_fac * snd``: linear, so it needs no MLP when compiled numerically."""

    fst_fac: float = 1.0
    snd_fac: float = 1.0
    kind = "linear_sequence_map"

    def __init__(self, fst: SOp, snd: SOp, fst_fac: float, snd_fac: float, **kw: Any) -> None:
        for name, fac in (("fst_fac", fst_fac), ("snd_fac", snd_fac)):
            if isinstance(fac, bool) or not isinstance(fac, (int, float)):
                raise TypeError(f"LinearSequenceMap: {name} must be a number, got {fac!r}")
        object.__setattr__(self, "fst_fac", fst_fac)
        object.__setattr__(self, "snd_fac", snd_fac)
        object.__setattr__(self, "f", lambda x, y: fst_fac * x + snd_fac * y)
        object.__setattr__(self, "fst", fst)
        object.__setattr__(self, "snd", snd)
        object.__setattr__(self, "given_label", kw.pop("given_label", None))
        object.__setattr__(self, "given_annotations", kw.pop("given_annotations", ()))
        if kw:
            raise TypeError(f"LinearSequenceMap: unexpected arguments {sorted(kw)}")
        self.__post_init__()

    def _params(self) -> tuple:
        return (self.fst_fac, self.snd_fac)


@dataclass(frozen=True, eq=False, repr=False)
class Full(SOp):
    """The same value at every position."""

    fill: Any
    kind = "full"

    def _params(self) -> tuple:
        return (type(self.fill).__name__, repr(self.fill))


ConstantSOp = Full
