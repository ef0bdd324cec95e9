"""RASP, the language of "Thinking Like Transformers", with tracr's and RASPy's spellings.

One import serves both dialects: tracr's node classes (``Map``, ``Select``, ``Aggregate`` ...)
and RASPy's sugar on the same objects. Programs are immutable graphs; ``evaluate`` runs them.

>>> from taotp import rasp
>>> same = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
>>> rasp.SelectorWidth(same)("hello")
[1, 1, 2, 2, 1]
"""
from __future__ import annotations

from taotp.rasp.compiled import CompiledProgram
from taotp.rasp.compiler import compile  # noqa: A004 - rasp.compile
from taotp.rasp.annotations import (
    categorical, get_encoding, is_categorical, is_numerical, numerical,
)
from taotp.rasp.draw import draw
from taotp.rasp.evaluate import check_input, evaluate, evaluate_all
from taotp.rasp.expr import (
    CATEGORICAL, NUMERICAL, Aggregate, Comparison, ConstantSOp, Full, IndicesType,
    LinearSequenceMap, Map, RASPExpr, Select, Selector, SelectorAnd, SelectorNot, SelectorOr,
    SelectorWidth, SequenceMap, SOp, TokensType, indices, tokens,
)
from taotp.rasp.graph import Layers, attention_layer, is_attention, layers, nodes
from taotp.rasp.sugar import Key, Query, key, lift, query, where

__all__ = [
    "Aggregate", "CATEGORICAL", "Comparison", "CompiledProgram", "ConstantSOp", "Full",
    "IndicesType", "Key",
    "Layers", "LinearSequenceMap", "Map", "NUMERICAL", "Query", "RASPExpr", "SOp", "Select",
    "Selector", "SelectorAnd", "SelectorNot", "SelectorOr", "SelectorWidth", "SequenceMap",
    "TokensType", "attention_layer", "categorical", "check_input", "compile", "draw", "evaluate",
    "evaluate_all", "get_encoding", "indices", "is_attention", "is_categorical", "is_numerical",
    "key", "layers", "lift", "nodes", "numerical", "query", "tokens", "where",
]
