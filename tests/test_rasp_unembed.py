"""The unembedding reading an output head's scratch directly (``taotp.rasp.unembed``)."""
from __future__ import annotations

import numpy as np
import pytest

from constructions.rasp_lib import LIBRARY
from constructions.rasp_lib import tracr_lib as lib
from taotp import rasp
from taotp.params import is_tied
from tests.test_rasp_compile import check_exhaustive

C = rasp.Comparison


def has_cleanup(compiled) -> bool:
    return "cleanup" in compiled.report()


@pytest.mark.parametrize("n", [1, 2, 7, 200])
def test_a_width_output_needs_no_mlp_and_is_exact_at_every_length(n):
    compiled = rasp.compile(lib.make_length(), ["a", "b"], n)
    assert not has_cleanup(compiled) and "mlp" not in compiled.report()
    for k in range(1, n + 1):
        assert compiled.run(["a"] * k) == [k] * k


def test_float32_falls_back_to_the_cleanup_where_the_points_crowd():
    small = check_exhaustive(lib.make_length(), {0, 1}, 8, dtype=np.float32)
    assert not has_cleanup(small)
    large = rasp.compile(lib.make_length(), [0], 40, dtype=np.float32)
    assert has_cleanup(large)
    assert [large.run([0] * k)[-1] for k in range(1, 41)] == list(range(1, 41))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [False, True])
def test_means_with_a_default_and_widths_decode_directly(dtype, causal):
    before = rasp.Select(rasp.indices, rasp.indices, C.LT)  # empty at position 0
    mean = rasp.numerical(rasp.Aggregate(before, rasp.numerical(rasp.tokens), default=-1))
    hist = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, C.EQ))
    for program in (mean, hist, lib.make_frac_prevs(rasp.tokens == 1)):
        compiled = check_exhaustive(program, {0, 1, 3}, 5, causal=causal, dtype=dtype)
        assert not has_cleanup(compiled)


def test_every_fraction_of_a_prefix_comes_out_exactly():
    # frac_prevs outputs every k / m for m <= 10: the scratch points the unembedding reads
    compiled = check_exhaustive(lib.make_frac_prevs(rasp.tokens == 1), {0, 1}, 10)
    assert not has_cleanup(compiled)
    assert len(compiled.outputs) == len({k / m for m in range(1, 11) for k in range(m + 1)})


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_library_program_compiles_with_tied_embeddings(dtype):
    # as the book's programs: one matrix embeds the inputs and scores the outputs
    for name, entry in sorted(LIBRARY.items()):
        try:
            compiled = rasp.compile(entry.make(), entry.alphabet, 4, dtype=dtype)
        except ValueError:  # a float32 refusal (tests/test_rasp_compile_lib.py lists them)
            assert dtype == np.float32, name
            continue
        assert is_tied(compiled.params), name
        assert compiled.params["tok_emb"].dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [False, True])
def test_a_sum_decodes_from_its_average_and_share(dtype, causal):
    # RASPy's cumsum: (S / (w + 1), 1 / (w + 1)) read straight by the unembedding
    prevs = rasp.Select(rasp.indices, rasp.indices, C.LEQ)
    cumsum = prevs.value(rasp.tokens)
    compiled = check_exhaustive(cumsum, {0, 1, 3}, 5, causal=causal, dtype=dtype)
    assert not has_cleanup(compiled)
    before = rasp.Select(rasp.indices, rasp.indices, C.LT)  # empty at position 0: the 0 wins
    assert not has_cleanup(check_exhaustive(before.value(rasp.tokens), {0, 2}, 5,
                                            causal=causal, dtype=dtype))


def test_a_sum_with_another_default_keeps_its_cleanup():
    before = rasp.Select(rasp.indices, rasp.indices, C.LT)
    compiled = check_exhaustive(before.value(rasp.tokens, default=7), {0, 2}, 5)
    assert has_cleanup(compiled)


def test_an_output_id_without_a_point_never_ties_with_the_centre_value():
    """blog-window-sum decodes its sum directly; its values run -6..12, so 3 is the centre
    c, which scores (x - c)^2 - (x - c)^2 = 0 wherever x is. None (an output id with no
    point) scored 0 too: the two logits tied exactly, and argmax chose by index order.
    Now None scores -(1 + spread^2) before the lift: below the winner by a clear margin."""
    from taotp.model import transformer
    entry = LIBRARY["blog-window-sum"]
    program = entry.make()
    compiled = rasp.compile(program, entry.alphabet, entry.max_len)
    xs = [-1, 2, 2]
    assert compiled.run(xs) == rasp.evaluate(program, xs) == [-1, 1, 3]
    logits = transformer(compiled.ids(xs), **compiled.params, causal=False)[3]
    scores = dict(zip(compiled.outputs, logits[1 + len(compiled.vocab):]))
    assert scores[3] - scores[None] > 0.1 * (scores[3] - scores[4])
