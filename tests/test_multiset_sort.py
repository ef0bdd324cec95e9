"""SORT with repeats (constructions.multiset_sort): exhaustive at tiny sizes, seeded random
and adversarial inputs in float64 and float32, pinned sizes; the big runs are slow tests."""
from __future__ import annotations

import numpy as np
import pytest

from constructions.multiset_sort import PROGRAMS, build_multiset_sort_transformer, n_bits
from taotp import astype, count_params, decode, decode_cached, forward_batch, shape_of

PROGRAM = PROGRAMS[0]


def check(task, prompts, dtype):
    """(prompts decoded wrong, worst top-1 minus top-2 logit) under teacher forcing."""
    params = task.params if dtype == np.float64 else astype(task.params, dtype)
    by_length, bad, worst = {}, [], np.inf
    for prompt in prompts:
        by_length.setdefault(len(prompt), []).append(np.asarray(prompt))
    chunks = []
    for length, group in by_length.items():
        size = max(1, 20_000_000 // (length * params["tok_emb"].shape[0]))  # bound logits
        chunks += [(length, group[i:i + size]) for i in range(0, len(group), size)]
    for length, group in chunks:
        refs = np.array([task.reference(p) for p in group])
        tokens = np.concatenate((np.array(group), refs[:, :-1]), axis=1)
        logits = forward_batch(tokens, params, logits_from=length - 1)
        assert logits.dtype == dtype
        wrong = (logits.argmax(-1) != refs).any(-1)
        bad += [group[i].tolist() for i in np.flatnonzero(wrong)]
        top2 = np.sort(logits, axis=-1)[..., -2:]
        worst = min(worst, float((top2[..., 1] - top2[..., 0]).min()))
    return bad, worst


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exhaustive_tiny(dtype):
    task = PROGRAM.make(vocab_size=4, block_size=8)  # up to 4 numbers from 1..3
    prompts = list(task.exhaustive())
    assert len(prompts) == 3 + 9 + 27 + 81
    bad, worst = check(task, prompts, dtype)
    assert bad == [] and worst > 1.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("vocab_size, block_size, count", [
    (2, 40, 20), (37, 64, 100), (1000, 60, 150), (1000, 200, 40)])
def test_random_and_adversarial(dtype, vocab_size, block_size, count):
    task = PROGRAM.make(vocab_size=vocab_size, block_size=block_size)
    prompts = task.sample(np.random.default_rng(vocab_size + block_size), count)
    prompts += task.adversarial()
    bad, worst = check(task, prompts, dtype)
    assert bad == [] and worst > 1.0


def test_repeats_are_repeated_and_decoding_agrees():
    task = PROGRAM.make(vocab_size=1000, block_size=40)
    assert task.run("999 1 500 1 999") == "1 1 500 999 999"
    assert task.run("7 7 7 7") == "7 7 7 7"
    prompt = task.encode("5 3 5 3 5 1 998 2")
    expected = task.reference(prompt)
    np.testing.assert_array_equal(expected, [1, 2, 3, 3, 5, 5, 5, 998])
    for decoder in (decode, decode_cached):
        out = decoder(prompt, astype(task.params, np.float32), max_steps=task.steps(prompt))
        np.testing.assert_array_equal(out[len(prompt):], expected)


@pytest.mark.parametrize("vocab_size, block_size, n_params, d_model, n_layers", [
    (1000, 200, 20_840, 12, 21),
    (4, 8, 384, 4, 5),
    (100_000, 200, 1_925_451, 19, 35),
])
def test_sizes_are_pinned(vocab_size, block_size, n_params, d_model, n_layers):
    params = build_multiset_sort_transformer(vocab_size, block_size)
    counts = count_params(params)
    assert counts["n_params"] == n_params
    assert counts["tok_emb"] == vocab_size * d_model
    assert counts["pos_emb"] == block_size * d_model
    shape = shape_of(params)
    assert (shape.d_model, shape.n_layers, shape.n_heads) == (d_model, n_layers, 1)
    assert shape.d_head == n_bits(vocab_size)
    assert not params["pos_emb"].any()  # positions are never used


@pytest.mark.parametrize("text, match", [
    ("", "empty"), ("3 0 2", "not a number in 1..999"), ("1000", "not a number"),
    ("1 x", "not a number"), (" ".join(["5"] * 21), "at most 20"),
])
def test_bad_input_is_a_clear_error(text, match):
    task = PROGRAM.make(vocab_size=1000, block_size=40)
    with pytest.raises(ValueError, match=match):
        task.encode(text)


@pytest.mark.parametrize("options", [dict(vocab_size=1), dict(block_size=1),
                                     dict(vocab_size=2.5), dict(block_size=True)])
def test_bad_sizes_are_clear_errors(options):
    with pytest.raises((ValueError, TypeError), match="must be an integer|must be >= 2"):
        PROGRAM.make(**options)


@pytest.mark.slow
def test_vocab_1000_hundred_numbers_float32():
    task = PROGRAM.make(vocab_size=1000, block_size=200)
    rng = np.random.default_rng(2026)
    prompts = task.sample(rng, 3000) + task.adversarial()
    # 100 numbers each: all distinct, few distinct values, one value 99 times
    prompts += [np.append(rng.choice(np.arange(1, 1000), 100, replace=False), 0)
                for _ in range(300)]
    prompts += [np.append(rng.choice(rng.integers(1, 1000, 3), 100), 0) for _ in range(300)]
    for v in rng.integers(1, 1000, 50):
        seq = np.full(100, v)
        seq[rng.integers(100)] = rng.integers(1, 1000)
        prompts.append(np.append(seq, 0))
    bad, worst = check(task, prompts, np.float32)
    print(f"vocab 1,000: {len(prompts)} inputs, worst float32 margin {worst:.4f}")
    assert bad == [] and worst > 2.0


@pytest.mark.slow
def test_vocab_100000_float32():
    task = PROGRAM.make(vocab_size=100_000, block_size=200)
    rng = np.random.default_rng(7)
    prompts = task.sample(rng, 300) + task.adversarial()
    prompts += [np.append(rng.choice(np.arange(1, 100_000), 100), 0) for _ in range(100)]
    bad, worst = check(task, prompts, np.float32)
    print(f"vocab 100,000: {len(prompts)} inputs, worst float32 margin {worst:.4f}")
    assert bad == [] and worst > 2.0


def test_float32_decisions_keep_clear_of_their_ramps():
    """The docstring's float32 claim: each decide layer's input c stays (nearly) as far from
    its ramp as exact arithmetic puts it (|c - 1/2| >= 2 half, so 'half' clear)."""
    from constructions.multiset_sort import EPS2, GAIN, _gap
    from taotp.model import layer_norm
    from taotp.search_blocks import FeatureSpace
    from taotp.trace import record

    task = PROGRAM.make(vocab_size=1000, block_size=200)
    params = astype(task.params, np.float32)
    B = n_bits(1000)
    space, half = FeatureSpace(B + 1), GAIN * _gap(100) / 4
    rng = np.random.default_rng(3)
    worst = np.inf
    for prompt in task.sample(rng, 6) + task.adversarial()[:6]:
        tokens = np.concatenate((prompt, task.reference(prompt)[:-1]))
        rec = record(params, tokens)
        assert rec.logits.dtype == np.float32
        for j in range(B):
            mlp_in = layer_norm(rec.after_attn[2 * (B - j)])[len(prompt) - 1:]
            c = space.read(mlp_in)[:, j] / EPS2
            worst = min(worst, float(np.abs(c - 0.5).min()) - half)
    assert 0.95 * half <= worst <= 1.01 * half
