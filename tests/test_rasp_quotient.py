"""One-hots over the classes their readers tell apart (``taotp.rasp.quotient``)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from constructions.rasp_lib import tracr_lib as lib
from taotp import rasp
from taotp.params import check_params
from tests.test_rasp_compile import check_exhaustive, hist


def d_model(compiled) -> int:
    return compiled.params["tok_emb"].shape[1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [False, True])
def test_counts_compared_with_a_constant_are_two_classes(dtype, causal):
    program = lib.make_count_less_freq(2)  # hist <= 2 on the keys only
    compiled = check_exhaustive(program, {0, 1, 2}, 5, causal=causal, dtype=dtype)
    longer = rasp.compile(program, [0, 1, 2], 30, causal=causal, dtype=dtype)
    assert d_model(longer) < 20  # not a slot per count (hist takes 31 values)


def test_tokens_a_selector_only_tests_for_one_value_are_two_classes():
    program = lib.make_count(rasp.tokens, 0)
    small = check_exhaustive(program, {0, 1, 2}, 5)
    assert d_model(rasp.compile(program, range(40), 5)) == d_model(small)


def test_a_var_another_reader_needs_whole_keeps_every_slot():
    hist = lib.make_hist()
    less = rasp.SelectorWidth(rasp.Select(hist, hist, lambda k, q: k <= 2))
    both = rasp.SequenceMap(lambda c, h: c + h, less, hist)  # reads hist's every value
    small = check_exhaustive(both, {0, 1}, 5)
    assert d_model(rasp.compile(both, [0, 1], 9)) > d_model(small)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [False, True])
def test_values_only_compared_for_equality_sit_on_a_circle(dtype, causal):
    compiled = check_exhaustive(lib.make_hist(), {0, 1, 2, 3}, 5, causal=causal, dtype=dtype)
    wide = rasp.compile(lib.make_hist(), range(30), 5, causal=causal, dtype=dtype)
    assert d_model(wide) == d_model(compiled)  # two dims for 4 tokens or 30


def test_too_many_values_for_a_circle_keep_their_one_hot():
    # 40 points: cosines 1 - cos(2 pi / 40) apart, past scores.MAX_CIRCLE; one-hots instead
    program = lib.make_hist()
    compiled = rasp.compile(program, range(40), 6)
    assert d_model(compiled) > 40
    rng = np.random.default_rng(0)
    for _ in range(50):
        xs = [int(x) for x in rng.integers(0, 40, size=rng.integers(1, 7))]
        assert compiled.run(xs) == rasp.evaluate(program, xs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [False, True])
def test_a_copied_output_sits_on_a_circle_with_none_a_point_of_its_own(dtype, causal):
    program = lib.shift_by(2, rasp.tokens)  # None at the first two positions
    letters = tuple("abcdef")
    compiled = rasp.compile(program, letters, 5, causal=causal, dtype=dtype)
    for n in range(1, 6):
        for xs in itertools.product(letters, repeat=n):
            assert compiled.run(list(xs)) == rasp.evaluate(program, list(xs), causal=causal)
    wider = rasp.compile(program, tuple("abcdefghijklmnop"), 5, causal=causal, dtype=dtype)
    # the tokens (copied, read by nothing else) sit on the output's circle too
    assert d_model(wider) == d_model(compiled)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_copy_with_a_default_holds_the_default_at_bos(dtype):
    # RASPy's sum of one selected letter: default 0 where nothing is selected (index 3 of a
    # shorter input)
    index = rasp.Select(rasp.indices, rasp.Full(3), rasp.Comparison.EQ).value(rasp.tokens)
    compiled = check_exhaustive(index, set("abc"), 5, dtype=dtype)
    assert compiled.run("ab") == [0, 0]
    assert d_model(rasp.compile(index, tuple("abcdefghijkl"), 5, dtype=dtype)) == d_model(compiled)


def test_tokens_another_reader_needs_keep_their_one_hot_under_a_circle_output():
    program = lib.make_sort_unique(rasp.tokens, rasp.tokens)  # tokens compared, then copied
    small = check_exhaustive(program, {0, 1, 2}, 4)
    # the tokens' one-hot grows with the vocabulary (7 more values); the output does not
    assert d_model(rasp.compile(program, range(10), 4)) - d_model(small) == 7


def test_too_many_output_values_for_a_circle_keep_their_one_hot():
    program = lib.shift_by(1, rasp.tokens)
    compiled = rasp.compile(program, range(40), 6)  # 41 points with None: one-hots
    assert d_model(compiled) > 80
    rng = np.random.default_rng(1)
    for _ in range(50):
        xs = [int(x) for x in rng.integers(0, 40, size=rng.integers(1, 7))]
        assert compiled.run(xs) == rasp.evaluate(program, xs)


def test_a_copy_of_a_copy_with_a_default_keeps_its_one_hot():
    # x is written by a head, not the embeddings: its BOS position holds what that head
    # writes there, not the outer copy's default, so it may not sit on the output's circle
    # (it did once, and every input of length 1 came out None where evaluate gives 0)
    previous = rasp.Select(rasp.indices, rasp.indices - 1, rasp.Comparison.EQ)
    x = rasp.Aggregate(previous, rasp.tokens).named("x")
    check_exhaustive(previous.value(x), set("abc"), 5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [False, True])
def test_a_matching_on_one_hots_is_scored_on_a_circle(dtype, causal):
    """tokens stay one-hot (a < selector reads them), yet their equality test and a
    many-to-one match (index i selects token i mod 4) cost two head dims each, not four."""
    same = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ))
    before = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LT))
    both = rasp.SequenceMap(lambda a, b: 10 * a + b, same.named("same"),
                            before.named("before")).named("both")
    compiled = check_exhaustive(both, set(range(5)), 5, causal, dtype)
    assert check_params(compiled.params) == np.dtype(dtype)
    assert "same: width to scratch (circle_scores" in compiled.report()
    mod = rasp.Select(rasp.tokens, rasp.indices, lambda k, q: k == q % 4)
    compiled = check_exhaustive(rasp.SelectorWidth(mod).named("mod"), set(range(5)), 5,
                                causal, dtype)
    assert "mod: width to scratch (circle_scores" in compiled.report()
    assert compiled.params["layers"][0]["Q"].shape[2] == 3  # two for the circle, one sink


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [False, True])
def test_a_one_hot_costs_one_dim_less(dtype, causal):
    """Its slots sum to 1 at every position, as the flags do (a one-hot a layer writes has
    its None slot pre-filled by the embeddings until then): that direction is left out of
    the model (``taotp.circuits.mean_free``), one dim per one-hot; an input's one-hot (None
    at BOS alone) costs one more, its None slot being the BOS flag."""
    from taotp.rasp.allocate import allocate
    from taotp.rasp.lower import Embed, lower
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)  # indices one-hot
    before = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LT))
    twos = rasp.numerical(rasp.Aggregate(prevs, rasp.numerical(rasp.Map(
        lambda t: float(t == 2), rasp.tokens)), default=0))
    program = rasp.SequenceMap(lambda w, a: (w, a), before.named("before"), twos)
    ops, _ = lower(program, tuple(range(3)), 5)
    one_hots = [op for op in ops if isinstance(op, Embed) and not op.out.numerical]
    plan = allocate(ops)
    written = plan.prefilled  # the tuple the SequenceMap builds
    assert len(one_hots) >= 2 and len(written) >= 1
    assert plan.d_model == plan.d_logical + 1 - 2 * len(one_hots) - len(written)
    compiled = check_exhaustive(program, set(range(3)), 5, causal, dtype)
    assert check_params(compiled.params) == np.dtype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [False, True])
def test_a_none_slot_that_is_the_bos_flag_costs_no_dim(dtype, causal):
    """The tokens' one-hot is None at BOS alone: its None slot minus the BOS flag is zero at
    every position and is left out. A Map of the tokens that is None at a token too (it fails
    there) keeps that dim, and both come out exact."""
    from taotp.rasp.allocate import allocate
    from taotp.rasp.lower import lower
    partial = rasp.Map(lambda t: None if t == 1 else 2 * t, rasp.tokens).named("partial")
    both = rasp.SequenceMap(lambda x, w: x + w, partial, hist())
    for program, none_at_bos_alone in ((hist(), ["tokens"]), (both, ["tokens"])):
        ops, _ = lower(program, tuple(range(3)), 5)
        plan = allocate(ops)
        embedded = [op.out.label for op in ops if type(op).__name__ == "Embed"
                    and not (op.out.numerical or op.out.constant or op.out.circle)]
        assert embedded == (["tokens"] if program is not both else ["tokens", "partial"])
        assert plan.d_model == (plan.d_logical + 1 - len(embedded) - len(none_at_bos_alone)
                                - len(plan.prefilled))
        check_exhaustive(program, set(range(3)), 5, causal, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [False, True])
def test_detect_pattern_is_ten_times_smaller_than_tracr(dtype, causal):
    """Five 3-slot booleans (False, True, None) each cost two dims, and the detector's MLP
    four ReLUs (None propagates; one true combination): tracr's 11,370 params at vocab 5,
    length 10 (measured, bench/results/tracr_sizes.json) over ten, exhaustive at length 6."""
    from constructions.rasp_lib import LIBRARY
    from taotp.params import count_params
    program = LIBRARY["tracr-detect-pattern"].make()
    compiled = check_exhaustive(program, set("abc"), 6, causal, dtype)
    assert check_params(compiled.params) == np.dtype(dtype)
    if dtype == np.float64:
        small = rasp.compile(program, tuple("abcde"), 10, causal, dtype)
        assert 10 * count_params(small.params)["n_params"] <= 11_370
        assert small.params["layers"][0]["M1"].shape[1] == 4
