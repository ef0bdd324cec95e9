"""Building blocks of the book's programs (chapters 2-4 and 6).

3D positional encodings on the sqrt(3)-circle (fixed under layer norm, linearly shiftable),
their rotations, layer-norm padding blocks, the spike MLP of Theorem 6.1, and the recipes for
attention hardening and cleanup, so that programs call them instead of repeating them.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

# The large factors the book uses to harden attention (Section 3.1) and for messy cleanup
# (Section 3.4). Constructions pick one explicitly; these are the common choices.
HARD = 1e6
HARDER = 1e8

_U = np.ones(3) / 3 ** 0.5  # the axis the sqrt(3)-circle turns around


def pos_enc_3d(t: float | np.ndarray) -> np.ndarray:
    """The point at angle ``t`` on the sqrt(3)-circle perpendicular to (1, 1, 1).

    ``t`` may be an array: the result then has shape ``(3, *t.shape)`` (as in the book).
    """
    x, y = np.cos(t) / 2 ** 0.5, np.sin(t) / 6 ** 0.5
    return np.array([x + y, -x + y, -2 * y]) * 3 ** 0.5


def pos_enc_3d_array(n: int) -> np.ndarray:
    """``n`` evenly spaced points on the circle, shape ``(n, 3)``; row i is at angle 2 pi i / n."""
    if n < 1:
        raise ValueError(f"pos_enc_3d_array needs n >= 1, got {n}")
    return pos_enc_3d(2 * np.pi * np.arange(n) / n).T


def pos_3d_enc_rotation_matrix(theta: float) -> np.ndarray:
    """The 3x3 matrix R with ``pos_enc_3d(t) @ R == pos_enc_3d(t + theta)`` (Figure 3.1).

    The book solves a singular 3x3 system for it, so which entries come out exactly zero
    depends on the LAPACK build. This is the rotation by ``theta`` about (1, 1, 1) in closed
    form (Rodrigues), which also keeps (1, 1, 1) fixed: deterministic to the last bit.
    """
    c, s = np.cos(theta), np.sin(theta)
    ux, uy, uz = _U
    cross = np.array([[0, -uz, uy], [uz, 0, -ux], [-uy, ux, 0]])
    R = (c * np.eye(3) + s * cross + (1 - c) * np.outer(_U, _U)).T  # .T: we multiply rows
    # Exact values where they are exact: identity for theta = 0, no 1e-17 noise.
    R[np.abs(R) < 1e-15] = 0.0
    return R


def padding_block(d: int) -> np.ndarray:
    """A ``d``-vector that layer norm leaves unchanged (mean 0, variance 1), Figure 4.1."""
    if d < 2:
        raise ValueError(f"padding blocks need at least 2 dimensions, got {d}")
    return np.array([(d - 1) ** 0.5] + [-1 / (d - 1) ** 0.5] * (d - 1))


def build_MLP(x0s: Sequence[float], a0s: Sequence[float]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weights ``M1, b1, M2, b2`` of a ReLU MLP with ``f(x0s[i]) = a0s[i]`` exactly (Theorem 6.1).

    One spike of three hidden units per point, each spike 1 at its point and 0 from the next
    point on (the spacing is the smallest gap between points): 3|S| hidden units in all.
    ``M1`` has one row (the input is a single coordinate).
    """
    x0s = np.asarray(x0s, dtype=np.float64)
    a0s = np.asarray(a0s, dtype=np.float64)
    if x0s.ndim != 1 or a0s.ndim != 2 or len(x0s) != len(a0s):
        raise ValueError("build_MLP needs n points x0s and an (n, d) array of values a0s")
    S = np.sort(x0s)
    if len(S) > 1 and not np.all(np.diff(S) > 0):
        raise ValueError("build_MLP needs distinct points x0s")
    min_sep = float(np.min(np.diff(S))) if len(S) > 1 else 1.0
    M1 = np.ones((1, 3 * len(x0s))) / min_sep
    b1 = (np.array([0.0, 1.0, -1.0])[None, :] - x0s[:, None] / min_sep).ravel()
    M2 = (np.array([-2.0, 1.0, 1.0])[None, :, None] * a0s[:, None, :]).reshape(-1, a0s.shape[1])
    b2 = np.zeros(a0s.shape[1])
    return M1, b1, M2, b2


def attend_back(layer: dict, head: int, delta: int, block_size: int,
                dims: slice | Sequence[int] = slice(-3, None), hardness: float = HARDER,
                head_dims: slice | Sequence[int] | None = None) -> None:
    """Make ``head`` attend (hard) to the token ``delta`` positions back (Sections 3.1-3.2).

    ``dims`` selects the 3 model dimensions holding ``pos_enc_3d_array(block_size)``;
    ``head_dims`` the 3 head dimensions the query and key use (by default the same indices,
    as in the book, where d_head covers them).
    """
    head_dims = dims if head_dims is None else head_dims
    theta = -delta * 2 * np.pi / block_size
    layer["Q"][head, dims, head_dims] = pos_3d_enc_rotation_matrix(theta) * hardness
    layer["K"][head, dims, head_dims] = np.eye(3)


def attend_to(layer: dict, head: int, query_dim: int, target: Sequence[float],
              dims: slice | Sequence[int] = slice(-3, None), hardness: float = HARD) -> None:
    """Make ``head`` attend to the position encoded as ``target`` (3 values in ``dims``).

    The query is read from ``query_dim``, a dimension that holds the same non-zero constant
    in every position (Figure 6.4 uses the token embedding's constant 1).
    """
    layer["Q"][head, query_dim] = 0.0
    layer["Q"][head, query_dim, :3] = np.asarray(target) * hardness
    layer["K"][head, dims, :3] = np.eye(3)


def proper_cleanup(layer: dict, head: int, rows: slice | Sequence[int],
                   cols: slice | Sequence[int] | None = None) -> None:
    """Proper cleanup (Section 3.4): a head that attends to itself copies ``rows`` and
    writes them back negated, freeing those dimensions. ``cols`` are the head dimensions to
    route through (the first ``len(rows)`` by default)."""
    rows = _indices(rows, layer["V"].shape[1])
    cols = list(range(len(rows))) if cols is None else _indices(cols, layer["V"].shape[2])
    layer["V"][head, rows, cols] = 1.0
    layer["P"][head, rows, cols] = -1.0


def messy_cleanup(weights: np.ndarray, factor: float = HARD) -> np.ndarray:
    """Messy cleanup (Section 3.4): scale a sublayer's output so the residual it is added to
    becomes negligible after the next layer norm."""
    return weights * factor


def mlp_with_cleanup(M1: np.ndarray, b1: np.ndarray, M2: np.ndarray, b2: np.ndarray,
                     offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Append proper MLP cleanup (Section 6.5) to an MLP reading ``M1.shape[0]`` dimensions.

    Copies the input through ``d_model`` extra ReLU units, shifted up by ``offset`` (larger
    than any negative input), subtracts it from the output and restores the shift, so the
    layer's residual input is erased.
    """
    d_model = M1.shape[0]
    shift = np.full(d_model, float(offset))
    return (np.concatenate((M1, np.eye(d_model)), axis=1),
            np.concatenate((b1, shift)),
            np.concatenate((M2, -np.eye(d_model)), axis=0),
            b2 + shift)


def _indices(sel, size):
    return list(range(size))[sel] if isinstance(sel, slice) else list(sel)
