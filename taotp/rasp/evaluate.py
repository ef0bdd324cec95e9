"""Run a RASP program on one input: the oracle the compiler is tested against.

tracr's semantics exactly: ``None`` propagates through Maps; an Aggregate (mean) gives the
default where nothing is selected, the value itself where one key is, the mean where several
are; ``reduction="sum"`` (RASPy's ``.value``) adds (bools as 0/1; a single selected
non-number passes through, as in RASPy); ``causal=True`` ANDs every
selector with key <= query. Every failure names the node's label and the input position.

>>> from taotp import rasp
>>> rasp.evaluate(rasp.Map(lambda x: x + 1, rasp.tokens), [1, 2, 3])
[2, 3, 4]
>>> prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
>>> rasp.evaluate(rasp.numerical(rasp.Aggregate(prevs, rasp.tokens, default=0)), [1, 0, 2])
[1, 0.5, 1.0]
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Iterable

from taotp.rasp.expr import (
    Aggregate, Full, IndicesType, Map, RASPExpr, Select, Selector, SelectorAnd, SelectorNot,
    SelectorOr, SelectorWidth, SequenceMap, TokensType,
)
from taotp.rasp.graph import nodes


def _fail(node: RASPExpr, where: str, exc: Exception):
    """Re-raise ``exc`` as a ValueError/TypeError that names the node and the position."""
    cls = TypeError if isinstance(exc, TypeError) else ValueError
    return cls(f"{node.label} ({type(node).__name__}) failed {where}: "
               f"{type(exc).__name__}: {exc}")


def check_input(xs: Any, vocab: Iterable | None = None) -> list:
    """The input as a list, or a TypeError/ValueError saying what is wrong with it."""
    if hasattr(xs, "tolist") and getattr(xs, "ndim", 1) == 1:
        xs = xs.tolist()
    if isinstance(xs, (str, bytes)) and not isinstance(xs, str):
        raise TypeError(f"input must be a sequence of tokens, got bytes {xs!r}")
    if not isinstance(xs, Sequence):
        raise TypeError(f"input must be a sequence of tokens (list, tuple or str), "
                        f"got {type(xs).__name__} {xs!r}")
    xs = list(xs)
    for i, x in enumerate(xs):
        if x is None or isinstance(x, (list, dict, set)):
            raise TypeError(f"input position {i}: a token must be a str, int, float or bool, "
                            f"got {x!r}")
    if vocab is not None:
        allowed = set(vocab)
        for i, x in enumerate(xs):
            if x not in allowed:
                raise ValueError(f"input position {i}: token {x!r} is not in the vocabulary "
                                 f"{sorted(allowed, key=repr)}")
    return xs


def _select(node: Select, keys: list, queries: list) -> list:
    out = []
    for q, query in enumerate(queries):
        row = []
        for k, key in enumerate(keys):
            if key is None or query is None:
                raise ValueError(f"{node.label} (Select) compares None: key position {k} is "
                                 f"{key!r}, query position {q} is {query!r}")
            try:
                row.append(bool(node.predicate(key, query)))
            except Exception as exc:
                raise _fail(node, f"at key position {k} ({key!r}), query position {q} "
                                  f"({query!r})", exc) from exc
        out.append(row)
    return out


def _reduce(node: Aggregate, selected: list, q: int) -> Any:
    if not selected:
        return node.default
    one = len(selected) == 1
    if one and (node.reduction == "mean" or not isinstance(selected[0], (bool, int, float))):
        return selected[0]  # RASPy's sum passes a single str through, like tracr's mean
    numbers = [int(v) if isinstance(v, bool) else v for v in selected]
    if not all(isinstance(v, (int, float)) for v in numbers):
        raise ValueError(f"{node.label} (Aggregate) at query position {q}: can only "
                         f"{node.reduction} numbers (or one selected value), got {selected!r}")
    total = sum(numbers)
    return total if node.reduction == "sum" else total / len(numbers)


def _map(node: RASPExpr, args: list) -> list:
    out = []
    for i, xs in enumerate(zip(*args)):
        if any(x is None for x in xs):
            out.append(None)
            continue
        try:
            out.append(node.f(*xs))
        except Exception as exc:
            shown = ", ".join(repr(x) for x in xs)
            raise _fail(node, f"at position {i} on ({shown})", exc) from exc
    return out


def evaluate(program: RASPExpr, xs: Any, causal: bool = False,
             vocab: Iterable | None = None) -> list:
    """Values of ``program`` on input ``xs``: a list for an SOp, rows per query for a selector.

    ``vocab`` (optional) declares the allowed tokens; others are refused with their position.
    """
    if not isinstance(program, RASPExpr):
        raise TypeError(f"evaluate needs a RASP expression, got {type(program).__name__}")
    xs = check_input(xs, vocab)
    return evaluate_all(program, xs, causal)[program.label]


def evaluate_all(program: RASPExpr, xs: list, causal: bool = False) -> dict:
    """Every node's value, keyed by label (what pictures and traces show)."""
    n = len(xs)
    values: dict[str, Any] = {}
    for node in nodes(program):
        get = [values[c.label] for c in node.children]
        if isinstance(node, TokensType):
            value: Any = list(xs)
        elif isinstance(node, IndicesType):
            value = list(range(n))
        elif isinstance(node, Full):
            value = [node.fill] * n
        elif isinstance(node, (Map, SequenceMap)):
            value = _map(node, get)
        elif isinstance(node, Select):
            value = _select(node, *get)
        elif isinstance(node, SelectorOr):
            value = [[a or b for a, b in zip(r, s)] for r, s in zip(*get)]
        elif isinstance(node, SelectorAnd):
            value = [[a and b for a, b in zip(r, s)] for r, s in zip(*get)]
        elif isinstance(node, SelectorNot):
            value = [[not a for a in r] for r in get[0]]
        elif isinstance(node, SelectorWidth):
            value = [sum(row) for row in get[0]]
        elif isinstance(node, Aggregate):
            rows, vals = get
            value = [_reduce(node, [v for v, s in zip(vals, row) if s], q)
                     for q, row in enumerate(rows)]
        else:
            raise TypeError(f"{node.label}: cannot evaluate a {type(node).__name__}")
        if causal and isinstance(node, Selector):
            value = [[s and k <= q for k, s in enumerate(row)] for q, row in enumerate(value)]
        values[node.label] = value
    return values
