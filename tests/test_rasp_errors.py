"""RASP's errors: clear ValueError/TypeError naming the node (label) and the input position."""
from __future__ import annotations

import pytest

from taotp import rasp
from taotp.rasp import Comparison, indices, key, query, tokens


def test_mixing_types_names_the_node_and_position():
    program = (tokens + 1).named("plus_one")
    with pytest.raises(TypeError, match=r"plus_one .*position 0 .*'a'"):
        program("ab")


def test_a_raising_map_names_the_node_and_position():
    program = rasp.Map(lambda x: 1 / x, tokens).named("inverse")
    with pytest.raises(ValueError, match=r"inverse .*position 1 .*ZeroDivisionError"):
        program([1, 0])


def test_token_outside_the_declared_vocabulary():
    with pytest.raises(ValueError, match=r"position 2: token 'z' is not in the vocabulary"):
        rasp.evaluate(tokens, "abz", vocab="ab")
    assert rasp.evaluate(tokens, "aba", vocab="ab") == ["a", "b", "a"]
    with pytest.raises(ValueError, match=r"position 0: token 3"):
        (tokens + 1).input([3], vocab=[1, 2])


@pytest.mark.parametrize("bad", [5, None, {"a": 1}, {1, 2}, 2.5, b"ab"])
def test_non_sequence_input_is_a_type_error(bad):
    with pytest.raises(TypeError, match="input must be a sequence"):
        rasp.evaluate(tokens, bad)


def test_non_token_elements_are_refused_with_their_position():
    with pytest.raises(TypeError, match="input position 1"):
        rasp.evaluate(tokens, ["a", None])
    with pytest.raises(TypeError, match="input position 0"):
        rasp.evaluate(tokens, [[1, 2]])


def test_mean_of_several_strings_names_the_aggregate_and_query():
    program = rasp.Aggregate(rasp.Select(tokens, tokens, Comparison.TRUE), tokens).named("avg")
    with pytest.raises(ValueError, match=r"avg .*query position 0.*\['a', 'b'\]"):
        program("ab")


def test_select_comparing_incomparable_values():
    program = rasp.Select(tokens, indices, Comparison.LT).named("mixed")
    with pytest.raises(TypeError, match=r"mixed .*key position 0 \('a'\), query position 0"):
        program("ab")


def test_select_on_none_names_the_positions():
    shifted = rasp.Aggregate(rasp.Select(indices, indices - 1, Comparison.EQ), tokens)
    program = rasp.Select(shifted, shifted, Comparison.EQ).named("on_shifted")
    with pytest.raises(ValueError, match=r"on_shifted .*compares None"):
        program("ab")


def test_building_wrong_nodes_is_refused_at_once():
    with pytest.raises(TypeError, match="Map: f must be a plain function"):
        rasp.Map(tokens, tokens)
    with pytest.raises(TypeError, match="Map: inner must be an SOp"):
        rasp.Map(abs, [1, 2])
    with pytest.raises(TypeError, match="Select: queries must be an SOp"):
        rasp.Select(tokens, "a", Comparison.EQ)
    with pytest.raises(TypeError, match="Aggregate: selector must be a Selector"):
        rasp.Aggregate(tokens, tokens)
    with pytest.raises(TypeError, match="Aggregate: default"):
        rasp.Aggregate(rasp.Select(tokens, tokens, Comparison.EQ), tokens, default=[0])
    with pytest.raises(ValueError, match="reduction must be one of"):
        rasp.Aggregate(rasp.Select(tokens, tokens, Comparison.EQ), tokens, reduction="max")
    with pytest.raises(TypeError, match="fst_fac must be a number"):
        rasp.LinearSequenceMap(tokens, indices, "1", 1)
    with pytest.raises(TypeError, match="SelectorAnd: snd must be a Selector"):
        rasp.Select(tokens, tokens, Comparison.EQ) & tokens
    with pytest.raises(TypeError, match="a key compares with a query"):
        key(tokens) == 3
    with pytest.raises(TypeError, match="numerical applies to SOps only"):
        rasp.numerical(rasp.Select(tokens, tokens, Comparison.EQ))
    with pytest.raises(TypeError, match="a label must be a non-empty str"):
        tokens.named("")
    with pytest.raises(TypeError, match="expected an SOp or a constant"):
        query([1, 2])


def test_an_sop_has_no_truth_value():
    with pytest.raises(TypeError, match="no truth value"):
        bool(tokens == "a")


def test_evaluate_needs_a_program():
    with pytest.raises(TypeError, match="evaluate needs a RASP expression"):
        rasp.evaluate(lambda x: x, "ab")


def test_an_sop_does_not_swallow_a_selector_or_a_key_as_a_constant():
    sel = rasp.Select(tokens, tokens, Comparison.EQ)
    with pytest.raises(TypeError, match="only SOps and constants mix"):
        tokens & sel
    with pytest.raises(TypeError, match="only SOps and constants mix"):
        tokens + key(indices)
    with pytest.raises(TypeError, match="only SOps and constants mix"):
        query(indices) + tokens
