"""The RASP core: nodes are immutable and labelled, evaluate follows tracr's semantics."""
from __future__ import annotations

import itertools

import pytest

from taotp import rasp
from taotp.rasp import Comparison

LENGTH = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, Comparison.TRUE))


def test_labels_are_stable_unique_and_renamable():
    a = rasp.Map(abs, rasp.tokens)
    assert a.label == rasp.Map(abs, rasp.tokens).label  # same computation, same label
    assert a.label != rasp.Map(abs, rasp.indices).label
    assert a.named("abs").label == "abs" and a.label != "abs"
    assert rasp.tokens.label == "tokens" and rasp.indices.label == "indices"
    assert rasp.Full(1).label != rasp.Full(1.0).label != rasp.Full("1").label
    assert len({a, a.named("abs"), rasp.tokens}) == 3  # hashable


def test_nodes_are_immutable():
    m = rasp.Map(abs, rasp.tokens)
    with pytest.raises(AttributeError):
        m.inner = rasp.indices


def test_fields_follow_tracr():
    m = rasp.Map(abs, rasp.tokens)
    s = rasp.Select(rasp.tokens, rasp.indices, Comparison.LT)
    agg = rasp.Aggregate(s, m, default=0)
    assert (m.f, m.inner, m.children) == (abs, rasp.tokens, (rasp.tokens,))
    assert (s.keys, s.queries, s.predicate) == (rasp.tokens, rasp.indices, Comparison.LT)
    assert (agg.selector, agg.sop, agg.default, agg.reduction) == (s, m, 0, "mean")
    lsm = rasp.LinearSequenceMap(rasp.tokens, rasp.indices, 2, -1)
    assert (lsm.fst, lsm.snd, lsm.fst_fac, lsm.snd_fac) == (rasp.tokens, rasp.indices, 2, -1)
    assert rasp.evaluate(lsm, [5, 5, 5]) == [10, 9, 8]
    assert rasp.ConstantSOp is rasp.Full and rasp.Full(7).fill == 7
    assert rasp.SelectorNot(s).inner is s and rasp.SelectorAnd(s, s).fst is s


def test_map_fuses_like_tracr_unless_told_not_to():
    inner = rasp.Map(lambda x: x + 1, rasp.tokens)
    fused = rasp.Map(lambda x: 2 * x, inner)
    assert fused.inner is rasp.tokens and fused([1, 2]) == [4, 6]
    kept = rasp.Map(lambda x: 2 * x, inner, simplify=False)
    assert kept.inner is inner and kept([1, 2]) == [4, 6]


def test_annotations_default_categorical_and_copy():
    x = rasp.Map(abs, rasp.tokens).named("x")
    n = rasp.numerical(x)
    assert rasp.is_categorical(x) and rasp.is_numerical(n) and n.label == "x"
    assert x.annotations["encoding"] == "categorical" and rasp.get_encoding(n) == "numerical"
    assert rasp.numerical(rasp.Map(abs, rasp.tokens)).label != rasp.Map(abs, rasp.tokens).label


def test_comparison_is_key_against_query():
    lt = rasp.Select(rasp.indices, rasp.indices, Comparison.LT)
    assert lt([0, 0, 0]) == [[False, False, False], [True, False, False], [True, True, False]]
    expected = {"EQ": [[True, False], [False, True]], "LT": [[False, False], [True, False]],
                "LEQ": [[True, False], [True, True]], "GT": [[False, True], [False, False]],
                "GEQ": [[True, True], [False, True]], "NEQ": [[False, True], [True, False]],
                "TRUE": [[True, True], [True, True]], "FALSE": [[False, False], [False, False]]}
    for c in Comparison:
        assert rasp.Select(rasp.indices, rasp.indices, c)("ab") == expected[c.name], c


def test_aggregate_mean_semantics():
    sel = rasp.Select(rasp.tokens, rasp.tokens, Comparison.EQ)
    assert rasp.Aggregate(sel, rasp.indices)([7, 8, 7]) == [1.0, 1, 1.0]
    none = rasp.Select(rasp.tokens, rasp.tokens, Comparison.FALSE)
    assert rasp.Aggregate(none, rasp.tokens)("ab") == [None, None]
    assert rasp.Aggregate(none, rasp.tokens, default=0)("ab") == [0, 0]
    one = rasp.Select(rasp.indices, rasp.indices, Comparison.EQ)
    assert rasp.Aggregate(one, rasp.tokens)("ab") == ["a", "b"]  # one selected: unchanged


def test_sum_aggregation_counts_bools():
    prevs = rasp.Select(rasp.indices, rasp.indices, Comparison.LEQ)
    is_a = rasp.tokens == "a"
    assert rasp.Aggregate(prevs, is_a, default=0, reduction="sum")("abaa") == [1, 1, 2, 3]
    assert prevs.value(is_a)("abaa") == [1, 1, 2, 3]


def test_none_propagates_through_maps():
    shifted = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices - 1, Comparison.EQ),
                             rasp.tokens)
    assert shifted([1, 2, 3]) == [None, 1, 2]
    assert (shifted + 1)([1, 2, 3]) == [None, 2, 3]
    assert rasp.SequenceMap(lambda a, b: a + b, shifted, rasp.tokens)([1, 2, 3]) == [None, 3, 5]


def test_causal_ands_every_selector_with_key_before_query():
    everything = rasp.Select(rasp.tokens, rasp.tokens, Comparison.TRUE)
    assert rasp.SelectorWidth(everything)("abc", causal=True) == [1, 2, 3]
    assert rasp.evaluate(rasp.SelectorWidth(~everything), "abc", causal=True) == [0, 0, 0]
    assert rasp.evaluate(everything, "ab", causal=True) == [[True, False], [True, True]]


def test_selector_combinations_against_brute_force():
    a = rasp.Select(rasp.tokens, rasp.tokens, Comparison.LT)
    b = rasp.Select(rasp.indices, rasp.indices, Comparison.GEQ)
    for xs in itertools.product(range(3), repeat=3):
        va, vb = a(xs), b(xs)
        for sel, op in ((a & b, lambda p, q: p and q), (a | b, lambda p, q: p or q)):
            assert sel(xs) == [[op(p, q) for p, q in zip(r, s)] for r, s in zip(va, vb)]
        assert (~a)(xs) == [[not p for p in r] for r in va]


def test_nodes_topological_and_deduplicated():
    x = rasp.Map(abs, rasp.tokens)
    y = rasp.SequenceMap(lambda p, q: p + q, x, x)
    order = rasp.nodes(y)
    assert [n.label for n in order] == ["tokens", x.label, y.label]
    position = {n.label: i for i, n in enumerate(rasp.nodes(LENGTH))}
    for n in rasp.nodes(LENGTH):
        assert all(position[c.label] < position[n.label] for c in n.children)


def test_nodes_refuses_two_different_nodes_with_one_label():
    p = rasp.SequenceMap(lambda a, b: a + b, rasp.Map(abs, rasp.tokens).named("x"),
                         rasp.Map(str, rasp.tokens).named("x"))
    with pytest.raises(ValueError, match="'x'"):
        rasp.nodes(p)


def test_layers_counts_attention_depth():
    assert rasp.layers(LENGTH) == rasp.Layers(1, (1,))
    assert rasp.layers(rasp.tokens + 1) == rasp.Layers(0, ())


def test_or_is_not_a_kind_of_and():
    s = rasp.Select(rasp.tokens, rasp.tokens, Comparison.EQ)
    assert not isinstance(s | s, rasp.SelectorAnd) and not isinstance(s & s, rasp.SelectorOr)
    assert (s | s).fst is s and (s & s).snd is s


def test_deep_programs_need_no_deep_recursion():
    x = rasp.tokens
    for _ in range(5000):
        x = rasp.Map(lambda v: v + 1, x, simplify=False)
    assert len(rasp.nodes(x)) == 5001 and x([0, 1]) == [5000, 5001]
    assert rasp.layers(x) == rasp.Layers(0, ())
