"""Building blocks: rotations shift, padding is fixed, spikes interpolate, recipes attend."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from taotp import (
    attend_back, attend_to, base_layer, base_params, build_MLP, layer_norm, messy_cleanup,
    mlp_with_cleanup, padding_block, pos_3d_enc_rotation_matrix, pos_enc_3d, pos_enc_3d_array,
    proper_cleanup, transformer_layer,
)

angles = st.floats(min_value=-20, max_value=20, allow_nan=False)


@given(angles, angles)
def test_rotation_matrix_shifts_the_circle(t, theta):
    R = pos_3d_enc_rotation_matrix(theta)
    np.testing.assert_allclose(pos_enc_3d(t) @ R, pos_enc_3d(t + theta), atol=1e-12)


def test_rotation_matrix_is_deterministic_and_exact_at_zero():
    np.testing.assert_array_equal(pos_3d_enc_rotation_matrix(0.0), np.eye(3))
    R = pos_3d_enc_rotation_matrix(0.3)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-15)
    np.testing.assert_allclose(np.ones(3) @ R, np.ones(3), atol=1e-15)


def test_pos_enc_3d_accepts_arrays():
    t = np.linspace(0, 3, 5)
    assert pos_enc_3d(t).shape == (3, 5)
    np.testing.assert_allclose(pos_enc_3d(t).T[2], pos_enc_3d(t[2]))
    with pytest.raises(ValueError):
        pos_enc_3d_array(0)


def test_padding_block_values():
    np.testing.assert_allclose(padding_block(5), [2.0, -0.5, -0.5, -0.5, -0.5])
    with pytest.raises(ValueError, match="at least 2"):
        padding_block(1)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=30, unique=True),
       st.integers(1, 4), st.integers(0, 2**31))
def test_build_MLP_interpolates_exactly(points, d, seed):
    xs = np.array(points)
    if len(xs) > 1 and np.min(np.diff(np.sort(xs))) < 1e-6:
        return  # spacing below the float resolution of the spikes' slopes
    values = np.random.default_rng(seed).normal(size=(len(xs), d))
    M1, b1, M2, b2 = build_MLP(xs, values)
    assert M1.shape == (1, 3 * len(xs)) and M2.shape == (3 * len(xs), d)
    out = np.maximum(xs[:, None] @ M1 + b1, 0) @ M2 + b2
    np.testing.assert_allclose(out, values, atol=1e-6 * (1 + np.abs(xs).max()))


def test_build_MLP_spike_is_zero_away_from_the_points():
    M1, b1, M2, b2 = build_MLP([0.0, 1.0], [[1.0], [2.0]])
    f = lambda x: float((np.maximum(np.array([[x]]) @ M1 + b1, 0) @ M2 + b2)[0, 0])
    assert f(-1.0) == 0.0 and f(2.0) == 0.0 and f(0.5) == pytest.approx(1.5)


def test_build_MLP_rejects_bad_input():
    with pytest.raises(ValueError, match="distinct"):
        build_MLP([1.0, 1.0], [[0.0], [1.0]])
    with pytest.raises(ValueError):
        build_MLP([1.0, 2.0], [[0.0]])


def test_attend_back_reads_the_token_delta_positions_back():
    block_size, d_model = 10, 6
    pos = pos_enc_3d_array(block_size)
    rng = np.random.default_rng(1)
    content = pos_enc_3d(rng.uniform(0, 6, size=block_size)).T  # fixed under layer norm
    x = np.concatenate((content, pos), axis=1)
    layer = base_layer(1, d_model, 0, d_model)
    attend_back(layer, 0, delta=2, block_size=block_size)
    layer["V"][0, :3, :3] = np.eye(3)
    layer["P"][0, :3, :3] = np.eye(3)
    mask = np.tril(np.ones((block_size, block_size), dtype=bool))
    out = transformer_layer(x, **layer, mask=mask) - x
    np.testing.assert_allclose(out[2:, :3], content[:-2], atol=1e-9)


def test_attend_to_reads_a_fixed_position():
    block_size = 8
    pos = pos_enc_3d_array(block_size)
    x = np.concatenate((np.ones((block_size, 1)), np.zeros((block_size, 1)), pos), axis=1)
    layer = base_layer(1, 5, 0, 3)
    attend_to(layer, 0, query_dim=0, target=layer_norm(x)[3, 2:] / layer_norm(x)[3, 0],
              dims=slice(2, 5))
    q = layer_norm(x) @ layer["Q"][0]
    k = layer_norm(x) @ layer["K"][0]
    assert np.argmax(q[-1] @ k.T) == 3


def test_proper_cleanup_erases_the_chosen_rows():
    block_size, d_model = 6, 8
    x = np.concatenate((np.tile(padding_block(5), (block_size, 1)), pos_enc_3d_array(block_size)),
                       axis=1)
    layer = base_layer(1, d_model, 0, d_model)
    attend_back(layer, 0, delta=0, block_size=block_size)
    proper_cleanup(layer, 0, rows=slice(0, 5))
    mask = np.tril(np.ones((block_size, block_size), dtype=bool))
    out = transformer_layer(x, **layer, mask=mask)
    np.testing.assert_allclose(out[:, :5], 0, atol=1e-9)
    np.testing.assert_allclose(out[:, 5:], x[:, 5:], atol=1e-12)


def test_messy_cleanup_scales():
    np.testing.assert_array_equal(messy_cleanup(np.ones(2), 10.0), [10.0, 10.0])


def test_mlp_with_cleanup_erases_the_residual():
    rng = np.random.default_rng(2)
    d = 4
    x = rng.normal(size=(5, d))
    M1, b1, M2, b2 = np.zeros((d, 0)), np.zeros(0), np.zeros((0, d)), np.zeros(d)
    M1, b1, M2, b2 = mlp_with_cleanup(M1, b1, M2, b2, offset=100.0)
    # The MLP sees layer_norm(x); feeding it x itself shows the erase: x + MLP(x) = 0.
    np.testing.assert_allclose(x + np.maximum(x @ M1 + b1, 0) @ M2 + b2, 0, atol=1e-12)


def test_attend_back_can_route_through_other_head_dims():
    block_size = 7
    pos = pos_enc_3d_array(block_size)
    x = np.concatenate((np.tile(padding_block(3), (block_size, 1)), pos), axis=1)
    narrow = base_layer(1, 6, 0, 3)
    attend_back(narrow, 0, delta=1, block_size=block_size, dims=slice(3, 6),
                head_dims=slice(0, 3))
    scores = (x @ narrow["Q"][0]) @ (x @ narrow["K"][0]).T
    assert [int(np.argmax(row[: i + 1])) for i, row in enumerate(scores)][1:] == list(range(6))
