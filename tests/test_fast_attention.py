"""Exact sparse attention against the dense ``_attend``: the same outputs and hardness records
up to the order of the sums, the same dtype, and the same tokens through ``FastPath``."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from constructions import PROGRAMS
from taotp import astype, forward_batch
from taotp.batched import _attend
from taotp import fast_attention
from taotp.fast_attention import _sparse_head, attend, kd_order, underflow_gap
from taotp.fastpath import FastPath
from taotp.verify import verify
from tests.test_fastpath import assert_same, build_model, dense_spread, models, teacher_rows

NAMES = sorted(PROGRAMS)
# Outputs are value mixes (|v| ~ 1): summation order and BLAS shapes move them by a few ulps
# of the largest score times the values (scores up to ~1e4 below).
TOLERANCE = {np.float64: 1e-9, np.float32: 2e-3}


def random_heads(rng, b, n, m, heads, d_head, hard, dtype):
    """Queries ``(b, n, h, k)`` scaled by ``hard`` (hard heads), keys and values."""
    q = rng.normal(size=(b, n, heads, d_head)) * hard
    k = rng.normal(size=(b, m, heads, d_head))
    v = rng.normal(size=(b, m, heads, d_head + 1))
    return (a.astype(dtype) for a in (q, k, v))


def compare(q, k, v, positions, causal, dtype):
    """Sparse against dense on every head, with the sparse machinery forced on (no fallback
    to the dense pass however little the bounds prune)."""
    want_record, got_record = [], []
    want = _attend(q, k, v, positions, want_record, causal)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fast_attention, "DENSE_SHARE", np.inf)
        got = attend(q, k, v, positions, got_record, causal, min_scores=0)
    assert got.dtype == want.dtype == dtype and got_record[0].dtype == dtype
    np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE[dtype])
    np.testing.assert_allclose(got_record[0], want_record[0], rtol=0, atol=TOLERANCE[dtype])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 90), st.integers(0, 40),
       st.integers(1, 3), st.integers(1, 5), st.sampled_from([0.1, 3.0, 100.0, 1e4]),
       st.booleans(), st.sampled_from([np.float64, np.float32]))
def test_random_heads_give_the_dense_result(seed, m, skip, heads, d_head, hard, causal, dtype):
    rng = np.random.default_rng(seed)
    positions = np.arange(m)[min(skip, m - 1):]  # the last layer's rows (logits_from)
    q, k, v = random_heads(rng, 2, len(positions), m, heads, d_head, hard, dtype)
    compare(q, k, v, positions, causal, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [True, False])
def test_hard_heads_are_computed_sparsely_and_exactly(dtype, causal):
    """A hardened lookup on 800 positions (keys on a circle, each query the code of an earlier
    position, ~30 logits between neighbours): the bounds prune (no dense fallback), and the
    result is the dense one."""
    rng = np.random.default_rng(1)
    n = 800
    angles = 2 * np.pi * np.arange(n) / n
    k = np.stack([np.cos(angles), np.sin(angles), np.ones(n)], axis=1)
    target = (rng.random(n) * np.arange(1, n + 1)).astype(int)  # <= its own position
    q = 1e6 * k[target] * [1.0, 1.0, 0.0]
    v = rng.normal(size=(n, 4))
    q, k, v = (a[None, :, None].astype(dtype) for a in (q, k, v))
    positions = np.arange(n)
    assert _sparse_head(q[0, :, 0], k[0, :, 0], v[0, :, 0], positions, causal, True,
                        {}) is not None
    compare(q, k, v, positions, causal, dtype)


def test_soft_and_non_finite_heads_fall_back_to_the_dense_pass():
    rng = np.random.default_rng(2)
    q, k, v = random_heads(rng, 1, 300, 300, 1, 3, 0.01, np.float64)
    positions = np.arange(300)
    assert _sparse_head(q[0, :, 0], k[0, :, 0], v[0, :, 0], positions, True, False, {}) is None
    compare(q, k, v, positions, True, np.float64)
    k[0, 7, 0, 1] = np.inf
    assert _sparse_head(q[0, :, 0], k[0, :, 0], v[0, :, 0], positions, True, False, {}) is None
    with np.errstate(invalid="ignore"):  # inf - inf: the dense pass's own NaNs
        np.testing.assert_array_equal(attend(q, k, v, positions, min_scores=0),
                                      _attend(q, k, v, positions, None))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_past_the_gap_exp_is_exactly_zero(dtype):
    gap = underflow_gap(dtype)
    assert np.exp(np.array(-(gap - 4.0), dtype=dtype)) == 0.0  # 4 to spare for rounding
    assert np.exp(np.array(-(gap - 6.0), dtype=dtype)) > 0.0  # and not far past the edge


def test_kd_order_is_a_permutation_of_compact_leaves():
    rng = np.random.default_rng(3)
    angles = rng.permutation(1000) * 2 * np.pi / 1000
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    perm = kd_order(x, 16)
    assert sorted(perm) == list(range(1000))
    leaves = x[perm][:992].reshape(-1, 16, 2)
    spread = (leaves.max(axis=1) - leaves.min(axis=1)).max()
    assert spread < 0.3  # 16 neighbours on a circle of 1000 span about 0.1


@pytest.mark.parametrize("name", NAMES)
def test_every_program_gives_the_dense_logits_with_sparse_attention(default_task, name):
    """Every head of every registered program through the sparse path (``sparse_from=0``)."""
    task = default_task(name)
    rows, n_prompt = teacher_rows(task)
    fast = FastPath(task.params, sparse_from=0)
    if not task.encoder:
        args, kw = rows[:, :-1], dict(logits_from=n_prompt - 1)
    else:
        args, kw = rows[:, :n_prompt], dict(logits_from=1, causal=task.causal)
    spread = dense_spread(args, task.params, **kw)
    with pytest.MonkeyPatch.context() as patch:  # no head falls back to the dense pass
        patch.setattr(fast_attention, "DENSE_SHARE", np.inf)
        got, got_hard = fast.forward_batch(args, hardness=True, **kw)
    want, want_hard = forward_batch(args, task.params, hardness=True, **kw)
    assert_same(got, want, spread)
    np.testing.assert_allclose(got_hard, want_hard, rtol=0, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(models, st.integers(1, 12), st.booleans())
def test_random_models_give_the_dense_logits_with_sparse_attention(model, length, causal):
    params, rng = build_model(*model)
    fast = FastPath(params, sparse_from=0)
    tokens = rng.integers(0, 7, size=(4, length))
    for logits_from in (0, length - 1):
        got = fast.forward_batch(tokens, logits_from=logits_from, causal=causal)
        assert_same(got, forward_batch(tokens, params, logits_from=logits_from,
                                       causal=causal))


def test_long_addition_in_float32_gives_the_dense_logits():
    """300 digits (902 positions) in float32, sparse from the first layer: same tokens, the
    reference's; logits within 1e-4 of their scale, and float32 throughout."""
    task = PROGRAMS["long-addition"].make(n_digits=300)
    params = astype(task.params, np.float32)
    fast = FastPath(params, sparse_from=0)
    prompts = task.adversarial()[::4] + task.sample(np.random.default_rng(300), 3)
    for p in prompts:
        tokens = np.concatenate((p, task.reference(p)[:-1]))[None]
        got, hard = fast.forward_batch(tokens, logits_from=len(p) - 1, hardness=True)
        want = forward_batch(tokens, params, logits_from=len(p) - 1)
        assert got.dtype == hard.dtype == np.float32
        np.testing.assert_array_equal(got[0].argmax(-1), task.reference(p))
        np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))
        scale = np.abs(want).max(axis=-1, keepdims=True)
        np.testing.assert_allclose(got / scale, want / scale, rtol=0, atol=1e-4)


def test_verify_says_its_attention_skips_zero_weight_keys():
    task = PROGRAMS["long-addition"].make(n_digits=3)
    report = verify(task, samples=20, progress=False)
    assert report.ok and "zero-weight keys" in report.path
