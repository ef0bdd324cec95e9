"""multiplication: exhaustive to 2 digits (float64 and float32), all 10^6 three-digit pairs
and 5 to 100 digits on random and nasty pairs in the slow tests; sizes pinned.

Checks go through ``taotp.verify`` (teacher-forced, batched: the argmax at every output
position equals the reference exactly when greedy decoding reproduces it).
"""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from constructions.multiplication import (
    FLOAT32_MAX, MAX_DIGITS, PROGRAMS, build_multiplication_transformer, column_sums,
    make_prompt, multiply_digits, nasty_pairs, parse_product, render, sum_estimates,
)
from constructions.multiplication_layers import Plan, max_sums
from taotp.decoding import decode, decode_cached, forward_batch
from taotp.params import astype, count_params, shape_of
from taotp.verify import verify

DTYPES = ("float64", "float32")


@pytest.fixture(scope="module")
def tasks():
    return {n: PROGRAMS[0].make(n_digits=n) for n in (1, 2, 3, 5)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2])
def test_exhaustive(tasks, n, dtype):
    report = verify(tasks[n], dtype=dtype, exhaustive=True, progress=False)
    assert report.n_inputs == 10 ** (2 * n) and report.ok, report.failures


@pytest.mark.parametrize("dtype", DTYPES)
def test_five_digits_random_and_nasty(tasks, dtype):
    report = verify(tasks[5], dtype=dtype, samples=300, seed=5, progress=False)
    assert report.n_inputs == 300 + len(nasty_pairs(5)) and report.ok, report.failures


def test_greedy_decoding_agrees_with_the_teacher_forced_check(tasks):
    task = tasks[3]
    for text in ("999*999", "123*456", "100*10", "7*0", "509*201"):
        prompt = task.encode(text)
        out = decode(prompt, task.params, max_steps=task.steps(prompt))[len(prompt):]
        assert np.array_equal(out, task.reference(prompt))
        a, b = text.split("*")
        assert task.run(text) == str(int(a) * int(b)).zfill(6)


def test_float32_forward_stays_float32(tasks):
    task = tasks[2]
    params = astype(task.params, "float32")
    prompt = task.encode("99*99")
    rows = np.concatenate((prompt, task.reference(prompt)[:-1]))[None]
    logits = forward_batch(rows, params, logits_from=len(prompt) - 1)
    assert logits.dtype == np.float32
    assert np.array_equal(logits.argmax(-1)[0], task.reference(prompt))


@pytest.mark.parametrize("n, n_params", [(1, 12_096), (2, 35_223), (3, 69_376),
                                         (10, 614_879)])
def test_sizes_are_pinned(n, n_params):
    params = build_multiplication_transformer(n)
    shape = shape_of(params)
    assert count_params(params)["n_params"] == n_params
    assert (shape.n_layers, shape.d_model, shape.block_size) == (2, 9 * n + 11, 4 * n + 1)
    assert [layer["Q"].shape[0] for layer in params["layers"]] == [2 * n, 1]
    assert [layer["M1"].shape[1] for layer in params["layers"]] == \
        [114 * n, 2 * Plan(n).max_sum]


def test_max_sums_bound_every_pair():
    # MLP 2 rounds sums up to max_sums' maximum only: no pair may exceed it, column by column.
    for n in (1, 2):
        digits = [list(map(int, str(x).zfill(n))) for x in range(10 ** n)]
        worst = np.max([column_sums(a, b) for a in digits for b in digits], axis=0)
        assert worst.tolist() == max_sums(n)


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-5), ("float32", 0.01)])
def test_the_carry_head_reads_the_column_sums_nearly_exactly(tasks, dtype, tolerance):
    # MLP 2 tolerates 0.375; float32 is measured ~0.0014 at 10 digits, ~0.012 at 50.
    task, n = tasks[5], 5
    params = astype(task.params, dtype)
    for a, b in nasty_pairs(n)[:6]:
        got = sum_estimates(params, make_prompt(a, b, n), n)
        assert np.abs(got - column_sums(a, b)).max() < tolerance


def test_reference_and_render():
    assert multiply_digits([1, 2], [3, 4]) == [8, 0, 4, 0]  # 408, least significant first
    assert render([8, 0, 4, 0]) == "0408"
    assert render(make_prompt([1, 2], [3], 2)) == "12*03="
    assert parse_product(" 12 * 3 =", 2) == ([1, 2], [3])


@pytest.mark.parametrize("text, match", [("", "empty"), ("12+34", "outside the vocabulary"),
                                         ("12*34*5", "exactly two"), ("123*4", "3 digits"),
                                         ("*4", "exactly two"), ("1=2*3", "may only end")])
def test_bad_input_is_refused(tasks, text, match):
    with pytest.raises(ValueError, match=match):
        tasks[2].encode(text)


@pytest.mark.parametrize("n", [0, MAX_DIGITS + 1, True, 2.0, "3"])
def test_sizes_outside_the_measured_range_are_refused(n):
    with pytest.raises(ValueError, match="n_digits must be an integer in 1..100"):
        build_multiplication_transformer(n)


def test_registry_options():
    program = PROGRAMS[0]
    assert program.name == "multiplication" and program.options[0].cli_flag == "--digits"
    assert program.float32_note(n_digits=3) == ""


# --- slow: all three-digit pairs, and 10 to 100 digits ---------------------------------

def _chunk(task, first):
    """Every pair whose first factor is in ``first`` (a range of ints)."""
    digits = lambda x: [int(c) for c in str(x).zfill(3)]
    return dataclasses.replace(task, exhaustive=lambda: (
        make_prompt(digits(a), digits(b), 3) for a, b in itertools.product(first, range(1000))))


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("chunk", range(10))
def test_three_digits_all_pairs(tasks, chunk, dtype):
    task = _chunk(tasks[3], range(100 * chunk, 100 * chunk + 100))
    report = verify(task, dtype=dtype, exhaustive=True, progress=False)
    assert report.n_inputs == 100_000 and report.ok, report.failures


LONG = [(10, 300, "float64"), (20, 100, "float64"), (50, 20, "float64"), (100, 4, "float64"),
        (10, 300, "float32"), (FLOAT32_MAX, 100, "float32")]


@pytest.mark.slow
@pytest.mark.parametrize("n, samples, dtype", LONG)
def test_long_factors_random_and_nasty(n, samples, dtype):
    """``verify``'s fast path evaluates each MLP row alone, as cached decoding does."""
    task = PROGRAMS[0].make(n_digits=n)
    report = verify(task, dtype=dtype, samples=samples, seed=n, progress=False)
    assert report.path.startswith("fast"), report.path
    assert report.n_inputs == samples + len(nasty_pairs(n)) and report.ok, report.failures


@pytest.mark.slow
def test_float32_cached_decoding_at_its_limit_and_past_it():
    """The measurement behind FLOAT32_MAX: ``run`` (cached decoding) is right at the limit,
    and wrong on some input at 22 digits, where the batched dense pass is still right."""
    at = PROGRAMS[0].make(n_digits=FLOAT32_MAX)
    params = astype(at.params, np.float32)
    for a, b in nasty_pairs(FLOAT32_MAX)[:8]:
        prompt = make_prompt(a, b, FLOAT32_MAX)
        out = decode_cached(prompt, params, max_steps=2 * FLOAT32_MAX)[len(prompt):]
        assert list(out) == list(at.reference(prompt))
    past = PROGRAMS[0].make(n_digits=22)
    report = verify(past, dtype="float32", samples=100, seed=22, progress=False,
                    backend="fast")
    assert not report.ok
    prompt = report.failures[0][0]
    params = astype(past.params, np.float32)
    cached = decode_cached(prompt, params, max_steps=44)[len(prompt):]
    assert list(cached) != list(past.reference(prompt))
    batched = forward_batch(np.concatenate((prompt, past.reference(prompt)[:-1]))[None],
                            params, logits_from=len(prompt) - 1)[0].argmax(-1)
    assert list(batched) == list(past.reference(prompt))
