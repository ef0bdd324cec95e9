"""RASP's nodes in one namespace: immutable, hashable expressions that form a program graph.

tracr's names and fields, so a tracr program ports by changing its import. Every node has a
``label`` that is unique per distinct node without any global counter: an explicit
``.named(name)``, else the node kind plus a digest of what the node computes (its children's
labels, its function's identity, its parameters, its annotations). The base is in
``node.py``, the SOps in ``sop.py``, the selectors and attention ops in ``selector.py``.

>>> from taotp.rasp.expr import tokens, indices, Map, Select, Comparison, Aggregate
>>> flip = Aggregate(Select(indices, Map(lambda i: 2 - i, indices), Comparison.EQ), tokens)
>>> [type(c).__name__ for c in flip.children]
['Select', 'TokensType']
"""
from __future__ import annotations

from taotp.rasp.node import CATEGORICAL, NUMERICAL, RASPExpr
from taotp.rasp.selector import (
    REDUCTIONS, Aggregate, Comparison, Select, Selector, SelectorAnd, SelectorNot, SelectorOr,
    SelectorWidth,
)
from taotp.rasp.sop import (
    ConstantSOp, Full, IndicesType, LinearSequenceMap, Map, SequenceMap, SOp, TokensType,
    indices, lift, tokens,
)

__all__ = [
    "Aggregate", "CATEGORICAL", "Comparison", "ConstantSOp", "Full", "IndicesType",
    "LinearSequenceMap", "Map", "NUMERICAL", "REDUCTIONS", "RASPExpr", "SOp", "Select",
    "Selector", "SelectorAnd", "SelectorNot", "SelectorOr", "SelectorWidth", "SequenceMap",
    "TokensType", "indices", "lift", "tokens",
]
