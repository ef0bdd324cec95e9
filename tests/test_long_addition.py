"""long-addition: exact in float64 and float32, exhaustive to 2 digits, random and carry-chain
inputs at 10, 100 and 1,000 digits (10,000 in the slow test); parameter counts pinned.

Whole decodes are checked by teacher forcing: the logits at positions ``len(prompt) - 1``
onwards of ``prompt + expected[:-1]`` are what greedy decoding sees, so one forward pass
checks all ``n + 1`` steps. Long sequences go one at a time through ``taotp.forward_batch``,
which computes attention a chunk of queries at a time (memory ``O(chunk n)``, not ``O(n^2)``);
10,000 digits go through ``FastPath``, whose attention skips the keys of zero weight.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from constructions.long_addition import (
    EQUALS, PLUS, PROGRAMS, add_digits, build_long_addition_transformer, circle_periods,
    nasty_pairs, parse_sum,
)
from taotp.circuits import code_gap
from taotp.decoding import decode_cached, forward_batch
from taotp.fastpath import FastPath
from taotp.model import transformer
from taotp.params import astype, count_params

DTYPES = (np.float64, np.float32)


def _teacher_forced(task, prompts):
    return np.array([np.concatenate((p, task.reference(p)[:-1])) for p in prompts])


def _wrong_batched(task, params, prompts, batch=256):
    """Prompts whose greedy decode differs from the reference (forward_batch, in chunks)."""
    wrong = []
    for i in range(0, len(prompts), batch):
        chunk = prompts[i:i + batch]
        logits = forward_batch(_teacher_forced(task, chunk), params,
                               logits_from=len(chunk[0]) - 1)
        assert logits.dtype == params["tok_emb"].dtype
        for p, got in zip(chunk, logits.argmax(-1)):
            if not np.array_equal(got, task.reference(p)):
                wrong.append(p)
    return wrong


def _wrong_chunked(task, params, prompts, forward=None):
    """Prompts whose teacher-forced pass (``forward_batch``, or ``forward(tokens, logits_from=)``)
    does not give the reference, one at a time."""
    forward = forward or (lambda tokens, **kw: forward_batch(tokens, params, **kw))
    wrong = []
    for p in prompts:
        tokens = np.concatenate((p, task.reference(p)[:-1]))
        logits = forward(tokens[None], logits_from=len(p) - 1)[0]
        assert logits.dtype == params["tok_emb"].dtype
        if not np.array_equal(logits.argmax(-1), task.reference(p)):
            wrong.append(p)
    return wrong


@pytest.fixture(scope="module")
def tasks():
    return {n: PROGRAMS[0].make(n_digits=n) for n in (1, 2, 3, 10, 100, 1000)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2])
def test_exhaustive(tasks, n, dtype):
    task = tasks[n]
    prompts = list(task.exhaustive())
    assert len(prompts) == 100 ** n
    assert _wrong_batched(task, astype(task.params, dtype), prompts) == []


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, count", [(3, 300), (10, 300), (100, 40)])
def test_random_and_adversarial(tasks, n, count, dtype):
    task = tasks[n]
    prompts = task.adversarial() + task.sample(np.random.default_rng(n), count)
    assert _wrong_batched(task, astype(task.params, dtype), prompts, batch=32) == []


@pytest.mark.slow  # a minute or more each on a busy machine; 100 digits run by default
@pytest.mark.parametrize("dtype, count", [(np.float64, 1), (np.float32, 10)])
def test_thousand_digits(tasks, dtype, count):
    task = tasks[1000]
    adversarial = task.adversarial()
    prompts = adversarial[::6] + task.sample(np.random.default_rng(7), count)
    assert _wrong_chunked(task, astype(task.params, dtype), prompts) == []


@pytest.mark.slow
def test_ten_thousand_digits_float32():
    """On the fast path (``FastPath``: exact sparse attention, ``taotp.fast_attention``);
    the dense pass took 17 to 40 s per input, 692 s for these 18 on a shared 2-core machine
    (``bench/long_addition.py`` times both on them)."""
    task = PROGRAMS[0].make(n_digits=10_000)
    params = astype(task.params, np.float32)
    prompts = task.adversarial()[::3] + task.sample(np.random.default_rng(10_000), 9)
    start = time.time()
    assert _wrong_chunked(task, params, prompts, FastPath(params).forward_batch) == []
    print(f"{len(prompts)} inputs of 10,000 digits in {time.time() - start:.0f} s")


def test_greedy_decoding_agrees(tasks):
    """The plain forward pass and the cached decoder give the reference."""
    task = tasks[3]
    for prompt in task.adversarial()[:6]:
        out = decode_cached(prompt, task.params, max_steps=task.steps(prompt))
        assert list(out[len(prompt):]) == list(task.reference(prompt))
        logits = transformer(np.concatenate((prompt, task.reference(prompt)[:-1])),
                             **task.params)
        assert list(logits[len(prompt) - 1:].argmax(-1)) == list(task.reference(prompt))


@pytest.mark.parametrize("n, d_model, n_params", [
    (1, 11, 3_127), (3, 11, 3_193), (54, 11, 4_876), (55, 17, 8_427), (100, 17, 10_722),
    (1000, 17, 56_622), (10_000, 17, 515_622)])
def test_parameter_counts(n, d_model, n_params):
    params = build_long_addition_transformer(n)
    assert params["tok_emb"].shape[1] == d_model
    assert params["pos_emb"].shape[0] == 3 * n + 2
    assert len(params["layers"]) == 4
    assert count_params(params)["n_params"] == n_params
    # The formula of the module docstring: only the position embedding grows.
    k = len(circle_periods(n))
    assert n_params == (33 * n + 3_094 if k == 1 else 51 * n + 5_622)


def test_codes_separate_every_position():
    for n in (1, 54, 55, 1000, 10_000):
        periods = circle_periods(n)
        assert code_gap(periods, 3 * n + 2) >= 3e-4
        assert periods[0] == 8 * (n + 1)


def test_encode_render_reference():
    task = PROGRAMS[0].make(n_digits=4)
    prompt = task.encode("45+978")
    assert list(prompt) == [0, 0, 4, 5, PLUS, 0, 9, 7, 8, EQUALS]
    assert task.answer("45+978") == "01023"
    assert task.run("9999+1") == "10000"
    assert task.render(task.reference(task.encode(" 12 + 34 = "))) == "00046"
    big = "9" * 5000
    assert parse_sum(big + "+1", 5000) == ([9] * 5000, [1])
    assert add_digits([9] * 3, [0, 0, 1]) == [1, 0, 0, 0]


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("12345+1", "5 digits"), ("1+2+3", "exactly two"), ("1-2", "'-'"),
    ("+5", "exactly two"), ("1=2", "'='"), ("12a+1", "'a'")])
def test_encode_errors(text, message):
    task = PROGRAMS[0].make(n_digits=4)
    with pytest.raises(ValueError, match=message):
        task.encode(text)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_bad_size(bad):
    with pytest.raises(ValueError if isinstance(bad, int) and not isinstance(bad, bool)
                       else TypeError, match="n_digits"):
        build_long_addition_transformer(bad)


def test_reference_checks_prompts():
    task = PROGRAMS[0].make(n_digits=2)
    with pytest.raises(ValueError, match="not a 2-digit prompt"):
        task.reference(np.array([1, 2, 3, 4, 5, 6]))


def test_adversarial_inputs_are_valid_and_nasty():
    for n in (1, 2, 7):
        pairs = nasty_pairs(n)
        assert all(len(a) == len(b) == n for a, b in pairs)
        sums = [add_digits(a, b) for a, b in pairs]
        assert [1] + [0] * n in sums  # 99..9 + 0..01: a carry through every digit
