"""The compiler's plain objects: a Var per SOp, and the three kinds of operation.

``lower`` produces them, ``allocate`` places them, ``emit`` turns them into weights; print a
list of them to see what a program will compile to.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Var:
    """An SOp in the residual: one-hot over ``values`` + None, or a balanced number."""
    label: str
    numerical: bool
    values: tuple
    bos: Any = None

    @property
    def width(self) -> int:
        """Residual dimensions: one per value plus None, or the number and its partner."""
        return 2 if self.numerical else len(self.values) + 1

    @property
    def bound(self) -> float:
        """``B``: numerical values are stored as ``[x, sqrt(B^2 - x^2)]``."""
        return max((abs(float(v)) for v in self.values), default=0.0) or 1.0

    @property
    def squared_norm(self) -> float:
        """What the Var adds to the residual's squared norm, the same at every position."""
        return self.bound ** 2 if self.numerical else 1.0

    def slot(self, value) -> int:
        """The one-hot slot of a categorical value (None is the last slot)."""
        return len(self.values) if value is None else self.values.index(value)

    def code(self, value) -> float:
        """The single number an MLP reads: the slot, or the value itself."""
        return float(value) if self.numerical else float(self.slot(value))

    def domain(self) -> tuple:
        """Every value the Var can hold, BOS included."""
        return self.values if self.numerical else self.values + (None,)


@dataclass(frozen=True)
class Embed:
    """A Var written by the embeddings: ``source`` is tokens, indices or full. A Map of
    them alone is an Embed too: ``table`` pairs each token (index; ``None`` for full) with
    its value, so it costs no MLP."""
    out: Var
    source: str
    fill: Any = None
    table: tuple = ()

    def value(self, x):
        """What the Embed holds at a position whose token (or index) is ``x``."""
        if self.table:
            return dict(self.table)[None if self.source == "full" else x]
        return self.fill if self.source == "full" else x


@dataclass(frozen=True)
class Lookup:
    """An MLP: ``table`` maps every tuple of input values to the output value."""
    out: Var
    inputs: tuple
    table: tuple  # ((input values...), output value)


@dataclass(frozen=True)
class Attend:
    """One head: keys/queries categorical Vars, ``pattern[q][k]`` their selection matrix.

    ``kind`` is copy (categorical aggregate, written directly), mean, sum or width (written
    to scratch, then turned into ``out`` by a cleanup MLP using ``points``:
    ``((y...), output value)``)."""
    out: Var
    kind: str
    keys: Var
    queries: Var
    pattern: tuple
    values: Var | None = None
    default: Any = None
    points: tuple = ()
