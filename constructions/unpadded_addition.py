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

from constructions.addition import split_sum
from constructions.unpadded_addition_layout import (
    BIG, BOS, EOS, EQUALS, FOUND, PLUS, SOFT, SYMBOLS, Plan, token_table, value_block,
)
from taotp.blocks import build_MLP
from taotp.checks import check_int
from taotp.circuits import build_kink_MLP, circle_code, circle_rotation, mean_free
from taotp.model import base_layer, base_params
from taotp.program import Option, Program, Task


def build_unpadded_addition_transformer(max_digits: int) -> dict:
    """``<bos> a + b =`` -> the digits of ``a + b``, then <eos> (see the module docstring)."""
    plan = Plan(check_int("max_digits", max_digits, low=1, high=12))
    lay = plan.lay
    params = base_params(vocab_size=14, block_size=plan.block_size, d_model=lay.width)
    params["tok_emb"][:, :5] = token_table()
    params["out_emb"] = params["tok_emb"].copy()
    params["pos_emb"][:, lay.position] = circle_code(np.arange(plan.block_size), (plan.period,))
    params["layers"] = [_layer1(plan), _layer2(plan), _layer3(plan), _layer4(plan)]
    return mean_free(params)


def _hardness(scale, d_head, gap):
    return SOFT * d_head ** 0.5 / (scale ** 2 * gap)


def _layer1(plan: Plan) -> dict:
    lay, L = plan.lay, plan.lay.width
    layer = base_layer(n_heads=2, d_model=L, d_ff=29, d_head=4)
    lam = plan.scale(plan.norm2_attn1)
    # Token scores: '+' sqrt(3), <bos> 1.22, the rest <= 0 (third coordinate; fourth for '=').
    h = _hardness(lam, 4, 3 ** 0.5 - 1.5 ** 0.5)
    half = 1.5 ** 0.5
    for head, (axis, code, found) in enumerate(((2, lay.plus_code, lay.plus_found), (3, lay.equals_code, lay.equals_found))):
        layer["Q"][head, lay.one, 0] = h
        layer["K"][head, axis, 0] = 1.0
        layer["V"][head, lay.position, :2] = np.eye(2) / lam
        layer["P"][head, code, :2] = np.eye(2)
        # Found: the token (sqrt 3 on ``axis``) -> (FOUND, 0); <bos> -> (0, FOUND).
        other = 5 - axis  # the other of coordinates 2, 3
        W = np.zeros((2, 2))  # rows: coordinates (axis, other)
        W[0] = [FOUND / 3 ** 0.5, 0.0]
        W[1] = [-FOUND / 3 ** 0.5, FOUND / half]
        layer["V"][head, axis, 2:4] = W[0] / lam
        layer["V"][head, other, 2:4] = W[1] / lam
        layer["P"][head, found, 2:4] = np.eye(2)
    # z = digit + 10 [found '+'] + 20 [found '='] -> Av, Bv (kinks: constant below z = 0).
    lam_m = plan.scale(plan.norm2_mlp1)
    x0s, a0s = [], []
    for region, z0 in ((0, 0), (1, 10), (2, 30)):
        for digit in range(10):
            out = np.zeros(L)
            out[lay.a_value] = value_block(digit if region == 0 else 0)
            out[lay.b_value] = value_block(digit if region == 1 else 0)
            x0s.append(z0 + digit)
            a0s.append(out)
    M1, b1, M2, b2 = build_kink_MLP(x0s, a0s)
    read = np.zeros(L)
    read[0] = 10.0  # token x = digit / 10
    read[lay.plus_found.start] = 10.0 / FOUND
    read[lay.equals_found.start] = 20.0 / FOUND
    layer["M1"] = np.outer(read / lam_m, M1[0])
    layer["b1"], layer["M2"], layer["b2"] = b1, M2, b2
    return layer


def _layer2(plan: Plan) -> dict:
    lay, L, D = plan.lay, plan.lay.width, plan.D
    n_heads = 3 * D + 2
    layer = base_layer(n_heads=n_heads, d_model=L, d_ff=18 * D, d_head=2)
    lam = plan.scale(plan.norm2_attn2)
    h = _hardness(lam, 2, plan.gap)
    period = (plan.period,)
    for head in range(n_heads):
        layer["K"][head, lay.position, :] = np.eye(2)
    for t in range(D):
        for head, (code, value, slot) in ((t, (lay.plus_code, lay.a_value, lay.a_digit(t))),
                                          (D + t, (lay.equals_code, lay.b_value, lay.b_digit(t)))):
            layer["Q"][head, code, :] = circle_rotation(period, -(t + 1)) * h
            layer["V"][head, value, :] = np.eye(2) / lam
            layer["P"][head, slot, :] = np.eye(2)
    for j in range(D + 2):
        head = 2 * D + j
        layer["Q"][head, lay.position, :] = circle_rotation(period, -j) * h
        layer["V"][head, lay.equals_found, 0] = np.array([1.0, -1.0]) / (FOUND * lam)
        layer["P"][head, lay.seen_equals(j), 0] = 1.0
    # Per significance, kinks on s_t = a_t + b_t (0..18): three +-1 bits. Kinks suffice:
    # the bits only feed ReLU ANDs and gates with margins of 1.
    lam_m = plan.scale(plan.norm2_mlp2)
    for t in range(D):
        x0s, a0s = [], []
        for s in range(19):
            out = np.zeros(L)
            out[lay.sum_is_0(t)] = 1.0 if s == 0 else -1.0
            out[lay.sum_is_9(t)] = 1.0 if s == 9 else -1.0
            out[lay.sum_over_9(t)] = 1.0 if s >= 10 else -1.0
            x0s.append(s)
            a0s.append(out)
        M1, b1, M2, b2 = build_kink_MLP(x0s, a0s)
        read = np.zeros(L)
        read[lay.a_digit(t).start] = read[lay.b_digit(t).start] = 10.0 / lam_m
        units = slice(18 * t, 18 * t + 18)
        layer["M1"][:, units] = np.outer(read, M1[0])
        layer["b1"][units], layer["M2"][units] = b1, M2
        layer["b2"] += b2
    return layer


class _Units:
    """ReLU units ``ReLU(w . x + b)`` collected for one MLP, with named 0/1 inputs."""

    def __init__(self, L: int, lam: float):
        self.L, self.lam = L, lam
        self.rows, self.biases, self.outs = [], [], []

    def bit(self, index):
        """A +-1 bit of the stream as a 0/1 linear form (weights, bias)."""
        w = np.zeros(self.L)
        w[index] = 0.5 / self.lam
        return w, 0.5

    def add(self, terms, bias=0.0):
        """``ReLU(sum of terms + bias)``: with 0/1 terms and ``bias = 1 - len(terms)``, AND."""
        w = sum((t[0] for t in terms), np.zeros(self.L))
        self.rows.append(w)
        self.biases.append(sum(t[1] for t in terms) + bias)
        self.outs.append({})
        return len(self.rows) - 1

    def AND(self, terms):
        return self.add(terms, 1.0 - len(terms))

    def write(self, unit, index, weight):
        self.outs[unit][index] = self.outs[unit].get(index, 0.0) + weight

    def into(self, layer):
        n = len(self.rows)
        layer["M1"], layer["b1"] = np.array(self.rows).T, np.array(self.biases)
        layer["M2"] = np.zeros((n, self.L))
        for u, out in enumerate(self.outs):
            for index, weight in out.items():
                layer["M2"][u, index] = weight


def _layer3(plan: Plan) -> dict:
    """Carries and the one-hot of the due significance, each a sum of ReLU ANDs of bits."""
    lay, L, D = plan.lay, plan.lay.width, plan.D
    units = _Units(L, plan.scale(plan.norm2_layer3))
    z = [units.bit(lay.sum_is_0(t)) for t in range(D)]
    nine = [units.bit(lay.sum_is_9(t)) for t in range(D)]
    g = [units.bit(lay.sum_over_9(t)) for t in range(D)]
    th = [units.bit(lay.seen_equals(j)) for j in range(D + 2)] + [(np.zeros(L), 0.0)]
    is_k = [(th[j][0] - th[j + 1][0], th[j][1] - th[j + 1][1]) for j in range(D + 2)]

    def chains(e, extra):
        """``[carry into e]`` AND extra: the carry starts at j < e and passes j+1..e-1."""
        return [units.AND([g[j]] + nine[j + 1:e] + extra) for j in range(e)]

    b2 = np.zeros(L)
    for t in range(1, D + 1):  # c_t = +1 / -1
        for unit in chains(t, []):
            units.write(unit, lay.carry_in(t), 2.0)
        b2[lay.carry_in(t)] = -1.0

    def at_least(e, k0):
        """Units and weights summing to [a + b >= 10^e and k = k0]."""
        if e == 0:
            return [(units.add([is_k[k0]]), 1.0)]
        if e == D + 1:
            return []
        # [k = k0] - [every digit sum from e on is 0, and no carry into e, and k = k0]
        zeros = z[e:]
        terms = [(units.add([is_k[k0]]), 1.0), (units.AND(zeros + [is_k[k0]]), -1.0)]
        terms += [(unit, 1.0) for unit in chains(e, zeros + [is_k[k0]])]
        return terms

    def length_is(l, k0, index):  # + [length of a + b = l and k = k0] into ``index``
        for unit, w in at_least(l - 1, k0):
            units.write(unit, index, 2.0 * w)
        for unit, w in at_least(l, k0):
            units.write(unit, index, -2.0 * w)

    for t in range(D + 1):
        for l in range(t + 1, D + 2):
            length_is(l, l - 1 - t, lay.due(t))
        b2[lay.due(t)] = -1.0
    for l in range(1, D + 2):
        length_is(l, l, lay.eos_due)
    b2[lay.eos_due] = -1.0
    layer = base_layer(n_heads=0, d_model=L, d_ff=0, d_head=1)
    units.into(layer)
    layer["b2"] = b2
    return layer


def _layer4(plan: Plan) -> dict:
    """Gated kinks: for the due significance t, a_t + b_t + c_t -> the output token."""
    lay, L, D = plan.lay, plan.lay.width, plan.D
    d_ff = 20 * D + 3
    layer = base_layer(n_heads=0, d_model=L, d_ff=d_ff, d_head=1)
    lam = plan.scale(plan.norm2_layer4)
    tok = token_table()[:, :4] * BIG
    gate_k = 40.0  # larger than any kink's pre-activation
    u = 0
    for t in range(D + 1):
        # u_t = a_t + b_t + c_t (c_0 = 0; no digits at t = D), gated by O_t: a closed gate
        # adds -gate_k to every unit of the group.
        read, bias = np.zeros(L), 0.0
        if t < D:
            read[lay.a_digit(t).start] = read[lay.b_digit(t).start] = 10.0 / lam
        if t >= 1:
            read[lay.carry_in(t)] += 0.5 / lam
            bias += 0.5
        gate = np.zeros(L)
        gate[lay.due(t)] = 0.5 * gate_k / lam  # gate_k * (O01 - 1) = gate_k (O - 1) / 2
        values = list(range(20 if t < D else 2))
        M1, b1, M2, a0 = build_kink_MLP(values, [tok[v % 10] for v in values])
        for i in range(M1.shape[1]):
            layer["M1"][:, u] = read * M1[0, i] + gate
            layer["b1"][u] = bias * M1[0, i] + b1[i] - 0.5 * gate_k
            layer["M2"][u, :4] = M2[i]
            u += 1
        layer["M1"][lay.due(t), u] = 0.5 / lam  # the group's constant term, also gated
        layer["b1"][u] = 0.5
        layer["M2"][u, :4] = a0
        u += 1
    layer["M1"][lay.eos_due, u] = 0.5 / lam
    layer["b1"][u] = 0.5
    layer["M2"][u, :4] = tok[EOS]
    return layer


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

    def exhaustive():
        top = 10 ** D
        return (make_prompt(str(a), str(b)) for a in range(top) for b in range(top))

    return Task(params=params, encode=lambda text: make_prompt(*parse_sum(text, D)),
                render=_render, steps=steps,
                reference=reference, sample=sample, exhaustive=exhaustive if D <= 2 else None,
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
