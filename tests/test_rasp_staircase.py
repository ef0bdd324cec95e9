"""Staircase lookups (two ReLUs per change of output) and joint value sets of means over one
selector: smaller MLPs, and float32 where the product of value sets was too crowded."""
from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest

from constructions.rasp_lib import LIBRARY
from constructions.rasp_lib import tracr_lib as lib
from taotp import rasp
from taotp.params import check_params, count_params
from taotp.rasp import accuracy, joint, recipes
from taotp.rasp.lower import MAX_COMBOS, lower
from tests.test_rasp_compile import agree, check_exhaustive


def mlp(M1, b1, M2, b2, x):
    return np.maximum(np.asarray(x, dtype=np.float64)[:, None] @ M1 + b1, 0.0) @ M2 + b2


def test_staircase_is_exact_within_a_quarter_gap_with_two_units_per_step():
    rng = np.random.default_rng(0)
    points = np.sort(rng.choice(np.arange(-50, 50), 40, replace=False) / 7.0)
    outputs = np.repeat(rng.normal(size=(8, 3)), 5, axis=0)  # 8 runs of 5 equal outputs
    M1, b1, M2, b2 = recipes.staircase_lookup(points, outputs)
    assert M1.shape == (1, 2 * 7)
    gaps = np.minimum(np.diff(points, prepend=-np.inf), np.diff(points, append=np.inf))
    for side in (-0.2499, 0.0, 0.2499):
        got = mlp(M1, b1, M2, b2, points + side * gaps)
        assert np.allclose(got, outputs, rtol=0, atol=1e-12)


def test_staircase_of_a_constant_has_no_units_and_refuses_colliding_points():
    M1, b1, M2, b2 = recipes.staircase_lookup([0.0, 1.0, 2.0], [[4.0], [4.0], [4.0]])
    assert M1.shape == (1, 0) and mlp(M1, b1, M2, b2, [0.3, 7.0]).ravel().tolist() == [4.0, 4.0]
    with pytest.raises(ValueError, match="distinct"):
        recipes.staircase_lookup([0.0, 0.0], [[1.0], [2.0]])


def test_staircase_accounting_needs_only_the_gaps_at_its_steps():
    ts = np.array([0.0, 1e-9, 2e-9, 1.0])  # crowded points, one output change
    flat = np.array([[0.0], [0.0], [0.0], [1.0]])
    eps = float(np.finfo(np.float32).eps)
    assert accuracy.staircase("x", ts, flat, eps, carried=0.1) < 1e-3
    with pytest.raises(ValueError, match="x: its 1 steps"):
        accuracy.staircase("x", ts, flat, eps, carried=0.3)  # a quarter of the step is 0.25
    with pytest.raises(ValueError, match="x: its 3 steps"):  # every point its own output
        accuracy.staircase("x", ts, np.arange(4.0)[:, None], eps)


def test_piecewise_linear_is_exact_at_its_points_with_one_unit_per_change_of_slope():
    rng = np.random.default_rng(2)
    points = np.sort(rng.choice(np.arange(-60, 60), 30, replace=False) / 9.0)
    outputs = rng.normal(size=(30, 2))
    order = rng.permutation(30)  # the points in any order
    M1, b1, M2, b2 = recipes.piecewise_linear(points[order], outputs[order])
    got = mlp(M1, b1, M2, b2, points)
    assert M1.shape == (1, 29) and np.allclose(got, outputs, rtol=0, atol=1e-12)
    middle = (points[1:] + points[:-1]) / 2  # linear in between
    assert np.allclose(mlp(M1, b1, M2, b2, middle), (outputs[1:] + outputs[:-1]) / 2,
                       rtol=0, atol=1e-12)
    line = recipes.piecewise_linear(points, 3 * points[:, None] - 1)  # one line: one unit
    assert line[0].shape == (1, 1)
    assert np.allclose(mlp(*line, points).ravel(), 3 * points - 1, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="distinct"):
        recipes.piecewise_linear([0.0, 0.0], [[1.0], [2.0]])


def test_erase_accounting_refuses_a_residue_that_would_move_the_layer_norm():
    ts = np.array([0.1, 0.2, 0.4, 0.5])
    rows = -np.array([[1.0], [0.5], [0.3], [0.25]])
    lookup = recipes.piecewise_linear(ts, rows)
    eps = float(np.finfo(np.float64).eps)
    assert accuracy.erase(ts, rows, lookup, 0.0, eps, 1.0)
    assert not accuracy.erase(ts, rows, lookup, 1e-6, eps, 1.0)  # slope 5 x 1e-6 is too much


@pytest.mark.parametrize("dtype, causal", [(np.float64, False), (np.float32, False),
                                           (np.float64, True)],
                         ids=["float64", "float32", "float64-causal"])
def test_a_quotiented_width_erases_its_scratch_piecewise_linearly(dtype, causal):
    """hist is only read as "at most 2": one step of its cleanup changes the class, so its
    scratch is erased by a line through the points, not by two ReLUs at each of them."""
    program = lib.make_count_less_freq(2)
    compiled = check_exhaustive(program, set("abc"), 6, causal, dtype)
    assert check_params(compiled.params) == np.dtype(dtype)
    assert "hist: staircase_lookup cleanup of width + piecewise_linear erase" in (
        compiled.report())
    tracr = 9_110  # measured at vocab 5, length 10 (bench/results/tracr_sizes.json)
    small = rasp.compile(program, tuple("abcde"), 10, causal, dtype)
    assert 10 * count_params(small.params)["n_params"] <= tracr


def test_means_over_one_selector_share_their_denominator():
    opens = lib.make_frac_prevs(rasp.tokens == "(").named("opens")
    closes = lib.make_frac_prevs(rasp.tokens == ")").named("closes")
    program = rasp.numerical(rasp.SequenceMap(lambda x, y: x * y, opens, closes))
    ops, _ = lower(program, tuple("()a"), 6)
    means = [op.out for op in ops if getattr(op, "kind", None) == "mean"]
    reach = joint.reachable(tuple(means), ops, tuple("()a"), 6, MAX_COMBOS)
    exact = {(0.0, 0.0)} | {(float(Fraction(a, c)), float(Fraction(b, c)))
                            for c in range(1, 7) for a in range(c + 1) for b in range(c + 1 - a)}
    assert set(reach) == exact  # opens + closes <= 1: a token is not both
    assert len(reach) < len(means[0].values) * len(means[1].values) / 2


def test_joint_value_sets_only_for_means_over_the_same_selector():
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    after = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.GEQ)
    ones = rasp.numerical(rasp.Map(lambda t: t == 1, rasp.tokens))
    a = rasp.numerical(rasp.Aggregate(prevs, ones, default=0)).named("a")
    b = rasp.numerical(rasp.Aggregate(after, ones, default=0)).named("b")
    program = rasp.numerical(rasp.SequenceMap(lambda x, y: x - y, a, b)).named("d")
    ops, _ = lower(program, (0, 1), 5)
    ins = tuple(op.out for op in ops if op.out.label in ("a", "b"))
    assert joint.reachable(ins, ops, (0, 1), 5, MAX_COMBOS) is None
    check_exhaustive(program, {0, 1}, 5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_pair_balance_exact_on_joint_values(dtype):
    check_exhaustive(LIBRARY["tracr-pair-balance"].make(), set("()a"), 5, dtype=dtype)


def test_shuffle_dyck2_at_vocab_5_length_10_is_ten_times_smaller_than_tracr():
    """tracr's 1,040,000 params (issue 11, quoted); every random input exact."""
    vocab = tuple("(){}a")
    program = lib.make_shuffle_dyck2()
    compiled = rasp.compile(program, vocab, 10)
    assert count_params(compiled.params)["n_params"] <= 104_000
    rng = random.Random(0)
    for _ in range(300):
        xs = [rng.choice("(){}a" if rng.random() < 0.5 else "(){}") for _ in
              range(rng.randint(1, 10))]
        assert agree(rasp.evaluate(program, xs), compiled.run(xs), 1e-9), xs


def test_a_one_hot_and_a_crowded_number_get_one_staircase_per_slot_in_float32():
    """(token, fraction of a's so far): 165 outputs, too crowded for one staircase over a
    projection in float32; one per token fits. Seeded random inputs and the extreme ones."""
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    is_a = rasp.numerical(rasp.Map(lambda t: t == "a", rasp.tokens))
    frac = rasp.numerical(rasp.Aggregate(prevs, is_a, default=0)).named("frac")
    program = rasp.SequenceMap(lambda t, m: (t, round(m, 6)), rasp.tokens, frac).named("pair")
    vocab = tuple("abcde")
    compiled = rasp.compile(program, vocab, 10, dtype=np.float32)
    assert "pair: gated_staircase" in compiled.report()
    rng = random.Random(1)
    inputs = [[rng.choice(vocab) for _ in range(rng.randint(1, 10))] for _ in range(1500)]
    inputs += [list("a" * n) for n in range(1, 11)] + [list("e" * 9 + "a"), list("a" * 9 + "e")]
    inputs += [list(("ab" * 5)[:n]) for n in range(1, 11)]
    for xs in inputs:
        assert agree(rasp.evaluate(program, xs), compiled.run(xs), 1e-5), xs


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_indicator_maps_of_tokens_live_in_the_embeddings(dtype):
    """0 / 1 (and -1) are stored exactly in any dtype: no MLP, and the mean reading them
    goes in the first layer; other numbers keep their accounted Lookup."""
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    step = rasp.numerical(rasp.Map(lambda t: {"(": 1, ")": -1}.get(t, 0), rasp.tokens))
    balance = rasp.numerical(rasp.Aggregate(prevs, step.named("step"), default=0))
    compiled = check_exhaustive(balance.named("balance"), set("()a"), 5, dtype=dtype)
    assert len(compiled.params["layers"]) == 1 and "step" not in compiled.report()
    tenth = rasp.numerical(rasp.Map(lambda t: 0.1 if t == "(" else 0.0, rasp.tokens))
    compiled = check_exhaustive(rasp.numerical(rasp.Aggregate(prevs, tenth.named("tenth"),
                                                              default=0)), set("()a"), 5,
                                dtype=dtype)
    assert "tenth: categorical_lookup" in compiled.report()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tracr-shuffle-dyck", "tracr-shuffle-dyck2"])
def test_means_of_brackets_compile_in_float32_at_length_10(name):
    """Past the exhaustive test sizes: 1,000 seeded random inputs and the extreme ones
    (all one token, two tokens alternating or in two halves), each exact."""
    entry = LIBRARY[name]
    program, vocab = entry.make(), entry.alphabet
    compiled = rasp.compile(program, vocab, 10, dtype=np.float32)
    rng = random.Random(2)
    inputs = [[rng.choice(vocab) for _ in range(rng.randint(1, 10))] for _ in range(1000)]
    inputs += [[v] * k for v in vocab for k in range(1, 11)]
    inputs += [p for a in vocab for b in vocab for p in ([a, b] * 5, [a] * 5 + [b] * 5)]
    for xs in inputs:
        assert agree(rasp.evaluate(program, xs), compiled.run(xs), 1e-5), xs
