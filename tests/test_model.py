"""The forward pass: Figure 1.1 semantics, layer-norm fixed points, dtype discipline."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from taotp import (
    astype, base_layer, base_params, layer_norm, norm, padding_block, pos_enc_3d,
    pos_enc_3d_array, self_attn, softmax, transformer, transformer_layer,
)
from taotp.trace import record
from taotp.variants import transformer_variant
from tests.conftest import random_params


def reference_transformer(tokens, params, rms=False, post_ln=False):
    """An independent loop-by-loop forward pass (no einsum) to check the vectorised one,
    with RMSNorm and/or Post-LN as the variants define them."""
    x = np.array([params["tok_emb"][t] + params["pos_emb"][i] for i, t in enumerate(tokens)])

    def ln(v, gamma=1.0, beta=0.0):
        if rms:
            return beta + gamma * v / (np.sqrt(np.mean(v * v)) + 1e-10)
        return beta + gamma * (v - v.mean()) / (v.std() + 1e-10)

    def attention(h, layer):
        out = np.zeros_like(h)
        for head in range(layer["Q"].shape[0]):
            q, k, v = (h @ layer[m][head] for m in "QKV")
            for n in range(len(h)):
                scores = np.array([q[n] @ k[m] for m in range(n + 1)]) / np.sqrt(q.shape[1])
                w = np.exp(scores - scores.max())
                w /= w.sum()
                out[n] += (w @ v[: n + 1]) @ layer["P"][head].T
        return out

    def mlp(h, layer):
        return np.maximum(h @ layer["M1"] + layer["b1"], 0) @ layer["M2"] + layer["b2"]

    for layer in params["layers"]:
        for sublayer, key in ((attention, "ln1"), (mlp, "ln2")):
            if post_ln:
                x = np.array([ln(v, **layer[key]) for v in x + sublayer(x, layer)])
            else:
                x = x + sublayer(np.array([ln(v, **layer[key]) for v in x]), layer)
    return np.array([ln(v, **params["lnf"]) for v in x]) @ params["out_emb"].T


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 3), st.integers(1, 3), st.integers(0, 5),
       st.integers(1, 12), st.booleans(), st.booleans())
def test_variants_and_recording_equal_a_plain_loop(seed, n_layers, n_heads, d_ff, n, rms,
                                                   post_ln):
    """The one forward pass, with its seams (norm, LN placement, hook), on random models."""
    rng = np.random.default_rng(seed)
    params = random_params(rng, n_layers=n_layers, n_heads=n_heads, d_ff=d_ff)
    for layer in params["layers"]:
        layer["ln1"] = {"gamma": rng.normal(size=6), "beta": rng.normal(size=6)}
    tokens = rng.integers(0, 7, size=n)
    expected = reference_transformer(tokens, params, rms=rms, post_ln=post_ln)
    got = transformer_variant(tokens, **params, norm="rms" if rms else "layer", post_ln=post_ln)
    scale = np.abs(expected).max(axis=-1, keepdims=True)
    np.testing.assert_allclose(got / scale, expected / scale, atol=1e-9)
    if not rms and not post_ln:
        np.testing.assert_array_equal(record(params, tokens).logits, got)


def test_the_hook_sees_every_stage_in_order(rng):
    params = random_params(rng, n_layers=2)
    names = []
    transformer(np.array([1, 2, 3]), **params, hook=lambda name, value: names.append(name))
    assert names == ["embedding"] + ["attn", "after_attn", "hidden", "after_mlp"] * 2


def test_transformer_matches_a_plain_loop(rng):
    params = random_params(rng)
    tokens = rng.integers(0, 7, size=9)
    np.testing.assert_allclose(transformer(tokens, **params),
                               reference_transformer(tokens, params), rtol=1e-9, atol=1e-9)


def test_softmax_and_norm():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    s = softmax(x)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, atol=1e-9)
    np.testing.assert_allclose(s[1], 1 / 3, atol=1e-9)
    np.testing.assert_allclose(norm(np.array([1.0, 3.0])), [0.25, 0.75])


def test_layer_norm_uses_std_plus_epsilon():
    x = np.array([1.0, 2.0, 6.0])
    expected = (x - 3.0) / (np.std(x) + 1e-10)
    np.testing.assert_allclose(layer_norm(x), expected, rtol=1e-15)
    np.testing.assert_allclose(layer_norm(x, gamma=2.0, beta=1.0), 1 + 2 * expected)


def test_base_layer_is_the_identity(rng):
    x = rng.normal(size=(4, 5))
    mask = np.tril(np.ones((4, 4), dtype=bool))
    np.testing.assert_array_equal(transformer_layer(x, **base_layer(2, 5, 3, 4), mask=mask), x)


def test_base_params_shapes():
    params = base_params(vocab_size=11, block_size=13, d_model=3)
    assert params["tok_emb"].shape == params["out_emb"].shape == (11, 3)
    assert params["pos_emb"].shape == (13, 3)
    assert params["layers"] == [] and params["lnf"] == {"gamma": 1.0, "beta": 0.0}


def test_causal_mask_hides_the_future(rng):
    params = random_params(rng)
    tokens = rng.integers(0, 7, size=8)
    changed = tokens.copy()
    changed[5:] = (changed[5:] + 1) % 7
    a, b = transformer(tokens, **params), transformer(changed, **params)
    np.testing.assert_allclose(a[:5], b[:5], rtol=1e-12)
    assert not np.allclose(a[5:], b[5:])


def test_non_causal_mask_sees_everything(rng):
    params = random_params(rng)
    tokens = rng.integers(0, 7, size=8)
    changed = tokens.copy()
    changed[-1] = (changed[-1] + 1) % 7
    a = transformer(tokens, **params, causal=False)
    b = transformer(changed, **params, causal=False)
    assert not np.allclose(a[0], b[0])


def test_self_attn_heads_add_up(rng):
    x = rng.normal(size=(5, 4))
    Q, K, V, P = (rng.normal(size=(2, 4, 3)) for _ in range(4))
    mask = np.tril(np.ones((5, 5), dtype=bool))
    both = self_attn(x, Q, K, V, P, mask)
    one = sum(self_attn(x, Q[h:h + 1], K[h:h + 1], V[h:h + 1], P[h:h + 1], mask)
              for h in range(2))
    np.testing.assert_allclose(both, one, rtol=1e-12)


def test_float32_stays_float32_end_to_end(rng):
    params = astype(random_params(rng), np.float32)
    tokens = rng.integers(0, 7, size=6)
    logits = transformer(tokens, **params)
    assert logits.dtype == np.float32
    np.testing.assert_allclose(logits, transformer(tokens, **random_params(np.random.default_rng(0))),
                               rtol=1e-3, atol=1e-3)


def test_float32_intermediates_stay_float32(rng):
    x = rng.normal(size=(4, 6)).astype(np.float32)
    assert layer_norm(x).dtype == np.float32
    assert softmax(x).dtype == np.float32
    Q = rng.normal(size=(1, 6, 3)).astype(np.float32)
    mask = np.tril(np.ones((4, 4), dtype=bool))
    assert self_attn(x, Q, Q, Q, Q, mask).dtype == np.float32


# Theorem 3.1: circle points, padding blocks and their concatenations are fixed by layer norm.
angles = st.floats(min_value=-50, max_value=50, allow_nan=False)


@given(angles)
def test_3d_circle_points_are_fixed_under_layer_norm(t):
    v = pos_enc_3d(t)
    np.testing.assert_allclose(layer_norm(v), v, atol=1e-9)


@given(st.integers(min_value=2, max_value=200))
def test_padding_blocks_are_fixed_under_layer_norm(d):
    v = padding_block(d)
    np.testing.assert_allclose(layer_norm(v), v, atol=1e-9)


@settings(max_examples=50)
@given(st.lists(st.one_of(angles.map(pos_enc_3d), st.integers(2, 40).map(padding_block)),
                min_size=1, max_size=6))
def test_concatenated_fixed_blocks_are_fixed(blocks):
    v = np.concatenate(blocks)
    np.testing.assert_allclose(layer_norm(v), v, atol=1e-9)


def test_layer_norm_collapses_the_plane_to_two_points(rng):
    """Figure 2.6: in R^2 layer norm has only two outputs, (1, -1) and (-1, 1)."""
    x = rng.normal(size=(1000, 2))
    x = x[np.abs(x[:, 0] - x[:, 1]) > 1e-3]  # near y = x the 1e-10 epsilon shows (the book's footnote)
    assert set(map(tuple, np.round(layer_norm(x), 6).tolist())) == {(1.0, -1.0), (-1.0, 1.0)}


def test_pos_enc_3d_array_is_evenly_spaced():
    e = pos_enc_3d_array(12)
    dots = np.einsum("nd,nd->n", e, np.roll(e, -1, axis=0))
    np.testing.assert_allclose(dots, dots[0])
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 3 ** 0.5)
