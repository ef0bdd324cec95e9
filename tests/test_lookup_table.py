"""LOOKUP TABLE (Chapter 3): gradient, fitting, sizes, prefixes, float32, registry, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from constructions.lookup_table import (
    PROGRAMS, build_lookup_transformer, build_untied_transformer, logsumexp, loss_and_grad,
    onehot, optimize, random_lookup_table,
)
from taotp import (
    astype, count_non0_params, count_params, decode, decode_batch, forward_batch, layer_norm,
    transformer,
)

TIED, UNTIED = PROGRAMS


def wrong(params, prompts, task):
    """Prompts whose decoded token differs from the reference."""
    outs = decode_batch(prompts, params, max_steps=1)
    return [list(p) for p, o in zip(prompts, outs) if o[-1] != task.reference(p)[0]]


def all_prompts(task, seed, n=200):
    return list(task.exhaustive()) + task.sample(np.random.default_rng(seed), n) \
        + task.adversarial()


def test_helpers():
    assert np.array_equal(onehot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    x = np.array([[1.0, 2.0, 1000.0], [-5.0, 0.0, 3.0]])
    assert np.allclose(logsumexp(x), np.log(np.exp(x - x.max(1, keepdims=True)).sum(1,
                       keepdims=True)) + x.max(1, keepdims=True))
    assert logsumexp(x).shape == (2, 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_matches_central_differences(seed):
    rng = np.random.default_rng(seed)
    V, d, l, n = 7, 4, 3, 9
    E = layer_norm(rng.normal(0, 1, (V, d)))
    M = rng.normal(0, 0.3, (l, d, d))
    ks, vs = random_lookup_table(rng, n, V, l)
    y = onehot(vs, V)
    loss, (dM, dE) = loss_and_grad(E, M, ks, vs, y)
    assert np.isfinite(loss) and loss > 0
    for array, grad in ((M, dM), (E, dE)):
        numeric = np.zeros_like(array)
        for idx in np.ndindex(array.shape):
            old = array[idx]
            array[idx] = old + 1e-6
            up = loss_and_grad(E, M, ks, vs, y)[0]
            array[idx] = old - 1e-6
            down = loss_and_grad(E, M, ks, vs, y)[0]
            array[idx] = old
            numeric[idx] = (up - down) / 2e-6
        assert np.allclose(grad, numeric, rtol=1e-5, atol=1e-6)


def test_loss_is_the_transformers_cross_entropy():
    """The fitted model is exactly the transformer's last position."""
    ks, vs = random_lookup_table(np.random.default_rng(3), 10, 10, 5)
    params = build_lookup_transformer(ks, vs, 10, 5, 5, 50, seed=3, progress=False)
    E = params["tok_emb"][:, :5]
    P = params["layers"][0]["P"].copy()
    P[0] += np.eye(8)  # head 0 also erases the residual
    M = np.stack([P[4 - p, :5, :5].T for p in range(5)])
    loss, _ = loss_and_grad(E, M, ks, vs, onehot(vs, 10))
    logits = np.stack([transformer(k, **params)[-1] for k in ks])
    assert np.isclose(loss, (logsumexp(logits)[:, 0] - logits[np.arange(10), vs]).sum())


def test_optimize_in_place_seeded_and_silent(capsys):
    ks, vs = random_lookup_table(np.random.default_rng(0), 10, 10, 5)
    runs = []
    for _ in range(2):
        rng = np.random.default_rng(7)
        E, M = rng.normal(0, 0.1, (10, 5)), rng.normal(0, 0.1, (5, 5, 5))
        E0 = E.copy()
        loss, n_wrong, it = optimize(E, M, ks, vs, 300, lr=1e-2, progress=False)
        assert not np.allclose(E, layer_norm(E0))  # E itself is trained (the book's bug)
        runs.append((E, M, loss, n_wrong, it))
    assert runs[0][3] == 0 and 0 <= runs[0][4] < 300
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
    assert capsys.readouterr().err == ""
    optimize(E, M, ks, vs, 3, progress=True)
    assert "lookup table" in capsys.readouterr().err


def test_same_seed_same_weights():
    a, b, c = (TIED.make(seed=s) for s in (5, 5, 6))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in ("tok_emb", "pos_emb"))
    assert np.array_equal(a.params["layers"][0]["P"], b.params["layers"][0]["P"])
    assert not np.array_equal(a.params["tok_emb"], c.params["tok_emb"])


@pytest.mark.parametrize("tok_dims,n_params,non0", [(5, 1_408, 286), (10, 3_588, 736),
                                                    (30, 22_308, 5_036)])
def test_book_sizes(tok_dims, n_params, non0):
    task = TIED.make(tok_dims=tok_dims, iters=20)
    assert count_params(task.params)["n_params"] == n_params
    assert count_non0_params(task.params)["n_params"] == non0
    assert TIED.book_size(tok_dims=tok_dims)["n_params"] == n_params
    layer, = task.params["layers"]
    d_model = tok_dims + 3
    assert layer["Q"].shape == (5, d_model, d_model) and layer["M1"].shape == (d_model, 0)


@pytest.mark.parametrize("entries,vocab_size,tok_dims,seeds", [
    (10, 10, 5, range(20)), (100, 10, 10, range(10)), (10, 100, 5, range(6)),
    (100, 100, 10, range(4)),
])
def test_random_tables_decode_fully(entries, vocab_size, tok_dims, seeds):
    """The book's dims suffice: every key, with random and adversarial prefixes, in both
    float64 and float32."""
    for seed in seeds:
        task = TIED.make(entries=entries, vocab_size=vocab_size, tok_dims=tok_dims,
                         block_size=12, seed=seed)
        prompts = all_prompts(task, seed)
        assert wrong(task.params, prompts, task) == []
        assert wrong(astype(task.params, np.float32), prompts, task) == []


def test_prefixes_change_nothing():
    task = TIED.make(block_size=12)
    rng = np.random.default_rng(0)
    for key in task.exhaustive():
        alone = transformer(key, **task.params)[-1]
        prompts = [np.concatenate((rng.integers(0, 10, n), key)) for n in range(8)]
        logits = forward_batch(np.stack(prompts[-1:]), task.params, logits_from=-1)[0, -1]
        assert np.allclose(logits, alone, atol=1e-8)
        for prompt in prompts:
            assert np.allclose(transformer(prompt, **task.params)[-1], alone, atol=1e-8)


def test_random_table_keys_are_distinct():
    ks, vs = random_lookup_table(np.random.default_rng(0), 30, 2, 5)  # 30 of the 32 keys
    assert len(np.unique(ks, axis=0)) == 30 and vs.shape == (30,)
    with pytest.raises(ValueError, match="only 32 distinct keys"):
        random_lookup_table(np.random.default_rng(0), 33, 2, 5)


@pytest.mark.parametrize("seed", range(6))
def test_untied_defaults_decode_fully(seed):
    task = UNTIED.make(seed=seed, block_size=9)
    assert wrong(task.params, all_prompts(task, seed), task) == []
    assert wrong(astype(task.params, np.float32), all_prompts(task, seed), task) == []


def test_untied_size_and_figure_3_3():
    task = UNTIED.make()
    assert count_params(task.params)["n_params"] == 67_098
    assert count_params(task.params)["out_emb"] == 5_300
    ks, vs = random_lookup_table(np.random.default_rng(1), 10, 1000, 5)
    params = build_untied_transformer(ks, vs, 1000, 5, 5, 20, seed=1)
    assert wrong(params, list(ks), type("T", (), {"reference": lambda p: [
        vs[np.flatnonzero((ks == p).all(1))[0]]]})) == []


def test_registry_entries():
    assert [p.name for p in PROGRAMS] == ["lookup-table", "lookup-table-untied"]
    assert TIED.float32 == UNTIED.float32 == ""
    assert set(TIED.defaults()) == {"entries", "vocab_size", "key_len", "tok_dims",
                                    "block_size", "iters", "seed"}
    for program in PROGRAMS:
        task = program.make()
        for example in program.examples:
            assert task.run(example) == task.answer(example)
        assert len(list(task.exhaustive())) == 10


@pytest.mark.parametrize("text,match", [
    ("", "empty input"),
    ("1 2 x", "space-separated integers"),
    ("1 2 3 4 10", "outside the vocabulary"),
    ("1 2 3", "a key has 5 tokens"),
    ("0 0 0 0 0 0 0 0 0 0 0 0 0", "do not fit"),
])
def test_bad_input(text, match):
    with pytest.raises(ValueError, match=match):
        TIED.make(block_size=12).encode(text)


def test_a_suffix_that_is_no_key_is_undefined():
    task = TIED.make(block_size=12)
    keys = {tuple(k) for k in task.exhaustive()}
    other = next(k for k in np.ndindex(*(10,) * 5) if k not in keys)
    with pytest.raises(ValueError, match="undefined behaviour.*not a key"):
        task.encode(" ".join(map(str, other)))
    key = " ".join(map(str, next(iter(keys))))
    assert task.encode("9 9 " + key)[-5:].tolist() == list(next(iter(keys)))


def test_bad_tables():
    ks = np.array([[1, 2], [1, 2]])
    with pytest.raises(ValueError, match="distinct"):
        build_lookup_transformer(ks, np.array([0, 1]), 10, 5, 5, 1, progress=False)
    with pytest.raises(ValueError, match=r"token ids in \[0, 10\)"):
        build_lookup_transformer(np.array([[1, 12]]), np.array([0]), 10, 5, 5, 1)
    with pytest.raises(ValueError, match="prefix_len=3"):
        build_untied_transformer(np.array([[1, 2]]), np.array([0]), 10, 5, 3, 5)
    with pytest.raises(ValueError, match="block_size=.* must be an integer >= the key length"):
        build_lookup_transformer(np.array([[1, 2, 3]]), np.array([0]), 10, 2, 5, 1)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        decode([10], TIED.make().params, max_steps=1)


@pytest.mark.slow
@pytest.mark.parametrize("vocab_size", [100, 1000])
def test_book_table_of_1000_entries(vocab_size):
    """The book's largest table: 1,000 entries at tok_dims 30 (22,308 parameters)."""
    task = TIED.make(entries=1000, vocab_size=vocab_size, tok_dims=30, block_size=8)
    # 22,308 at vocab 10 and block 5; each more token or position adds d_model = 33
    assert count_params(task.params)["n_params"] == 22_308 + 33 * (vocab_size - 10 + 8 - 5)
    prompts = all_prompts(task, 0, n=500)
    assert wrong(task.params, prompts, task) == []
    assert wrong(astype(task.params, np.float32), prompts, task) == []


def test_one_token_dimension_is_a_clear_error():
    ks, vs = np.array([[1, 2], [2, 1]]), np.array([0, 1])
    with pytest.raises(ValueError, match="tok_dims"):
        build_lookup_transformer(ks, vs, vocab_size=3, block_size=4, tok_dims=1,
                                 optimization_iters=1, progress=False)
