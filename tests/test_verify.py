"""Certificates: verify agrees with decoding, catches broken weights, reports margins."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from constructions import get_program
from taotp import decode
from taotp.verify import verify


@pytest.fixture(scope="module")
def min_task():
    return get_program("min").make(vocab_size=5, block_size=4)


def test_exhaustive_covers_the_domain(min_task):
    report = verify(min_task, exhaustive=True, progress=False)
    assert report.mode == "exhaustive" and report.ok
    assert report.n_inputs == sum(5 ** n for n in range(1, 5))
    assert report.worst_margin > 0 and 0.5 < report.worst_hardness <= 1.0


def test_a_broken_program_fails_with_the_decoded_tokens(min_task):
    params = {**min_task.params, "tok_emb": min_task.params["tok_emb"][::-1].copy()}
    params["out_emb"] = min_task.params["out_emb"]
    broken = replace(min_task, params=params)
    report = verify(broken, exhaustive=True, progress=False)
    assert not report.ok and report.worst_margin < 0
    prompt, expected, got = report.failures[0]
    out = decode(np.array(prompt), params, max_steps=1)
    assert got == out[len(prompt):].tolist() and got != expected


def test_verify_agrees_with_decoding_on_every_input(min_task):
    params = {**min_task.params, "tok_emb": min_task.params["tok_emb"][::-1].copy()}
    broken = replace(min_task, params=params)
    report = verify(broken, exhaustive=True, progress=False, max_failures=10 ** 6)
    wrong = 0
    for prompt in min_task.exhaustive():
        out = decode(prompt, params, max_steps=1)
        wrong += not np.array_equal(out[len(prompt):], min_task.reference(prompt))
    assert wrong == report.n_inputs - report.n_passed == len(report.failures)


def test_samples_are_seeded(min_task):
    a = verify(min_task, samples=30, seed=3, progress=False)
    b = verify(min_task, samples=30, seed=3, progress=False)
    assert a.n_inputs == b.n_inputs and a.worst_margin == b.worst_margin


def test_float32_report_names_its_dtype(min_task):
    report = verify(min_task, samples=20, dtype="float32", progress=False)
    assert report.dtype == "float32"


def test_bad_arguments(min_task):
    with pytest.raises(ValueError, match="samples"):
        verify(min_task, samples=-1, progress=False)
    with pytest.raises(ValueError, match="no exhaustive"):
        verify(replace(min_task, exhaustive=None), exhaustive=True, progress=False)
