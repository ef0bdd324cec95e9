"""Blocks for searching by attention: feature directions that layer norm cannot see change,
and MLPs assembled from a few hand-placed ReLU units.

``FeatureSpace`` puts ``n`` scalar features on orthonormal directions of ``R^d`` that are all
perpendicular to ``(1, ..., 1)`` (the Helmert basis), so ``d = n + 1`` suffices. A residual
``sum_i c_i u_i`` then has mean 0 whatever the ``c_i``, and its variance depends only on
``sum_i c_i**2``: any state whose features are, say, all +-1 (or +-1 with one 0 and one
sqrt(2)) has the same layer-norm scale. That is what lets a construction overwrite features
in place (flip a bit, clear it) without disturbing layer norm, at one extra dimension in all
(a bit per dimension, instead of the two of a padded +-1 pair).

``relu_units`` stacks units ``(w_in, bias, w_out)`` into the book's ``M1, b1, M2, b2``;
``step_units`` and ``gated_linear_units`` are the two recipes used most: a saturating step
(exactly 0 or 1 away from its ramp) and a linear pass-through that a gate can switch off.

>>> space = FeatureSpace(n_features=3)
>>> x = space.embed(np.array([1.0, -1.0, 1.0]))
>>> bool(np.allclose(layer_norm(x), x)), space.d_model
(True, 4)
>>> bool(np.allclose(space.read(layer_norm(x)), [1.0, -1.0, 1.0]))
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from taotp.model import layer_norm  # noqa: F401  (used by the doctest)


def helmert_basis(d: int) -> np.ndarray:
    """``(d, d - 1)``: orthonormal columns, each perpendicular to the all-ones vector.

    Column k (0-based) is ``(1, ..., 1, -(k + 1), 0, ..., 0) / sqrt((k + 1)(k + 2))`` with
    k + 1 ones: a fixed, readable choice (any orthonormal basis of the complement would do).
    """
    if d < 2:
        raise ValueError(f"helmert_basis needs d >= 2, got {d}")
    basis = np.zeros((d, d - 1))
    for k in range(d - 1):
        basis[:k + 1, k] = 1.0
        basis[k + 1, k] = -(k + 1.0)
        basis[:, k] /= ((k + 1.0) * (k + 2.0)) ** 0.5
    return basis


@dataclass(frozen=True)
class FeatureSpace:
    """``n_features`` scalars stored on Helmert directions of ``R^(n_features + 1)``.

    ``norm2`` is the sum of squared feature values of the states the construction keeps;
    embeddings are scaled so that such states are fixed by layer norm.
    """
    n_features: int
    norm2: float | None = None

    @property
    def d_model(self) -> int:
        """One dimension more than features: layer norm removes the all-ones direction."""
        return self.n_features + 1

    @property
    def scale(self) -> float:
        """The factor that puts the kept states on layer norm's sphere of radius sqrt(d)."""
        norm2 = self.n_features if self.norm2 is None else self.norm2
        return (self.d_model / norm2) ** 0.5

    @property
    def basis(self) -> np.ndarray:
        """Feature directions: orthonormal, and each perpendicular to the all-ones vector."""
        return helmert_basis(self.d_model)

    def embed(self, features: np.ndarray) -> np.ndarray:
        """Residual vectors ``(..., d_model)`` holding ``features (..., n_features)``."""
        return np.asarray(features, dtype=np.float64) @ (self.basis * self.scale).T

    def reader(self, i: int) -> np.ndarray:
        """The ``d_model`` weights that read feature ``i`` off a layer-normed residual."""
        return self.basis[:, i] / self.scale

    def writer(self, i: int) -> np.ndarray:
        """The ``d_model`` vector that adds 1 to feature ``i`` of the residual."""
        return self.basis[:, i] * self.scale

    def read(self, x: np.ndarray) -> np.ndarray:
        """All features of residual(s) ``x`` (as a layer norm leaves them)."""
        return np.asarray(x) @ (self.basis / self.scale)


Unit = tuple  # (w_in (d,), bias, w_out (d,)): one hidden ReLU unit


def relu_units(units: Sequence[Unit], d_model: int, b2: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``M1 (d, u), b1 (u,), M2 (u, d), b2 (d,)`` of an MLP with the given hidden units."""
    M1 = np.zeros((d_model, len(units)))
    b1 = np.zeros(len(units))
    M2 = np.zeros((len(units), d_model))
    for k, (w_in, bias, w_out) in enumerate(units):
        M1[:, k], b1[k], M2[k] = w_in, bias, w_out
    b2 = np.zeros(d_model) if b2 is None else np.asarray(b2, dtype=np.float64)
    return M1, b1, M2, b2


def step_units(w_in: np.ndarray, lo: float, hi: float, w_out: np.ndarray,
               gate_in: np.ndarray | None = None, gate_bias: float = 0.0) -> list[Unit]:
    """Two units adding ``w_out * clip((t - lo) / (hi - lo), 0, 1)`` where ``t = w_in . x``.

    The result is exactly 0 for ``t <= lo`` and exactly ``w_out`` for ``t >= hi`` (up to
    rounding): a step that does not care how far past its ramp ``t`` lies. ``gate_in .
    x + gate_bias`` is added to both units: near 0 it leaves the step alone, very negative it
    turns both units (and so the step) off.
    """
    width = float(hi - lo)
    gate_in = np.zeros_like(w_in) if gate_in is None else gate_in
    w_in = np.asarray(w_in) / width
    gate_in = np.asarray(gate_in) / width
    return [(w_in + gate_in, -lo / width + gate_bias / width, np.asarray(w_out)),
            (w_in + gate_in, -hi / width + gate_bias / width, -np.asarray(w_out))]


def gated_linear_units(w_in: np.ndarray, w_out: np.ndarray, headroom: float,
                       gate_in: np.ndarray, gate_bias: float = 0.0) -> list[Unit]:
    """Two units adding ``(w_in . x) * w_out`` while the gate ``gate_in . x + gate_bias`` is
    near 0, and nothing when it is below ``-(headroom + |w_in . x|)``.

    ``ReLU(t + headroom + gate) - ReLU(headroom + gate)`` equals ``t`` when both units are on
    (``|t| < headroom``, gate near 0) and 0 when both are off.
    """
    return [(np.asarray(w_in) + gate_in, headroom + gate_bias, np.asarray(w_out)),
            (np.asarray(gate_in), headroom + gate_bias, -np.asarray(w_out))]
