"""Long addition's four layers, one recipe each (the steps 1-4 of
``constructions.long_addition``'s docstring), written in ``Layout``'s logical coordinates."""
from __future__ import annotations

import numpy as np

from constructions.long_addition_layout import (
    BIG, CARRY, EG_RADIUS, GAMMA, SOFT, Plan, eg_state, token_block,
)
from taotp.blocks import build_MLP
from taotp.circuits import build_kink_MLP, circle_rotation, hardness, rotation_2d
from taotp.model import base_layer


def layer1(plan: Plan) -> dict:
    """Step 1 of ``constructions.long_addition``: read the target's token; spikes on ``s / 10``
    write ``value`` and ``carry_state`` and erase both token blocks."""
    lay, code_dims, width = plan.lay, plan.code_dims, plan.logical_width
    layer = base_layer(n_heads=1, d_model=width, d_ff=3 * 19 + 4, d_head=code_dims)
    lam = plan.scale(plan.norm2_attn1)
    layer["Q"][0, lay.target, :] = np.eye(code_dims) * hardness(lam, code_dims, plan.gap, SOFT)
    layer["K"][0, lay.position, :] = np.eye(code_dims)
    layer["V"][0, lay.token, :2] = np.eye(2) / lam
    layer["P"][0, lay.read_token, :2] = np.eye(2)
    # Spikes on x(own) + x(read) = s / 10 (scaled by layer norm) write value and carry_state
    # relative to the biases (value of 0, carry state "no carry"), which every other position
    # keeps. Spikes, not
    # kinks: later layers compare these blocks' norms to 1e-6.
    lam_m = plan.scale(plan.norm2_mlp1)
    base = np.zeros(width)
    base[lay.value], base[lay.carry_state] = token_block(0.0), eg_state(0)
    x0s, a0s = [], []
    for s in range(19):
        out = np.zeros(width)
        out[lay.value] = token_block(s % 10 / 10)
        out[lay.carry_state] = eg_state(2 if s == 9 else int(s >= 10))
        x0s.append(lam_m * s / 10)
        a0s.append(out - base)
    M1, b1, M2, b2 = build_MLP(x0s, a0s)
    layer["M1"][lay.token.start, :57] = M1[0]
    layer["M1"][lay.read_token.start, :57] = M1[0]
    layer["b1"][:57], layer["M2"][:57] = b1, M2
    layer["b2"] = b2 + base
    # Erase T and B: four units pass them through, shifted above 0, and subtract them.
    offset = 4.0 * lam_m
    for u, dim in enumerate(range(4)):
        layer["M1"][dim, 57 + u] = 1.0
        layer["b1"][57 + u] = offset
        layer["M2"][57 + u, dim] = -1.0 / lam_m
        layer["b2"][dim] += offset / lam_m
    return layer


def _ramp_step(plan: Plan) -> float:
    """Smallest drop of the ramp ``3 sin(GAMMA - 2 pi delta / P1)`` per step, delta <= n + 1."""
    delta = np.arange(plan.n + 2)
    f = 3 * np.sin(GAMMA - 2 * np.pi * delta / plan.periods[0])
    return float(np.min(f[:-1] - f[1:]))


def layer2(plan: Plan) -> dict:
    """Step 2: the pointer ``P``, the most recent digit with ``s != 9`` (a ramp plus a bonus)."""
    lay, code_dims, width = plan.lay, plan.code_dims, plan.logical_width
    d_head = max(3, code_dims)
    layer = base_layer(n_heads=1, d_model=width, d_ff=0, d_head=d_head)
    lam = plan.scale(plan.norm2_layer2)
    c1 = slice(lay.position.start, lay.position.start + 2)
    # Ramp: <code1(m), code1(q) rotated by pi/2 - GAMMA> = 3 sin(theta_m - theta_q + GAMMA),
    # rising with m over every key a query can see (period 8 (n + 1) > 8 (3 n + 2) / 3).
    h = hardness(lam, d_head, _ramp_step(plan), SOFT)
    layer["Q"][0, c1, :2] = rotation_2d(np.pi / 2 - GAMMA) * h
    layer["K"][0, c1, :2] = np.eye(2)
    # Bonus for s != 9: V's second coordinate is in [1.49, 1.74] everywhere, a constant
    # enough query; EG's second coordinate is EG_RADIUS / 2 if s != 9, -EG_RADIUS if s = 9.
    v_min = float(token_block(0.9)[1])
    layer["Q"][0, lay.value.start + 1, 2] = 2.0 * h * 6 / (1.5 * EG_RADIUS * v_min)
    layer["K"][0, lay.carry_state.start + 1, 2] = 1.0
    layer["V"][0, lay.position, :code_dims] = np.eye(code_dims) / lam
    layer["P"][0, lay.pointer, :code_dims] = np.eye(code_dims)
    return layer


def layer3(plan: Plan) -> dict:
    """Step 3: ``Q = P`` one position back; ``P`` and ``V`` of the stored target; two heads
    erase the old ``pointer``, ``value`` and ``target`` (proper cleanup)."""
    lay, code_dims, width = plan.lay, plan.code_dims, plan.logical_width
    d_head = code_dims + 2
    layer = base_layer(n_heads=4, d_model=width, d_ff=0, d_head=d_head)
    lam = plan.scale(plan.norm2_layer3)
    h = hardness(lam, d_head, plan.gap, SOFT)
    for head in range(4):
        layer["K"][head, lay.position, :code_dims] = np.eye(code_dims)
    # Head 0: Q = P one position back.
    layer["Q"][0, lay.position, :code_dims] = circle_rotation(plan.periods, -1) * h
    layer["V"][0, lay.pointer, :code_dims] = np.eye(code_dims) / lam
    layer["P"][0, lay.target, :code_dims] = np.eye(code_dims)
    # Head 1: P and V of the stored target (an output reads P(i) and s_i from b_i); head 2
    # attends to itself and erases the old P and V, head 3 the old CQ (proper cleanup).
    layer["Q"][1, lay.target, :code_dims] = np.eye(code_dims) * h
    for head, sign in ((1, 1.0), (2, -1.0)):
        layer["V"][head, lay.pointer, :code_dims] = np.eye(code_dims) / lam
        layer["V"][head, lay.value, code_dims:] = np.eye(2) / lam
        layer["P"][head, lay.pointer, :code_dims] = sign * np.eye(code_dims)
        layer["P"][head, lay.value, code_dims:] = sign * np.eye(2)
    layer["Q"][2, lay.position, :code_dims] = np.eye(code_dims) * h
    layer["Q"][3, lay.position, :code_dims] = np.eye(code_dims) * h
    layer["V"][3, lay.target, :code_dims] = np.eye(code_dims) / lam
    layer["P"][3, lay.target, :code_dims] = -np.eye(code_dims)
    return layer


def layer4(plan: Plan) -> dict:
    """Step 4: the match (query ``P``, key ``Q``, a bonus for ``s != 9``) adds the carry; kinks
    map ``x(value)`` to the output token."""
    lay, code_dims, width = plan.lay, plan.code_dims, plan.logical_width
    d_head = code_dims + 1
    layer = base_layer(n_heads=1, d_model=width, d_ff=19, d_head=d_head)
    lam = plan.scale(plan.norm2_layer3)
    h = hardness(lam, d_head, plan.gap, SOFT)
    layer["Q"][0, lay.pointer, :code_dims] = np.eye(code_dims) * h
    layer["K"][0, lay.target, :code_dims] = np.eye(code_dims)
    # s = 9 keys share Q with the wanted key; a bonus for s != 9 settles it.
    v_min = float(token_block(0.9)[1])
    layer["Q"][0, lay.value.start + 1, code_dims] = 2 * hardness(
        lam, d_head, 1.5 * EG_RADIUS * v_min, SOFT)
    layer["K"][0, lay.carry_state.start + 1, code_dims] = 1.0
    # The carry: EG's first coordinate is -EG_RADIUS cos 30 (no carry) or +EG_RADIUS cos 30.
    unit = EG_RADIUS * np.cos(np.radians(30.0))
    layer["V"][0, lay.carry_state.start, 0] = 1.0 / (lam * unit)
    layer["P"][0, lay.value.start, 0] = CARRY / 2
    # Kinks on x(V) after layer norm (the norm depends only on the case): the output
    # token's direction, times BIG.
    x0s, a0s = [], []
    for v in range(10):
        for carry in (0, 1):
            block = token_block(v / 10) + [(carry - 0.5) * CARRY, 0.0]
            norm2 = plan.norm2_layer3 - 3 + float(block @ block)
            x0s.append(block[0] * plan.scale(norm2))
            out = np.zeros(width)
            out[lay.token] = token_block((v + carry) % 10 / 10) * BIG
            a0s.append(out)
    M1, b1, M2, b2 = build_kink_MLP(x0s, a0s)
    layer["M1"][lay.value.start] = M1[0]
    layer["b1"], layer["M2"], layer["b2"] = b1, M2, b2
    return layer
