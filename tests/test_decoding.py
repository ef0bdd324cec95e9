"""Fast paths against the plain forward pass: same tokens, logits to 1e-9 relative."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from taotp import astype, decode, decode_batch, decode_cached, forward_batch, transformer
from tests.conftest import random_params

small_models = st.builds(
    lambda seed, layers, heads, d_ff: (seed, dict(n_layers=layers, n_heads=heads, d_ff=d_ff)),
    st.integers(0, 2**32 - 1), st.integers(0, 3), st.integers(1, 3), st.integers(0, 6))


@settings(max_examples=40, deadline=None)
@given(small_models, st.integers(1, 6), st.integers(0, 6))
def test_cached_and_batched_decoding_equal_plain_decoding(model, prompt_len, steps):
    seed, shape = model
    rng = np.random.default_rng(seed)
    params = random_params(rng, **shape)
    prompts = [rng.integers(0, 7, size=prompt_len) for _ in range(3)]
    plain = [decode(p, params, max_steps=steps) for p in prompts]
    for p, expected in zip(prompts, plain):
        np.testing.assert_array_equal(decode_cached(p, params, max_steps=steps), expected)
    for got, expected in zip(decode_batch(prompts, params, max_steps=steps), plain):
        np.testing.assert_array_equal(got, expected)


@settings(max_examples=25, deadline=None)
@given(small_models, st.integers(1, 12))
def test_forward_batch_logits_equal_transformer(model, length):
    seed, shape = model
    rng = np.random.default_rng(seed)
    params = random_params(rng, **shape)
    tokens = rng.integers(0, 7, size=(3, length))
    got = forward_batch(tokens, params)
    for row, logits in zip(tokens, got):
        expected = transformer(row, **params)
        scale = np.abs(expected).max(axis=-1, keepdims=True)
        np.testing.assert_allclose(logits / scale, expected / scale, atol=1e-9)
    tail = forward_batch(tokens, params, logits_from=length - 2)
    np.testing.assert_allclose(tail, got[:, -2:], rtol=1e-9, atol=1e-9)


def test_eos_stops_every_path(rng):
    params = random_params(rng)
    prompt = np.array([1, 2])
    full = decode(prompt, params, max_steps=8)
    eos = int(full[4])  # the third generated token: decoding must stop at its first occurrence
    first = 2 + int(np.flatnonzero(full[2:] == eos)[0])
    for fn in (decode, decode_cached):
        np.testing.assert_array_equal(fn(prompt, params, max_steps=8, eos=eos), full[:first + 1])
    got = decode_batch([prompt, prompt], params, max_steps=8, eos=eos)
    for row in got:
        np.testing.assert_array_equal(row, full[:first + 1])


def test_ragged_batches_keep_their_order(rng):
    params = random_params(rng)
    prompts = [rng.integers(0, 7, size=n) for n in (3, 1, 3, 2, 1)]
    got = decode_batch(prompts, params, max_steps=4, batch_size=2)
    for p, row in zip(prompts, got):
        np.testing.assert_array_equal(row, decode(p, params, max_steps=4))


def test_sliding_window_decodes_past_block_size(rng):
    params = random_params(rng, block_size=5)
    prompt = np.array([1, 2, 3])
    with pytest.raises(ValueError, match="block_size"):
        decode(prompt, params, max_steps=10)
    with pytest.raises(ValueError, match="block_size"):
        decode_batch([prompt], params, max_steps=10)
    plain = decode(prompt, params, max_steps=10, sliding_window=True)
    assert len(plain) == 13
    # Each step sees exactly the last block_size tokens.
    for i in range(5, 13):
        window = plain[max(0, i - 5):i]
        assert plain[i] == np.argmax(transformer(window, **params)[-1])
    np.testing.assert_array_equal(decode_cached(prompt, params, max_steps=10, sliding_window=True),
                                  plain)


def test_a_prompt_longer_than_the_window_is_cut_only_with_sliding_window(rng):
    params = random_params(rng, block_size=4)
    prompt = rng.integers(0, 7, size=6)
    with pytest.raises(ValueError, match="block_size=4"):
        decode(prompt, params, max_steps=1)
    out = decode(prompt, params, max_steps=1, sliding_window=True)
    assert out[-1] == np.argmax(transformer(prompt[-4:], **params)[-1])


def test_temperature_sampling_is_seeded(rng):
    params = random_params(rng, scale=0.1)
    prompt = np.array([3])
    a = decode(prompt, params, max_steps=8, temperature=2.0, seed=7)
    b = decode(prompt, params, max_steps=8, temperature=2.0, seed=7)
    c = decode_cached(prompt, params, max_steps=8, temperature=2.0, seed=7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    samples = {tuple(decode(prompt, params, max_steps=8, temperature=5.0, seed=s)) for s in range(20)}
    assert len(samples) > 1  # it really samples


def test_temperature_zero_is_greedy(rng):
    params = random_params(rng)
    prompt = np.array([3, 4])
    np.testing.assert_array_equal(decode(prompt, params, max_steps=5, temperature=0.0, seed=1),
                                  decode(prompt, params, max_steps=5))


def test_float32_decoding_stays_float32(rng):
    params = astype(random_params(rng), np.float32)
    tokens = rng.integers(0, 7, size=(2, 5))
    assert forward_batch(tokens, params).dtype == np.float32
    decode_cached(tokens[0], params, max_steps=3)


@pytest.mark.parametrize("bad, message", [
    (np.array([0, 9]), "outside the vocabulary"),
    (np.array([-1]), "outside the vocabulary"),
    (np.array([], dtype=int), "empty"),
    (np.array([[1, 2]]), "1-D"),
    (np.array([0.5]), "integers"),
])
def test_bad_tokens_are_clear_errors(rng, bad, message):
    params = random_params(rng)
    with pytest.raises((ValueError, TypeError), match=message):
        decode(bad, params, max_steps=1)
    with pytest.raises((ValueError, TypeError), match=message):
        transformer(bad, **params)


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_steps=-1), "max_steps"),
    (dict(max_steps=1.5), "max_steps"),
    (dict(eos=99), "eos"),
    (dict(temperature=-1.0), "temperature"),
])
def test_bad_decode_options_are_clear_errors(rng, kwargs, message):
    params = random_params(rng)
    for fn in (decode, decode_cached):
        with pytest.raises(ValueError, match=message):
            fn(np.array([1]), params, **kwargs)


def test_ragged_forward_batch_is_a_clear_error(rng):
    params = random_params(rng)
    with pytest.raises(ValueError, match="same length"):
        forward_batch([[1, 2], [1]], params)


def test_attention_in_query_chunks_is_the_same(rng, monkeypatch):
    import taotp.batched

    params = random_params(rng, block_size=40)
    tokens = rng.integers(0, 7, size=(2, 40))
    whole = forward_batch(tokens, params, hardness=True)
    monkeypatch.setattr(taotp.batched, "_SCORES", 50)  # a few queries per chunk
    chunked = forward_batch(tokens, params, hardness=True)
    # BLAS may block a product differently by shape: equal to rounding, not to the bit.
    np.testing.assert_allclose(whole[0], chunked[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(whole[1], chunked[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rows", [[], [2], [0, 3]])
def test_mlp_shortcuts_equal_the_plain_mlp(rng, rows):
    """The fast path skips zero rows of M1 / columns of M2; the logits must not change."""
    params = random_params(rng, n_layers=2, d_ff=7)
    for layer in params["layers"]:
        keep = np.zeros(layer["M1"].shape[0], dtype=bool)
        keep[rows] = True
        layer["M1"][~keep] = 0.0
        layer["M2"][:, 1] = 0.0
    tokens = rng.integers(0, 7, size=(2, 9))
    for row, logits in zip(tokens, forward_batch(tokens, params)):
        np.testing.assert_allclose(logits, transformer(row, **params), rtol=1e-10, atol=1e-10)
