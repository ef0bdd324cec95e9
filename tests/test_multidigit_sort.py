"""SORT of multi-digit numbers (constructions.multidigit_sort, Exercise 5.7): exhaustive at
small sizes and seeded random + nasty inputs at the proven limits, in float64 and float32,
through taotp.verify (teacher-forced, every doubtful verdict re-decoded); pinned sizes."""
from __future__ import annotations

import numpy as np
import pytest

from constructions.multidigit_sort import (
    BOS, COMMA, END, PROGRAMS, build_multidigit_sort_transformer, make,
)
from taotp import astype, count_params, decode_cached, shape_of
from taotp.verify import verify

PROGRAM = PROGRAMS[0]


def _verified(task, dtype, **how):
    report = verify(task, dtype=dtype, progress=False, **how)
    assert report.ok, report.failures
    return report


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_exhaustive_one_digit_up_to_three_numbers(dtype):
    report = _verified(make(digits=1, count=3), dtype, exhaustive=True)
    assert report.n_inputs == 10 + 100 + 1000


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_random_and_nasty_at_the_defaults(dtype):
    task = make(digits=3, count=10)
    report = _verified(task, dtype, samples=40, seed=1)
    assert report.n_inputs == 40 + len(task.adversarial())


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("digits, count", [(1, 4), (2, 2)])
def test_exhaustive_small(digits, count, dtype):
    _verified(make(digits=digits, count=count), dtype, exhaustive=True)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_random_and_nasty_at_the_proven_limits(dtype):
    _verified(PROGRAM.make(digits=4, count=50), dtype, samples=100, seed=2)
    _verified(PROGRAM.make(digits=1, count=50), dtype, samples=100, seed=3)


def test_decoding_and_format():
    task = make(digits=3, count=6)
    assert task.run("042 317 005") == "005 042 317"
    assert task.run("999 998 999 000 998 999") == "000 998 998 999 999 999"
    assert task.run("100") == "100"
    prompt = task.encode("010 009")
    assert prompt.tolist() == [BOS, 0, 1, 0, COMMA, 0, 0, 9, END]
    out = decode_cached(prompt, task.params, max_steps=task.steps(prompt))[len(prompt):]
    assert out.tolist() == [0, 0, 9, COMMA, 0, 1, 0]
    f32 = astype(task.params, np.float32)
    assert decode_cached(prompt, f32, max_steps=7).dtype == np.int64
    assert f32["layers"][2]["Q"].dtype == np.float32


@pytest.mark.parametrize("text, match", [
    ("42", "exactly 3 digits"), ("0042", "exactly 3 digits"), ("04a", "exactly 3 digits"),
    ("", "empty input"), (" ".join(["000"] * 11), "at most count=10"), ("-01", "3 digits"),
])
def test_bad_input_is_a_clear_error(text, match):
    with pytest.raises(ValueError, match=match):
        PROGRAM.make().encode(text)


def test_reference_checks_the_prompt_format():
    task = make(digits=2, count=3)
    with pytest.raises(ValueError, match="number 1 of the prompt is not 2 digits then ="):
        task.reference(np.array([BOS, 1, 2, COMMA]))
    with pytest.raises(ValueError, match="number 1 of the prompt is not 2 digits then ,"):
        task.reference(np.array([BOS, 1, 2, END, 3, 4, END]))
    with pytest.raises(ValueError, match="followed by"):
        task.reference(np.array([BOS, 1, 2, 3, END]))


def test_sizes_are_pinned():
    params = build_multidigit_sort_transformer(digits=3, count=10)
    shape = shape_of(params)
    assert (shape.n_layers, shape.d_model, shape.n_heads, shape.d_head, shape.d_ff,
            shape.block_size) == (3, 121, 27, 33, 56, 80)
    assert count_params(params)["n_params"] == 488_422


def test_past_the_proven_range_is_refused():
    with pytest.raises(ValueError, match="proven exact only up to 4"):
        PROGRAM.make(digits=5)
    with pytest.raises(ValueError, match="proven exact only up to 50"):
        PROGRAM.make(count=51)
