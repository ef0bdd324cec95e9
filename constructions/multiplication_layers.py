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
HALF_SCALE = 81.0 / 1.5  # products' halves (s^2 / 4 <= 81) sit at x <= 1.5 on their circle
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
    """Logical coordinates: the token, the digit value, the position block (bias, position,
    its square, ``n`` b-targets, the carry score, padding), then per digit ``i`` the digits
    read (``a_digit``, ``b_digit``) and the halves of their product; the sum estimate last."""
    n: int
    token = slice(0, 2)
    digit_value = slice(2, 4)
    bias, position, position_squared = 4, 5, 6

    def b_target(self, i: int) -> int:
        """Where b-head ``i`` finds the position it must read (a query-side feature)."""
        return 7 + i

    @property
    def carry_score(self) -> int:
        """The carry head's key: the scaled score that weighs output ``m`` by ``10^m``."""
        return 7 + self.n

    @property
    def padding(self) -> int:
        """Tops the position block up to one norm at every position."""
        return 8 + self.n

    @property
    def position_block(self) -> slice:
        """All the position features, written together by the position embedding."""
        return slice(4, 9 + self.n)

    def _pair(self, block: int, i: int) -> slice:
        start = 9 + self.n + 2 * (block * self.n + i)
        return slice(start, start + 2)

    def a_digit(self, i: int) -> slice:
        """Where head ``i`` copies ``a_i`` (a point of the digit circle)."""
        return self._pair(0, i)

    def b_digit(self, i: int) -> slice:
        """Where head ``n + i`` copies ``b_(m-i)`` for the output digit ``m`` predicted here."""
        return self._pair(1, i)

    def sum_square(self, i: int) -> slice:
        """MLP 1's ``(a + b)^2 / 4`` half of ``a_i b_(m-i)``, as a point of its circle."""
        return self._pair(2, i)

    def difference_square(self, i: int) -> slice:
        """MLP 1's ``-(a - b)^2 / 4`` half of ``a_i b_(m-i)``, as a point of its circle."""
        return self._pair(3, i)

    @property
    def sum_estimate(self) -> int:
        """The carry head's reading of column plus carry, which MLP 2 rounds to a digit."""
        return 9 + 9 * self.n

    @property
    def width(self) -> int:
        """Logical d_model; the mean-free embedding adds one more dimension."""
        return 10 + 9 * self.n


@dataclass(frozen=True)
class Plan:
    """Positions, position features and the squared norm of the residual at each layer norm."""
    n: int

    @cached_property
    def layout(self) -> Layout:
        """Where every block lives in the residual stream."""
        return Layout(self.n)

    @property
    def block_size(self) -> int:
        """The prompt's ``2 n + 2`` tokens, then ``2 n - 1`` fed-back product digits."""
        return 4 * self.n + 1

    @property
    def centre(self) -> float:
        """Positions are measured from the middle, which keeps attention scores small."""
        return (self.block_size - 1) / 2

    @property
    def position_unit(self) -> float:
        """... and in units of half the block, so position features lie in ``[-1, 1]``."""
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
    def carry_scores(self) -> np.ndarray:
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
    def max_score(self) -> float:
        """Scales the carry scores into ``[-1, 1]`` for the position block; the query undoes it."""
        return float(np.abs(self.carry_scores).max())

    @cached_property
    def position_features(self) -> np.ndarray:
        """``(block_size, n + 5)``: the position block, padded to one norm at every position."""
        n, layout = self.n, self.layout
        p = np.arange(self.block_size)
        out = np.zeros((self.block_size, n + 5))
        off = layout.position_block.start
        position = (p - self.centre) / self.position_unit
        out[:, layout.bias - off] = 1.0
        out[:, layout.position - off] = position
        out[:, layout.position_squared - off] = position ** 2
        for i in range(n):
            t = np.array([self.b_target(int(q), i) for q in p])
            out[:, layout.b_target(i) - off] = (t - self.centre) / self.position_unit
        out[:, layout.carry_score - off] = self.carry_scores / self.max_score
        norm2 = (out ** 2).sum(axis=1)
        out[:, layout.padding - off] = np.sqrt(self.position_norm2 - norm2)
        return out

    @property
    def position_norm2(self) -> float:
        """Every feature is in ``[-1, 1]``, so ``n + 5`` bounds them; padding makes up the rest."""
        return self.n + 5.0

    @property
    def d_model(self) -> int:
        """The embedded width: logical width plus the mean-free extra dimension."""
        return self.layout.width + 1

    def scale(self, norm2: float) -> float:
        """Layer norm multiplies a mean-free residual of squared norm ``norm2`` by this."""
        return (self.d_model / norm2) ** 0.5

    @property
    def attention1_norm2(self) -> float:
        """Layer 1's attention reads token, digit value and position block."""
        return 6.0 + self.position_norm2

    @property
    def mlp1_norm2(self) -> float:
        """Layer 1's MLP reads those plus the ``a`` and ``b`` digits the heads copied."""
        return self.attention1_norm2 + 6.0 * self.n

    @property
    def attention2_norm2(self) -> float:
        """Layer 2's attention reads those plus the product halves MLP 1 wrote."""
        return self.mlp1_norm2 + 6.0 * self.n

    @cached_property
    def max_sum(self) -> int:
        """The largest column plus carry: MLP 2 needs a rounding step below each sum."""
        return max(max_sums(self.n))

    @property
    def sum_scale(self) -> float:
        """The sum estimate is written as ``sum_scale r``; at most as large as the rest's norm."""
        return self.attention2_norm2 ** 0.5 / (0.9 * self.max_sum)

    def mlp2_input(self, s) -> np.ndarray:
        """What MLP 2 reads for column-plus-carry ``s`` (layer norm over ``sum_scale 0.9 s``)."""
        r = self.sum_scale * 0.9 * np.asarray(s, dtype=np.float64)
        return r * (self.d_model / (self.attention2_norm2 + r ** 2)) ** 0.5


def layer1(plan: Plan) -> dict:
    """Heads ``i`` read ``a_i``, heads ``n + i`` read ``b_{m-i}``; the MLP writes both halves
    of ``a_i b_{m-i} = (a + b)^2 / 4 - (a - b)^2 / 4``, each a point of its own circle."""
    n, layout, unit = plan.n, plan.layout, plan.position_unit
    d_ff = 114 * n
    layer = base_layer(n_heads=2 * n, d_model=layout.width, d_ff=d_ff, d_head=2)
    lam = plan.scale(plan.attention1_norm2)
    # score = lam^2 h (2 t f - f^2) / sqrt(2) = lam^2 h (t^2 - (f - t)^2) / sqrt(2) with f the
    # position feature: the target wins by lam^2 h / unit^2 / sqrt(2) over its neighbours.
    h = SOFT * 2 ** 0.5 * unit ** 2 / lam ** 2
    for head in range(2 * n):
        i = head % n
        if head < n:  # a_i sits at position n - 1 - i for every query
            layer["Q"][head, layout.bias, 0] = h * (n - 1 - i - plan.centre) / unit
        else:
            layer["Q"][head, layout.b_target(i), 0] = h
        layer["Q"][head, layout.bias, 1] = h
        layer["K"][head, layout.position, 0] = 2.0
        layer["K"][head, layout.position_squared, 1] = -1.0
        layer["V"][head, layout.digit_value, :] = np.eye(2) / lam
        read = layout.a_digit(i) if head < n else layout.b_digit(i)
        layer["P"][head, read, :] = np.eye(2)
    lam_m = plan.scale(plan.mlp1_norm2)
    for i in range(n):
        for half, (sign, values, out) in enumerate((
                (1.0, range(19), lambda s: s * s / 4.0),
                (-1.0, range(-9, 10), lambda d: -d * d / 4.0))):
            block = layout.sum_square(i) if half == 0 else layout.difference_square(i)
            base = circle_point(0.0)
            x0s = [lam_m * v / 10 for v in values]
            a0s = [circle_point(out(v) / HALF_SCALE) - base for v in values]
            M1, b1, M2, b2 = build_MLP(x0s, a0s)
            units = slice(114 * i + 57 * half, 114 * i + 57 * (half + 1))
            layer["M1"][layout.a_digit(i).start, units] = M1[0]
            layer["M1"][layout.b_digit(i).start, units] = sign * M1[0]
            layer["b1"][units] = b1
            layer["M2"][units, block] = M2
            layer["b2"][block] = b2 + base
    return layer


def layer2(plan: Plan) -> dict:
    """One head sums ``10^(m-k) (col_m - d_(m-1) / 10)`` into ``0.9 s_k``; the MLP rounds
    it and writes the token of ``s_k mod 10``."""
    layout, max_sum = plan.layout, plan.max_sum
    layer = base_layer(n_heads=1, d_model=layout.width, d_ff=2 * max_sum, d_head=1)
    lam = plan.scale(plan.attention2_norm2)
    layer["Q"][0, layout.bias, 0] = plan.max_score / lam ** 2
    layer["K"][0, layout.carry_score, 0] = 1.0
    for i in range(plan.n):
        layer["V"][0, layout.sum_square(i).start, 0] = HALF_SCALE / lam
        layer["V"][0, layout.difference_square(i).start, 0] = HALF_SCALE / lam
    layer["V"][0, layout.digit_value.start, 0] = -1.0 / lam  # its x is the digit / 10
    layer["P"][0, layout.sum_estimate, 0] = plan.sum_scale
    # Steps at the midpoints between neighbouring sums: each adds the change of token.
    y = plan.mlp2_input(np.arange(max_sum + 1))
    tokens = token_points() * BIG
    for s in range(max_sum):
        gap = y[s + 1] - y[s]
        mid = (y[s] + y[s + 1]) / 2
        beta = 1.0 / (RAMP * gap)
        units = slice(2 * s, 2 * s + 2)
        layer["M1"][layout.sum_estimate, units] = beta
        layer["b1"][units] = (-beta * mid + 0.5, -beta * mid - 0.5)
        step = tokens[(s + 1) % 10] - tokens[s % 10]
        layer["M2"][2 * s, layout.token] = step
        layer["M2"][2 * s + 1, layout.token] = -step
    layer["b2"][layout.token] = tokens[0]
    return layer
