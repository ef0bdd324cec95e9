"""Circuits for long sequences: multi-frequency position codes, kink MLPs, mean-free embedding.

- ``circle_code``: a position as points on ``k`` circles with periods ``periods`` (2k
  coordinates, radius sqrt(3) each, so ``<code(p), code(q)> = 3 sum cos(2 pi (p - q) / P)``).
  One circle separates ``N`` positions by a score gap of only ``~ 6 pi^2 / N^2`` (1e-8 of the
  maximum at N = 30,000: below float32 resolution); two circles with periods ``P`` and
  ``sqrt(P)`` keep a gap of ``~ 6 pi^2 / P`` (7e-4 at P = 80,000). ``code_gap`` computes the
  exact smallest gap; ``circle_rotation`` the block-diagonal matrix shifting a code by a fixed
  number of positions (``code(p) @ R == code(p + delta)``), for attending to relative positions.
- ``build_kink_MLP``: the interpolating ReLU MLP with ``|S| - 1`` hidden units (Exercise 6.4):
  exact on the points, constant below the smallest one. Cheaper than ``build_MLP``'s spikes,
  but its value at a point is a sum of many terms, so in float32 it is exact only to ~1e-5 of
  the output scale: fine for logits, not for quantities that later layers compare finely.
- ``mean_free``: build a construction in ``L`` logical coordinates, blocks of fixed norm with
  no mean constraint (a circle in 2 dimensions instead of the 3 of ``pos_enc_3d``), then embed
  it in ``L + 1`` model dimensions along the Helmert basis (perpendicular to (1, ..., 1)):
  layer norm then only rescales by ``sqrt(d / |z|^2)``. It saves one model dimension per
  3D block.

>>> code = circle_code([0, 5, 7], periods=(16.0, 4.0))
>>> R = circle_rotation((16.0, 4.0), 2)
>>> bool(np.allclose(code[1] @ R, code[2]))
True
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from taotp.search_blocks import helmert_basis

RADIUS = 3 ** 0.5  # as the book's sqrt(3)-circle: each circle contributes 3 to |code|^2


def circle_code(positions: int | Sequence[int] | np.ndarray, periods: Sequence[float],
                radius: float = RADIUS) -> np.ndarray:
    """``(len(positions), 2k)``: ``radius (cos, sin)`` of ``2 pi p / P`` for each period P."""
    p = np.asarray(positions, dtype=np.float64)[:, None]
    cols = []
    for period in periods:
        angle = 2 * np.pi * p / float(period)
        cols += [radius * np.cos(angle), radius * np.sin(angle)]
    return np.concatenate(cols, axis=1) if cols else np.zeros((len(p), 0))


def circle_rotation(periods: Sequence[float], delta: float) -> np.ndarray:
    """Block-diagonal ``R`` with ``circle_code(p) @ R == circle_code(p + delta)``."""
    k = len(periods)
    R = np.zeros((2 * k, 2 * k))
    for c, period in enumerate(periods):
        R[2 * c:2 * c + 2, 2 * c:2 * c + 2] = rotation_2d(2 * np.pi * delta / float(period))
    return R


def rotation_2d(theta: float) -> np.ndarray:
    """``(cos t, sin t) @ rotation_2d(theta) == (cos(t + theta), sin(t + theta))``."""
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, s], [-s, c]])


def code_gap(periods: Sequence[float], n_positions: int, radius: float = RADIUS) -> float:
    """``min over 0 < delta < n_positions`` of ``|code|^2 - <code(p), code(p + delta)>``."""
    if n_positions < 2:
        return float("inf")
    delta = np.arange(1, n_positions)
    return float(sum(radius ** 2 * (1 - np.cos(2 * np.pi * delta / float(p)))
                     for p in periods).min())


def build_kink_MLP(x0s: Sequence[float], a0s: Sequence[float]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``M1 (1, m-1), b1, M2, b2`` of a ReLU MLP with ``f(x0s[i]) = a0s[i]`` (m points).

    ``f(x) = a_0 + sum_i c_i ReLU(x - x_i)`` over the sorted points: the first ``m - 1`` are
    kinks whose slopes interpolate linearly, so ``f`` is constant ``a_0`` below ``x_0``.
    """
    x0s = np.asarray(x0s, dtype=np.float64)
    a0s = np.asarray(a0s, dtype=np.float64)
    if x0s.ndim != 1 or a0s.ndim != 2 or len(x0s) != len(a0s) or len(x0s) < 2:
        raise ValueError("build_kink_MLP needs m >= 2 points x0s and an (m, d) array a0s")
    order = np.argsort(x0s)
    x, a = x0s[order], a0s[order]
    if not np.all(np.diff(x) > 0):
        raise ValueError("build_kink_MLP needs distinct points x0s")
    slopes = np.diff(a, axis=0) / np.diff(x)[:, None]
    M2 = np.diff(slopes, axis=0, prepend=np.zeros((1, a.shape[1])))
    return np.ones((1, len(x) - 1)), -x[:-1], M2, a[0].copy()


def hardness(scale: float, d_head: int, gap: float, soft: float) -> float:
    """The query factor that makes a score gap of ``gap`` between residual codes (which layer
    norm multiplies by ``scale``) worth ``soft`` logits after attention's ``1/sqrt(d_head)``.

    >>> hardness(1.0, 4, 0.5, 40.0)
    160.0
    """
    return soft * d_head ** 0.5 / (scale ** 2 * gap)


def mean_free(params: dict, fixed: np.ndarray | None = None) -> dict:
    """Embed params built in ``L`` logical dimensions into ``L + 1`` model dimensions.

    The logical residual ``z`` becomes ``x = U z`` with ``U = helmert_basis(L + 1)``
    (orthonormal columns, each with mean 0), so ``layer_norm(x) = U z sqrt((L + 1) / |z|^2)``
    and every read ``x @ (U W) = z @ W``: the construction works as if layer norm only divided
    by the norm. Layer norms must have gamma 1 and beta 0.

    ``fixed`` (rows: logical directions) are ones every residual is perpendicular to at every
    position, such as "a one-hot's slots minus the flags" (both sum to 1). They are left out:
    ``U`` maps the orthogonal complement (orthonormal basis ``C``) onto ``L + 1 - k`` model
    dimensions, ``U = helmert_basis(L + 1 - k) C^T``, and a read is still exact, ``x @ (U W)
    = z @ C C^T W = z @ W`` (``z`` lies in the complement). Only their sum need lie there:
    the token and position embeddings may each stray, as long as their sum does not.
    """
    L = params["tok_emb"].shape[1]
    U = helmert_basis(L + 1)
    if fixed is not None and len(fixed):
        _, sv, vt = np.linalg.svd(np.atleast_2d(fixed), full_matrices=True)
        if sv.min() <= 1e-9 * sv.max():  # dependent rows: vt[k:] would drop a direction
            raise ValueError(f"mean_free: the {len(fixed)} fixed directions are linearly "
                             f"dependent (rank {int((sv > 1e-9 * sv.max()).sum())})")
        U = helmert_basis(L + 1 - len(fixed)) @ vt[len(fixed):]
    out = {key: params[key] @ U.T for key in ("tok_emb", "pos_emb", "out_emb")}
    out["lnf"] = dict(params["lnf"])
    out["layers"] = []
    for layer in params["layers"]:
        for ln in (layer["ln1"], layer["ln2"]):
            if float(ln["gamma"]) != 1.0 or float(ln["beta"]) != 0.0:
                raise ValueError("mean_free needs layer norms with gamma 1 and beta 0")
        new = {key: np.einsum("dl,hlk->hdk", U, layer[key]) for key in ("Q", "K", "V", "P")}
        new["M1"] = U @ layer["M1"]
        new["b1"] = layer["b1"].copy()
        new["M2"] = layer["M2"] @ U.T
        new["b2"] = layer["b2"] @ U.T
        new["ln1"], new["ln2"] = dict(layer["ln1"]), dict(layer["ln2"])
        out["layers"].append(new)
    return out
