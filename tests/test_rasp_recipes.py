"""The compiler's recipes, each checked through taotp's own forward-pass functions."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from taotp.circuits import mean_free
from taotp.model import layer_norm, self_attn, softmax, transformer_layer
from taotp.rasp import recipes


def test_layer_norm_scale_is_what_layer_norm_does_to_a_mean_free_vector():
    rng = np.random.default_rng(0)
    x = rng.normal(size=12)
    x -= x.mean()
    scale = recipes.layer_norm_scale(float(x @ x), 12)
    assert np.allclose(layer_norm(x), x * scale, rtol=1e-14, atol=0)


def test_balanced_numbers_keep_layer_norm_constant():
    rows = recipes.balanced_number([-2.5, 0.0, 1.0, 2.5])
    padded = np.concatenate([rows, -rows], axis=1)  # a mean-free residual per value
    scales = [layer_norm(r)[0] / r[0] for r in padded if r[0] != 0]
    assert np.allclose(scales, scales[0], rtol=1e-14)


@pytest.mark.parametrize("n", [2, 10, 1000])
def test_hardening_gap_meets_the_bound(n):
    gamma = recipes.hardening_gap(n, 1e-6)
    scores = np.zeros(n)
    scores[0] = gamma  # the selected key, every other key gamma below it
    hardmax = np.eye(n)[0]
    assert np.abs(softmax(scores) - hardmax).sum() <= 2 * n * np.exp(-gamma) <= 1e-6 * (1 + 1e-12)


def _attend(x, Q, K, n_values):
    """self_attn with values = the last ``n_values`` dims of x (a position one-hot)."""
    d_model, d_head = x.shape[1], max(Q.shape[2], n_values)
    pad = ((0, 0), (0, 0), (0, d_head - Q.shape[2]))
    Q, K = np.pad(Q, pad), np.pad(K, pad)
    V, P = np.zeros((1, d_model, d_head)), np.zeros((1, d_model, d_head))
    V[0, d_model - n_values:, :n_values] = np.eye(n_values)
    P[0, d_model - n_values:, :n_values] = np.eye(n_values)
    out = self_attn(x, Q * d_head ** 0.5, K, V, P, np.ones((len(x), len(x)), bool))
    return out[:, d_model - n_values:]


def test_select_scores_with_bos_sink_through_attention():
    pattern = np.array([[1, 0, 1], [0, 0, 0]])  # query value 1 selects nothing: BOS sink
    q, k, q_sink, k_sink = recipes.select_scores(pattern, 2 * 800.0, 800.0)
    d = 4
    # dims: bos flag, constant, key one-hot (3), query one-hot (2), position one-hot (4)
    x = np.zeros((4, 11))
    x[:, 1], x[0, 0] = 1.0, 1.0
    x[1:, 2:5] = np.eye(3)
    x[1, 5], x[2, 6] = 1.0, 1.0
    x[:, 7:] = np.eye(4)
    Q, K = np.zeros((1, 11, d)), np.zeros((1, 11, d))
    Q[0, 5:7, :q.shape[1]], Q[0, 1, :q.shape[1]] = q, q_sink
    K[0, 2:5, :k.shape[1]], K[0, 0, :k.shape[1]] = k, k_sink
    out = _attend(x, Q, K, 4)
    assert np.allclose(out[1], [0, 0.5, 0, 0.5], rtol=0, atol=1e-9)  # keys with values 0 and 2, averaged
    assert np.allclose(out[2], [1, 0, 0, 0], rtol=0, atol=1e-9)      # nothing selected: the BOS sink


@pytest.mark.parametrize("seed", range(20))
def test_select_scores_spends_a_dimension_per_distinct_nonzero_row_or_column(seed):
    rng = np.random.default_rng(seed)
    n_q, n_k = rng.integers(1, 12, size=2)
    # few distinct rows (or columns), repeated: the factorisation must reuse them
    base = rng.integers(0, 2, size=(rng.integers(1, 4), n_k))
    pattern = base[rng.integers(0, len(base), size=n_q)]
    if seed % 2:
        pattern = pattern.T.copy()
    q, k, q_sink, k_sink = recipes.select_scores(pattern, 7.0, 3.0)
    assert np.array_equal(q @ k.T, 7.0 * pattern)
    distinct = min(len({tuple(r) for r in pattern if any(r)}),
                   len({tuple(c) for c in pattern.T if any(c)}))
    assert q.shape[1] == k.shape[1] == len(q_sink) == recipes.select_dims(pattern) + 1
    assert recipes.select_dims(pattern) == distinct
    assert float(q_sink @ k_sink) == 3.0 and not (q[:, -1].any() or k[:, -1].any())


def test_index_lookup_by_quadratic_maximisation_through_attention():
    n = 50
    for i in (0, 17, n - 1):
        q, keys = recipes.index_lookup(i, n)
        x = np.zeros((n, 4 + n))
        x[:, 0:2] = keys
        x[:, 2:4] = q  # every position asks for position i
        x[:, 4:] = np.eye(n)
        Q, K = np.zeros((1, 4 + n, 2)), np.zeros((1, 4 + n, 2))
        Q[0, 2:4] = 800.0 * np.eye(2)
        K[0, 0:2] = np.eye(2)
        assert np.allclose(_attend(x, Q, K, n)[0], np.eye(n)[i], rtol=0, atol=1e-9)


def test_plateau_lookup_in_a_transformer_mlp_is_exact_near_its_points():
    points = np.array([0.0, 0.25, 1.0, 3.0])
    outputs = np.array([[1.0], [-2.0], [5.0], [0.5]])
    M1, b1, M2, b2 = recipes.plateau_lookup(points, outputs)
    layer = {"Q": np.zeros((1, 1, 1)), "K": np.zeros((1, 1, 1)), "V": np.zeros((1, 1, 1)),
             "P": np.zeros((1, 1, 1)), "M1": M1, "b1": b1, "M2": M2, "b2": b2,
             "ln1": {"gamma": 1.0, "beta": 0.0}, "ln2": {"gamma": 1.0, "beta": 0.0}}
    # the MLP reads a 1-D residual; layer norm of one number is 0, so read it unnormalised
    x = (points + np.array([0.05, -0.05, 0.06, -0.06]))[:, None]  # within a quarter gap
    mlp = np.maximum(x @ M1 + b1, 0.0) @ M2 + b2
    assert np.array_equal(np.round(mlp, 12), outputs)
    assert transformer_layer(np.zeros((2, 1)), **layer, mask=np.ones((2, 2), bool)).shape == (2, 1)


def test_categorical_lookup_is_a_boolean_function_of_one_hots():
    table = {(a, b): a ^ b for a in range(2) for b in range(2)}
    M1, b1, M2, b2 = recipes.categorical_lookup([2, 2], table, lambda v: [float(v)])
    for (a, b), want in table.items():
        x = np.concatenate([np.eye(2)[a], np.eye(2)[b]]) * 0.9 + 0.04  # noisy one-hots
        assert (np.maximum(x @ M1 + b1, 0.0) @ M2 + b2).tolist() == [float(want)]


def test_categorical_lookup_spends_units_only_on_answers_other_than_the_commonest():
    """A pattern detector over three one-hots of 3 slots: 26 combinations answer 0 (the
    bias), one answers 1, so two ReLUs; every combination exact on noisy one-hots."""
    table = {combo: float(combo == (2, 0, 1)) for combo in itertools.product(range(3),
                                                                             repeat=3)}
    M1, b1, M2, b2 = recipes.categorical_lookup([3, 3, 3], table, lambda v: [v, 1 - v])
    assert M1.shape == (9, 2) and b2.tolist() == [0.0, 1.0]
    rng = np.random.default_rng(3)
    for combo, want in table.items():
        x = np.concatenate([np.eye(3)[c] for c in combo]) + rng.uniform(-0.07, 0.07, 9)
        assert (np.maximum(x @ M1 + b1, 0.0) @ M2 + b2).tolist() == [want, 1 - want]


def test_categorical_lookup_answers_none_with_one_ramp_when_none_propagates():
    """Three inputs of 3 slots (False, True, None): None wherever an input is None (19 of 27
    combinations), True at one: one ramp for "any None", one for True, False the bias."""
    table = {c: (None if 2 in c else c == (1, 1, 1)) for c in itertools.product(range(3),
                                                                             repeat=3)}
    encode = {False: [1.0, 0.0, 0.0], True: [0.0, 1.0, 0.0], None: [0.0, 0.0, 1.0]}.get
    M1, b1, M2, b2 = recipes.categorical_lookup([3, 3, 3], table, encode, [2, 2, 2])
    assert M1.shape == (9, 4)
    rng = np.random.default_rng(4)
    for combo, want in table.items():
        x = np.concatenate([np.eye(3)[c] for c in combo]) + rng.uniform(-0.06, 0.06, 9)
        assert (np.maximum(x @ M1 + b1, 0.0) @ M2 + b2).tolist() == encode(want)
    table[(0, 2, 0)] = False  # None no longer propagates: a ramp per combination again
    assert recipes.categorical_lookup([3, 3, 3], table, encode, [2, 2, 2])[0].shape[1] > 4


def test_relu_comparators_min_max_and():
    assert recipes.relu_max(3.0, -1.0) == 3.0 and recipes.relu_min(3.0, -1.0) == -1.0
    assert [recipes.relu_step(x, 2.0, 0.5) for x in (1.0, 1.5, 2.0, 7.0)] == [0, 0, 1, 1]
    assert [recipes.relu_and(a, b) for a in (0, 1) for b in (0, 1)] == [0, 0, 0, 1]


def test_injective_weights_separate_every_combination():
    codes = [[0.0, 0.5, 2.0], [1.0, 1.25], [-3.0, 0.0, 3.0]]
    w = recipes.injective_weights(codes)
    ts = [sum(wi * c for wi, c in zip(w, combo)) for combo in itertools.product(*codes)]
    assert len(set(ts)) == len(ts) and recipes.min_gap(ts) >= 0.5 - 1e-12


def test_mean_free_basis_keeps_reads_exact():
    params = {"tok_emb": np.eye(3), "pos_emb": np.zeros((2, 3)), "out_emb": np.eye(3),
              "layers": [], "lnf": {"gamma": 1.0, "beta": 0.0}}
    free = mean_free(params)
    assert np.allclose(free["tok_emb"].sum(axis=1), 0.0)
    assert np.allclose(free["tok_emb"] @ free["out_emb"].T, np.eye(3))


def test_mean_free_leaves_out_directions_every_residual_is_perpendicular_to():
    """Logical dims: two flags (BOS, not BOS), a 3-slot one-hot the tokens write and one the
    positions write. Each one-hot's slots sum to 1 like the flags, so two directions are
    fixed: 8 logical dims take 9 - 2 = 7 model dims, and every inner product of two
    residuals (what each read and the layer norm see) is kept."""
    rng = np.random.default_rng(6)
    tok = np.zeros((4, 8))
    tok[0, [0, 2 + 2]] = 1.0            # BOS: its flag, the one-hot's None slot
    tok[1:, 1] = 1.0
    tok[np.arange(1, 4), 2 + rng.integers(0, 3, 3)] = 1.0
    pos = np.zeros((5, 8))
    pos[np.arange(5), 5 + np.minimum(np.arange(5), 2)] = 1.0
    fixed = np.zeros((2, 8))
    fixed[:, :2] = -1.0
    fixed[0, 2:5], fixed[1, 5:8] = 1.0, 1.0
    layer = {"Q": rng.normal(size=(1, 8, 2)), "K": rng.normal(size=(1, 8, 2)),
             "V": rng.normal(size=(1, 8, 2)), "P": rng.normal(size=(1, 8, 2)),
             "M1": rng.normal(size=(8, 3)), "b1": np.zeros(3), "M2": rng.normal(size=(3, 8)),
             "b2": np.zeros(8), "ln1": {"gamma": 1.0, "beta": 0.0},
             "ln2": {"gamma": 1.0, "beta": 0.0}}
    params = {"tok_emb": tok, "pos_emb": pos, "out_emb": tok, "layers": [layer],
              "lnf": {"gamma": 1.0, "beta": 0.0}}
    free = mean_free(params, fixed)
    assert free["tok_emb"].shape == (4, 7) and free["layers"][0]["Q"].shape == (1, 7, 2)
    z = tok[:, None, :] + pos[None, :, :]          # every (token, position) residual
    x = free["tok_emb"][:, None, :] + free["pos_emb"][None, :, :]
    assert np.allclose(x.sum(axis=-1), 0.0)          # mean-free
    zs, xs = z.reshape(-1, 8), x.reshape(-1, 7)
    assert np.allclose(xs @ xs.T, zs @ zs.T)         # norms and inner products kept
    for key in ("Q", "K", "V"):
        assert np.allclose(xs @ free["layers"][0][key][0], zs @ layer[key][0])
    assert np.allclose(xs @ free["layers"][0]["M1"], zs @ layer["M1"])


def test_mean_free_refuses_dependent_fixed_directions():
    """Dependent rows would make it drop a direction residuals do use: a clear error."""
    params = {"tok_emb": np.eye(4), "pos_emb": np.zeros((2, 4)), "out_emb": np.eye(4),
              "layers": [], "lnf": {"gamma": 1.0, "beta": 0.0}}
    fixed = np.array([[1.0, -1.0, 0.0, 0.0], [2.0, -2.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="linearly dependent"):
        mean_free(params, fixed)
