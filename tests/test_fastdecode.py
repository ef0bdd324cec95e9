"""The cached fast decoder (``decode_batch(fast="auto")``) against the plain decoder, and its
MLP by sorted kinks against exact sums."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import taotp.fastdecode
from constructions import get_program
from constructions.registry import DECODERS
from taotp import astype, decode, decode_batch
from taotp.batched import KVCache, _forward, _mlp, mlp_support, nonzero_columns
from taotp.fastdecode import FastDecoder
from taotp.kinks import KinkMLP
from tests.conftest import random_params
from tests.test_fastpath import build_model, models



def prefill_logits(params, prompts, fast):
    """The logits after a prompt, on the fast decoder and on the batched cached pass."""
    n = prompts.shape[1]
    fast.prepare(n, prompts.size)
    got = fast.forward(prompts, 0, fast.new_cache(len(prompts), n))
    want = _forward(params, prompts, 0, KVCache(len(params["layers"])), logits_from=-1)[:, -1]
    return got, want


# Encoder tasks are one pass, not decoded: tests/test_fastpath.py checks theirs.
@pytest.mark.parametrize("name", sorted(DECODERS))
def test_every_program_decodes_the_decoders_tokens(default_task, name):
    task = default_task(name)
    assert not task.encoder
    prompts = list(task.sample(np.random.default_rng(2), 6))
    steps = max(task.steps(p) for p in prompts)
    got = decode_batch(prompts, task.params, max_steps=steps, eos=task.eos, fast="auto")
    for prompt, row in zip(prompts, got):
        np.testing.assert_array_equal(row, decode(prompt, task.params, max_steps=steps,
                                                  eos=task.eos))
    # The logits: the kink MLPs sum in another order than BLAS (worst seen: 1.5e-8 of the
    # logit scale, lookup-table-general); every other stand-in to float rounding.
    length = len(prompts[0])
    same = np.stack([p for p in prompts if len(p) == length])
    fast, want = prefill_logits(task.params, same, FastDecoder(task.params))
    scale = np.maximum(np.abs(want).max(axis=-1, keepdims=True), 1.0)
    np.testing.assert_allclose(fast / scale, want / scale, rtol=0, atol=1e-7)
    assert fast.dtype == want.dtype


@settings(max_examples=30, deadline=None)
@given(models, st.integers(1, 6), st.integers(0, 5), st.booleans())
def test_random_models_decode_the_decoders_tokens(model, prompt_len, steps, kinks):
    """``kinks``: every MLP that reads one dimension goes by its kinks, however narrow."""
    params, rng = build_model(*model)
    prompts = [rng.integers(0, 7, size=prompt_len) for _ in range(3)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(taotp.fastdecode, "_KINK_WIDTH", 1 if kinks else 10 ** 9)
        fast = FastDecoder(params)
        for eos in (None, 3):
            got = decode_batch(prompts, params, max_steps=steps, eos=eos, fast=fast)
            for p, g in zip(prompts, got):
                np.testing.assert_array_equal(g, decode(p, params, max_steps=steps, eos=eos))
        assert ("by sorted kinks" in fast.describe()) == (
            kinks and any(np.count_nonzero(layer["M1"].any(axis=1)) == 1
                          for layer in params["layers"]))


def test_tables_are_used_and_decoding_past_them_is_the_same(rng):
    params = random_params(rng, n_layers=2, d_ff=5)
    prompts = [rng.integers(0, 7, size=4) for _ in range(5)]
    fast = FastDecoder(params)
    short = decode_batch(prompts, params, max_steps=2, fast=fast)
    assert fast.tables is not None and "tables" in fast.describe()
    fast.tables = {k: v[:5] for k, v in fast.tables.items()}  # too short: layer 0 in full
    fast.prepare = lambda positions, rows: None
    longer = decode_batch(prompts, params, max_steps=6, fast=fast)
    for p, s, g in zip(prompts, short, longer):
        np.testing.assert_array_equal(s, g[:len(s)])
        np.testing.assert_array_equal(g, decode(p, params, max_steps=6))


def test_bad_fast_arguments_are_clear_errors(rng):
    params = random_params(rng)
    with pytest.raises(ValueError, match="'auto'"):
        decode_batch([np.array([1, 2])], params, max_steps=1, fast="fastest")
    with pytest.raises(ValueError, match="built on these params"):
        decode_batch([np.array([1, 2])], params, max_steps=1,
                     fast=FastDecoder(random_params(rng)))
    with pytest.raises(ValueError, match="reads one dimension"):
        KinkMLP(params["layers"][0])


def test_float32_stays_float32(rng):
    params = astype(random_params(rng, d_ff=300), "float32")
    for layer in params["layers"]:
        layer["M1"][1:] = 0.0
    fast = FastDecoder(params)
    assert "by sorted kinks" in fast.describe()
    prompts = rng.integers(0, 7, size=(4, 6))
    got, want = prefill_logits(params, prompts, fast)
    assert got.dtype == np.float32 and want.dtype == np.float32
    scale = np.abs(want).max(axis=-1, keepdims=True)
    np.testing.assert_allclose(got / scale, want / scale, rtol=0, atol=1e-4)
    h = rng.normal(size=(3, 6)).astype(np.float32)
    assert fast.mlps[0](h, params["layers"][0]).dtype == np.float32


def exact_mlp(x, row, layer):
    """The MLP at ``x`` (one row) in exact rational arithmetic."""
    a, b, M2 = layer["M1"][row], layer["b1"], layer["M2"]
    hidden = [max(Fraction(float(a[j])) * Fraction(float(x)) + Fraction(float(b[j])), 0)
              for j in range(len(b))]
    return np.array([float(Fraction(float(layer["b2"][c]))
                           + sum(hidden[j] * Fraction(float(M2[j, c])) for j in range(len(b))))
                     for c in range(M2.shape[1])])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 80), st.integers(0, 3))
def test_kink_mlp_is_within_rounding_of_the_exact_sums(seed, d_ff, row):
    """Rising, falling and constant units, columns never written, and inputs on the kinks:
    the kink sums and the dense ones both lie within ``d_ff eps`` of the exact value, relative
    to ``bound``."""
    rng = np.random.default_rng(seed)
    layer = random_params(rng, n_layers=1, d_model=4, d_ff=d_ff)["layers"][0]
    layer["M1"][:] = 0.0
    layer["M1"][row] = rng.normal(size=d_ff) * rng.choice([0.0, 1.0, 1e3], size=d_ff)
    layer["M2"][:, rng.integers(0, 4)] = 0.0
    if not layer["M1"].any():
        layer["M1"][row, 0] = 1.0
    mlp = KinkMLP(layer)
    a, b = layer["M1"][row], layer["b1"]
    kinks = -b[a != 0] / a[a != 0]
    x = np.concatenate((rng.normal(size=6) * 3, kinks[:6], [kinks.min() - 1, kinks.max() + 1]))
    h = rng.normal(size=(len(x), 4))
    h[:, row] = x
    got = mlp(h)
    dense = _mlp(h, layer, mlp_support(layer))
    exact = np.array([exact_mlp(xi, row, layer) for xi in x])
    tolerance = 4 * (d_ff + 2) * np.finfo(np.float64).eps * mlp.bound(h, layer)
    assert np.all(np.abs(dense - exact) <= tolerance)
    assert np.all(np.abs(got - exact) <= tolerance)


def test_three_digit_addition_mlp_agrees_with_the_dense_sums():
    """On DECIMAL ADDITION's MLP (23,988 units) at inputs across its range and on its kinks,
    the kink sums and the dense ones agree to 1e-15 of ``bound`` (``d_ff eps`` would allow
    5e-12; exactness itself is tested above on MLPs small enough for rational sums)."""
    task = get_program("addition").make(n_digits=3)
    layer = task.params["layers"][0]
    mlp = KinkMLP(layer)
    rng = np.random.default_rng(0)
    h = np.zeros((200, layer["M1"].shape[0]))
    h[:, mlp.row] = np.concatenate((rng.uniform(-0.7, 2.5, 100), mlp.kinks[::240][:100]))
    got, dense = mlp(h), _mlp(h, layer, mlp_support(layer))
    assert np.all(np.abs(got - dense) <= 1e-15 * mlp.bound(h, layer))


@pytest.mark.slow
def test_all_three_digit_additions_decode_on_the_fast_decoder():
    """Every one of the 10^6 sums, decoded on ``fast="auto"`` (kink MLP, layer-0 tables), gives
    the reference answer: the same verdict ``decode`` gets (``taotp verify``)."""
    task = get_program("addition").make(n_digits=3)
    domain = task.exhaustive()
    fast = FastDecoder(task.params)
    wrong = 0
    for start in range(0, len(domain), 50_000):
        prompts, expected = domain.batch(np.arange(start, min(start + 50_000, len(domain))))
        got = decode_batch(list(prompts), task.params, max_steps=expected.shape[1], fast=fast)
        wrong += int(np.sum(np.any(np.stack(got)[:, prompts.shape[1]:] != expected, axis=1)))
    assert wrong == 0


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 1000])
@pytest.mark.parametrize("d", [0, 1, 7])
def test_nonzero_columns_is_any_over_rows(rng, n, d):
    for density in (0.0, 0.002, 0.5):
        M = rng.normal(size=(n, d)) * (rng.random((n, d)) < density)
        np.testing.assert_array_equal(nonzero_columns(M), np.flatnonzero(M.any(axis=0)))


def test_sampling_draws_as_the_batched_decoder_does(rng):
    """``temperature > 0``: the same seeded draws from (to rounding) the same logits."""
    params = random_params(rng, n_layers=2)
    prompts = [rng.integers(0, 7, size=3) for _ in range(6)]
    fast = decode_batch(prompts, params, max_steps=5, temperature=1.0, seed=4, fast="auto")
    plain = decode_batch(prompts, params, max_steps=5, temperature=1.0, seed=4)
    for f, p in zip(fast, plain):
        np.testing.assert_array_equal(f, p)


def test_auto_reads_the_params_as_they_are_now(rng):
    """Nothing is cached between ``fast="auto"`` calls: a changed weight is seen."""
    params = random_params(rng, n_layers=1)
    prompts = [rng.integers(0, 7, size=3) for _ in range(4)]
    decode_batch(prompts, params, max_steps=3, fast="auto")
    params["out_emb"][:] = params["out_emb"][::-1].copy()
    got = decode_batch(prompts, params, max_steps=3, fast="auto")
    for p, g in zip(prompts, got):
        np.testing.assert_array_equal(g, decode(p, params, max_steps=3))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_layer_norm_is_numpys_mean_and_var_bit_for_bit(rng, dtype):
    from taotp.model import layer_norm

    def numpys(x, gamma=1.0, beta=0.0, epsilon=1e-10):
        centered = x - x.mean(axis=-1, keepdims=True)
        return beta + gamma * centered / (x.var(axis=-1, keepdims=True) ** 0.5 + epsilon)

    for shape in [(1, 3), (32, 7), (5, 4, 12), (3, 1)]:
        x = (rng.normal(size=shape) * rng.choice([1e-6, 1.0, 1e6])).astype(dtype)
        gamma = rng.normal(size=shape[-1]).astype(dtype)
        beta = rng.normal(size=shape[-1]).astype(dtype)
        for kw in ({}, {"gamma": gamma, "beta": beta}):
            got, want = layer_norm(x, **kw), numpys(x, **kw)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
