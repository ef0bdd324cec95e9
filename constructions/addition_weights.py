"""The weights of chapter 6's three transformers (Figures 6.2-6.4): SINGLE DIGIT MOD,
MULTI-DIGIT MOD and DECIMAL ADDITION, one layer each, under the book's builder names.

``constructions.addition`` (which re-exports the builders) states the problems, their sizes
and the book bugs fixed here, and registers the tasks. The recipes come from
``taotp.blocks``: ``attend_back`` (Figure 6.3's relative reads and the self-attending cleanup
head), ``attend_to`` (Figure 6.4's absolute reads), ``proper_cleanup`` (the book writes
``V = -1, P = +1`` where the block writes ``+1, -1``: the same product), ``messy_cleanup``
and ``build_MLP``. The mixing term of Figure 6.4's last head is set by hand.

>>> from taotp import count_params, count_non0_params
>>> params = build_single_digit_mod_transformer()
>>> count_params(params)["n_params"], count_non0_params(params)["n_params"]
(629, 379)
"""
from __future__ import annotations

from itertools import product

import numpy as np

from taotp.blocks import (
    attend_back, attend_to, build_MLP, messy_cleanup, pos_enc_3d_array, proper_cleanup,
)
from taotp.checks import check_int
from taotp.model import base_layer, base_params, layer_norm


def digit_embeddings() -> np.ndarray:
    """Rows ``[x, 1, a, -x-a-1]``, ``x = digit / 100``: mean 0 and variance 1 (Section 6.4)."""
    x = np.arange(10) / 100
    a = (-x - 1 + (-3 * x ** 2 - 2 * x + 5) ** 0.5) / 2  # the book prints "* 2" and "* 0.5"
    return np.stack([x, np.ones(10), a, -x - a - 1], axis=1)


def build_single_digit_mod_transformer() -> dict:
    """``[a, b] -> (a + b) % 10`` (Figure 6.2)."""
    params = base_params(vocab_size=10, block_size=2, d_model=4)
    tok_emb = digit_embeddings()
    params["tok_emb"] = params["out_emb"] = tok_emb
    layer0 = base_layer(n_heads=1, d_model=4, d_ff=3 * 19, d_head=4)
    # Q = K = 0: uniform attention over both digits. Scaled for messy cleanup (1e4), for the
    # averaging (2) and to undo tok_emb's 1/100 (100).
    layer0["V"][0, :2, :2] = messy_cleanup(np.eye(2), 1e4)
    layer0["V"][0, 0, 0] *= 2 * 100
    layer0["P"][0, :2, :2] = np.eye(2)
    x0s = [layer_norm(np.array([i * 1e4, 1e4, 0.0, 0.0]))[0] for i in range(19)]
    a0s = [messy_cleanup(tok_emb[i % 10], 1e10) for i in range(19)]
    layer0["M1"][0], layer0["b1"], layer0["M2"], layer0["b2"] = build_MLP(x0s, a0s)
    params["layers"].append(layer0)
    return params


def _digits_params(n_digits: int, block_size: int) -> tuple[dict, np.ndarray]:
    """Base params with d_model 7: 4 token dimensions, then 3 of position."""
    params = base_params(vocab_size=12, block_size=block_size, d_model=7)
    tok_emb = np.concatenate((digit_embeddings(), np.tile(digit_embeddings()[:1], (2, 1))))
    tok_emb = np.pad(tok_emb, ((0, 0), (0, 3)))  # '+' and '=' are embedded as 0: any normalised
    params["tok_emb"][:] = params["out_emb"][:] = tok_emb
    params["pos_emb"][:] = np.pad(pos_enc_3d_array(block_size), ((0, 0), (4, 0)))
    return params, tok_emb


def build_multi_digit_mod_transformer(n_digits: int) -> dict:
    """``a + b =`` -> units digit of ``a + b``, for ``n_digits``-digit a, b (Figure 6.3)."""
    check_int("n_digits", n_digits, low=1)
    block_size = 2 * n_digits + 2
    params, tok_emb = _digits_params(n_digits, block_size)
    out_range = 2 * 10 ** n_digits - 1
    n_heads = 2 * n_digits + 1  # one head per input digit, one for cleanup
    layer0 = base_layer(n_heads, d_model=7, d_ff=3 * out_range, d_head=3)
    # From '=' the units digit of b is 1 back and that of a n_digits + 2 back.
    for head, (unit_pos, digit) in enumerate(product([1, n_digits + 2], range(n_digits))):
        attend_back(layer0, head, unit_pos + digit, block_size, hardness=1e6)
        layer0["V"][head, 0, 0] = 100 * 10 ** digit  # undo the 1/100, weigh by place
        layer0["P"][head, 0, 0] = 1
    # The cleanup head attends to itself and erases the padding dims (2, 3), so dimension 0
    # is the only one that varies: no large factors needed.
    attend_back(layer0, n_heads - 1, 0, block_size, hardness=1e6)
    proper_cleanup(layer0, n_heads - 1, rows=[2, 3], cols=[0, 1])
    last = params["pos_emb"][block_size - 1, -3:]
    x0s = [layer_norm(np.concatenate(([i, 1.0, 0.0, 0.0], last)))[0] for i in range(out_range)]
    a0s = [messy_cleanup(tok_emb[i % 10], 1e10) for i in range(out_range)]
    layer0["M1"][0], layer0["b1"], layer0["M2"], layer0["b2"] = build_MLP(x0s, a0s)
    params["layers"].append(layer0)
    return params


def build_decimal_addition_transformer(n_digits: int) -> dict:
    """``a + b =`` -> the ``n_digits + 1`` digits of ``a + b``, zero-padded (Figure 6.4)."""
    check_int("n_digits", n_digits, low=1)
    block_size = 3 * n_digits + 2  # the prompt and all output digits but the last
    params, tok_emb = _digits_params(n_digits, block_size)
    out_range = 2 * 10 ** n_digits - 1
    n_heads = 2 * n_digits + 1  # one head per input digit, one to clean up and mix
    layer0 = base_layer(n_heads, d_model=7, d_ff=(n_digits + 1) * 3 * out_range, d_head=3)
    # Read digits at absolute positions: the output position moves, the inputs do not.
    for head, (num_pos, digit) in enumerate(product([0, n_digits + 1], range(n_digits))):
        target = params["pos_emb"][num_pos + n_digits - 1 - digit, -3:]
        attend_to(layer0, head, query_dim=1, target=target, hardness=1e6)
        layer0["V"][head, 0, 0] = 10 ** digit * 100
        layer0["P"][head, 0, 0] = 1 / 100  # the sum arrives as (a + b) / 100
    mix = n_heads - 1
    attend_back(layer0, mix, 0, block_size, hardness=1e6)
    proper_cleanup(layer0, mix, rows=[2, 3], cols=[0, 1])
    # Replace the current token's own value in dim 0 by the first position dimension, so the
    # MLP's single input tells both the sum and which digit to emit.
    layer0["V"][mix, 0, -1] = -1
    layer0["V"][mix, -3, -1] = 1
    layer0["P"][mix, 0, -1] = 1
    x0s, a0s = [], []
    for i in range(out_range):
        for p in params["pos_emb"][-n_digits - 1:, -3:]:  # where the output digits are due
            x0s.append(layer_norm(np.concatenate(([i / 100 + p[0], 1.0, 0.0, 0.0], p)))[0])
        for digit in range(n_digits, -1, -1):
            a0s.append(messy_cleanup(tok_emb[i // 10 ** digit % 10], 1e10))
    layer0["M1"][0], layer0["b1"], layer0["M2"], layer0["b2"] = build_MLP(x0s, a0s)
    params["layers"].append(layer0)
    return params
