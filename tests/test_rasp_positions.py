"""Positions as numbers in compiled RASP: shift matches, projections, sort's tie-break.

Position-only selectors (reverse, shift, index, length) keep d_model fixed as max_seq_len
grows; sort compares ties with one two-term head. Slow: reverse and sort at vocab 10,
max_seq_len 1,000, and sort_unique at vocab 100, length 20, against rasp.evaluate.
"""
from __future__ import annotations

import random

import numpy as np
import pytest

from constructions.rasp_lib import blog
from constructions.rasp_lib import tracr_lib as lib
from taotp import rasp
from taotp.params import check_params, count_params
from taotp.rasp.ir import Embed
from taotp.rasp.lower import lower
from tests.test_rasp_compile import agree, check_exhaustive

C = rasp.Comparison
POSITION_ONLY = {
    "reverse": lambda: lib.make_reverse(rasp.tokens),
    "shift": lambda: lib.shift_by(2, rasp.tokens),
    "length": lib.make_length,
    "index": lambda: rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, C.EQ), rasp.tokens),
    # RASPy's spellings on letters: a sum of ones over a selector is its width
    # (positions.counts), a sum of one selected letter is that letter
    "blog-length": blog.length,
    "blog-flip": blog.flip,
    "blog-ralign": blog.ralign,
    "blog-shift": lambda: blog.shift(2),
    "blog-index": lambda: blog.index(3),
}
LETTERS = tuple("abcdefghi_")


def check_random(program, compiled, vocab, lengths, rng, extra=()) -> int:
    """Compiled == evaluated on one random input per length, and on ``extra``; the count."""
    inputs = [[rng.choice(vocab) for _ in range(n)] for n in lengths] + list(extra)
    for xs in inputs:
        assert agree(rasp.evaluate(program, xs), compiled.run(xs), 1e-9), xs[:20]
    return len(inputs)


@pytest.mark.parametrize("name", sorted(POSITION_ONLY))
def test_position_only_selectors_keep_d_model_fixed(name):
    program = POSITION_ONLY[name]()
    vocab = LETTERS if name.startswith("blog") else tuple(range(10))
    small, large = (rasp.compile(program, vocab, n) for n in (20, 200))
    assert small.params["tok_emb"].shape[1] == large.params["tok_emb"].shape[1]
    assert count_params(large.params)["n_params"] <= 10 * count_params(small.params)["n_params"]
    check_random(program, large, list(vocab), [1, 2, 3, 50, 199, 200], random.Random(0))


def test_matches_are_shifts_found_in_any_predicate():
    program = lib.shift_by(1, rasp.tokens)  # a lambda: q == k + 1
    compiled = check_exhaustive(program, {0, 1, 2}, 5)
    assert "match_scores" in compiled.report()
    odd = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == 2 * q),
                         rasp.tokens)  # not a shift: one-hot patterns
    compiled = check_exhaustive(odd, {0, 1}, 5)
    assert "match_scores" not in compiled.report()


def test_float32_uses_one_hots_where_a_match_would_round():
    compiled = check_exhaustive(lib.make_reverse(rasp.tokens), {0, 1}, 6, dtype=np.float32)
    assert "match_scores" not in compiled.report()
    assert "match_scores" in rasp.compile(lib.make_reverse(rasp.tokens), {0, 1}, 6).report()


def test_sort_compares_ties_in_one_two_term_head():
    program = lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=6, min_key=1)
    compiled = check_exhaustive(program, {0, 1, 2}, 6)
    assert "circle_scores + select_scores" in compiled.report()
    # a strict order never counts the query itself: the sum of the halves is 0..5
    assert "1 target_pos:ties (5 steps over 6 points)" in compiled.report()
    descending = lib.make_sort(rasp.tokens, -1 * rasp.tokens, max_seq_len=5, min_key=1)
    check_exhaustive(descending, {0, 1, 2}, 5)


@pytest.mark.parametrize("dtype, causal", [(np.float64, False), (np.float32, False),
                                           (np.float64, True)],
                         ids=["float64", "float32", "float64-causal"])
def test_a_match_reads_the_one_hot_indices_another_selector_embedded(dtype, causal):
    """sort's tie-break embeds the indices as a one-hot; its copy's match then reads that
    one-hot as its query instead of the indices as a number, whose three dims go."""
    program = lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=6, min_key=1)
    ops, _ = lower(program, (0, 1, 2), 6)
    embedded = [op.out.label for op in ops if isinstance(op, Embed)]
    assert "indices:categorical" in embedded and "indices" not in embedded
    compiled = check_exhaustive(program, {0, 1, 2}, 6, causal, dtype)
    assert check_params(compiled.params) == np.dtype(dtype)
    if dtype == np.float64:  # (float32 keeps its positions as one-hots: 9,727 params)
        tracr = 81_198  # measured at vocab 5, length 10 (bench/results/tracr_sizes.json)
        small = rasp.compile(lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=10,
                                           min_key=1), range(5), 10, causal, dtype)
        assert 10 * count_params(small.params)["n_params"] <= tracr


def test_lexicographic_keys_in_either_order_and_other_comparisons():
    key = rasp.SequenceMap(lambda i, x: x + i / 10, rasp.indices, rasp.tokens)  # (x, i)
    for comparison in (C.LT, C.LEQ, C.GT, C.GEQ):
        width = rasp.SelectorWidth(rasp.Select(key, key, comparison))
        compiled = check_exhaustive(width, {0, 1, 2}, 5)
        assert ":ties" in compiled.report()


@pytest.mark.slow
def test_reverse_and_sort_at_max_seq_len_1000():
    vocab, n, rng = list(range(10)), 1000, random.Random(11)
    lengths = [1, 2, 3, 7, 10, 64, 333, 999, 1000]
    nasty = [[4] * n, sorted(rng.choice(vocab) for _ in range(n)),
             sorted((rng.choice(vocab) for _ in range(n)), reverse=True), [9] * (n - 1) + [0]]
    for program in (lib.make_reverse(rasp.tokens),
                    lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=n, min_key=1)):
        compiled = rasp.compile(program, vocab, n)
        assert check_random(program, compiled, vocab, lengths, rng, nasty) == 13


@pytest.mark.slow
def test_sort_unique_at_vocab_100_length_20():
    vocab, rng = list(range(100)), random.Random(5)
    program = lib.make_sort_unique(rasp.tokens, rasp.tokens)
    compiled = rasp.compile(program, vocab, 20)
    inputs = [rng.sample(vocab, rng.randint(1, 20)) for _ in range(300)]
    inputs += [list(range(20)), list(range(99, 79, -1)), [0, 99] * 10, [50] * 20]
    for xs in inputs:
        assert agree(rasp.evaluate(program, xs), compiled.run(xs), 1e-9), xs


def test_a_lookup_reading_a_projection_and_more_inputs():
    # most_freq's where(indices < n_distinct, ...) reads a projection Lookup (keyed by t)
    from constructions.rasp_lib import paper
    check_exhaustive(paper.make_most_freq(), {"a", "b"}, 4)
    width = lib.make_length()
    mixed = rasp.SequenceMap(lambda below, t: t if below else -1,
                             rasp.indices < width - 1, rasp.tokens).named("mixed")
    check_exhaustive(mixed, {0, 1}, 5)


def test_a_selector_that_selects_everything_reads_only_the_flags():
    # Select(tokens, tokens, TRUE): neither side matters, so tokens take no residual dims
    program = lib.make_length()
    small, large = (rasp.compile(program, range(v), 8) for v in (2, 60))
    assert small.params["tok_emb"].shape[1] == large.params["tok_emb"].shape[1]
    check_exhaustive(program, {0, 1, 2}, 6)
    check_exhaustive(program, {0, 1}, 5, dtype=np.float32)
