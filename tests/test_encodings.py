"""Chapter 7's claims about encodings, checked: the ones that hold and the one that does not."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from taotp.encodings import (
    balanced_hamming_embedding, distinguishability, hamming_embedding, og_angles, og_embedding,
    random_normal_encoding, random_rotation_embedding, random_sign_encoding,
    reversed_rotation_encoding, rotation_encoding, shift_by_delta, standard_padding_dimension,
    uniform_rotation_embedding,
)
from taotp.model import softmax


def book_og_embedding(block_size, d):  # Figure 7.1, verbatim but for formatting
    t = np.arange(block_size)[:, None] / (10_000 ** (2 * np.arange(d // 2) / d))[None, :]
    res = np.empty((block_size, d))
    res[:, 0::2] = np.sin(t)
    res[:, 1::2] = np.cos(t)
    return res


def test_og_embedding_is_figure_7_1_and_reversed_rotation_encoding():  # Figure 7.5
    np.testing.assert_allclose(og_embedding(64, 128), book_og_embedding(64, 128), rtol=0, atol=0)
    np.testing.assert_allclose(reversed_rotation_encoding(64, og_angles(128)), og_embedding(64, 128))


def test_rotation_encoding_is_the_complex_view_real_part_first():
    thetas = np.random.default_rng(0).uniform(0, 2 * np.pi, 5)
    complex_enc = np.exp(np.arange(7)[:, None] * 1j * thetas[None, :])
    # What the book's `.view(dtype=np.float_)` gave under numpy 1.
    np.testing.assert_array_equal(rotation_encoding(7, thetas), complex_enc.view(np.float64))
    np.testing.assert_array_equal(rotation_encoding(1, thetas), [[1.0, 0.0] * 5])
    rev = reversed_rotation_encoding(7, thetas)
    np.testing.assert_array_equal(rev[:, 0::2], complex_enc.imag)
    np.testing.assert_array_equal(rev[:, 1::2], complex_enc.real)


@settings(max_examples=40, deadline=None)
@given(q=st.integers(1, 50), n=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_rotation_encodings_have_norm_squared_d_over_2(q, n, seed):  # Theorem 7.1
    thetas = np.random.default_rng(seed).uniform(0, 2 * np.pi, n)
    for encode in (rotation_encoding, reversed_rotation_encoding):
        np.testing.assert_allclose((encode(q, thetas) ** 2).sum(axis=1), n, rtol=1e-12)


@pytest.mark.parametrize("delta", [-5, -1, 0, 1, 3, 17])
def test_shift_matrices_shift(delta):  # Theorem 7.2, Figure 7.4
    q, d = 40, 16
    for thetas in (og_angles(d), np.random.default_rng(delta + 10).uniform(0, 2 * np.pi, d // 2)):
        E, R = rotation_encoding(q, thetas), reversed_rotation_encoding(q, thetas)
        M, M_rev = shift_by_delta(d, delta, thetas), shift_by_delta(d, delta, thetas, reversed=True)
        for j in range(max(0, -delta), min(q, q - delta)):
            np.testing.assert_allclose(E[j] @ M, E[j + delta], atol=1e-12)
            np.testing.assert_allclose(R[j] @ M_rev, R[j + delta], atol=1e-12)
        if delta:
            # The book's matrix on the reversed layout moves the other way (its sign convention).
            np.testing.assert_allclose(R[20] @ M, R[20 - delta], atol=1e-12)
            assert not np.allclose(R[20] @ M, R[20 + delta])
    np.testing.assert_allclose(og_embedding(q, d)[3] @ shift_by_delta(d, 4, og_angles(d), True),
                               og_embedding(q, d)[7], atol=1e-12)


def test_shift_matrix_is_figure_7_4():
    theta = np.array([0.3, 1.1, 2.0])
    M = shift_by_delta(6, 2, theta)
    for i, t in enumerate(theta):
        block = M[2 * i: 2 * i + 2, 2 * i: 2 * i + 2]
        np.testing.assert_array_equal(block, [[np.cos(2 * t), np.sin(2 * t)],
                                              [-np.sin(2 * t), np.cos(2 * t)]])
    assert np.count_nonzero(M) == 12


def test_og_standard_padding_dimension_is_16():  # Section 7.2.2
    assert standard_padding_dimension(og_embedding(64, 128), epsilon=1e-3) == 16
    assert standard_padding_dimension(og_embedding(64, 128)) == 16
    for seed in range(20):
        assert standard_padding_dimension(random_rotation_embedding(64, 128, seed=seed)) == 0


def test_og_distinguishability():  # Section 7.2.1
    assert distinguishability(og_embedding(256, 256)) == pytest.approx(0.9466, abs=1e-4)
    M = og_embedding(64, 128)
    assert np.min(np.diag(softmax(M @ M.T))) == pytest.approx(0.77, abs=0.005)
    assert distinguishability(M) == pytest.approx(np.min(np.diag(softmax(M @ M.T))), rel=1e-9)


def test_random_rotation_distinguishability_needs_about_30_dims_not_10():
    """Measured (see taotp.encodings): the book's "> 0.99 from ~10 dimensions" is false."""
    def over_seeds(d, seeds=range(100)):
        return np.array([distinguishability(random_rotation_embedding(256, d, seed=s))
                         for s in seeds])
    at10, at20, at32, at40 = (over_seeds(d) for d in (10, 20, 32, 40))
    assert at10.max() < 0.5            # not one seed of 100 near 0.99 at 10 dimensions
    assert at20.max() < 0.99           # nor at 20 (= 10 angles)
    assert at32.mean() > 0.99          # the mean passes 0.99 near d=28
    assert at40.min() > 0.99           # every seed does by d=40
    # The first-order estimate 1 - D ~ (q - 1) (I0(1)/e)^(d/2) from the module docstring.
    for d, values in ((20, at20), (32, at32), (40, at40)):
        estimate = 255 * (np.i0(1.0) / np.e) ** (d / 2)
        assert 0.7 < (1 - values).mean() / estimate < 2
    # And more dimensions help on average all the way.
    means = [over_seeds(d, range(30)).mean() for d in range(8, 34, 4)]
    assert means == sorted(means)
    # The OG encoding with 256 dimensions is worse than a random one with 32.
    assert distinguishability(og_embedding(256, 256)) < at32.mean()


@pytest.mark.parametrize("q,d", [(64, 128), (64, 32), (100, 16), (7, 2), (256, 40)])
def test_uniform_rotation_distinguishability_is_exercise_7_8(q, d):
    n = d // 2
    c = math.ceil(q / n)
    expected = math.exp(n) / (c * math.exp(n) + q - c)
    assert distinguishability(uniform_rotation_embedding(q, d)) == pytest.approx(expected, rel=1e-9)
    # Period n: positions n apart are encoded identically.
    E = uniform_rotation_embedding(q, d)
    if q > n:
        np.testing.assert_allclose(E[n:], E[:-n], atol=1e-9)


def test_random_encodings_are_seeded_and_have_the_right_law():
    a, b = random_normal_encoding(500, 40, seed=3), random_normal_encoding(500, 40, seed=3)
    np.testing.assert_array_equal(a, b)
    assert abs(a.mean()) < 0.02 and abs(a.std() - 1) < 0.02
    s = random_sign_encoding(500, 40, seed=np.random.default_rng(4))
    assert s.dtype == np.float64 and set(np.unique(s)) == {-1.0, 1.0}
    assert abs(s.mean()) < 0.02
    assert not np.array_equal(random_sign_encoding(10, 10, seed=1), random_sign_encoding(10, 10, seed=2))
    np.testing.assert_array_equal(random_rotation_embedding(8, 6, seed=9),
                                  random_rotation_embedding(8, 6, seed=9))


def pairwise_distances(E):
    bits = E > 0
    return (bits[:, None, :] != bits[None, :, :]).sum(axis=2)


@pytest.mark.parametrize("r", [2, 3, 4])
def test_hamming_code_words_are_3_apart(r):  # Figure 7.14
    E = hamming_embedding(r)
    n, k = 2**r - 1, 2**r - 1 - r
    assert E.shape == (2**k, n) and set(np.unique(E)) == {-1.0, 1.0}
    dist = pairwise_distances(E)
    off = dist[~np.eye(len(E), dtype=bool)]
    assert off.min() == 3  # a Hamming code: distance exactly 3, and it is perfect:
    assert len(E) * (n + 1) == 2**n
    assert distinguishability(E) >= 1 / (1 + (len(E) - 1) * math.exp(-6))


def test_hamming_first_rows_of_a_large_code():
    E = hamming_embedding(5, q=300)
    assert E.shape == (300, 31)
    assert pairwise_distances(E)[~np.eye(300, dtype=bool)].min() >= 3
    np.testing.assert_array_equal(hamming_embedding(4, q=64), hamming_embedding(4)[:64])
    with pytest.raises(ValueError, match="q="):
        hamming_embedding(5)
    with pytest.raises(ValueError, match="only 16"):
        hamming_embedding(3, q=17)
    with pytest.raises(ValueError, match="r >= 2"):
        hamming_embedding(1)


@pytest.mark.parametrize("r,count", [(2, 0), (3, 14), (4, 870)])
def test_balanced_hamming(r, count):
    E = balanced_hamming_embedding(r)
    n = 2**r - 1
    assert E.shape == (count, n)
    assert np.all(np.abs(E.sum(axis=1)) == 1)  # #(+1) - #(-1) is +-1 in every row
    # A subset of the code, in its order: distances >= 3 survive.
    full = [tuple(row) for row in hamming_embedding(r)]
    positions = [full.index(tuple(row)) for row in E]
    assert positions == sorted(positions)
    if count > 1:
        assert pairwise_distances(E)[~np.eye(count, dtype=bool)].min() >= 3
    # Every balanced code word is there.
    assert count == sum(abs(sum(w)) == 1 for w in full)


def test_balanced_hamming_large_code_with_q():
    E = balanced_hamming_embedding(5, q=64)
    assert E.shape == (64, 31) and np.all(np.abs(E.sum(axis=1)) == 1)
    assert pairwise_distances(E)[~np.eye(64, dtype=bool)].min() >= 3
    with pytest.raises(ValueError, match="only 14"):
        balanced_hamming_embedding(3, q=15)


@pytest.mark.parametrize("call", [
    lambda: og_embedding(10, 7), lambda: og_angles(0), lambda: random_rotation_embedding(4, 5),
    lambda: rotation_encoding(4, np.zeros((2, 2))), lambda: rotation_encoding(0, [1.0]),
    lambda: shift_by_delta(8, 1, [0.1, 0.2]), lambda: distinguishability(np.zeros(3)),
])
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_hamming_matches_figure_7_14():
    # The book's code, verbatim but for formatting, for the small codes.
    all_bit_strings = lambda n: list(itertools.product([0, 1], repeat=n))  # noqa: E731

    def book(r):
        n = 2 ** r - 1
        k = n - r
        bits = [x for x in all_bit_strings(r) if x != (0,) * r]
        bits = sorted(reversed(bits), key=lambda s: s.count(1))
        H = np.array(bits).T
        A = H[:, r:]
        G = np.concatenate((np.eye(k), A.T), axis=1)
        bits = np.array(all_bit_strings(k))
        return (np.einsum('kn,vk->vn', G, bits) % 2) * 2 - 1.

    for r in (2, 3, 4):
        np.testing.assert_array_equal(hamming_embedding(r), book(r))


def test_og_after_layer_norm_is_not_linearly_shiftable():  # Exercise 7.5
    from taotp.model import layer_norm
    E = og_embedding(64, 16)
    for enc, shiftable in ((E, True), (layer_norm(E), False)):
        M, *_ = np.linalg.lstsq(enc[:-1], enc[1:], rcond=None)  # the best linear shift by 1
        residual = np.abs(enc[:-1] @ M - enc[1:]).max()
        assert (residual < 1e-9) == shiftable, residual
