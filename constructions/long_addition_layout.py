"""Long addition's plan: token and carry-state codes, the position circles, and where each
block of the residual stream sits (``Layout``) — the coordinates every layer recipe of
``constructions.long_addition_layers`` writes to.

>>> Layout(k=1).target, Layout(k=1).width
(slice(6, 8, None), 10)
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from taotp.circuits import RADIUS, code_gap

PLUS, EQUALS = 10, 11
SYMBOLS = "0123456789+="
# Tokens are points (x, sqrt(3 - x^2)) of a circle; x is the value. '+' and '=' sit far from
# the digits so that the layer-1 spikes (at x-sums 0, 0.1, ..., 1.8) stay silent there.
TOKEN_X = np.concatenate((np.arange(10) / 10, [-1.2, -1.35]))
EG_RADIUS = 1.5 ** 0.5
MIN_GAP = 3e-4  # smallest acceptable drop of <code(p), code(q)> for p != q (the max is 3k)
SOFT = 40.0  # every hard attention keeps its runner-up exp(-40) below the winner
BIG = 1e6  # the last MLP's output dominates the residual before the final layer norm
GAMMA = np.pi / 4  # the ramp is 3 sin(angle difference + GAMMA)
CARRY = 1.05  # the carry moves x(V) by +-CARRY / 2: the 20 (s mod 10, carry) cases stay apart


def token_block(x):
    """``(x, sqrt(3 - x^2))``: a value on a circle, so every token has the same norm."""
    x = np.asarray(x, dtype=np.float64)
    return np.stack([x, np.sqrt(RADIUS ** 2 - x ** 2)], axis=-1)


def eg_state(i):
    """Carry states at 150, 30 and -90 degrees: 0 = ``s != 9``, no carry; 1 = ``s != 9``,
    carry; 2 = ``s = 9``. The second coordinate tells ``s != 9``, the first the carry."""
    angle = np.radians((150.0, 30.0, -90.0)[i])
    return EG_RADIUS * np.array([np.cos(angle), np.sin(angle)])


@dataclass(frozen=True)
class Layout:
    """Logical coordinates of each block, for ``k`` position circles (model: one more)."""
    k: int

    @property
    def base(self) -> int:
        """Where the position code starts: after the pointer and value blocks (or the two token
        blocks)."""
        return max(4, 2 * self.k + 2)

    token = slice(0, 2)  # the token, erased by layer 1's MLP
    read_token = slice(2, 4)  # the token read by layer 1, erased by its MLP

    @property
    def pointer(self):
        """Pointer code (layer 2), replaced by the fetched one (layer 3)."""
        return slice(0, 2 * self.k)

    @property
    def value(self):
        """``s mod 10`` (layer 1), replaced by the fetched one (layer 3), + carry (4)."""
        return slice(2 * self.k, 2 * self.k + 2)

    @property
    def position(self):
        """The position code."""
        return slice(self.base, self.base + 2 * self.k)

    @property
    def target(self):
        """Stored target code (input), replaced by Q (layer 3)."""
        return slice(self.base + 2 * self.k, self.base + 4 * self.k)

    @property
    def carry_state(self):
        """The carry state, ``eg_state``: is ``s = 9``, is there a carry."""
        return slice(self.base + 4 * self.k, self.base + 4 * self.k + 2)

    @property
    def width(self) -> int:
        """d_model: every block side by side."""
        return self.base + 4 * self.k + 2


def circle_periods(n_digits: int) -> tuple[float, ...]:
    """Periods of the position circles: the coarse ``8 (n + 1)``, then finer roots of it.

    The fewest circles whose codes of distinct positions differ by at least ``MIN_GAP``.
    """
    coarse = 8.0 * (n_digits + 1)
    n_positions = 3 * n_digits + 2
    for k in (1, 2, 3):
        periods = tuple(coarse ** ((k - c) / k) for c in range(k))
        if code_gap(periods, n_positions) >= MIN_GAP:
            return periods
    raise ValueError(f"{n_digits} digits need more than 3 position circles")


@dataclass(frozen=True)
class Plan:
    """Sizes and layer-norm scales shared by the layers (squared norms ``norm2_*`` of the
    residual stream: every block has a fixed norm)."""
    n: int
    periods: tuple[float, ...]

    @cached_property
    def lay(self) -> Layout:
        """Where each block sits, for this many position circles."""
        return Layout(len(self.periods))

    @property
    def logical_width(self) -> int:
        """Every block side by side; d_model is one more (the Helmert embedding)."""
        return self.lay.width

    @property
    def code_dims(self) -> int:
        """Dimensions of one position code: 2 per circle."""
        return 2 * len(self.periods)

    def scale(self, norm2: float) -> float:
        """Layer norm multiplies a mean-free residual of squared norm ``norm2`` by this."""
        return ((self.logical_width + 1) / norm2) ** 0.5

    @cached_property
    def gap(self) -> float:
        """Smallest drop of ``<code(p), code(q)>`` between distinct positions."""
        return code_gap(self.periods, 3 * self.n + 2)

    # Squared norms of the residual stream: every block has a fixed norm.
    @property
    def norm2_attn1(self) -> float:
        """Layer 1's attention input: token, position, target."""
        return 3 + 3 * self.code_dims

    @property
    def norm2_mlp1(self) -> float:
        """Layer 1's MLP input: + the read token."""
        return 6 + 3 * self.code_dims

    @property
    def norm2_layer2(self) -> float:
        """Layer 2's input: position, target, value, carry state."""
        return 3 * self.code_dims + 3 + EG_RADIUS ** 2

    @property
    def norm2_layer3(self) -> float:
        """Layers 3 and 4: + the pointer."""
        return self.norm2_layer2 + 1.5 * self.code_dims
