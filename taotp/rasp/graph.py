"""Analyses over a RASP program's graph: pure functions, the nodes are never changed.

>>> from taotp import rasp
>>> length = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE))
>>> flip = rasp.Aggregate(rasp.Select(rasp.indices, length - rasp.indices - 1,
...                                   rasp.Comparison.EQ), rasp.tokens)
>>> [type(n).__name__ for n in rasp.nodes(flip)]  # doctest: +NORMALIZE_WHITESPACE
['IndicesType', 'TokensType', 'Select', 'SelectorWidth', 'SequenceMap', 'Map', 'Select',
 'Aggregate']
>>> rasp.layers(flip)
Layers(depth=2, heads=(1, 1))
"""
from __future__ import annotations

from dataclasses import dataclass

from taotp.rasp.expr import Aggregate, RASPExpr, SelectorWidth


def nodes(program: RASPExpr) -> list:
    """Every node once, children before parents (argument order), deduplicated by label.

    Two different nodes that share a label (e.g. both ``.named("x")``) are refused: the
    compiler and the pictures identify nodes by label.
    """
    if not isinstance(program, RASPExpr):
        raise TypeError(f"expected a RASP expression, got {type(program).__name__} {program!r}")
    seen: dict[str, RASPExpr] = {}
    order: list = []
    stack = [(program, False)]
    while stack:
        node, expanded = stack.pop()
        label = node.label
        if label in seen:
            other = seen[label]
            if other is not node and other.content() != node.content():
                raise ValueError(f"two different nodes are both labelled {label!r} "
                                 f"({type(other).__name__} and {type(node).__name__}); "
                                 f"give them different names with .named()")
            if not expanded:
                continue
        if expanded:
            order.append(node)
            continue
        seen[label] = node
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(node.children))
    return order


def is_attention(node: RASPExpr) -> bool:
    """Aggregate and SelectorWidth are the ops that need an attention layer."""
    return isinstance(node, (Aggregate, SelectorWidth))


@dataclass(frozen=True)
class Layers:
    """RASP's cost: attention depth and the number of heads (attention ops) in each layer."""

    depth: int
    heads: tuple


def attention_layer(program: RASPExpr) -> dict:
    """Label -> the attention layer that computes it (0 = before any attention), ASAP."""
    layer: dict[str, int] = {}
    for node in nodes(program):
        below = max((layer[c.label] for c in node.children), default=0)
        layer[node.label] = below + 1 if is_attention(node) else below
    return layer


def layers(program: RASPExpr) -> Layers:
    """Depth and heads per layer as the RASP paper counts them: each op as early as possible,
    Maps free, every Aggregate or SelectorWidth one head."""
    layer = attention_layer(program)
    depth = max(layer.values(), default=0)
    heads = [0] * depth
    for node in nodes(program):
        if is_attention(node):
            heads[layer[node.label] - 1] += 1
    return Layers(depth, tuple(heads))


def consumers(program: RASPExpr) -> dict:
    """``label -> [nodes reading it]`` over the graph of ``program``."""
    readers: dict = {}
    for node in nodes(program):
        for child in node.children:
            readers.setdefault(child.label, []).append(node)
    return readers
