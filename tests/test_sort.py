"""MIN, MAX and SORT (Chapter 5): exhaustive where the domain is small, seeded random else."""
from __future__ import annotations

import numpy as np
import pytest

from constructions.sort import (
    PROGRAMS, build_max_transformer, build_min_transformer, build_sort_transformer,
    nextpoint, powerpoints, stretch,
)
from taotp import astype, count_non0_params, count_params, decode, forward_batch

BY_NAME = {p.name: p for p in PROGRAMS}


def failures(task, prompts, dtype=np.float64):
    """Prompts whose greedy decode differs from the reference (teacher forcing, batched)."""
    params = task.params if dtype == np.float64 else astype(task.params, dtype)
    by_length, bad = {}, []
    for prompt in prompts:
        by_length.setdefault(len(prompt), []).append(np.asarray(prompt))
    for length, group in by_length.items():
        refs = np.array([task.reference(p) for p in group])
        tokens = np.concatenate((np.array(group), refs[:, :-1]), axis=1)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            logits = forward_batch(tokens, params, logits_from=length - 1)
        assert logits.dtype == dtype
        wrong = (logits.argmax(-1) != refs).any(-1)
        bad += [group[i] for i in np.flatnonzero(wrong)]
    return bad


# --- MIN and MAX ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["min", "max"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_min_max_exhaustive_small(name, dtype):
    for vocab_size in range(1, 7):
        task = BY_NAME[name].make(vocab_size=vocab_size, block_size=5)
        prompts = list(task.exhaustive())
        assert len(prompts) == sum(vocab_size ** k for k in range(1, 6))
        assert failures(task, prompts, dtype) == []


@pytest.mark.parametrize("name", ["min", "max"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("vocab_size, block_size", [(20, 20), (100, 500), (1000, 1000)])
def test_min_max_random_long(name, dtype, vocab_size, block_size):
    task = BY_NAME[name].make(vocab_size=vocab_size, block_size=block_size)
    rng = np.random.default_rng(vocab_size + block_size)
    prompts = task.sample(rng, 200) + task.adversarial()
    # Full-length inputs whose answer appears once, hidden among its nearest neighbour.
    for _ in range(20):
        extreme = rng.integers(1, vocab_size - 1)
        near = extreme + (1 if name == "min" else -1)
        seq = np.full(block_size, near)
        seq[rng.integers(block_size)] = extreme
        prompts.append(seq)
    assert failures(task, prompts, dtype) == []


def test_min_max_examples_and_decode():
    assert BY_NAME["min"].make().run("6 2 0 12 18 7 12 12") == "0"
    assert BY_NAME["max"].make().run("6 2 0 12 18 7 12 12") == "18"
    task = BY_NAME["min"].make(vocab_size=7, block_size=4)
    out = decode(task.encode("6 5 6 5"), task.params, max_steps=1)
    assert task.render(out[4:]) == "5"


@pytest.mark.parametrize("build", [build_min_transformer, build_max_transformer])
@pytest.mark.parametrize("n", [1, 10, 28, 100])
def test_min_max_size_is_6n_plus_39(build, n):
    params = build(n, n)
    assert count_params(params)["n_params"] == 6 * n + 39
    non0 = count_non0_params(params)
    assert non0["n_params"] - non0["tok_emb"] == 11
    for program in (BY_NAME["min"], BY_NAME["max"]):
        assert program.book_size(vocab_size=n, block_size=n) == {
            "non0_outside_tok_emb": 11, "n_params": 6 * n + 39}


@pytest.mark.parametrize("name", ["min", "max"])
@pytest.mark.parametrize("text, problem", [
    ("", "empty"), ("3 20", "outside the vocabulary"), ("3 -1", "not a number"),
    ("3 x", "not a number"), ("1.5", "not a number"), (" ".join(["1"] * 21), "block_size"),
])
def test_min_max_bad_input(name, text, problem):
    with pytest.raises(ValueError, match=problem):
        BY_NAME[name].make().encode(text)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_min_bad_sizes(bad):
    with pytest.raises(ValueError if isinstance(bad, int) and not isinstance(bad, bool)
                       else TypeError, match="vocab_size"):
        build_min_transformer(bad, 5)


# --- SORT -------------------------------------------------------------------------------

def test_powerpoints_orders_neighbours():
    ps = powerpoints(10)
    assert ps[0] == 0 and ps[-1] == np.pi and np.all(np.diff(ps) > 0)
    assert np.allclose(stretch(np.array([1.0, 2.0]), 4.0), [2.0, 4.0])
    qs = nextpoint(ps)
    assert len(qs) == 10 and qs[-2] == np.pi and qs[-1] == 0
    for i in range(8):
        # q_i is nearest p_{i+1}, then p_{i+2}, ..., and every larger p beats every smaller.
        dist = np.abs(ps - qs[i])
        assert list(np.argsort(dist)[:10 - i - 1]) == list(range(i + 1, 10))


def test_sort_every_size_n28():
    task = BY_NAME["sort"].make()
    rng = np.random.default_rng(28)
    prompts = [np.append(rng.permutation(np.arange(1, 28))[:k], 0)
               for k in range(1, 28) for _ in range(20)]
    prompts += task.adversarial() + task.sample(rng, 200)
    assert failures(task, prompts) == []


@pytest.mark.parametrize("n", [2, 3, 4, 7, 12, 19, 25])
def test_sort_smaller_vocabularies(n):
    task = BY_NAME["sort"].make(n=n)
    rng = np.random.default_rng(n)
    prompts = [np.append(rng.permutation(np.arange(1, n))[:k], 0)
               for k in range(1, n) for _ in range(10)]
    assert failures(task, prompts + task.adversarial()) == []


def test_sort_precision_limit_is_n28_in_float64():
    """The book's "robust up to 28 numbers in fp32" holds in float64: n=29 already fails."""
    with pytest.warns(UserWarning, match="proven exact only up to 28"):
        task = BY_NAME["sort"].make(unchecked=True, n=29)
    rng = np.random.default_rng(29)
    prompts = [np.append(rng.permutation(np.arange(1, 29))[:k], 0)
               for k in range(20, 29) for _ in range(10)]
    assert len(failures(task, prompts)) > 0


def test_sort_float32_fails_as_documented():
    program = BY_NAME["sort"]
    assert program.float32  # not exact in float32: say why
    task = program.make()
    prompts = task.adversarial()
    assert len(failures(task, prompts, np.float32)) == len(prompts)
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            forward_batch(prompts[0][None], astype(task.params, np.float32))


def test_sort_decodes_with_the_books_loop():
    task = BY_NAME["sort"].make()
    prompt = task.encode("6 2 12 18 7")
    assert list(prompt) == [6, 2, 12, 18, 7, 0]
    out = decode(prompt, task.params, max_steps=task.steps(prompt))
    assert task.render(out[len(prompt):]) == "2 6 7 12 18" == task.answer("6 2 12 18 7")


def test_sort_counts():
    params = build_sort_transformer()
    assert count_params(params) == {"n_params": 918, "tok_emb": 168, "pos_emb": 600,
                                    "non_emb": 150}
    # The book: 18 non-zero outside tok_emb (same) and "166 non-zero" (our tok_emb's count).
    assert count_non0_params(params) == {"n_params": 184, "tok_emb": 166, "pos_emb": 0,
                                         "non_emb": 18}
    assert BY_NAME["sort"].book_size(n=28, block_size=100) == {
        "non0": 166, "non0_outside_tok_emb": 18}


@pytest.mark.parametrize("text, problem", [
    ("", "empty"), ("3 3", "repeated"), ("3 0 5", "end-of-input"), ("28", "outside"),
    ("4 x", "not a number"), ("-3", "not a number"),
])
def test_sort_bad_input(text, problem):
    with pytest.raises(ValueError, match=problem):
        BY_NAME["sort"].make().encode(text)


def test_sort_too_many_numbers_for_block():
    task = BY_NAME["sort"].make(n=28, block_size=10)
    task.encode("1 2 3 4 5")
    with pytest.raises(ValueError, match="do not fit"):
        task.encode("1 2 3 4 5 6")
    with pytest.raises(ValueError, match="n must be"):
        build_sort_transformer(n=1)
