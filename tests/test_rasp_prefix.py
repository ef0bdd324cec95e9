"""Selectors of positions through a causal mask (``positions.prefix_only``, ``always``) and
heads over every key (``Attend.selects_all``): what they decide and that the compiled
programs stay exact."""
from __future__ import annotations

import numpy as np
import pytest

from taotp import rasp
from taotp.rasp import positions
from tests.test_rasp_compile import check_exhaustive, frac_prevs, is_one, length, same_before

C = rasp.Comparison
I = rasp.indices  # noqa: E741
prevs = rasp.Select(I, I, C.LEQ)
tokens_eq = rasp.Select(rasp.tokens, rasp.tokens, C.EQ)


def test_a_selector_of_positions_has_the_evaluators_pattern():
    n = 5
    np.testing.assert_array_equal(positions.position_pattern(prevs, n), np.tril(np.ones((n, n))))
    two_back = rasp.Select(I + 2, I, C.EQ) | ~rasp.Select(I, I, C.NEQ)
    q, k = np.indices((n, n))
    np.testing.assert_array_equal(positions.position_pattern(two_back, n),
                                  (k + 2 == q) | (k == q))
    # tokens, or a width (the length: it depends on the input), are not positions alone
    assert positions.position_pattern(tokens_eq, n) is None
    assert positions.position_pattern(rasp.Select(I, length() - I - 1, C.EQ), n) is None
    undefined = rasp.Select(rasp.Map(lambda i: 1 // (i - 2), I), I, C.EQ)
    assert positions.position_pattern(undefined, n) is None  # no claim where a Map fails


def test_prefix_only_needs_every_selector_to_read_keys_at_or_before_its_query():
    n = 6
    mean = lambda sel: rasp.numerical(rasp.Aggregate(sel, is_one(), default=0))  # noqa: E731
    assert positions.prefix_only(frac_prevs(), n)
    assert positions.prefix_only(same_before(), n)                     # tokens and i < j
    assert positions.prefix_only(mean(rasp.Select(I, I - 1, C.EQ)), n)  # the previous one
    assert not positions.prefix_only(mean(rasp.Select(I, I + 1, C.EQ)), n)  # the next one
    assert not positions.prefix_only(mean(prevs | tokens_eq), n)
    assert not positions.prefix_only(mean(~prevs), n)
    assert not positions.prefix_only(length(), n)
    assert not positions.prefix_only(rasp.Map(lambda t: t + 1, rasp.tokens), n)  # no selector
    # a prefix selector feeding one that reads everything: not a prefix program
    both = rasp.numerical(rasp.Aggregate(rasp.Select(I, I, C.TRUE), frac_prevs(), default=0))
    assert not positions.prefix_only(both, n)
    assert positions.always(prevs, n) and not positions.always(rasp.Select(I, I, C.LT), n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_prefix_program_is_compiled_causally_masked(dtype):
    """frac_prevs as an encoder: the mask does the selecting, so the head needs one score
    dimension and d_model does not grow with max_seq_len; exact against the non-causal
    evaluator on every input."""
    compiled = check_exhaustive(frac_prevs(), {0, 1}, 6, causal=False, dtype=dtype)
    assert compiled.causal and compiled.prefix
    assert "causal attention (every selector reads only keys at or before its query)" in (
        compiled.report())
    assert compiled.params["layers"][0]["Q"].shape[2] == 1
    longer = rasp.compile(frac_prevs(), {0, 1}, 12, dtype=dtype)
    assert longer.params["tok_emb"].shape[1] == compiled.params["tok_emb"].shape[1]
    # asked for causally, the same weights, and not called a prefix program
    asked = rasp.compile(frac_prevs(), {0, 1}, 6, causal=True, dtype=dtype)
    assert asked.causal and not asked.prefix
    for a, b in zip(np.asarray(asked.params["tok_emb"]), np.asarray(compiled.params["tok_emb"])):
        np.testing.assert_array_equal(a, b)


def test_other_programs_keep_their_bidirectional_heads():
    compiled = rasp.compile(length(), {0, 1}, 4)
    assert not compiled.causal and not compiled.prefix
    assert "bidirectional attention" in compiled.report()


@pytest.mark.parametrize("causal", [False, True])
def test_under_the_mask_a_prefix_part_of_a_selector_costs_nothing(causal):
    """``tokens == tokens`` and ``j <= i`` is, through the mask, ``tokens == tokens``: the
    same head as the token part alone (compiled causally), exact either way asked."""
    width = rasp.SelectorWidth(tokens_eq & prevs)
    compiled = check_exhaustive(width, {0, 1, 2}, 5, causal=causal)
    alone = rasp.compile(rasp.SelectorWidth(tokens_eq), {0, 1, 2}, 5, causal=True)
    assert compiled.causal and compiled.prefix == (not causal)
    for key in ("tok_emb", "pos_emb"):
        assert compiled.params[key].shape == alone.params[key].shape
    assert [layer["Q"].shape for layer in compiled.params["layers"]] == [
        layer["Q"].shape for layer in alone.params["layers"]]


@pytest.mark.parametrize("causal", [False, True])
def test_through_the_mask_a_selector_of_later_positions_selects_nothing(causal):
    """``not (j <= i)`` only selects keys the mask hides: causally, every query selects
    nothing (the default, width 0), also inside an And; not causally, it is a real selector."""
    later = ~prevs
    programs = [rasp.Aggregate(later, rasp.Full(3), default=9),  # (equal values: a copy)
                rasp.SelectorWidth(later & tokens_eq),
                rasp.SelectorWidth(later | tokens_eq),
                rasp.numerical(rasp.Aggregate(later, is_one(), default=0.5))]
    for program in programs:
        compiled = check_exhaustive(program, {0, 1, 2}, 4, causal=causal)
        assert compiled.causal == causal and not compiled.prefix
