"""taotp.search_blocks: feature spaces layer norm cannot see change, and ReLU unit recipes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taotp.model import layer_norm
from taotp.search_blocks import (
    FeatureSpace, gated_linear_units, helmert_basis, relu_units, step_units,
)


@pytest.mark.parametrize("d", [2, 3, 12, 20])
def test_helmert_basis_is_orthonormal_and_mean_free(d):
    H = helmert_basis(d)
    assert H.shape == (d, d - 1)
    np.testing.assert_allclose(H.T @ H, np.eye(d - 1), atol=1e-12)
    np.testing.assert_allclose(H.sum(axis=0), 0.0, atol=1e-12)


def test_helmert_basis_needs_two_dims():
    with pytest.raises(ValueError, match="d >= 2"):
        helmert_basis(1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from([-1.0, 1.0]), min_size=2, max_size=12),
       st.integers(min_value=0, max_value=11))
def test_states_of_equal_norm_are_fixed_by_layer_norm(signs, zero):
    """+-1 features, or one of them 0 and another sqrt 2: same norm, so layer norm fixes all."""
    space = FeatureSpace(n_features=len(signs))
    c = np.array(signs)
    x = space.embed(c)
    np.testing.assert_allclose(layer_norm(x), x, atol=1e-9)
    np.testing.assert_allclose(space.read(layer_norm(x)), c, atol=1e-9)
    moved = c.copy()
    k = zero % len(c)
    moved[k], moved[(k + 1) % len(c)] = 0.0, 2 ** 0.5
    y = space.embed(moved)
    np.testing.assert_allclose(layer_norm(y), y, atol=1e-9)


def test_writer_adds_one_to_a_feature():
    space = FeatureSpace(n_features=4)
    x = space.embed(np.array([1.0, -1.0, 1.0, -1.0]))
    y = x + 2.0 * space.writer(1)
    np.testing.assert_allclose(space.read(y), [1.0, 1.0, 1.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(space.reader(2) @ x, 1.0)


def mlp(units, d, x, b2=None):
    M1, b1, M2, b2 = relu_units(units, d, b2)
    return np.maximum(x @ M1 + b1, 0.0) @ M2 + b2


def test_step_units_saturate_exactly_and_gate_off():
    d = 3
    w_in, w_out, gate = np.eye(d)[0], np.eye(d)[1], np.eye(d)[2]
    units = step_units(w_in, 0.25, 0.75, w_out, gate_in=10 * gate, gate_bias=-10.0)
    for t, expected in [(-5.0, 0.0), (0.25, 0.0), (0.5, 0.5), (0.75, 1.0), (40.0, 1.0)]:
        assert mlp(units, d, np.array([t, 0.0, 1.0]))[1] == pytest.approx(expected)
    assert mlp(units, d, np.array([40.0, 0.0, -5.0]))[1] == 0.0  # gate closed


def test_gated_linear_units_pass_or_block():
    d = 2
    units = gated_linear_units(np.eye(d)[0], np.eye(d)[0], headroom=1.0,
                               gate_in=np.eye(d)[1], gate_bias=-1.0)
    assert mlp(units, d, np.array([0.3, 1.0]))[0] == pytest.approx(0.3)
    assert mlp(units, d, np.array([-0.7, 1.0]))[0] == pytest.approx(-0.7)
    assert mlp(units, d, np.array([0.9, -2.0]))[0] == 0.0


def test_relu_units_shapes_and_bias():
    M1, b1, M2, b2 = relu_units([], 5, b2=np.ones(5))
    assert M1.shape == (5, 0) and b1.shape == (0,) and M2.shape == (0, 5)
    np.testing.assert_array_equal(b2, np.ones(5))
