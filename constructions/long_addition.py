"""DECIMAL ADDITION that scales (issue 7): 10,000-digit numbers, exact in float32, 4 layers.

Tokens as in the book (Chapter 6): digits 0-9, '+' = 10, '=' = 11; both numbers zero-padded
to ``n`` digits, most significant first; the output is the ``n + 1`` digits of the sum
("45+78" -> "123", "04+02" -> "006"). Positions: ``a_d`` at ``d``, '+' at ``n``, ``b_d`` at
``n + 1 + d``, '=' at ``2 n + 1``; output digit ``k`` (``k = 0``: the carry out; else digit
``i = k - 1`` of the sum) is predicted at ``2 n + 1 + k``. block_size ``3 n + 2``.

The carry into digit ``i`` is ``[s_j >= 10]`` for ``j`` the nearest less significant digit
with ``s_j = a_j + b_j != 9`` (none: no carry). "Nearest to the right" is a one-sided search
that no low-rank attention score expresses, but an *equality* is cheap, and the causal mask
gives "most recent" for free. Let ``P(i)`` be the most recent digit ``<= i`` with ``s != 9``
(the '+' counts as digit -1 with ``s = 0``) and ``Q(j) = P(j - 1)``: the digit we want is the
unique ``j`` with ``s_j != 9`` and ``Q(j) = P(i)``. The '=' acts as digit ``n`` with ``s = 0``,
so that ``j`` always exists. Four layers (their recipes: ``constructions.long_addition_layers``):

1. Every position reads the token at a target whose code ``pos_emb`` stores (block ``target``):
   ``b_d`` reads ``a_d``, an output reads ``b_i``, '=' reads '+', the a-digits and '+' read
   position 0. Storing the target, rather than rotating one's own code, gives every position
   a real target, so no position holds a blurred read. The MLP's spikes (Theorem 6.1) map
   ``x(own) + x(read) = s / 10`` to ``value`` (a token-like code of ``s mod 10``) and
   ``carry_state`` (three states: ``s != 9`` without carry, with carry, ``s = 9``), and erase
   both token blocks.
   '+' and '=' sit far from the digits (x = -1.2, -1.35): there the spikes stay silent and the
   biases leave ``s = 0``.
2. Pointer: the key score is a ramp (``3 sin(angle(m) - angle(q) + pi/4)`` on the coarse
   circle: the most recent key scores highest) plus a large bonus for ``s != 9``; the value
   is the key's position code. Every position gets ``P``.
3. ``Q = P`` one position back (into ``target``); ``P`` and ``V`` of the stored target (an output
   gets ``P(i)`` and ``s_i``); two heads attend to themselves and erase the old ``pointer``,
   ``value`` and ``target`` (proper cleanup), so every block keeps its norm.
4. The match: query ``P``, key ``Q`` plus a bonus for ``s != 9``; the value is the key's
   carry, added to ``value``. The MLP (``|S| - 1`` kinks, Exercise 6.4) maps ``x(value)`` (20 cases:
   ``s mod 10`` and the carry) to the output token.

Every block is a point of a fixed norm on a circle (2 logical dimensions per circle, token or
state), built in logical coordinates and embedded along the Helmert basis in one more model
dimension (``taotp.circuits.mean_free``): layer norm is then a known constant scale at every
position of every layer, which is what lets the attention compare scores to 1e-6 and the
spikes read exact points.

Positions are ``k`` circles (``taotp.circuits.circle_code``) with periods ``8 (n + 1)`` and
``(8 (n + 1)) ** (1/2)``...: as few as keep codes of distinct positions ``3e-4`` apart (of a
maximum ``3 k``): one circle up to 54 digits, two from 55 (at 10,000 digits one circle would
separate neighbours by 1e-8, below float32's resolution; two keep 7.4e-4). The coarse circle
also gives the ramp: with period ``8 (n + 1)`` every key a query sees is on its rising side.

Sizes: 4 layers; d_model 11 (one circle) or 17 (two); heads 1 / 1 / 4 / 1, d_head ``2k``,
``max(3, 2k)``, ``2k + 2``, ``2k + 1``; d_ff 61 / 0 / 0 / 19. Only the position embedding,
``(3 n + 2) d_model``, grows with ``n``: ``33 n + 3,094`` parameters for n <= 54 and
``51 n + 5,622`` from 55: 3,193 at 3 digits, 56,622 at 1,000 and 515,622 at 10,000 (a
prototype needed 4,127 and 63,947, and d_model 29 at 10,000 digits: 870,058 parameters in
its position embedding alone).

float32: exact on every input tried: exhaustive to 2 digits; random and carry-chain inputs
at 3, 10, 100, 1,000 and 10,000 digits (the last in the slow test, on ``FastPath``, whose
attention skips the keys of zero weight: ``bench/long_addition.py``).

>>> task = PROGRAMS[0].make(n_digits=4)
>>> task.run("4999+5"), task.run("9999+9999"), task.run("0+0")
('05004', '19998', '00000')
"""
from __future__ import annotations

import numpy as np

from constructions.addition_text import split_sum
from constructions.long_addition_layers import layer1, layer2, layer3, layer4
from constructions.long_addition_layout import (
    EQUALS, PLUS, SYMBOLS, TOKEN_X, Plan, circle_periods, token_block,
)
from taotp.checks import check_int
from taotp.circuits import circle_code, mean_free
from taotp.model import base_params
from taotp.domains import Indexed
from taotp.program import Option, Program, Task


def build_long_addition_transformer(n_digits: int) -> dict:
    """``a + b =`` -> the ``n_digits + 1`` digits of ``a + b`` (see the module docstring)."""
    n = check_int("n_digits", n_digits, low=1)
    plan = Plan(n, circle_periods(n))
    lay = plan.lay
    block_size = 3 * n + 2
    params = base_params(vocab_size=12, block_size=block_size, d_model=plan.logical_width)
    params["tok_emb"][:, lay.token] = token_block(TOKEN_X)
    params["out_emb"] = params["tok_emb"].copy()
    positions = np.arange(block_size)
    params["pos_emb"][:, lay.position] = circle_code(positions, plan.periods)
    # Stored targets: n + 1 back from b, '=' and the outputs; position 0 for a and '+'.
    params["pos_emb"][:, lay.target] = circle_code(np.maximum(positions - n - 1, 0), plan.periods)
    params["layers"] = [layer1(plan), layer2(plan), layer3(plan), layer4(plan)]
    return mean_free(params)


# --- Registry: parsing, references and test inputs -------------------------------------

def add_digits(a: list[int], b: list[int]) -> list[int]:
    """Schoolbook addition of equal-length digit lists (most significant first): n + 1 digits."""
    out, carry = [], 0
    for x, y in zip(reversed(a), reversed(b)):
        carry, digit = divmod(x + y + carry, 10)
        out.append(digit)
    return [carry] + out[::-1]


def _render(ids) -> str:
    return "".join(SYMBOLS[int(i)] for i in ids)


def parse_sum(text: str, max_digits: int) -> tuple[list[int], list[int]]:
    """``"45+78"`` (spaces and a final '=' allowed) -> the two digit lists; errors name why."""
    a, b = split_sum(text, max_digits)
    return [int(c) for c in a], [int(c) for c in b]


def make_prompt(a: list[int], b: list[int], n_digits: int) -> np.ndarray:
    """``a + b =`` as ids, both operands zero-padded to ``n_digits``."""
    pad = lambda x: [0] * (n_digits - len(x)) + list(x)
    return np.array(pad(a) + [PLUS] + pad(b) + [EQUALS])


def _operands(prompt, n: int) -> tuple[list[int], list[int]]:
    prompt = [int(t) for t in prompt]
    if len(prompt) != 2 * n + 2 or prompt[n] != PLUS or prompt[-1] != EQUALS \
            or any(t > 9 for t in prompt[:n] + prompt[n + 1:2 * n + 1]):
        raise ValueError(f"not a {n}-digit prompt 'a + b =': {_render(prompt)!r}")
    return prompt[:n], prompt[n + 1:2 * n + 1]


def nasty_pairs(n: int) -> list[tuple[list[int], list[int]]]:
    """Carry chains and extremes, as digit lists of length n."""
    nines, zeros = [9] * n, [0] * n
    one = zeros[:-1] + [1]
    pairs = [(zeros, zeros), (nines, nines), (nines, one), (one, nines), (nines, zeros),
             ([4] + [9] * (n - 2) + [5] if n >= 2 else [4], zeros[:-1] + [5]),  # 4999..95+5
             ([(i % 2) * 9 for i in range(n)], [((i + 1) % 2) * 9 for i in range(n)]),
             ([9, 0] * (n // 2) + [9] * (n % 2), [0, 9] * (n // 2) + [1] * (n % 2)),
             ([5] * n, [4] * (n - 1) + [5]), ([5] * n, [4] * n), ([5] * n, [5] * n)]
    # Long runs of digit sums 9, broken (or not) at the end, the start or the middle.
    for head in (0, 1, 8, 9):
        for tail in (0, 1, 9):
            a = [head] + [4] * (n - 2) + [tail] if n >= 2 else [tail]
            b = [0] + [5] * (n - 2) + [tail] if n >= 2 else [tail]
            pairs.append((a[:n], b[:n]))
    for k in sorted({0, 1, n // 2, n - 1} & set(range(n))):
        a, b = [4] * n, [5] * n
        a[k], b[k] = 7, 7  # one carry source inside a chain of 9s
        pairs.append((a, b))
    return pairs


def make(n_digits: int) -> Task:
    """Long addition as a task: ``a + b`` for ``n_digits``-digit numbers, every digit of the sum."""
    params = build_long_addition_transformer(n_digits)
    n = n_digits

    def reference(prompt):
        return np.array(add_digits(*_operands(prompt, n)))

    def sample(rng, count):
        return [make_prompt(list(rng.integers(0, 10, n)), list(rng.integers(0, 10, n)), n)
                for _ in range(count)]

    def exhaustive_at(i):
        a, b = divmod(i, 10 ** n)
        return make_prompt([int(c) for c in str(a).zfill(n)], [int(c) for c in str(b).zfill(n)], n)

    return Task(params=params, encode=lambda text: make_prompt(*parse_sum(text, n), n),
                render=_render, steps=lambda prompt: n + 1, reference=reference, sample=sample,
                exhaustive=(lambda: Indexed(100 ** n, exhaustive_at)) if n <= 2 else None,
                adversarial=lambda: [make_prompt(a, b, n) for a, b in nasty_pairs(n)],
                options=dict(n_digits=n))


PROGRAMS = (
    Program(name="long-addition", title="DECIMAL ADDITION THAT SCALES", section="6.8",
            summary="Add two n-digit numbers (n up to 10,000 and beyond): carries through an "
                    "equality match on causally computed pointers; 4 layers, linear size.",
            input_format="two numbers of at most n digits, e.g. '45+78' -> '123' (n = 2)",
            build=make, options=(Option("n_digits", int, 10, "digits per number",
                                         flag="--digits", low=1, high=10_000,
                                         cap=100_000),),
            examples=("4999999999+1", "9999999999+9999999999", "1234567890+9876543210")),
)
