"""Shared test helpers: small random transformers."""
from __future__ import annotations

import numpy as np
import pytest

from taotp import base_layer, base_params


def random_params(rng, vocab_size=7, block_size=12, d_model=6, n_layers=2, n_heads=2,
                  d_head=3, d_ff=5, scale=1.0):
    """A transformer with every weight random (so every code path is exercised)."""
    params = base_params(vocab_size, block_size, d_model)
    params["tok_emb"] = rng.normal(size=(vocab_size, d_model))
    params["out_emb"] = params["tok_emb"].copy()
    params["pos_emb"] = rng.normal(size=(block_size, d_model))
    for _ in range(n_layers):
        layer = base_layer(n_heads, d_model, d_ff, d_head)
        for key in ("Q", "K", "V", "P", "M1", "b1", "M2", "b2"):
            layer[key] = rng.normal(size=layer[key].shape) * scale
        params["layers"].append(layer)
    return params


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def default_task():
    """``default_task(name)``: each registered program built once per session, at its default
    options, shared by the tests that only read it (never mutate its params)."""
    from constructions import PROGRAMS

    built = {}

    def get(name):
        if name not in built:
            built[name] = PROGRAMS[name].make()
        return built[name]

    return get
