"""The compiler's plain objects: a Var per SOp, and the three kinds of operation.

``lower`` produces them, ``allocate`` places them, ``emit`` turns them into weights; print a
list of them to see what a program will compile to. ``new_var`` and ``table_var`` make a Var
from a value set, checked.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from taotp.rasp.scores import circle_fits, circle_point, matching, select_dims

MAX_VALUES = 20_000  # a value set larger than this is refused (its MLP would be huge)


@dataclass(frozen=True)
class Var:
    """An SOp in the residual: one-hot over ``values`` + None, or a balanced number.

    A number ``x`` is stored as ``[x, sqrt(B^2 - x^2)]`` (``B`` its bound); ``scaled`` as
    ``[x / B, sqrt(1 - (x / B)^2)]`` (positions: norm 1 however long the input); with
    ``squares`` as ``[x / B, (x / B)^2, sqrt(2 - (x / B)^2 - (x / B)^4)]``, which is what a
    head matching it by quadratic maximisation reads (``recipes.match_scores``). A
    ``constant`` Var (True everywhere, None at BOS) is read from the BOS flags: no dims. A
    ``circle`` Var (only compared for equality, or the output a copy head writes) stores
    value ``i`` of ``m`` as the point of the unit circle at angle ``2 pi i / m``
    (``recipes.circle_scores``, :meth:`point`): two dims."""
    label: str
    numerical: bool
    values: tuple
    bos: Any = None
    squares: bool = False
    scaled: bool = False
    constant: bool = False
    circle: bool = False
    circle_none: bool = False  # the output's circle: None (no value there) is a point too

    @property
    def width(self) -> int:
        """Residual dimensions: one per value plus None, or the number (its square) and partner."""
        if self.constant:
            return 0
        if self.circle:
            return 2
        if self.numerical:
            return 3 if self.squares else 2
        return len(self.values) + 1

    @property
    def bound(self) -> float:
        """``B``: the largest magnitude of a numerical value (1 if all are 0)."""
        return max((abs(float(v)) for v in self.values), default=0.0) or 1.0

    @property
    def squared_norm(self) -> float:
        """What the Var adds to the residual's squared norm, the same at every position."""
        if self.constant:
            return 0.0
        if self.numerical:
            return 2.0 if self.squares else 1.0 if self.scaled else self.bound ** 2
        return 1.0

    @property
    def unit(self) -> float:
        """What the first stored coordinate of a number is multiplied by to give it."""
        return self.bound if self.squares or self.scaled else 1.0

    @property
    def circle_size(self) -> int:
        """``m``, the points of a ``circle`` Var: its values, and None on the output's."""
        return len(self.domain()) if self.circle_none else len(self.values)

    def point(self, value) -> tuple:
        """A ``circle`` Var's point for ``value``: the ``i``-th of ``m`` at angle
        ``2 pi i / m``. On the output's circle (``circle_none``) None is a point of its own;
        elsewhere it shares the first value's (no head reads the BOS position's value)."""
        points = self.domain() if self.circle_none else self.values
        if value is None and not self.circle_none:
            value = self.values[0]
        return tuple(circle_point(points.index(value), self.circle_size).tolist())

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
    """An MLP: ``table`` maps every tuple of input values to the output value.

    With ``weights`` (numerical inputs only) the output depends on ``t = sum w_i x_i`` alone
    and ``table`` maps ``(t,)`` to it: a staircase over t, not a unit per tuple."""
    out: Var
    inputs: tuple
    table: tuple  # ((input values...), output value)
    weights: tuple = ()


@dataclass(frozen=True)
class Term:
    """One part of a head's selection: ``pattern[q][k]`` over one-hot ``queries``/``keys``,
    or, with ``shift`` set, ``key == query + shift`` over integer numbers stored with their
    squares (quadratic maximisation: the width does not grow with the number of values)."""
    keys: Var
    queries: Var
    pattern: tuple = ()
    shift: int | None = None

    @cached_property
    def columns(self) -> int:
        """Head dimensions the term's score needs."""
        if self.shift is not None:
            return 3
        if self.circle:  # (its constant shares the head's sink dimension)
            return 2
        return select_dims(self.pattern)

    @cached_property
    def matched(self) -> tuple | None:
        """``scores.matching`` of a one-hot pattern that is cheaper scored on a circle (two
        dims, where one-hots need more), with few enough points (``scores.circle_fits``)."""
        if self.shift is not None or self.keys.circle or not self.pattern:
            return None
        pattern = np.array(self.pattern, dtype=bool).reshape(len(self.queries.values),
                                                             len(self.keys.values))
        found = matching(pattern)
        if found is None or select_dims(pattern) <= 2 or not circle_fits(found[2]):
            return None
        return found

    @property
    def circle(self) -> bool:
        """Scored on a circle (``recipes.circle_scores``): stored there, or a matching."""
        return self.keys.circle or self.matched is not None

    @property
    def circle_size(self) -> int:
        """The points of the term's circle."""
        return self.keys.circle_size if self.keys.circle else self.matched[2]


@dataclass(frozen=True)
class Attend:
    """One head: a key is selected when every one of ``terms`` selects it.

    ``kind`` is copy (categorical aggregate, written directly), mean, sum or width (written
    to scratch, then turned into ``out`` by a cleanup MLP using ``points``:
    ``((y...), output value)``). A ``direct`` head (the program's output, one scratch
    column) has no cleanup: the unembedding reads its scratch (``compiler.decoded``)."""
    out: Var
    kind: str
    terms: tuple
    values: Var | None = None
    default: Any = None
    points: tuple = ()
    direct: bool = False  # the program's output, decoded from scratch by the unembedding

    @property
    def selects_all(self) -> bool:
        """A mean or copy over every key but BOS (each term a constant): its score needs no
        dimension of its own, the BOS sink's carries it (``emit.head``)."""
        return self.kind in ("copy", "mean") and all(
            t.keys.constant and t.pattern == ((True,),) for t in self.terms)

    def score_dims(self) -> int:
        """Head dimensions of the scores: each term's, plus the BOS sink's."""
        return 1 if self.selects_all else sum(t.columns for t in self.terms) + 1

    def reads(self) -> list:
        """The Vars the head reads."""
        found = [v for t in self.terms for v in (t.keys, t.queries)] + [self.values]
        return [v for i, v in enumerate(found) if v is not None and v not in found[:i]]


def table_var(node, label: str, numerical: bool, table: list, bos, wish=None) -> tuple:
    """The Var of a table's outputs and the table (a numerical None becomes the BOS value);
    a ``wish`` (``taotp.rasp.positions``) stores a numerical output scaled or with squares."""
    values = {out for _, out in table if out is not None}
    if numerical:
        bos = bos if bos is not None else (min(values, key=float) if values else 0)
        values.add(bos)
        table = [(x, bos if out is None else out) for x, out in table]
    return new_var(node, numerical, values, bos, label, squares=numerical and wish == "squares",
                scaled=numerical and wish is not None), tuple(table)


def new_var(node, numerical: bool, values, bos, label: str | None = None,
         squares: bool = False, scaled: bool = False) -> Var:
    """The Var of ``node`` holding ``values`` (checked: finite numbers, or hashable values),
    slots in a fixed order (``_order``)."""
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
    return Var(label, numerical, ordered, bos, squares, scaled)


def _order(value) -> tuple:
    """Numbers in numerical order first (slots then follow the values), then the rest."""
    if isinstance(value, (int, float)):
        return (0, float(value), type(value).__name__, "")
    return (1, 0.0, type(value).__name__, repr(value))
