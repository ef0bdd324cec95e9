"""taotp.circuits: circle codes and their rotations, the exact gap, kink MLPs, mean_free."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taotp.circuits import (
    RADIUS, build_kink_MLP, circle_code, circle_rotation, code_gap, mean_free, rotation_2d,
)
from taotp.model import base_layer, base_params, transformer


def test_circle_code_norms_and_inner_products():
    periods = (80.0, 9.0)
    code = circle_code(np.arange(50), periods)
    assert code.shape == (50, 4)
    np.testing.assert_allclose((code ** 2).sum(1), 2 * RADIUS ** 2)
    p, q = 7, 31
    want = sum(3 * np.cos(2 * np.pi * (p - q) / P) for P in periods)
    assert np.isclose(code[p] @ code[q], want)


@given(st.integers(-40, 40), st.floats(-5, 5))
@settings(max_examples=50, deadline=None)
def test_rotation_shifts_codes(delta, start):
    periods = (64.0, 8.0, 3.5)
    R = circle_rotation(periods, delta)
    np.testing.assert_allclose(circle_code([start], periods) @ R,
                               circle_code([start + delta], periods), atol=1e-12)


def test_rotation_2d():
    t, theta = 0.3, 1.1
    np.testing.assert_allclose(np.array([np.cos(t), np.sin(t)]) @ rotation_2d(theta),
                               [np.cos(t + theta), np.sin(t + theta)])


@pytest.mark.parametrize("periods, n", [((40.0,), 30), ((200.0, 14.0), 150), ((1e4, 100.0), 3000)])
def test_code_gap_is_the_smallest_drop(periods, n):
    code = circle_code(np.arange(n), periods)
    gram = code @ code.T
    drops = np.diag(gram)[:, None] - gram
    np.fill_diagonal(drops, np.inf)
    assert np.isclose(code_gap(periods, n), drops.min(), rtol=1e-9, atol=1e-12)


def test_two_circles_beat_one():
    """At 30,000 positions one circle separates neighbours by ~2e-7; two by ~5e-4."""
    n = 30_002
    assert code_gap((4.0 * n,), n) < 3e-7
    assert code_gap((4.0 * n, (4.0 * n) ** 0.5), n) > 4e-4


@given(st.lists(st.floats(-50, 50), min_size=2, max_size=12, unique=True),
       st.integers(1, 4), st.integers(0, 2 ** 32 - 1))
@settings(max_examples=50, deadline=None)
def test_kink_MLP_is_exact_on_its_points(xs, d, seed):
    xs = np.array(xs)
    if np.min(np.diff(np.sort(xs))) < 1e-3:
        return
    values = np.random.default_rng(seed).normal(size=(len(xs), d))
    M1, b1, M2, b2 = build_kink_MLP(xs, values)
    assert M1.shape == (1, len(xs) - 1)
    out = np.maximum(xs[:, None] @ M1 + b1, 0.0) @ M2 + b2
    np.testing.assert_allclose(out, values, atol=1e-8 * (1 + np.abs(M2).sum()))
    below = np.maximum(np.array([[xs.min() - 7.0]]) @ M1 + b1, 0.0) @ M2 + b2
    np.testing.assert_allclose(below[0], values[np.argmin(xs)])


def test_kink_MLP_rejects_bad_points():
    with pytest.raises(ValueError, match="distinct"):
        build_kink_MLP([1.0, 1.0], np.zeros((2, 1)))
    with pytest.raises(ValueError, match="m >= 2"):
        build_kink_MLP([1.0], np.zeros((1, 1)))


def _logical_forward(params, tokens):
    """The transformer with layer norm replaced by ``x sqrt(L + 1) / |x|``: what mean_free
    promises the embedded model computes, in logical coordinates."""
    L = params["tok_emb"].shape[1]
    scale = lambda x: x * np.sqrt(L + 1) / np.linalg.norm(x, axis=-1, keepdims=True)
    n = len(tokens)
    x = params["tok_emb"][tokens] + params["pos_emb"][:n]
    mask = np.tril(np.ones((n, n), dtype=bool))
    for layer in params["layers"]:
        h = scale(x)
        q, k, v = (np.einsum("nj,hjk->nhk", h, layer[m]) for m in "QKV")
        qk = np.einsum("nhk,mhk->nmh", q, k) / np.sqrt(layer["Q"].shape[-1])
        qk = np.where(mask[..., None], qk, -np.inf)
        w = np.exp(qk - qk.max(1, keepdims=True))
        w /= w.sum(1, keepdims=True)
        x = x + np.einsum("nhk,hdk->nd", np.einsum("nmh,mhk->nhk", w, v), layer["P"])
        x = x + np.maximum(scale(x) @ layer["M1"] + layer["b1"], 0.0) @ layer["M2"] + layer["b2"]
    return scale(x) @ params["out_emb"].T


def test_mean_free_embeds_the_logical_model():
    rng = np.random.default_rng(0)
    L, vocab, block = 6, 5, 9
    params = base_params(vocab, block, L)
    params["tok_emb"] = rng.normal(size=(vocab, L))
    params["out_emb"] = params["tok_emb"].copy()
    params["pos_emb"] = rng.normal(size=(block, L))
    for _ in range(2):
        layer = base_layer(2, L, 4, 3)
        for key in ("Q", "K", "V", "P", "M1", "b1", "M2", "b2"):
            layer[key] = rng.normal(size=layer[key].shape)
        params["layers"].append(layer)
    model = mean_free(params)
    assert model["tok_emb"].shape == (vocab, L + 1)
    np.testing.assert_allclose(model["tok_emb"].mean(1), 0.0, atol=1e-12)
    tokens = rng.integers(0, vocab, block)
    np.testing.assert_allclose(transformer(tokens, **model), _logical_forward(params, tokens),
                               rtol=1e-8, atol=1e-8)


def test_mean_free_needs_plain_layer_norms():
    params = base_params(3, 4, 2)
    layer = base_layer(1, 2, 1, 1)
    layer["ln1"] = {"gamma": 2.0, "beta": 0.0}
    params["layers"].append(layer)
    with pytest.raises(ValueError, match="gamma 1 and beta 0"):
        mean_free(params)
