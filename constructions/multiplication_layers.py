"""DECIMAL MULTIPLICATION's plan (block layout, layer-norm scales) and its two layers.

See ``constructions.multiplication`` for the mechanism. Everything is built in logical
coordinates where every block has a fixed norm, then embedded mean-free
(``taotp.circuits.mean_free``), so layer norm is a known constant scale wherever it matters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from taotp.blocks import build_MLP
from taotp.circuits import RADIUS
from taotp.model import base_layer

STAR, EQUALS = 10, 11
SOFT = 40.0  # a hard head's runner-up stays exp(-40) below its winner
BIG = 1e6  # the last MLP's output dominates the residual before the final layer norm
FAR = 90.0  # keys other than outputs and the '*' sit exp(-90) below the carry head's weights
G_SCALE = 81.0 / 1.5  # products' halves (s^2 / 4 <= 81) sit at x <= 1.5 on their circle
RAMP = 0.25  # MLP 2's steps rise over +-RAMP / 2 of the distance between neighbouring sums


def circle_point(x):
    """``(x, sqrt(3 - x^2))``: a value on the sqrt(3)-circle, so every value has one norm."""
    x = np.asarray(x, dtype=np.float64)
    return np.stack([x, np.sqrt(RADIUS ** 2 - x ** 2)], axis=-1)


def token_points() -> np.ndarray:
    """Tokens 0-9, '*', '=' evenly on the circle: the unembedding tells them apart widely."""
    angle = 2 * np.pi * np.arange(12) / 12
    return RADIUS * np.stack([np.cos(angle), np.sin(angle)], axis=1)


def max_sums(n: int) -> list[int]:
    """``s_k = col_k + carry_k`` for 99..9 x 99..9: the largest each column can reach, as
    every column sum is at its maximum and carries grow with the columns."""
    out, carry = [], 0
    for k in range(2 * n):
        s = 81 * min(k + 1, n, 2 * n - 1 - k) + carry
        out.append(s)
        carry = s // 10
    return out


@dataclass(frozen=True)
class Layout:
    """Logical coordinates: token ``T``, digit value ``D``, the position block ``POS``
    (``BIAS``, ``F1``, ``F2``, ``n`` targets, ``KAP``, padding), then per digit ``i`` the read
    digits ``A_i``, ``U_i`` and the halves of their product ``G_i``, ``H_i``; ``R`` last."""
    n: int
    T = slice(0, 2)
    D = slice(2, 4)
    BIAS, F1, F2 = 4, 5, 6

    def target(self, i: int) -> int:
        return 7 + i

    @property
    def KAP(self) -> int:
        return 7 + self.n

    @property
    def PAD(self) -> int:
        return 8 + self.n

    @property
    def POS(self) -> slice:
        return slice(4, 9 + self.n)

    def _pair(self, block: int, i: int) -> slice:
        start = 9 + self.n + 2 * (block * self.n + i)
        return slice(start, start + 2)

    def A(self, i: int) -> slice:
        return self._pair(0, i)

    def U(self, i: int) -> slice:
        return self._pair(1, i)

    def G(self, i: int) -> slice:
        return self._pair(2, i)

    def H(self, i: int) -> slice:
        return self._pair(3, i)

    @property
    def R(self) -> int:
        return 9 + 9 * self.n

    @property
    def width(self) -> int:
        return 10 + 9 * self.n


@dataclass(frozen=True)
class Plan:
    """Positions, position features and the squared norm of the residual at each layer norm."""
    n: int

    @cached_property
    def lay(self) -> Layout:
        return Layout(self.n)

    @property
    def block_size(self) -> int:  # prompt 2n + 2, then 2n - 1 fed-back product digits
        return 4 * self.n + 1

    @property
    def centre(self) -> float:  # positions are measured from the middle: smaller scores
        return (self.block_size - 1) / 2

    @property
    def J(self) -> float:  # ... and in units of half the block: features in [-1, 1]
        return self.centre

    def b_target(self, p: int, i: int) -> int:
        """Where b-head ``i`` reads at position ``p``: ``b_{m - i}`` for the output digit
        ``m`` predicted there, else a zero: '*' (``m - i >= n``) or '=' (``m - i < 0``);
        prompt positions read '*' when they see it, themselves before."""
        n = self.n
        if p < 2 * n + 1:
            return min(p, n)
        m = p - (2 * n + 1)
        return min(max(2 * n - m + i, n), 2 * n + 1)

    @cached_property
    def scores(self) -> np.ndarray:
        """The carry head's score at each key: ``(m - n) ln 10`` at the output position of
        digit ``m``; the '*' holds the tail ``sum_{m<0} 10^m = 1/9``; the rest far below."""
        n = self.n
        base = -n * math.log(10) - math.log(9)
        s = np.full(self.block_size, base - FAR)
        s[n] = base
        m = np.arange(2 * n)[: self.block_size - (2 * n + 1)]
        s[2 * n + 1 + m] = (m - n) * math.log(10)
        return s

    @property
    def K(self) -> float:
        return float(np.abs(self.scores).max())

    @cached_property
    def pos_block(self) -> np.ndarray:
        """``(block_size, n + 5)``: the position block, padded to one norm at every position."""
        n, lay = self.n, self.lay
        p = np.arange(self.block_size)
        out = np.zeros((self.block_size, n + 5))
        off = lay.POS.start
        f1 = (p - self.centre) / self.J
        out[:, lay.BIAS - off] = 1.0
        out[:, lay.F1 - off], out[:, lay.F2 - off] = f1, f1 ** 2
        for i in range(n):
            t = np.array([self.b_target(int(q), i) for q in p])
            out[:, lay.target(i) - off] = (t - self.centre) / self.J
        out[:, lay.KAP - off] = self.scores / self.K
        norm2 = (out ** 2).sum(axis=1)
        out[:, lay.PAD - off] = np.sqrt(self.pos_norm2 - norm2)
        return out

    @property
    def pos_norm2(self) -> float:
        return self.n + 5.0  # every feature is in [-1, 1]; the padding makes up the rest

    @property
    def d_model(self) -> int:
        return self.lay.width + 1

    def scale(self, norm2: float) -> float:
        """Layer norm multiplies a mean-free residual of squared norm ``norm2`` by this."""
        return (self.d_model / norm2) ** 0.5

    @property
    def s1(self) -> float:  # layer-1 attention input: T, D, POS
        return 6.0 + self.pos_norm2

    @property
    def s1m(self) -> float:  # layer-1 MLP input: + A_i, U_i
        return self.s1 + 6.0 * self.n

    @property
    def s2(self) -> float:  # layer-2 attention input: + G_i, H_i
        return self.s1m + 6.0 * self.n

    @cached_property
    def s_max(self) -> int:
        return max(max_sums(self.n))

    @property
    def eps(self) -> float:
        """The sum estimate is written as ``eps r``; at most as large as the rest's norm."""
        return self.s2 ** 0.5 / (0.9 * self.s_max)

    def mlp2_input(self, s) -> np.ndarray:
        """What MLP 2 reads for column-plus-carry ``s`` (layer norm over ``eps 0.9 s``)."""
        r = self.eps * 0.9 * np.asarray(s, dtype=np.float64)
        return r * (self.d_model / (self.s2 + r ** 2)) ** 0.5


def layer1(plan: Plan) -> dict:
    """Heads ``i`` read ``a_i``, heads ``n + i`` read ``b_{m-i}``; the MLP writes both halves
    of ``a_i b_{m-i} = (a + b)^2 / 4 - (a - b)^2 / 4``, each a point of its own circle."""
    n, lay, L = plan.n, plan.lay, plan.lay.width
    d_ff = 114 * n
    layer = base_layer(n_heads=2 * n, d_model=L, d_ff=d_ff, d_head=2)
    lam = plan.scale(plan.s1)
    # score = lam^2 h (2 t f1 - f1^2) / sqrt(2) = lam^2 h (t^2 - (f1 - t)^2) / sqrt(2): the
    # target wins by lam^2 h / J^2 / sqrt(2) over its neighbours.
    h = SOFT * 2 ** 0.5 * plan.J ** 2 / lam ** 2
    for head in range(2 * n):
        i = head % n
        if head < n:  # a_i sits at position n - 1 - i for every query
            layer["Q"][head, lay.BIAS, 0] = h * (n - 1 - i - plan.centre) / plan.J
        else:
            layer["Q"][head, lay.target(i), 0] = h
        layer["Q"][head, lay.BIAS, 1] = h
        layer["K"][head, lay.F1, 0] = 2.0
        layer["K"][head, lay.F2, 1] = -1.0
        layer["V"][head, lay.D, :] = np.eye(2) / lam
        layer["P"][head, lay.A(i) if head < n else lay.U(i), :] = np.eye(2)
    lam_m = plan.scale(plan.s1m)
    for i in range(n):
        for half, (sign, values, out) in enumerate((
                (1.0, range(19), lambda s: s * s / 4.0),
                (-1.0, range(-9, 10), lambda d: -d * d / 4.0))):
            block = lay.G(i) if half == 0 else lay.H(i)
            base = circle_point(0.0)
            x0s = [lam_m * v / 10 for v in values]
            a0s = [circle_point(out(v) / G_SCALE) - base for v in values]
            M1, b1, M2, b2 = build_MLP(x0s, a0s)
            units = slice(114 * i + 57 * half, 114 * i + 57 * (half + 1))
            layer["M1"][lay.A(i).start, units] = M1[0]
            layer["M1"][lay.U(i).start, units] = sign * M1[0]
            layer["b1"][units] = b1
            layer["M2"][units, block] = M2
            layer["b2"][block] = b2 + base
    return layer


def layer2(plan: Plan) -> dict:
    """One head sums ``10^(m-k) (col_m - d_(m-1) / 10)`` into ``0.9 s_k``; the MLP rounds
    it and writes the token of ``s_k mod 10``."""
    n, lay, L = plan.n, plan.lay, plan.lay.width
    s_max = plan.s_max
    layer = base_layer(n_heads=1, d_model=L, d_ff=2 * s_max, d_head=1)
    lam = plan.scale(plan.s2)
    layer["Q"][0, lay.BIAS, 0] = plan.K / lam ** 2
    layer["K"][0, lay.KAP, 0] = 1.0
    for i in range(n):
        layer["V"][0, lay.G(i).start, 0] = G_SCALE / lam
        layer["V"][0, lay.H(i).start, 0] = G_SCALE / lam
    layer["V"][0, lay.D.start, 0] = -1.0 / lam  # x(D) is the digit / 10
    layer["P"][0, lay.R, 0] = plan.eps
    # Steps at the midpoints between neighbouring sums: each adds the change of token.
    y = plan.mlp2_input(np.arange(s_max + 1))
    tokens = token_points() * BIG
    for s in range(s_max):
        gap = y[s + 1] - y[s]
        mid = (y[s] + y[s + 1]) / 2
        beta = 1.0 / (RAMP * gap)
        units = slice(2 * s, 2 * s + 2)
        layer["M1"][lay.R, units] = beta
        layer["b1"][units] = (-beta * mid + 0.5, -beta * mid - 0.5)
        step = tokens[(s + 1) % 10] - tokens[s % 10]
        layer["M2"][2 * s, lay.T] = step
        layer["M2"][2 * s + 1, lay.T] = -step
    layer["b2"][lay.T] = tokens[0]
    return layer
