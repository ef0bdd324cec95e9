"""Encodings of chapter 7: the OG sinusoids, rotation encodings and non-shiftable codes.

Book: chapter 7 (Sections 7.1-7.3, Figures 7.1-7.14, Exercise 7.8). No transformer here:
these are the position and token encodings the chapter compares, with its three measures
(norm, linear shiftability, distinguishability) and standard padding dimension.

An encoding of size q into d dimensions is an array of shape ``(q, d)``; row ``a`` encodes
``a``. A rotation encoding with angles ``thetas`` sends ``a`` to ``exp(i a thetas)``, written
as reals with the real part first (``rotation_encoding``) or the imaginary part first
(``reversed_rotation_encoding``, which with ``og_angles`` is the OG encoding, Theorem 7.3).

What the book gets wrong, and what we built instead:

* Figure 7.3 uses ``.view(dtype=np.float_)``, gone in numpy 2; we interleave real and
  imaginary parts explicitly (real first, the same layout the view gave).
* Figure 7.4's ``shift_by_delta`` is right for ``rotation_encoding`` with row vectors
  (``E[j] @ M == E[j + delta]``) but moves the *reversed* (OG) encoding by ``-delta``.
  ``shift_by_delta(..., reversed=True)`` returns the matrix that shifts the reversed
  encoding forward (the transpose), which is what the text means.
* Section 7.2.1 says random rotation encodings of 256 positions reach distinguishability
  > 0.99 "starting at around 10 dimensions". They do not. Measured over 1000 seeds
  (mean / min / share of seeds above 0.99): d=10: 0.144 / 0.053 / 0%; d=20: 0.876 / 0.564 /
  0%; d=26: 0.985 / 0.819 / 32%; d=28: 0.993 / 0.917 / 84%; d=32: 0.998 / 0.973 / 99%;
  d=38 and up: every seed > 0.99. So the mean passes 0.99 at d=28 (14 angles), and all
  seeds do from d≈38; reading the book's axis as angles does not save it (10 angles, d=20,
  give 0.876). A first-order estimate explains it: ``1 - D`` is about
  ``(q - 1) * E[exp(F_ij - d/2)] = (q - 1) * (I0(1)/e) ** (d/2)`` with ``I0(1)/e ≈ 0.466``,
  which crosses 0.01 between 13 and 14 angles and matches the measured mean of ``1 - D``
  within 1.4x for d from 20 to 40 (tested). The OG claims hold: 0.947 for 256 positions in 256
  dims, and ``softmax(M M^T)`` has diagonal min 0.769 for 64 positions in 128 dims.
* Random encodings take a ``seed`` (an int or a ``np.random.Generator``), never the global
  RNG; ``random_sign_encoding`` returns floats (ready to be embeddings), not ints.
* ``hamming_embedding`` is Figure 7.14 computed message by message, so ``q`` rows of a large
  code cost ``q`` rows (r=5 has 2**26 code words). ``balanced_hamming_embedding`` is ours.

>>> E = og_embedding(64, 128)
>>> bool(np.allclose(E, reversed_rotation_encoding(64, og_angles(128))))
True
>>> int(standard_padding_dimension(E))
16
>>> round(distinguishability(E), 3)
0.769
"""
from __future__ import annotations

import numpy as np

_MAX_ENTRIES = 1 << 26  # refuse to build bigger codes unless the caller asks for q rows


def og_embedding(block_size: int, d: int) -> np.ndarray:
    """The sinusoidal encoding of Vaswani et al. (Figure 7.1): sin in even, cos in odd columns."""
    _check_even(d)
    t = np.arange(block_size)[:, None] / (10_000 ** (2 * np.arange(d // 2) / d))[None, :]
    res = np.empty((block_size, d))
    res[:, 0::2] = np.sin(t)
    res[:, 1::2] = np.cos(t)
    return res


def og_angles(d: int) -> np.ndarray:
    """The d/2 angles ``10000 ** (-2i/d)`` behind the OG encoding (Figure 7.5)."""
    _check_even(d)
    return 1 / (10_000 ** (2 * np.arange(d // 2) / d))


def rotation_encoding(q: int, thetas: np.ndarray) -> np.ndarray:
    """Row ``a`` is ``(cos a t1, sin a t1, cos a t2, ...)``: real part first (Definition 7.3)."""
    vs = _unit_powers(q, thetas)
    res = np.empty((q, 2 * vs.shape[1]))
    res[:, 0::2], res[:, 1::2] = vs.real, vs.imag
    return res


def reversed_rotation_encoding(q: int, thetas: np.ndarray) -> np.ndarray:
    """Row ``a`` is ``(sin a t1, cos a t1, ...)``: imaginary part first, as the OG encoding."""
    vs = _unit_powers(q, thetas)
    res = np.empty((q, 2 * vs.shape[1]))
    res[:, 0::2], res[:, 1::2] = vs.imag, vs.real
    return res


def random_rotation_embedding(q: int, d: int, seed: int | None = None) -> np.ndarray:
    """A rotation encoding with d/2 angles drawn uniformly from [0, 2 pi) (Figure 7.7)."""
    _check_even(d)
    rng = np.random.default_rng(seed)
    return rotation_encoding(q, rng.uniform(0, 2 * np.pi, size=d // 2))


def uniform_rotation_embedding(q: int, d: int) -> np.ndarray:
    """Evenly spaced angles ``2 pi k / (d/2)`` (Exercise 7.8): a bad idea.

    The encoding has period ``n = d/2``, and ``F[i, j]`` is ``n`` when ``i = j (mod n)`` and
    0 otherwise (a sum of n-th roots of unity), so the distinguishability is exactly
    ``e**n / (c e**n + q - c)`` with ``c = ceil(q / n)``: at most 1/2 once q > n.

    >>> round(distinguishability(uniform_rotation_embedding(64, 128)), 6)  # n=64: almost 1
    1.0
    >>> round(distinguishability(uniform_rotation_embedding(64, 32)), 6)   # c=4 copies
    0.25
    """
    _check_even(d)
    return rotation_encoding(q, np.linspace(0, 2 * np.pi, d // 2, endpoint=False))


def shift_by_delta(d: int, delta: int, theta: np.ndarray, reversed: bool = False) -> np.ndarray:
    """The ``(d, d)`` matrix M with ``E[j] @ M == E[j + delta]`` for a rotation encoding E.

    ``reversed=False`` is Figure 7.4, for ``rotation_encoding(q, theta)``. For the reversed
    (OG) layout the book's matrix shifts by ``-delta``; ``reversed=True`` gives its transpose,
    which shifts ``reversed_rotation_encoding(q, theta)`` (and ``og_embedding``) by ``+delta``.

    >>> E = og_embedding(10, 8)
    >>> bool(np.allclose(E[2] @ shift_by_delta(8, 3, og_angles(8), reversed=True), E[5]))
    True
    """
    _check_even(d)
    theta = np.asarray(theta, dtype=float)
    if theta.ndim != 1 or theta.shape[0] < d // 2:
        raise ValueError(f"shift_by_delta needs d/2={d // 2} angles, got shape {theta.shape}")
    c, s = np.cos(theta[: d // 2] * delta), np.sin(theta[: d // 2] * delta)
    M = np.zeros((d, d))
    i = np.arange(d // 2) * 2
    M[i, i], M[i + 1, i], M[i, i + 1], M[i + 1, i + 1] = c, -s, s, c
    return M.T if reversed else M


def distinguishability(encoding: np.ndarray) -> float:
    """``min(diag(softmax(F)))`` with ``F = E E^T`` (Definition 7.6), softmax along rows."""
    E = _check_encoding(encoding)
    F = E @ E.T
    F = F - F.max(axis=1, keepdims=True)  # stable softmax; exact diagonal share per row
    weights = np.exp(F)
    return float(np.min(np.diag(weights) / weights.sum(axis=1)))


def standard_padding_dimension(encoding: np.ndarray, epsilon: float = 1e-3) -> int:
    """How many coordinates vary by at most ``2 epsilon`` over all rows (Lemma 7.2, Fig 7.11)."""
    E = _check_encoding(encoding)
    return int(np.sum(E.max(axis=0) - E.min(axis=0) <= 2 * epsilon))


def random_normal_encoding(q: int, d: int, seed: int | None = None) -> np.ndarray:
    """i.i.d. N(0, 1) entries (Definition 7.8, Figure 7.12)."""
    return np.random.default_rng(seed).normal(0.0, 1.0, (q, d))


def random_sign_encoding(q: int, d: int, seed: int | None = None) -> np.ndarray:
    """i.i.d. fair +-1 entries, as floats (Definition 7.9, Figure 7.12)."""
    return np.random.default_rng(seed).integers(0, 2, (q, d)) * 2.0 - 1.0


def hamming_embedding(r: int, q: int | None = None) -> np.ndarray:
    """The code words of the Hamming(2**r - 1, 2**r - 1 - r) code in +-1 (Figure 7.14).

    Row m encodes message m (k = n - r bits, most significant first, the book's order) with
    the systematic generator ``[I_k | A^T]`` of Figure 7.14, so any two rows differ in at
    least 3 coordinates and ``F[i, j] = n - 2 * distance <= n - 6`` off the diagonal: the
    distinguishability is at least ``1 / (1 + (q - 1) e**-6)``. ``q`` keeps the first q rows.

    >>> hamming_embedding(3)[:3].astype(int).tolist()
    [[-1, -1, -1, -1, -1, -1, -1], [-1, -1, -1, 1, 1, 1, 1], [-1, -1, 1, -1, -1, 1, 1]]
    """
    G, k = _hamming_generator(r)
    q = _rows(q, 1 << k, G.shape[1], f"hamming_embedding({r})")
    return _codewords(G, k, 0, q) * 2.0 - 1.0


def balanced_hamming_embedding(r: int, q: int | None = None) -> np.ndarray:
    """The Hamming code words whose +1s and -1s differ in number by exactly one (Section 7.3).

    n = 2**r - 1 is odd, so "balanced" can only mean ``|#(+1) - #(-1)| = 1`` for every row:
    code words of weight (n - 1)/2 or (n + 1)/2. We pick those words, in the order of
    ``hamming_embedding``, instead of flipping coordinates: flipping a fixed set c keeps all
    distances but cannot balance every word, because the code is perfect, so the translate
    c + code holds a word of weight 0 or 1. As a subset of the code this keeps every
    distance >= 3 and the distinguishability bound; each row has mean +-1/n. There are 14
    such words for r=3, 870 for r=4 (of 2048); for r=2 (the code {000, 111}) none.

    >>> E = balanced_hamming_embedding(3)
    >>> E.shape, sorted(set(E.sum(axis=1).tolist()))
    ((14, 7), [-1.0, 1.0])
    """
    G, k = _hamming_generator(r)
    n = G.shape[1]
    _rows(q, 1 << k, n, f"balanced_hamming_embedding({r})")  # same size limit
    found, start, chunk = [], 0, 1 << 14
    while start < 1 << k and (q is None or sum(len(f) for f in found) < q):
        words = _codewords(G, k, start, min(start + chunk, 1 << k))
        found.append(words[np.abs(2 * words.sum(axis=1) - n) == 1])
        start += chunk
    words = np.concatenate(found)
    if q is not None and len(words) < q:  # q > 2**k was refused above
        raise ValueError(f"balanced_hamming_embedding({r}) has only {len(words)} words, "
                         f"not q={q}")
    return words[:q] * 2.0 - 1.0


def _hamming_generator(r):
    if not isinstance(r, (int, np.integer)) or r < 2:
        raise ValueError(f"Hamming codes need an integer r >= 2, got {r!r}")
    n, k = 2**r - 1, 2**r - 1 - r
    # The columns of H are the non-zero r-bit strings, weight-1 ones first (H = [I_r | A]).
    cols = [c for c in range(1, n + 1)]
    cols.sort(key=lambda c: (bin(c).count("1"), -c))
    H = (np.array(cols)[None, :] >> np.arange(r - 1, -1, -1)[:, None]) & 1
    G = np.concatenate((np.eye(k, dtype=np.int64), H[:, r:].T), axis=1)
    return G, k


def _codewords(G, k, start, stop):
    messages = np.arange(start, stop, dtype=np.int64)
    bits = (messages[:, None] >> np.arange(k - 1, -1, -1)[None, :]) & 1
    return (bits @ G) % 2


def _rows(q, available, n, name):
    if q is None:
        if available is not None and available * n > _MAX_ENTRIES:
            raise ValueError(f"{name} has {available:,} code words of length {n}: "
                             "pass q= to take the first q")
        return available
    if not isinstance(q, (int, np.integer)) or q < 1:
        raise ValueError(f"q must be a positive integer, got {q!r}")
    if available is not None and q > available:
        raise ValueError(f"{name} has only {available} code words, not q={q}")
    return int(q)


def _unit_powers(q, thetas):
    thetas = np.asarray(thetas, dtype=float)
    if thetas.ndim != 1:
        raise ValueError(f"thetas must be a 1-D array of angles, got shape {thetas.shape}")
    if not isinstance(q, (int, np.integer)) or q < 1:
        raise ValueError(f"q must be a positive integer, got {q!r}")
    return np.exp(np.arange(q)[:, None] * 1j * thetas[None, :])


def _check_even(d):
    if not isinstance(d, (int, np.integer)) or d < 2 or d % 2:
        raise ValueError(f"rotation encodings need an even number of dimensions d >= 2, got {d!r}")


def _check_encoding(encoding):
    E = np.asarray(encoding, dtype=float)
    if E.ndim != 2 or E.shape[0] == 0:
        raise ValueError(f"an encoding is a non-empty (q, d) array, got shape {E.shape}")
    return E
