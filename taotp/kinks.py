"""An MLP that reads one model dimension, evaluated from its sorted kinks.

A ReLU unit ``relu(a x + b)`` of a scalar input ``x`` is zero on one side of its kink
``-b / a`` and linear on the other. Sorted by kink, the units on at ``x`` are the rising ones
(``a > 0``) with a kink below ``x`` and the falling ones with a kink above it, so the MLP is
``b2 + x S + C``, with ``S`` and ``C`` the sums of ``a M2`` and ``b M2`` over those units. The
sums are kept per block of ``_BLOCK`` sorted units (rising ones over the blocks before, falling
ones over the blocks after); a row adds the units of its own block that are on. A row then
costs one ``searchsorted`` and ``2 x _BLOCK`` terms per column instead of ``d_ff`` units:
23,988 in 3-digit DECIMAL ADDITION, whose spike MLP (Theorem 6.1) reads one dimension.

It is the same function as the dense ``_mlp``, not the same rounding: both sum the terms of
the units that are on, in different orders. Both are within ``~ d_ff eps`` of the exact
value relative to ``bound`` (tested against exact rational sums, also on DECIMAL ADDITION's
MLP, where this lands closer to the exact sums than the dense pass). Decoding on it gives
``decode``'s tokens on every registered program (tested; all 10^6 three-digit additions in a
slow test).
"""
from __future__ import annotations

import numpy as np

from taotp.batched import nonzero_columns


# Sorted units per block: the set-up sums whole blocks (a sort and one pass over the units);
# a row adds up the units of its own block that are on.
_BLOCK = 32


class KinkMLP:
    """``_mlp`` for a layer whose ``M1`` reads exactly one model dimension, by sorted kinks."""

    def __init__(self, layer: dict) -> None:
        M1 = layer["M1"]
        rows = np.flatnonzero(M1.any(axis=1))
        if len(rows) != 1:
            raise ValueError(f"KinkMLP needs an MLP that reads one dimension, not {len(rows)}")
        self.row, self.b2, self.dtype = int(rows[0]), layer["b2"], M1.dtype
        a, b, M2 = M1[self.row], layer["b1"], layer["M2"]
        a, b = a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)
        self.cols = nonzero_columns(M2)
        flat = a == 0  # constant units, relu(b) whatever x is
        if flat.any():
            self.constant = np.maximum(b[flat], 0.0) @ M2[flat][:, self.cols]
            live = np.flatnonzero(~flat)
            kinks = -b[live] / a[live]
            order = np.argsort(kinks, kind="stable")
            self.kinks, order = kinks[order], live[order]
        else:  # the usual case: no copies of a and b
            self.constant = np.zeros(len(self.cols))
            kinks = np.divide(b, a)
            np.negative(kinks, out=kinks)
            order = np.argsort(kinks, kind="stable")
            self.kinks = kinks[order]
        # Per unit in kink order, then zeros to whole blocks: M2's columns (c, blocks, B), a
        # and b (2, blocks, B), and whether it falls (on below its kink, not above it). Taken
        # column by column into their place: every MB allocated costs ~0.25 ms cold.
        n, blocks = len(order), len(order) // _BLOCK + 1
        index = np.zeros(blocks * _BLOCK, dtype=np.intp)
        index[:n] = order
        self._W = np.empty((len(self.cols), blocks * _BLOCK))
        for row, col in zip(self._W, self.cols):
            np.take(M2[:, col].astype(np.float64, copy=False), index, out=row, mode="clip")
        self._ab = np.empty((2, blocks * _BLOCK))
        np.take(a, index, out=self._ab[0], mode="clip")
        np.take(b, index, out=self._ab[1], mode="clip")
        self._W[:, n:] = self._ab[:, n:] = 0.0
        self._W = self._W.reshape(len(self.cols), blocks, _BLOCK)
        self._ab = self._ab.reshape(2, blocks, _BLOCK)
        self._falling = self._ab[0] < 0
        # Whole blocks: the rising units' terms in the blocks before each block, and the
        # falling units' in the blocks after it (2c, blocks): only units that are on.
        some_fall = self._falling.any()
        terms = np.einsum("cnk,snk->scn", self._W,
                          self._ab * ~self._falling if some_fall else self._ab)
        zero = np.zeros((2 * len(self.cols), 1))
        rising = np.cumsum(terms.reshape(len(zero), -1), axis=1)[:, :-1]
        falling = np.zeros_like(rising)
        if some_fall:
            terms = np.einsum("cnk,snk->scn", self._W, self._ab * self._falling)
            falling = np.cumsum(terms.reshape(len(zero), -1)[:, ::-1], axis=1)[:, ::-1][:, 1:]
        self._blocks = np.concatenate((zero, rising), axis=1) \
            + np.concatenate((falling, zero), axis=1)
        self._blocks[len(self.cols):] += self.constant[:, None]

    def __call__(self, h: np.ndarray, layer: dict | None = None) -> np.ndarray:
        """The MLP's output for inputs ``h (..., d)`` (``layer`` is accepted and unused, so
        this stands in for ``_mlp(h, layer)``)."""
        x = h[..., self.row]
        sums = self._sums(x).astype(self.dtype)
        c = len(self.cols)
        out = np.broadcast_to(self.b2, h.shape[:-1] + self.b2.shape).copy()
        out[..., self.cols] += x[..., None] * sums[..., :c] + sums[..., c:]
        return out

    def _sums(self, x):
        """Per row of ``x``: the slope and intercept terms (``2c``) of the units on at ``x``:
        whole blocks from ``_blocks``, then the units of ``x``'s own block that are on."""
        i = np.searchsorted(self.kinks, x).reshape(-1)
        block, within = np.divmod(i, _BLOCK)
        on = (np.arange(_BLOCK) < within[:, None]) ^ self._falling[block]  # (rows, B)
        partial = np.einsum("cnk,snk->nsc", self._W[:, block], self._ab[:, block] * on)
        sums = self._blocks[:, block].T + partial.reshape(len(i), -1)
        return sums.reshape(x.shape + (len(self._blocks),))

    def bound(self, h: np.ndarray, layer: dict) -> np.ndarray:
        """``sum (|a x| + |b|) |M2|`` over the units active at each row of ``h`` (or within
        rounding of their kink), plus ``|b2|``: the scale that the rounding errors of this
        evaluation and of the dense sum are relative to (each at most ``~ d_ff eps`` of it)."""
        x = h[..., self.row].reshape(-1, 1).astype(np.float64)
        a, b = layer["M1"][self.row].astype(np.float64), layer["b1"].astype(np.float64)
        size = np.abs(a * x) + np.abs(b)
        near = a * x + b > -4 * np.finfo(np.float64).eps * size
        scale = (size * near) @ np.abs(layer["M2"].astype(np.float64))
        return (scale + np.abs(layer["b2"])).reshape(h.shape)
