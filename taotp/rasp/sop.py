"""RASP's nodes, part 1: the SOps (one value per position), on the base in ``node.py``.

>>> from taotp.rasp.sop import tokens, Map
>>> m = Map(lambda x: x + 1, tokens)
>>> m.label.startswith("map_"), m.named("plus_one").label, m.children == (tokens,)
(True, 'plus_one', True)
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

from taotp.rasp.node import CATEGORICAL, RASPExpr, _check_fn, _token


def _check_sop(x: Any, role: str, owner: str) -> None:
    if not isinstance(x, SOp):
        raise TypeError(f"{owner}: {role} must be an SOp, got {type(x).__name__} {x!r}")


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
    default_encoding = CATEGORICAL

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
