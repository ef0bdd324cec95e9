"""DECIMAL ADDITION without zero padding (Exercise 6.20): "<bos> 8 4 + 8 8 =" -> "1 7 2 <eos>".

Vocabulary 14: digits 0-9, '+' = 10, '=' = 11, <bos> = 12, <eos> = 13. Numbers have 1 to
``D = max_digits`` digits and no leading zeros (except the number 0); so has the output,
which ends with <eos>. block_size ``3 D + 4`` (the longest prompt, ``2 D + 3``, and all output
tokens but the last).

A digit's significance is its distance to the '+' (for a) or to the '=' (for b): only
positions from the '=' on can know it, so they do the work. Four layers:

1. Two heads find the '+' and the '=' (a key bonus for the token, a smaller one for <bos>,
   always visible, so before the '+' the head finds <bos>) and copy their position code and
   whether they were found. The MLP (kinks, Exercise 6.4) maps the token's value and the two
   flags to ``Av`` (the digit if this is a digit of a, else 0) and ``Bv`` (likewise for b).
2. ``2 D`` heads read ``a_t`` and ``b_t`` for every significance ``t < D``: their queries are
   the '+' and '=' codes rotated back ``t + 1`` positions (a missing digit reads <bos>, '+' or
   a digit of the other number, whose ``Av`` / ``Bv`` is 0). ``D + 2`` heads read whether the
   position ``j`` back has seen the '=': a thermometer code of ``k``, the output step. The MLP
   maps each ``s_t = a_t + b_t`` to three bits: ``s_t = 0``, ``s_t = 9``, ``s_t >= 10``.
3. The MLP: ReLU ANDs of bits. The carry into ``t`` is a sum of ANDs (a carry starts at
   ``j < t`` and every digit sum between is 9: mutually exclusive); "the sum has at least
   ``e + 1`` digits and the step is ``k``" is ``[k] - AND(s_e.. = 0, k) + sum AND(s_e.. = 0,
   carry chain into e, k)``; differences of these give the one-hot of the significance due,
   ``t = length - 1 - k``, and of <eos> (``k = length``).
4. The MLP: kinks on ``a_t + b_t + c_t`` for each ``t``, gated off unless ``t`` is due (a
   closed gate pulls every unit of the group below 0), write the output digit; one unit
   writes <eos>.

No quantity larger than 20 is ever compared (no ``sum 10^j s_j``), so float32 is as exact as
float64. Blocks are points of fixed norm (tokens on a sphere, values and codes on circles,
bits +-1) in logical coordinates embedded by ``taotp.circuits.mean_free``: layer norm is a
known constant scale everywhere. Positions are one circle of period ``4 (3 D + 4)``: an arc,
so a read aimed before position 0 lands on <bos>.

Sizes: 4 layers, d_model ``10 D + 24``, heads 2 / ``3 D + 2`` / 0 / 0 (d_head 4 / 2), d_ff
29 / ``18 D`` / ``O(D^3)`` / ``20 D + 3``. Parameters: 9,370 (D = 1), 19,340 (2), 34,532
(3, the default), 56,542 (4), 129,000 (6). float32: exact, exhaustively to D = 2 and on
random and carry-chain inputs to D = 6 (and 10 in the tests).

>>> task = PROGRAMS[0].make(max_digits=3)
>>> task.run("4+8"), task.run("84+88"), task.run("999+1"), task.run("0+0")
('12', '172', '1000', '0')
"""
from __future__ import annotations

import numpy as np

from constructions.addition_text import split_sum
from constructions.unpadded_addition_layers import layer1, layer2, layer3, layer4
from constructions.unpadded_addition_layout import (
    BOS, EOS, EQUALS, PLUS, SYMBOLS, Plan, token_table,
)
from taotp.checks import check_int
from taotp.circuits import circle_code, mean_free
from taotp.model import base_params
from taotp.domains import Indexed
from taotp.program import Option, Program, Task


def build_unpadded_addition_transformer(max_digits: int) -> dict:
    """``<bos> a + b =`` -> the digits of ``a + b``, then <eos> (see the module docstring)."""
    plan = Plan(check_int("max_digits", max_digits, low=1, high=12))
    lay = plan.lay
    params = base_params(vocab_size=14, block_size=plan.block_size, d_model=lay.width)
    params["tok_emb"][:, :5] = token_table()
    params["out_emb"] = params["tok_emb"].copy()
    params["pos_emb"][:, lay.position] = circle_code(np.arange(plan.block_size), (plan.period,))
    params["layers"] = [layer1(plan), layer2(plan), layer3(plan), layer4(plan)]
    return mean_free(params)


# --- Registry: parsing, references and test inputs -------------------------------------

def _render(ids) -> str:
    return "".join(SYMBOLS[int(i)] for i in ids if int(i) < 12)


def parse_sum(text: str, max_digits: int) -> tuple[str, str]:
    """``"84+88"`` (spaces and a final '=' allowed) -> ("84", "88"); errors name why."""
    parts = split_sum(text, max_digits)
    for part in parts:
        if len(part) > 1 and part[0] == "0":
            raise ValueError(f"{part} has a leading zero (write numbers without padding)")
    return parts


def make_prompt(a: str, b: str) -> np.ndarray:
    """``<bos> a + b =`` as ids, operands unpadded."""
    return np.array([BOS] + [int(c) for c in a] + [PLUS] + [int(c) for c in b] + [EQUALS])


def _operands(prompt, max_digits: int) -> tuple[str, str]:
    ids = [int(t) for t in prompt]
    text = "".join(SYMBOLS[t] if t < 12 else "?" for t in ids[1:])
    if not ids or ids[0] != BOS or not text.endswith("="):
        raise ValueError(f"not a prompt '<bos> a + b =': {ids}")
    return parse_sum(text, max_digits)


def _sum_text(a: str, b: str) -> str:
    return str(int(a) + int(b))


def nasty_pairs(D: int) -> list[tuple[str, str]]:
    """Operand pairs of up to ``D`` digits that stress carries, lengths and zeros."""
    top = "9" * D
    pairs = {("0", "0"), ("0", "1"), ("1", "0"), (top, top), (top, "1"), ("1", top),
             (top, "0"), ("0", top), ("5", "5"), ("9", "9")}
    for la in range(1, D + 1):
        for lb in range(1, D + 1):
            nines_a, nines_b = "9" * la, "9" * lb
            pairs |= {(nines_a, nines_b), (nines_a, "1" if lb == 1 else "1" + "0" * (lb - 1)),
                      ("4" * la, "5" * lb), ("5" * la, "5" * lb), ("1" + "0" * (la - 1),
                                                                      nines_b)}
            if la >= 2:
                pairs.add(("4" + "9" * (la - 2) + "5", "5"))
    return sorted(pairs)


def make(max_digits: int) -> Task:
    """Unpadded addition as a task: numbers of 1 to ``max_digits`` digits, the sum then <eos>."""
    D = max_digits
    params = build_unpadded_addition_transformer(D)

    def reference(prompt):
        return np.array([int(c) for c in _sum_text(*_operands(prompt, D))] + [EOS])

    def steps(prompt):
        # The digits of the sum and <eos>: taotp.verify wants the exact output length (a
        # budget of max(len) + 2 would do for decoding, which stops at <eos>).
        return len(_sum_text(*_operands(prompt, D))) + 1

    def random_number(rng):
        length = int(rng.integers(1, D + 1))
        if length == 1:
            return str(int(rng.integers(0, 10)))
        return str(int(rng.integers(1, 10))) + "".join(str(d) for d in rng.integers(0, 10,
                                                                                   length - 1))

    def sample(rng, count):
        return [make_prompt(random_number(rng), random_number(rng)) for _ in range(count)]

    def exhaustive_at(i):
        return make_prompt(*map(str, divmod(i, 10 ** D)))

    return Task(params=params, encode=lambda text: make_prompt(*parse_sum(text, D)),
                render=_render, steps=steps,
                reference=reference, sample=sample,
                exhaustive=(lambda: Indexed(100 ** D, exhaustive_at)) if D <= 2 else None,
                adversarial=lambda: [make_prompt(a, b) for a, b in nasty_pairs(D)], eos=EOS,
                options=dict(max_digits=D))


PROGRAMS = (
    Program(name="unpadded-addition", title="DECIMAL ADDITION WITHOUT PADDING", section="6.9",
            summary="Exercise 6.20: add numbers of up to D digits written without leading "
                    "zeros; <bos> and <eos> delimit; no padding in the output.",
            input_format="two numbers of at most D digits, e.g. '84+88' -> '172'",
            build=make, options=(Option("max_digits", int, 3, "most digits per number",
                                         flag="--digits", low=1, high=12, cap=12),),
            examples=("4+8", "84+88", "999+1", "0+0")),
)
