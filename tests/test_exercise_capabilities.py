"""Library capabilities that come out of the exercises: taotp.variants,
constructions.lookup_table_general and constructions.signed_sort."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from taotp import astype, base_layer, base_params, decode, transformer
from taotp.variants import (
    decode_variant, ones_preserving_orthogonal, rms_norm, scramble_transformer,
    transformer_variant,
)

KEYS = ("tok_emb", "pos_emb", "out_emb", "layers", "lnf")


def random_params(seed, vocab=7, block=6, d=5, n_layers=2, heads=2, d_head=3, d_ff=8, beta=0.0,
                  tied=True):
    rng = np.random.default_rng(seed)
    p = base_params(vocab, block, d)
    p["tok_emb"] = rng.standard_normal((vocab, d))
    p["out_emb"] = p["tok_emb"] if tied else rng.standard_normal((vocab, d))
    p["pos_emb"] = rng.standard_normal((block, d))
    for _ in range(n_layers):
        layer = base_layer(heads, d, d_ff, d_head)
        for k in ("Q", "K", "V", "P", "M1", "b1", "M2", "b2"):
            layer[k] = rng.standard_normal(layer[k].shape)
        layer["ln1"] = {"gamma": 1.3, "beta": beta}
        layer["ln2"] = {"gamma": 0.7, "beta": -beta}
        p["layers"].append(layer)
    p["lnf"] = {"gamma": 1.1, "beta": beta}
    return p


def scrambled(params, M):
    return dict(zip(KEYS, scramble_transformer(**params, M=M)))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), beta=st.sampled_from([0.0, 0.4]))
def test_scramble_keeps_function_for_ones_preserving_rotations(seed, beta):
    params = random_params(seed, beta=beta)
    M = ones_preserving_orthogonal(5, seed=seed + 1)
    new = scrambled(params, M)
    tokens = np.random.default_rng(seed).integers(0, 7, size=6)
    assert np.allclose(new["tok_emb"], params["tok_emb"] @ M)
    assert np.allclose(transformer(tokens, **new), transformer(tokens, **params), atol=1e-7)
    assert np.allclose(new["out_emb"], new["tok_emb"])  # tied stays tied when 1 @ M = 1


def test_scramble_wider_class_sign_flip_scale_and_shear():
    params = random_params(3, beta=0.25)
    R = ones_preserving_orthogonal(5, seed=4)
    ones = np.ones(5)
    flip = R - 2 * np.outer(ones, ones) / 5  # 1 @ flip = -1: still orthonormal
    assert np.allclose(flip @ flip.T, np.eye(5))
    shear = 3.0 * R + np.outer(np.arange(5.0), ones)  # scaled, plus a shear along 1
    projection = np.eye(5) - np.outer(ones, ones) / 5  # even a singular M (kills 1) works
    tokens = np.array([1, 4, 0, 6, 2, 2])
    for M in (flip, shear, projection):
        new = scrambled(params, M)
        assert np.allclose(new["tok_emb"], params["tok_emb"] @ M)
        assert np.allclose(transformer(tokens, **new), transformer(tokens, **params), atol=1e-7)


def test_scramble_rejects_generic_orthonormal_and_non_orthonormal():
    params = random_params(5)
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))
    with pytest.raises(ValueError, match="all-ones"):
        scramble_transformer(**params, M=Q)
    R = ones_preserving_orthogonal(5, seed=0)
    U, _ = np.linalg.qr(np.column_stack([np.ones(5), np.eye(5)[:, :4]]))
    stretch = U @ np.diag([1.0, 1.0, 2.0, 1.0, 1.0]) @ U.T  # keeps 1, stretches a 1-perp axis
    with pytest.raises(ValueError, match="scaled orthonormal"):
        scramble_transformer(**params, M=stretch)
    with pytest.raises(ValueError, match="must be a"):
        scramble_transformer(**params, M=np.eye(4))
    p = random_params(6)
    p["lnf"] = {"gamma": np.arange(1.0, 6.0), "beta": 0.0}
    with pytest.raises(ValueError, match="not a scalar"):
        scramble_transformer(**p, M=R)


def test_scramble_naive_rewrite_with_generic_orthonormal_changes_the_function():
    """Why the class matters: rotate every weight by a generic orthonormal Q (what works
    without layer norm) and the logits change."""
    params = random_params(8)
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((5, 5)))
    naive = {"tok_emb": params["tok_emb"] @ Q, "pos_emb": params["pos_emb"] @ Q,
             "out_emb": params["out_emb"] @ Q, "lnf": params["lnf"], "layers": [
                 dict(layer, Q=np.einsum("je,hjk->hek", Q, layer["Q"]),
                      K=np.einsum("je,hjk->hek", Q, layer["K"]),
                      V=np.einsum("je,hjk->hek", Q, layer["V"]),
                      P=np.einsum("de,hdk->hek", Q, layer["P"]),
                      M1=Q.T @ layer["M1"], M2=layer["M2"] @ Q, b2=layer["b2"] @ Q)
                 for layer in params["layers"]]}
    tokens = np.arange(6)
    assert not np.allclose(transformer(tokens, **naive), transformer(tokens, **params), atol=1e-3)
    # ... while the very same rewrite is exact under RMSNorm, which has no mean subtraction.
    assert np.allclose(transformer_variant(tokens, **naive, norm="rms"),
                       transformer_variant(tokens, **params, norm="rms"), atol=1e-8)


def test_scramble_float32_stays_float32():
    params = astype(random_params(2), np.float32)
    new = scrambled(params, ones_preserving_orthogonal(5, seed=2))
    assert new["tok_emb"].dtype == np.float32 and new["layers"][0]["Q"].dtype == np.float32
    tokens = np.arange(4)
    assert transformer(tokens, **new).dtype == np.float32
    assert np.allclose(transformer(tokens, **new), transformer(tokens, **params), atol=1e-3)


def test_variant_defaults_equal_the_book_transformer():
    params = random_params(11, beta=0.2, tied=False)
    tokens = np.array([3, 1, 4, 1, 5, 6])
    assert np.allclose(transformer_variant(tokens, **params), transformer(tokens, **params))
    assert np.array_equal(decode_variant(tokens[:2], params, max_steps=4),
                          decode(tokens[:2], params, max_steps=4))


def test_post_ln_and_rms_follow_their_definitions():
    params = random_params(12, n_layers=1)
    tokens = np.array([0, 2, 5])
    layer = params["layers"][0]
    x = params["tok_emb"][tokens] + params["pos_emb"][:3]
    mask = np.tril(np.ones((3, 3), dtype=bool))
    from taotp.model import layer_norm, self_attn
    x = layer_norm(x + self_attn(x, layer["Q"], layer["K"], layer["V"], layer["P"], mask),
                   **layer["ln1"])
    x = layer_norm(x + np.maximum(x @ layer["M1"] + layer["b1"], 0) @ layer["M2"] + layer["b2"],
                   **layer["ln2"])
    expected = layer_norm(x, **params["lnf"]) @ params["out_emb"].T
    assert np.allclose(transformer_variant(tokens, **params, post_ln=True), expected)
    v = np.array([3.0, 4.0])
    assert np.allclose(rms_norm(v), v / np.sqrt(12.5))
    circle = np.sqrt(2) * np.array([np.cos(0.3), np.sin(0.3)])  # radius sqrt(d): fixed points
    assert np.allclose(rms_norm(circle), circle)


def test_variant_bad_input():
    params = random_params(1)
    with pytest.raises(ValueError, match="norm must be"):
        transformer_variant(np.arange(3), **params, norm="batch")
    with pytest.raises(ValueError, match="max_steps"):
        decode_variant(np.arange(3), params, max_steps=-1)
    with pytest.raises(ValueError, match="block_size"):
        decode_variant(np.arange(3), params, max_steps=10)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        transformer_variant(np.array([9]), **params)
    with pytest.raises(ValueError, match="d must be"):
        ones_preserving_orthogonal(1)


# --- constructions.lookup_table_general: LOOKUP TABLE for every table (Exercise 3.12) ------

import itertools

from taotp import decode_batch
from constructions.lookup_table_general import build_general_lookup_transformer
from constructions.lookup_table_general import make as build_general_task


def _decoded(params, prompts):
    return [int(o[-1]) for o in decode_batch(prompts, params, max_steps=1)]


def test_general_lookup_every_table_over_two_tokens_and_key_length_two():
    keys = list(itertools.product(range(2), repeat=2))
    tables = 0
    for assignment in itertools.product((None, 0, 1), repeat=len(keys)):  # absent / value
        entries = [(k, v) for k, v in zip(keys, assignment) if v is not None]
        if not entries:
            continue
        ks = np.array([k for k, _ in entries]); vs = np.array([v for _, v in entries])
        params = build_general_lookup_transformer(ks, vs, vocab_size=2, block_size=5)
        prompts = [np.array(prefix + list(k)) for k, _ in entries
                   for prefix in ([], [0], [1, 1], [1, 0, 1])]
        expected = [v for _, v in entries for _ in range(4)]
        assert _decoded(params, prompts) == expected, entries
        tables += 1
    assert tables == 3 ** 4 - 1


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), vocab=st.integers(2, 6), key_len=st.integers(1, 4),
       data=st.data())
def test_general_lookup_random_tables_with_prefixes(seed, vocab, key_len, data):
    rng = np.random.default_rng(seed)
    n = data.draw(st.integers(1, min(40, vocab ** key_len)))
    flat = rng.choice(vocab ** key_len, size=n, replace=False)
    ks = np.array([[f // vocab ** p % vocab for p in range(key_len)] for f in flat])
    vs = rng.integers(0, vocab, n)
    block = key_len + 4
    params = build_general_lookup_transformer(ks, vs, vocab, block, seed=seed)
    prompts = [np.concatenate([rng.integers(0, vocab, rng.integers(0, 5)), k]) for k in ks]
    assert _decoded(params, prompts) == list(vs)


def test_general_lookup_task_1000_entries_vocab_10():
    task = build_general_task()  # the table Chapter 3's construction caps near 20 % on
    rng = np.random.default_rng(3)
    prompts = task.sample(rng, 1500) + task.adversarial()
    assert _decoded(task.params, prompts) == [int(task.reference(p)[0]) for p in prompts]
    key = " ".join(map(str, prompts[0][-5:]))
    assert task.run("9 9 9 9 " + key) == str(int(task.reference(prompts[0])[0]))
    assert task.answer(" ".join(map(str, prompts[0]))) == str(int(task.reference(prompts[0])[0]))


def test_general_lookup_bad_input():
    ks, vs = np.array([[0, 1], [1, 0]]), np.array([1, 0])
    with pytest.raises(ValueError, match="distinct"):
        build_general_lookup_transformer(np.array([[0, 1], [0, 1]]), vs, 2, 4)
    with pytest.raises(ValueError, match="token ids in"):
        build_general_lookup_transformer(ks, np.array([1, 2]), 2, 4)
    with pytest.raises(ValueError, match="block_size"):
        build_general_lookup_transformer(ks, vs, 2, 1)
    with pytest.raises(ValueError, match="integer token ids"):
        build_general_lookup_transformer(ks.astype(float), vs, 2, 4)
    task = build_general_task(entries=5, vocab_size=3, key_len=2, block_size=4)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        task.encode("0 7")
    with pytest.raises(ValueError, match="empty"):
        task.encode("   ")
    with pytest.raises(ValueError, match="do not fit"):
        task.encode("0 1 2 0 1")
    with pytest.raises(ValueError, match="entries"):
        build_general_task(entries=0)
    with pytest.raises(ValueError, match="distinct keys exist"):
        build_general_task(entries=10, vocab_size=3, key_len=2)


# --- constructions.signed_sort: SORT with negative numbers (Exercise 5.5) -------------------

from constructions.signed_sort import make as make_signed_sort


def test_signed_sort_random_and_adversarial_against_reference():
    task = make_signed_sort(max_abs=50, block_size=40)
    prompts = task.sample(np.random.default_rng(5), 40) + task.adversarial()
    steps = max(task.steps(p) for p in prompts)
    outs = decode_batch(prompts, task.params, max_steps=steps)
    for out, prompt in zip(outs, prompts):
        n = task.steps(prompt)
        assert list(out[len(prompt):len(prompt) + n]) == list(task.reference(prompt))
    assert task.run("-5 3 -2 3 0 -50 50") == "-50 -5 -2 0 3 3 50"
    assert task.answer("7 -7") == "-7 7"


def test_signed_sort_bad_input():
    task = make_signed_sort(max_abs=5, block_size=8)
    for text, message in (("", "empty"), ("1 x", "not an integer"), ("6", "outside"),
                          ("1 2 3 4 5", "do not fit")):
        with pytest.raises(ValueError, match=message):
            task.encode(text)
    with pytest.raises(ValueError, match="max_abs"):
        make_signed_sort(max_abs=-1)
