"""Means over one selector compiled together (``taotp.rasp.joint``)."""
from __future__ import annotations

import numpy as np
import pytest

from constructions.rasp_lib import tracr_lib as lib
from taotp import rasp
from tests.test_rasp_compile import check_exhaustive

BRACKETS = set("()a")


def heads(compiled) -> int:
    return compiled.report().count(": head ")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [False, True])
def test_a_difference_of_two_means_over_one_selector_is_one_head(dtype, causal):
    balance = lib.make_pair_balance(rasp.tokens, "(", ")")
    compiled = check_exhaustive(balance, BRACKETS, 6, causal=causal, dtype=dtype)
    assert heads(compiled) == 1 and "mlp" not in compiled.report()


def test_a_reader_that_tells_two_floats_of_one_mean_apart_keeps_two_heads():
    # 3/5 - 2/5 is 0.19999999999999996 and 1/5 - 0 is 0.2: one exact mean, two floats,
    # which this Map tells apart; so the two means stay separate heads
    balance = lib.make_pair_balance(rasp.tokens, "(", ")")
    exactly_a_fifth = rasp.Map(lambda b: b == 0.2, balance)
    assert rasp.evaluate(exactly_a_fifth, list("((())"))[-1] is False
    assert rasp.evaluate(exactly_a_fifth, list("(aaaa"))[-1] is True
    compiled = check_exhaustive(exactly_a_fifth, BRACKETS, 6)
    assert heads(compiled) == 2


def test_sign_tests_of_a_balance_read_one_head():
    # shuffle_dyck's readers (< 0, == 0) give every float of one mean the same answer
    program = lib.make_shuffle_dyck(["()"])
    compiled = check_exhaustive(program, BRACKETS, 6)
    assert "balance_(): mean" in compiled.report() and "opens_()" not in compiled.report()


def test_means_over_different_selectors_are_left_alone():
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    before = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LT)
    ones = rasp.numerical(rasp.Map(lambda t: 1 if t == "(" else 0, rasp.tokens))
    x = rasp.numerical(rasp.Aggregate(prevs, ones, default=0))
    y = rasp.numerical(rasp.Aggregate(before, ones, default=0))
    program = rasp.numerical(rasp.LinearSequenceMap(x, y, 1, -1))
    assert heads(check_exhaustive(program, BRACKETS, 5)) == 2


def test_a_mean_without_a_default_combines_where_the_evaluator_has_a_value():
    before = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LT)  # none at 0
    ones = rasp.numerical(rasp.Map(lambda t: 1 if t == "(" else 0, rasp.tokens))
    twos = rasp.numerical(rasp.Map(lambda t: 2 if t == ")" else 0, rasp.tokens))
    x = rasp.numerical(rasp.Aggregate(before, ones))  # None at position 0
    y = rasp.numerical(rasp.Aggregate(before, twos, default=1))
    program = rasp.numerical(rasp.LinearSequenceMap(x, y, 3, 0.5))
    assert heads(check_exhaustive(program, BRACKETS, 5)) == 1


def test_two_constant_means_from_different_sources_compile():
    # found by hypothesis: a one-point table crashed the projection search with numpy's
    # "zero-size array" error instead of compiling
    sel = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
    one = lambda _: 1  # noqa: E731
    x = rasp.numerical(rasp.Aggregate(sel, rasp.numerical(rasp.Map(one, rasp.tokens)), default=1))
    y = rasp.numerical(rasp.Aggregate(sel, rasp.numerical(rasp.Map(one, rasp.indices)),
                                      default=1))
    check_exhaustive(rasp.numerical(rasp.LinearSequenceMap(x, y, 1, -1)), {0, 1, 2}, 3)


def test_combined_means_too_fine_for_float32_fall_back_to_separate_heads():
    # shuffle_dyck2 at length 10: a SequenceMap reads both balances jointly; combined, their
    # 4,225 pairs project to steps 0.1 apart at magnitude 182, past float32's resolution.
    # The compiler then keeps the four means apart (as it did before combining) and is exact.
    program = lib.make_shuffle_dyck2()
    vocab = tuple("(){}a")
    combined = rasp.compile(program, vocab, 10)
    apart = rasp.compile(program, vocab, 10, dtype=np.float32)
    assert "balance_()" in combined.report() and "balance_()" not in apart.report()
    assert heads(apart) > heads(combined)
    rng = np.random.default_rng(0)
    inputs = [list(rng.choice(list(vocab), size=rng.integers(1, 11))) for _ in range(300)]
    inputs += [list("({" * 5), list("({})" * 2 + "()"), list(")" * 10), list("(" * 10)]
    for xs in inputs:
        want = rasp.evaluate(program, xs)
        assert all(w is None or g == w for g, w in zip(apart.run(xs), want)), xs
