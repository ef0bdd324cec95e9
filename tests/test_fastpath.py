"""The fast path against the plain forward pass: same tokens, logits to 1e-9 of their scale."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from constructions import PROGRAMS, get_program
from taotp import astype, decode, decode_batch, forward_batch
from taotp.decoding import KVCache, _forward
from taotp.fastpath import FastPath
from taotp.verify import verify
from tests.conftest import random_params

NAMES = sorted(PROGRAMS)


def assert_same(fast, dense, spread=0.0):
    """Logits within 1e-9 of each row's scale (plus ``spread``: how far the dense pass
    itself moves when BLAS sees other shapes), and the same greedy tokens."""
    assert fast.dtype == dense.dtype and fast.shape == dense.shape
    scale = np.maximum(np.abs(dense).max(axis=-1, keepdims=True), 1.0)
    np.testing.assert_allclose(fast / scale, dense / scale, rtol=0, atol=1e-9 + 2 * spread)
    np.testing.assert_array_equal(fast.argmax(-1), dense.argmax(-1))


def dense_spread(rows, params, **kw):
    """The dense pass's own rounding spread (relative to the logit scale): a batch against
    the same rows one at a time. It must stay small for the comparison to mean anything."""
    batched = forward_batch(rows, params, **kw)
    single = np.concatenate([forward_batch(row[None], params, **kw) for row in rows])
    scale = np.maximum(np.abs(batched).max(axis=-1, keepdims=True), 1.0)
    spread = float(np.abs((batched - single) / scale).max())
    assert spread < 1e-6, spread
    return spread


def teacher_rows(task, n=20):
    """Prompt + reference rows of one length (the first sampled length), as verify feeds."""
    prompts = list(task.sample(np.random.default_rng(1), n))
    rows = [np.concatenate((p, task.reference(p))) for p in prompts]
    length = len(rows[0])
    return np.stack([r for r in rows if len(r) == length]), len(prompts[0])



@pytest.mark.parametrize("name", NAMES)
def test_every_program_gives_the_dense_logits(default_task, name):
    task = default_task(name)
    rows, n_prompt = teacher_rows(task)
    fast = FastPath(task.params)
    if task.encoder:
        args = (rows[:, :n_prompt],), dict(logits_from=1, hardness=True, causal=task.causal)
    else:
        args = (rows[:, :-1],), dict(logits_from=n_prompt - 1, hardness=True)
    spread = dense_spread(*args[0], task.params, **{**args[1], "hardness": False})
    for _ in range(2):  # the second time from the MLP memos
        got, got_hard = fast.forward_batch(*args[0], **args[1])
        want, want_hard = forward_batch(*args[0], task.params, **args[1])
        assert_same(got, want, spread)
        np.testing.assert_allclose(got_hard, want_hard, rtol=0, atol=1e-9)


models = st.builds(
    lambda seed, layers, heads, d_ff, hard, spike: (seed, layers, heads, d_ff, hard, spike),
    st.integers(0, 2**32 - 1), st.integers(0, 3), st.integers(1, 3), st.integers(0, 6),
    st.sampled_from([1.0, 1e4]), st.booleans())


def build_model(seed, layers, heads, d_ff, hard, spike):
    """A random model; ``hard`` scales layer 0's queries (hard heads to gather), ``spike``
    makes each MLP read one dimension (and rounds it, so inputs repeat: memo hits)."""
    rng = np.random.default_rng(seed)
    params = random_params(rng, n_layers=layers, n_heads=heads, d_ff=d_ff)
    if layers:
        params["layers"][0]["Q"] *= hard
    for layer in params["layers"]:
        if spike:
            layer["M1"][1:] = 0.0
    return params, rng


@settings(max_examples=40, deadline=None)
@given(models, st.integers(1, 12), st.booleans())
def test_random_models_give_the_dense_logits(model, length, causal):
    params, rng = build_model(*model)
    fast = FastPath(params)
    tokens = rng.integers(0, 7, size=(5, length))
    tokens = np.concatenate((tokens, tokens[:2]))  # repeated rows: memo hits
    for logits_from in (0, length - 1):
        got = fast.forward_batch(tokens, logits_from=logits_from, causal=causal)
        assert_same(got, forward_batch(tokens, params, logits_from=logits_from,
                                       causal=causal))


def test_hard_heads_are_found_and_gathered():
    params, rng = build_model(3, 1, 2, 4, 1e4, True)
    fast = FastPath(params)
    assert (fast.targets >= 0).any(), "a hardened layer 0 has provably hard heads"
    assert "proven hard" in fast.describe()


def test_float32_stays_float32(rng):
    params = astype(random_params(rng), "float32")
    fast = FastPath(params)
    tokens = rng.integers(0, 7, size=(4, 9))
    logits, hard = fast.forward_batch(tokens, hardness=True)
    assert logits.dtype == np.float32 and hard.dtype == np.float32
    assert all(t.dtype == np.float32 for t in fast.tables.values())
    want = forward_batch(tokens, params)
    scale = np.abs(want).max(axis=-1, keepdims=True)
    np.testing.assert_allclose(logits / scale, want / scale, rtol=0, atol=1e-5)


@pytest.fixture(scope="module")
def addition3():
    return get_program("addition").make(n_digits=3)


@pytest.mark.parametrize("n_digits, count", [(3, 30), (4, 8)])
def test_addition_logits_are_the_step_by_step_decoders_bits(addition3, n_digits, count):
    """The memo evaluates an MLP row as the cached decoder does, one row at a time: with
    the same input bits, the decoder's very output bits."""
    task = addition3 if n_digits == 3 else get_program("addition").make(n_digits=n_digits)
    rows, n_prompt = teacher_rows(task, count)
    got = FastPath(task.params).forward_batch(rows[:, :-1], logits_from=n_prompt - 1)
    for row, logits in zip(rows, got):
        for j in range(logits.shape[0]):
            step = _forward(task.params, row[None, :n_prompt + j], 0,
                            KVCache(len(task.params["layers"])), logits_from=-1)
            np.testing.assert_array_equal(logits[j], step[0, -1])


def test_verify_fast_and_dense_agree_and_say_which(addition3):
    task = addition3
    fast = verify(task, samples=300, progress=False, backend="fast")
    dense = verify(task, samples=300, progress=False, backend="dense")
    assert fast.path.startswith("fast (") and dense.path == "dense"
    assert fast.path in fast.summary()
    assert (fast.n_inputs, fast.n_passed) == (dense.n_inputs, dense.n_passed)
    # The dense pass rounds its batched MLP sums differently (1e-8 of the logit scale here).
    assert fast.worst_margin == pytest.approx(dense.worst_margin, abs=1e-7)
    # '+' and '=' share 0's out_emb row and lose argmax's tie to it: not a margin of 0.
    assert fast.worst_margin > 0


def test_verify_fast_and_dense_report_the_same_failures():
    task = get_program("min").make(vocab_size=5, block_size=4)
    params = {**task.params, "tok_emb": task.params["tok_emb"][::-1].copy()}
    broken = replace(task, params=params)
    reports = [verify(broken, exhaustive=True, progress=False, max_failures=10 ** 6,
                      backend=b) for b in ("fast", "dense")]
    assert not reports[0].ok
    assert reports[0].failures == reports[1].failures
    assert reports[0].n_passed == reports[1].n_passed


def test_a_fastpath_can_be_reused_across_shards(addition3):
    fast = FastPath(addition3.params)
    parts = [verify(addition3, exhaustive=True, shard=f"{k}/200", backend=fast,
                    progress=False) for k in (1, 2)]
    dense = [verify(addition3, exhaustive=True, shard=f"{k}/200", progress=False,
                    backend="dense") for k in (1, 2)]
    assert [p.n_passed for p in parts] == [d.n_passed for d in dense] == [5000, 5000]
    assert parts[0].path.startswith("fast") and dense[0].path == "dense"


def test_bad_backend_is_a_clear_error(addition3):
    with pytest.raises(ValueError, match="backend must be one of"):
        verify(addition3, samples=1, backend="gpu", progress=False)
    with pytest.raises(ValueError, match="runs in float64"):
        verify(addition3, samples=1, dtype="float32", progress=False,
               backend=FastPath(addition3.params))


@pytest.mark.parametrize("program, n_digits", [("addition", 2), ("multi-digit-mod", 2)])
def test_batched_domains_are_the_exhaustive_domain(program, n_digits):
    task = get_program(program).make(n_digits=n_digits)
    domain = task.exhaustive()
    prompts, expected = domain.batch(np.arange(len(domain)))
    assert len(domain) == len(prompts) == 10 ** (2 * n_digits)
    for i, prompt in enumerate(domain):
        np.testing.assert_array_equal(prompts[i], prompt)
        np.testing.assert_array_equal(expected[i], task.reference(prompt))


def test_four_digit_slices_match_the_reference():
    task = get_program("addition").make(n_digits=4)
    domain = task.exhaustive()
    index = np.random.default_rng(0).integers(0, len(domain), 50).tolist()
    index += [0, len(domain) - 1, 99_990_001]
    for i in index:
        (prompt,), (expected,) = domain.batch(np.array([i]))
        np.testing.assert_array_equal(prompt, domain[i])
        a, b = divmod(i, 10 ** 4)
        np.testing.assert_array_equal(prompt, task.encode(f"{a}+{b}"))
        np.testing.assert_array_equal(expected, task.reference(prompt))


@pytest.mark.parametrize("name", NAMES)
def test_fast_decoding_gives_the_decoders_tokens(default_task, name):
    task = default_task(name)
    prompts = list(task.sample(np.random.default_rng(2), 4))
    fast = FastPath(task.params)
    if task.encoder:  # one pass, not decoded: its outputs are Task.run's
        for prompt in prompts:
            logits = fast.forward_batch(np.asarray(prompt)[None], logits_from=1,
                                        causal=task.causal)
            np.testing.assert_array_equal(np.argmax(logits[0], axis=-1), task.outputs(prompt))
        return
    steps = max(task.steps(p) for p in prompts)
    got = decode_batch(prompts, task.params, max_steps=steps, eos=task.eos, fast=fast)
    want = decode_batch(prompts, task.params, max_steps=steps, eos=task.eos)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=25, deadline=None)
@given(models, st.integers(1, 6), st.integers(0, 5))
def test_fast_decoding_of_random_models(model, prompt_len, steps):
    params, rng = build_model(*model)
    prompts = [rng.integers(0, 7, size=prompt_len) for _ in range(3)]
    fast = FastPath(params)
    for eos in (None, 3):
        got = decode_batch(prompts, params, max_steps=steps, eos=eos, fast=fast)
        for p, g in zip(prompts, got):
            np.testing.assert_array_equal(g, decode(p, params, max_steps=steps, eos=eos))


def test_fast_decoding_needs_its_own_params(rng):
    params = random_params(rng)
    with pytest.raises(ValueError, match="built on these params"):
        decode_batch([np.array([1, 2])], params, max_steps=1,
                     fast=FastPath(random_params(rng)))


@pytest.mark.slow
def test_all_three_digit_additions_on_the_fast_path(addition3):
    report = verify(addition3, exhaustive=True, backend="fast", progress=False)
    assert report.ok and report.n_inputs == 10 ** 6 and report.worst_margin > 0
