"""LOOKUP TABLE learned end to end (constructions.lookup_table_trained, Exercise 3.1): the hand
gradients against finite differences, the forward pass against taotp's, and the certificate:
the default build is right on every prompt of its domain in float64 and float32."""
from __future__ import annotations

import numpy as np
import pytest

from constructions.lookup_table_trained import (
    PROGRAMS, domain, forward_backward, make, margins, to_params,
)
from taotp import astype, transformer
from taotp.checks import Unproven


def _weights(rng, vocab=5, block=6, d=12, heads=2):
    return {"E": rng.normal(0, .3, (vocab, d)), "Pe": rng.normal(0, .3, (block, d)),
            **{k: rng.normal(0, .3, (heads, d, d // heads)) for k in "QKVP"}}


def test_forward_is_taotps_and_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    W = _weights(rng)
    T, targets = rng.integers(0, 5, (3, 4)), np.array([1, 2, 3])
    loss, grads, logits = forward_backward(W, T, targets)
    params = to_params(W)
    for row, expected in zip(T, logits):
        np.testing.assert_allclose(transformer(row, **params)[-1], expected, atol=1e-12)
    for key in W:
        for _ in range(4):
            idx = tuple(rng.integers(0, s) for s in W[key].shape)
            up, down = ({k: v.copy() for k, v in W.items()} for _ in range(2))
            up[key][idx] += 1e-6
            down[key][idx] -= 1e-6
            numeric = (forward_backward(up, T, targets)[0]
                       - forward_backward(down, T, targets)[0]) / 2e-6
            assert abs(numeric - grads[key][idx]) < 1e-6 * max(1.0, abs(numeric)), key


def test_default_build_is_right_on_every_prompt_of_its_domain(default_task):
    task = default_task("lookup-table-trained")
    options = task.options
    ks = np.array([[int(t) for t in text.split()] for text in PROGRAMS[0].examples])
    assert sum(len(p) for p, _ in domain(ks, 4, 5).values()) == 3 * 85
    prompts = list(task.exhaustive())
    assert len(prompts) == options["entries"] * (1 + 4 + 16 + 64)
    for dtype in (np.float64, np.float32):
        params = astype(task.params, dtype)
        assert params["layers"][0]["Q"].dtype == dtype
        for length in range(2, 6):
            group = np.array([p for p in prompts if len(p) == length])
            targets = np.array([task.reference(p)[0] for p in group])
            assert (margins(params, group, targets) > 0).all()
    # The adversarial rounds were needed: after the first round some prompts were wrong.
    first, last = options["history"][0], options["history"][-1]
    assert first[1] > 0 and last[1:] == (0, 0)


def test_a_build_that_does_not_certify_raises():
    with pytest.raises(Unproven, match="wrong on .* prompts in float64 after 1 rounds"):
        make(steps=1, max_rounds=1)


def test_too_large_a_domain_is_refused():
    with pytest.raises(ValueError, match="the domain has .* prompts"):
        PROGRAMS[0].make(vocab_size=10, block_size=8)
