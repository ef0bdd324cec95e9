"""Chapter 6: single-digit mod, multi-digit mod and decimal addition, checked on their domains.

Most checks use teacher forcing (``forward_batch`` on prompt + expected output), which gives
in one pass the logits greedy decoding sees at every output step; a few inputs per program are
also decoded for real.
"""
from __future__ import annotations

import numpy as np
import pytest

from constructions.addition import (
    PROGRAMS, build_decimal_addition_transformer, build_multi_digit_mod_transformer,
    build_single_digit_mod_transformer, digit_embeddings,
)
from taotp import astype, count_non0_params, count_params, decode_batch, forward_batch

BY_NAME = {p.name: p for p in PROGRAMS}


def failures(task, prompts, dtype=np.float64, chunk=200):
    """Prompts whose greedy decode differs from the reference (all prompts one length)."""
    params = task.params if dtype == np.float64 else astype(task.params, dtype)
    prompts = np.array(list(prompts))
    refs = np.array([task.reference(p) for p in prompts])
    assert refs.shape[1] == task.steps(prompts[0])
    tokens = np.concatenate((prompts, refs[:, :-1]), axis=1)
    bad = []
    for start in range(0, len(tokens), chunk):
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            logits = forward_batch(tokens[start:start + chunk], params,
                                   logits_from=prompts.shape[1] - 1)
        assert logits.dtype == dtype
        wrong = (logits.argmax(-1) != refs[start:start + chunk]).any(-1)
        bad += [prompts[start + i] for i in np.flatnonzero(wrong)]
    return bad


def decoded(task, prompts):
    """Real greedy decoding (batched, cached), rendered."""
    outs = decode_batch(prompts, task.params, max_steps=task.steps(prompts[0]))
    return [task.render(out[len(p):]) for p, out in zip(prompts, outs)]


def test_digit_embeddings_are_fixed_by_layer_norm():
    emb = digit_embeddings()
    assert np.allclose(emb.mean(axis=1), 0) and np.allclose(emb.var(axis=1), 1)
    assert np.allclose(emb[:, 0], np.arange(10) / 100)


# --- SINGLE DIGIT MOD -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_single_digit_mod_all_pairs(dtype):
    task = BY_NAME["single-digit-mod"].make()
    prompts = list(task.exhaustive())
    assert len(prompts) == 100
    assert failures(task, prompts, dtype) == []


def test_single_digit_mod_decodes():
    task = BY_NAME["single-digit-mod"].make()
    assert [task.run(t) for t in ("7+8", "7 8", "78", "0 0", "9+9")] == ["5", "5", "5", "0", "8"]
    prompts = list(task.exhaustive())
    assert decoded(task, prompts) == [str((a + b) % 10) for a in range(10) for b in range(10)]


@pytest.mark.parametrize("text, problem", [
    ("", "empty"), ("7", "two digits"), ("7+8+9", "two digits"), ("12+3", "single digit"),
    ("x 1", "single digit"), ("7-8", "single digit"),
])
def test_single_digit_mod_bad_input(text, problem):
    with pytest.raises(ValueError, match=problem):
        BY_NAME["single-digit-mod"].make().encode(text)


# --- MULTI-DIGIT MOD --------------------------------------------------------------------

@pytest.mark.parametrize("n_digits", [1, 2])
def test_multi_digit_mod_exhaustive(n_digits):
    task = BY_NAME["multi-digit-mod"].make(n_digits=n_digits)
    prompts = list(task.exhaustive())
    assert len(prompts) == 100 ** n_digits
    assert failures(task, prompts) == []


def test_multi_digit_mod_three_digits():
    task = BY_NAME["multi-digit-mod"].make(n_digits=3)
    # Its 10^6 inputs are enumerable (taotp verify --exhaustive), too many for a fast test.
    assert next(iter(task.exhaustive())).tolist() == [0, 0, 0, 10, 0, 0, 0, 11]
    prompts = task.sample(np.random.default_rng(3), 3000) + task.adversarial()
    assert failures(task, prompts) == []
    assert decoded(task, task.adversarial()[:8]) == [
        task.render(task.reference(p)) for p in task.adversarial()[:8]]


def test_multi_digit_mod_float32():
    """Exact with 1 digit; with 2 the MLP's points (1.4e-6 apart) are too fine, as documented."""
    one = BY_NAME["multi-digit-mod"].make(n_digits=1)
    assert failures(one, list(one.exhaustive()), np.float32) == []
    two = BY_NAME["multi-digit-mod"].make(n_digits=2)
    assert BY_NAME["multi-digit-mod"].float32_note()  # at its default 2 digits
    assert not BY_NAME["multi-digit-mod"].float32_note(n_digits=1)
    assert BY_NAME["addition"].float32_note(n_digits=3) and not BY_NAME["addition"].float32_note()
    prompts = two.sample(np.random.default_rng(2), 500)
    assert len(failures(two, prompts, np.float32)) > 250


# --- DECIMAL ADDITION -------------------------------------------------------------------

@pytest.mark.parametrize("n_digits", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_addition_exhaustive(n_digits, dtype):
    task = BY_NAME["addition"].make(n_digits=n_digits)
    prompts = list(task.exhaustive())
    assert len(prompts) == 100 ** n_digits
    assert failures(task, prompts, dtype) == []


def test_addition_three_digits_random_and_carry_chains():
    task = BY_NAME["addition"].make(n_digits=3)
    nasty = task.adversarial()
    texts = {task.render(p) for p in nasty}
    for case in ("999+001=", "500+500=", "000+000=", "999+999=", "001+999=", "099+901=",
                 "499+501=", "000+999="):
        assert case in texts
    prompts = task.sample(np.random.default_rng(3), 1000) + nasty
    assert failures(task, prompts) == []
    assert decoded(task, nasty) == [task.render(task.reference(p)) for p in nasty]


@pytest.mark.slow
def test_addition_three_digits_many_random():
    task = BY_NAME["addition"].make(n_digits=3)
    assert failures(task, task.sample(np.random.default_rng(33), 30_000)) == []


def test_addition_three_digits_float32_fails_as_documented():
    task = BY_NAME["addition"].make(n_digits=3)
    prompts = task.sample(np.random.default_rng(4), 200)
    assert len(failures(task, prompts, np.float32)) > 100


def test_addition_cli_examples():
    task = BY_NAME["addition"].make(n_digits=2)
    assert task.run("45+78") == "123"
    assert task.run("04+02") == task.run("4+2") == task.run(" 4 + 2 = ") == "006"
    assert list(task.encode("4+2")) == [0, 4, 10, 0, 2, 11]
    assert task.answer("99+99") == "198"
    assert BY_NAME["multi-digit-mod"].make().run("12+33") == "5"


@pytest.mark.parametrize("name", ["addition", "multi-digit-mod"])
@pytest.mark.parametrize("text, problem", [
    ("", "empty"), ("123+4", "too many digits"), ("4+567", "too many digits"),
    ("4-2", "outside the vocabulary"), ("4+", "two numbers"), ("+4", "two numbers"),
    ("4+2+1", "two numbers"), ("a+b", "outside the vocabulary"), ("45+78=9", "only end"),
    ("45", "two numbers"),
])
def test_sum_bad_input(name, text, problem):
    with pytest.raises(ValueError, match=problem):
        BY_NAME[name].make(n_digits=2).encode(text)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_digit_counts(bad):
    for build in (build_multi_digit_mod_transformer, build_decimal_addition_transformer):
        with pytest.raises(ValueError if isinstance(bad, int) and not isinstance(bad, bool)
                           else TypeError, match="n_digits"):
            build(bad)


# --- Sizes: the book's totals exactly; non-zero counts pinned (ours, then the book's) ---

def test_single_digit_mod_counts():
    params = build_single_digit_mod_transformer()
    assert count_params(params)["n_params"] == 629
    assert count_non0_params(params)["n_params"] == 379
    assert BY_NAME["single-digit-mod"].book_size() == {"n_params": 629, "non0": 379}


@pytest.mark.parametrize("n_digits, n_params, non0, mlp_non0, book_non0", [
    (1, 1_226, 430, 336, 432), (2, 9_508, 3_638, 3_522, 3_646), (3, 90_690, 35_544, 35_382, 35_542),
])
def test_multi_digit_mod_counts(n_digits, n_params, non0, mlp_non0, book_non0):
    params = build_multi_digit_mod_transformer(n_digits)
    assert count_params(params)["n_params"] == n_params
    assert count_non0_params(params)["n_params"] == non0
    layer = params["layers"][0]
    assert sum(int((layer[k] != 0).sum()) for k in ("M1", "b1", "M2", "b2")) == mlp_non0
    assert BY_NAME["multi-digit-mod"].book_size(n_digits=n_digits) == {
        "n_params": n_params, "non0": book_non0}


@pytest.mark.parametrize("n_digits, n_params, non0, mlp, mlp_non0, book_non0", [
    (1, 2_088, 735, 1_717, 648, 737),
    (2, 27_432, 10_438, 26_872, 10_326, 10_440),
    (3, 360_576, 139_265, 359_827, 139_128, 139_267),
])
def test_addition_counts(n_digits, n_params, non0, mlp, mlp_non0, book_non0):
    params = build_decimal_addition_transformer(n_digits)
    assert count_params(params)["n_params"] == n_params
    assert count_non0_params(params)["n_params"] == non0
    layer = params["layers"][0]
    mlp_keys = ("M1", "b1", "M2", "b2")
    assert sum(layer[k].size for k in mlp_keys) == mlp  # the book's table, exactly
    assert sum(int((layer[k] != 0).sum()) for k in mlp_keys) == mlp_non0
    assert BY_NAME["addition"].book_size(n_digits=n_digits) == {
        "n_params": n_params, "non0": book_non0}
    assert BY_NAME["addition"].book_size(n_digits=4) is None
