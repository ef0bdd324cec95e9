"""Encodings: how an SOp will sit in the residual stream once compiled (tracr's annotations).

Categorical (the default) is one dimension per value; numerical is one dimension holding the
number. Evaluation ignores encodings; the compiler reads them.

>>> from taotp import rasp
>>> x = rasp.numerical(rasp.tokens == "a")
>>> rasp.get_encoding(x), rasp.is_numerical(x), rasp.is_categorical(rasp.tokens)
('numerical', True, True)
"""
from __future__ import annotations

from typing import TypeVar

from taotp.rasp.expr import CATEGORICAL, NUMERICAL, SOp

S = TypeVar("S", bound=SOp)


def _sop(x: object, what: str) -> SOp:
    if not isinstance(x, SOp):
        raise TypeError(f"{what} applies to SOps only, got {type(x).__name__} {x!r}")
    return x


def numerical(sop: S) -> S:
    """A copy of ``sop`` encoded as one number per position."""
    return _sop(sop, "numerical").annotated(encoding=NUMERICAL)


def categorical(sop: S) -> S:
    """A copy of ``sop`` encoded one-hot (one dimension per value)."""
    return _sop(sop, "categorical").annotated(encoding=CATEGORICAL)


def get_encoding(sop: SOp) -> str:
    """``"categorical"`` or ``"numerical"``."""
    return _sop(sop, "get_encoding").annotations["encoding"]


def is_numerical(sop: SOp) -> bool:
    """Whether ``sop`` is numerically encoded."""
    return get_encoding(sop) == NUMERICAL


def is_categorical(sop: SOp) -> bool:
    """Whether ``sop`` is categorically encoded (the default)."""
    return get_encoding(sop) == CATEGORICAL
