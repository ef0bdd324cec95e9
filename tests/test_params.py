"""Parameter counting (Figure 1.4), validation errors, dtype conversion."""
from __future__ import annotations

import numpy as np
import pytest

from taotp import (
    astype, base_layer, base_params, check_params, count_non0_params, count_params, shape_of,
    transformer,
)
from tests.conftest import random_params


def test_counts_use_the_book_keys_and_count_tied_embeddings_once():
    params = base_params(vocab_size=11, block_size=13, d_model=3)
    params["tok_emb"] = params["out_emb"] = np.ones((11, 3))
    counts = count_params(params)
    assert dict(counts) == {"n_params": 72, "tok_emb": 33, "pos_emb": 39, "non_emb": 0}
    assert repr(counts) == "{n_params: 72, tok_emb: 33, pos_emb: 39, non_emb: 0}"
    params["out_emb"] = np.full((11, 3), 2.0)
    assert count_params(params)["out_emb"] == 33
    assert count_params(params)["n_params"] == 105


def test_non_zero_counts():
    params = base_params(4, 2, 3)
    params["tok_emb"] = params["out_emb"] = np.eye(4, 3)
    layer = base_layer(1, 3, 2, 3)
    layer["Q"][0, 0, 0] = 5.0
    params["layers"].append(layer)
    assert dict(count_non0_params(params)) == {"n_params": 4, "tok_emb": 3, "pos_emb": 0,
                                               "non_emb": 1}
    # Layer-norm gammas and betas are not counted, as in the book.
    assert count_params(params)["non_emb"] == 4 * 9 + 6 + 2 + 6 + 3


def test_shape_of(rng):
    shape = shape_of(random_params(rng, n_layers=2, n_heads=3, d_head=4, d_ff=5))
    assert (shape.vocab_size, shape.block_size, shape.d_model) == (7, 12, 6)
    assert (shape.n_layers, shape.n_heads, shape.d_head, shape.d_ff) == (2, 3, 4, 5)


def test_astype_converts_everything(rng):
    params = astype(random_params(rng), np.float32)
    assert check_params(params) == np.float32
    assert params["layers"][0]["Q"].dtype == np.float32
    with pytest.raises(TypeError, match="float32 or float64"):
        astype(params, np.int32)


def broken(rng, edit):
    params = random_params(rng)
    edit(params)
    return params


@pytest.mark.parametrize("edit, error, message", [
    (lambda p: p.pop("lnf"), ValueError, "missing lnf"),
    (lambda p: p["layers"][1].pop("K"), ValueError, r"layers\[1\] is missing K"),
    (lambda p: p["layers"][0].__setitem__("Q", np.zeros((2, 5, 3))), ValueError,
     r"layers\[0\]\['Q'\]"),
    (lambda p: p["layers"][1].__setitem__("V", np.zeros((2, 6, 4))), ValueError,
     r"layers\[1\]\['V'\] has shape"),
    (lambda p: p["layers"][0].__setitem__("b1", np.zeros(4)), ValueError, r"layers\[0\]\['b1'\]"),
    (lambda p: p["layers"][0].__setitem__("M2", np.zeros((5, 3))), ValueError,
     r"layers\[0\]\['M2'\]"),
    (lambda p: p.__setitem__("pos_emb", np.zeros((12, 5))), ValueError, "pos_emb"),
    (lambda p: p.__setitem__("out_emb", np.zeros((7, 5))), ValueError, "out_emb"),
    (lambda p: p.__setitem__("tok_emb", p["tok_emb"].astype(np.int64)), TypeError,
     "tok_emb has dtype int64"),
    (lambda p: p.__setitem__("tok_emb", p["tok_emb"].astype(np.float32)), TypeError,
     "mix dtypes"),
    (lambda p: p["layers"][0].__setitem__("ln1", {"gamma": "1"}), TypeError, "ln1"),
    (lambda p: p["layers"][0].__setitem__("ln2", {"gamma": np.ones(4)}), ValueError, "ln2"),
    (lambda p: p["layers"][0].__setitem__("extra", np.ones(4)), ValueError, "unknown keys"),
    (lambda p: p.__setitem__("layers", {}), TypeError, "list"),
    (lambda p: p["layers"][0].__setitem__("Q", [[1.0]]), TypeError, "numpy array"),
])
def test_malformed_params_name_the_layer_and_key(rng, edit, error, message):
    params = broken(rng, edit)
    with pytest.raises(error, match=message):
        check_params(params)
    if "lnf" in params:  # the forward pass checks its arguments the same way
        with pytest.raises(error, match=message):
            transformer(np.array([1, 2]), **params)


def test_params_must_be_a_dict():
    with pytest.raises(TypeError, match="dict"):
        check_params([1, 2])
