"""Unpadded addition's four layers, one recipe each (the steps 1-4 of
``constructions.unpadded_addition``'s docstring), written in ``Layout``'s coordinates."""
from __future__ import annotations

import numpy as np

from constructions.unpadded_addition_layout import (
    BIG, EOS, FOUND, SOFT, Plan, token_table, value_block,
)
from taotp.circuits import build_kink_MLP, circle_rotation, hardness
from taotp.model import base_layer


def layer1(plan: Plan) -> dict:
    """Two heads find the '+' and the '='; the MLP writes the digit just read of a and of b."""
    lay, L = plan.lay, plan.lay.width
    layer = base_layer(n_heads=2, d_model=L, d_ff=29, d_head=4)
    lam = plan.scale(plan.norm2_attn1)
    # Token scores: '+' sqrt(3), <bos> 1.22, the rest <= 0 (third coordinate; fourth for '=').
    h = hardness(lam, 4, 3 ** 0.5 - 1.5 ** 0.5, SOFT)
    half = 1.5 ** 0.5
    blocks = ((2, lay.plus_code, lay.plus_found), (3, lay.equals_code, lay.equals_found))
    for head, (axis, code, found) in enumerate(blocks):
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


def layer2(plan: Plan) -> dict:
    """Heads read every digit pair and the '=' thermometer; the MLP writes 3 bits per sum."""
    lay, L, D = plan.lay, plan.lay.width, plan.D
    n_heads = 3 * D + 2
    layer = base_layer(n_heads=n_heads, d_model=L, d_ff=18 * D, d_head=2)
    lam = plan.scale(plan.norm2_attn2)
    h = hardness(lam, 2, plan.gap, SOFT)
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


def layer3(plan: Plan) -> dict:
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


def layer4(plan: Plan) -> dict:
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
