"""Unpadded addition's plan: the token codes and where each block of the residual stream sits
(``Layout``, for ``D`` = max_digits) — the coordinates every layer recipe of
``constructions.unpadded_addition_layers`` writes to.

>>> Layout(D=2).a_digit(1), Layout(D=2).width
(slice(21, 23, None), 43)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from taotp.circuits import code_gap


PLUS, EQUALS, BOS, EOS = 10, 11, 12, 13
SYMBOLS = "0123456789+="
SOFT = 40.0
BIG = 1e6
FOUND = 1.0  # found / not-found blocks are (FOUND, 0) and (0, FOUND)


def token_table() -> np.ndarray:
    """Tokens on the sqrt(3)-sphere of R^4, plus a constant 1 (a query everyone has).

    Digits lie on the circle ``(x, y, 0, 0)`` with ``x = d / 10``: the value, linearly. The
    third coordinate is largest for '+', then <bos>; the fourth for '=', then <bos>.
    """
    table = np.zeros((14, 5))
    x = np.arange(10) / 10
    table[:10, 0], table[:10, 1] = x, np.sqrt(3 - x ** 2)
    half = 1.5 ** 0.5
    table[PLUS, 2] = table[EQUALS, 3] = 3 ** 0.5
    table[BOS, 2:4] = half
    table[EOS, 2:4] = -half
    table[:, 4] = 1.0
    return table


def value_block(v):
    """A digit value ``v`` as the point ``(v / 10, sqrt(3 - (v / 10)^2))``."""
    x = np.asarray(v, dtype=np.float64) / 10
    return np.stack([x, np.sqrt(3 - x ** 2)], axis=-1)


@dataclass(frozen=True)
class Layout:
    """Logical coordinates of the blocks for ``D`` = max_digits."""
    D: int

    token = slice(0, 4)  # the token (4 dims) ...
    one = 4  # ... and its constant 1
    position = slice(5, 7)
    plus_code, plus_found = slice(7, 9), slice(9, 11)  # the '+': its code, found?
    equals_code, equals_found = slice(11, 13), slice(13, 15)  # the '=': its code, found?
    a_value, b_value = slice(15, 17), slice(17, 19)  # the digit just read of a, of b

    def a_digit(self, t):
        """Slot for operand a's digit of significance t (a ``value_block``)."""
        return slice(19 + 2 * t, 21 + 2 * t)

    def b_digit(self, t):
        """Slot for operand b's digit of significance t (a ``value_block``)."""
        return slice(19 + 2 * self.D + 2 * t, 21 + 2 * self.D + 2 * t)

    def seen_equals(self, j):
        """Holds +1 if the position j back has seen the '=' (j = 0 .. D + 1)."""
        return 19 + 4 * self.D + j

    def sum_is_0(self, t):
        """Holds +1 if a_t + b_t = 0, t < D."""
        return 21 + 5 * self.D + t

    def sum_is_9(self, t):
        """Holds +1 if a_t + b_t = 9 (the carry passes)."""
        return 21 + 6 * self.D + t

    def sum_over_9(self, t):
        """Holds +1 if a_t + b_t >= 10 (a carry starts)."""
        return 21 + 7 * self.D + t

    def carry_in(self, t):
        """Holds +1 if a carry enters t, t = 1 .. D."""
        return 20 + 8 * self.D + t

    def due(self, t):
        """Holds +1 if significance t is due, t = 0 .. D."""
        return 21 + 9 * self.D + t

    @property
    def eos_due(self):
        """Holds +1 if <eos> is due."""
        return 22 + 10 * self.D

    @property
    def width(self):
        """d_model: every block side by side."""
        return 23 + 10 * self.D


@dataclass(frozen=True)
class Plan:
    """Sizes, the position circle and the layer-norm scales shared by the layers."""
    D: int

    @property
    def lay(self) -> Layout:
        """Where each block sits, for ``D`` digits."""
        return Layout(self.D)

    @property
    def block_size(self) -> int:
        """The longest prompt (``2 D + 3``) and its whole output."""
        return 3 * self.D + 4

    @property
    def period(self) -> float:
        """The position circle's period: positions stay on an arc of it."""
        return 4.0 * self.block_size

    @property
    def gap(self) -> float:
        """Smallest drop of ``<code(p), code(q)>`` between distinct positions."""
        return code_gap((self.period,), self.block_size)

    def scale(self, norm2):
        """Layer norm multiplies a mean-free residual of squared norm ``norm2`` by this."""
        return ((self.lay.width + 1) / norm2) ** 0.5

    # Squared norms of the residual stream before each sublayer.
    @property
    def norm2_attn1(self):
        """Layer 1's attention input: token (3 + 1), position."""
        return 4 + 3

    @property
    def norm2_mlp1(self):
        """+ plus_code, plus_found, equals_code, equals_found."""
        return self.norm2_attn1 + 3 + FOUND ** 2 + 3 + FOUND ** 2

    @property
    def norm2_attn2(self):
        """+ a_value, b_value."""
        return self.norm2_mlp1 + 6

    @property
    def norm2_mlp2(self):
        """+ a_digit, b_digit (3 each), seen_equals (1 each)."""
        return self.norm2_attn2 + 6 * self.D + (self.D + 2)

    @property
    def norm2_layer3(self):
        """+ sum_is_0, sum_is_9, sum_over_9."""
        return self.norm2_mlp2 + 3 * self.D

    @property
    def norm2_layer4(self):
        """+ carry_in, due, eos_due."""
        return self.norm2_layer3 + 2 * self.D + 2
