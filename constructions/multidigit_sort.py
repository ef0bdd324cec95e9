"""SORT of multi-digit numbers (Exercise 5.7, reconstructed): numbers written as several digit
tokens, sorted one digit per decoding step, with Chapter 6's machinery (digits gathered by
relative position, spike/step MLPs).

Format: ``count`` numbers of exactly ``digits`` decimal digits (zero-padded), each followed
by a separator: ``,`` between numbers, ``=`` after the last. The prompt is ``<bos>`` then
those tokens, e.g. ``<bos> 0 4 2 , 3 1 7 , 0 0 5 =`` ("042 317 005"); the output is the
numbers in ascending order, repeats repeated, in the same format without the final ``=``:
``0 0 5 , 0 4 2 , 3 1 7`` ("005 042 317"), ``count * (digits + 1) - 1`` steps.

The mechanism: decide the next digit by counting, never by comparing numbers. Say the
output is writing ``o_k`` (the k-th smallest) and has written its first ``e`` digits ``A``.
The outputs already finished with prefix ``A`` are ``O = k - m`` (``m`` = inputs below prefix
``A``), and ``o_k``'s digit e is at least ``d`` exactly when ``I_d <= O``, ``I_d`` = inputs with
prefix ``A`` and digit e below ``d``. So digit e = ``#{d in 1..9 : I_d <= O}``: equality tests
on digits and counts, which hard attention does exactly.

Layers (w = digits, ``p mod (w+1)`` = e, the index of the token a position emits; all
features live on Helmert directions, ``taotp.search_blocks.helmert_basis``, so layer norm is a
pure rescaling whose factor the weights divide out):

- Layer 0: one head finds ``=`` (if in view) and turns the position's flag to "output"; an
  MLP (10 units) moves output digits to their own one-hot, so inputs and outputs differ.
- Layer 1: w heads attend 1..w back (``attend_back``, Section 3.2) and copy digit one-hots,
  input and output kept apart: a separator then holds its whole number, a digit position the
  digits before it.
- Layer 2: 9w heads, one per (e, d). The query (a position emitting digit e) asks for
  separators whose first e digits equal ``A`` (read from its own window) and, for inputs,
  digit e below d (outputs match on ``A`` alone); each match is worth N = 30 nats, so the
  matched keys share the attention evenly. Values are +1 (input), -1 (output), and ``<bos>``
  scores ln(1/2) under a match with value -1: the average has the sign of
  ``I_d - O - 1/2``, at least ``1/2 / (2 count)`` away from 0. The MLP turns each sign into
  a step (gated by e; ``step_units``), and the telescoping sum of the 9 steps writes the
  digit's token (the tied output embedding reads it); e = w writes the separator.

Size (``digits=3, count=10``): 3 layers, d_model 121 (30w + 31), heads 1 / 3 / 27 (9w),
d_head 33 (10w + 3, the counting heads'), d_ff 56 (18w + 2): 488,422 parameters, 58,879
non-zero (``count_params``); the counting layer's 4 x 9w x d_model x (10w + 3) dominates, so
the size grows as w^3, and block_size = 2 count (w + 1) only adds pos_emb rows.
Exact in float64 and float32 (``tests/test_multidigit_sort.py``): exhaustive to 1 digit x 4
numbers and 2 digits x 2 numbers, seeded random and nasty inputs at 4 digits x 50 numbers
(the proven limits; the gap the steps read shrinks as 1/count, the scores do not grow).

>>> task = make(digits=2, count=3)
>>> task.run("42 07 42")
'07 42 42'
"""
from __future__ import annotations

import itertools

import numpy as np

from taotp.blocks import HARDER, attend_back, pos_enc_3d_array
from taotp.checks import check_int, check_text
from taotp.domains import Counted
from taotp.model import base_layer, base_params
from taotp.program import Option, Program, Task
from taotp.search_blocks import helmert_basis, relu_units, step_units

COMMA, END, BOS = 10, 11, 12
N = 30.0  # nats per matched feature in the counting heads
N_FLAG = 40.0  # nats by which "=" wins the flag head
DELTA = 1e-2  # scale of the counts in the residual (layer norm barely sees them)
RHO = 0.5  # <bos> weighs half a matched number
B_OUT = 10.0  # the answer token's feature (others stay at most ~1)
_EXHAUSTIVE_LIMIT = 120_000


class _Layout:
    """Feature indices: TOK 13, ONE, FLAG in/out, E (w+1), CIRC 3, OUTDIG 10, RIN/ROUT
    w x 10 (slot r = r back), C 9w (the counts)."""

    def __init__(self, w: int):
        sizes = dict(tok=13, one=1, flag=2, e=w + 1, circ=3, outdig=10, rin=10 * w,
                     rout=10 * w, c=9 * w)
        self.start, at = {}, 0
        for name, size in sizes.items():
            self.start[name] = at
            at += size
        self.F, self.w = at, w

    def __getitem__(self, name):
        return self.start[name]

    def slot(self, kind: str, r: int) -> int:
        """First index of slot r (1..w) of ``rin``/``rout``; ``rout`` slot 0 is OUTDIG."""
        return self["outdig"] if (kind, r) == ("rout", 0) else self[kind] + 10 * (r - 1)


def build_multidigit_sort_transformer(digits: int = 3, count: int = 10) -> dict:
    """Weights sorting up to ``count`` numbers of ``digits`` digits (see the module doc)."""
    w, n_max = check_int("digits", digits, low=1), check_int("count", count, low=1)
    L = _Layout(w)
    F = L.F
    block_size = 2 * n_max * (w + 1)
    d = F + 1
    lam0 = (d / 7.0) ** 0.5  # layer norm's factor in layers 0 and 1 (features of norm^2 7)
    lam_sep, lam_dig, lam_bos = ((d / (7.0 + k)) ** 0.5 for k in (w, w - 1, 0))

    tok = np.zeros((13, F))
    tok[np.arange(13), np.arange(13)] = 1.0
    pos = np.zeros((block_size, F))
    pos[:, L["one"]] = pos[:, L["flag"]] = 1.0
    pos[np.arange(block_size), L["e"] + np.arange(block_size) % (w + 1)] = 1.0
    pos[:, L["circ"]:L["circ"] + 3] = pos_enc_3d_array(block_size)

    # Layer 0: the flag head and the MLP that moves output digits to OUTDIG.
    l0 = base_layer(1, F, 10, 1)
    l0["Q"][0, L["one"], 0] = N_FLAG / lam0 ** 2
    l0["K"][0, END, 0] = l0["V"][0, END, 0] = 1.0
    l0["P"][0, L["flag"], 0], l0["P"][0, L["flag"] + 1, 0] = -1.0 / lam0, 1.0 / lam0
    for x in range(10):
        l0["M1"][[x, L["flag"] + 1], x] = 1.0 / lam0
        l0["b1"][x] = -1.5
        l0["M2"][x, [L["outdig"] + x, x]] = 2.0, -2.0

    # Layer 1: head r - 1 copies the digits r back into slot r.
    l1 = base_layer(w, F, 0, 20)
    circ = slice(L["circ"], L["circ"] + 3)
    for r in range(1, w + 1):
        attend_back(l1, r - 1, r, block_size, dims=circ, head_dims=slice(0, 3), hardness=HARDER)
        for x in range(10):
            l1["V"][r - 1, x, x] = l1["V"][r - 1, L["outdig"] + x, 10 + x] = 1.0
            l1["P"][r - 1, L.slot("rin", r) + x, x] = 1.0 / lam0
            l1["P"][r - 1, L.slot("rout", r) + x, 10 + x] = 1.0 / lam0

    l2 = _count_layer(L, n_max, lam_sep, lam_dig, lam_bos)
    params = base_params(13, block_size, d)
    basis = helmert_basis(d)  # (d, F): features -> model dims, each column perpendicular to 1
    params["tok_emb"] = params["out_emb"] = tok @ basis.T
    params["pos_emb"] = pos @ basis.T
    for layer in (l0, l1, l2):
        for name in "QKVP":
            layer[name] = np.einsum("df,hfk->hdk", basis, layer[name])
        layer["M1"], layer["M2"] = basis @ layer["M1"], layer["M2"] @ basis.T
        layer["b2"] = basis @ layer["b2"]
        params["layers"].append(layer)
    return params


def _count_layer(L: _Layout, n_max: int, lam_sep: float, lam_dig: float, lam_bos: float):
    """Layer 2: the 9w counting heads (e, d) and the MLP that turns their signs into a digit."""
    w, F = L.w, L.F
    dh = 10 * w + 3  # key features: E_0, <bos>, "digit e matches", digits 0..e-1
    layer = base_layer(9 * w, F, 0, dh)
    units = []
    gap = lam_sep * DELTA * (0.5 - RHO / 2) / (2 * n_max + RHO)  # smallest |count| read
    for e in range(w):
        lam_q = lam_sep if e == 0 else lam_dig
        c = N * dh ** 0.5 / (lam_q * lam_sep)
        a_e = (N * (w + 3 + e) + np.log(RHO)) / (N * lam_bos / lam_sep) - (w + 2)
        gate = np.zeros(F)
        gate[L["e"] + e] = 1.0 / lam_q
        for dd in range(1, 10):
            h = 9 * e + dd - 1
            Q, K = layer["Q"][h], layer["K"][h]
            K[L["e"], 0], K[BOS, 1] = 1.0, 1.0
            Q[L["one"], 0], Q[L["one"], 1], Q[L["one"], 2] = (w + 2) * c, a_e * c, c
            K[L.slot("rin", w - e):L.slot("rin", w - e) + dd, 2] = 1.0
            K[L.slot("rout", w - e):L.slot("rout", w - e) + 10, 2] = 1.0
            for i in range(e):
                for kind in ("rin", "rout"):
                    K[L.slot(kind, w - i) + np.arange(10), 3 + 10 * i + np.arange(10)] = 1.0
                Q[L.slot("rout", e - 1 - i) + np.arange(10), 3 + 10 * i + np.arange(10)] = c
            layer["V"][h, L.slot("rin", w):L.slot("rin", w) + 10, 0] = 1.0
            layer["V"][h, L.slot("rout", w):L.slot("rout", w) + 10, 0] = -1.0
            layer["V"][h, BOS, 0] = -lam_sep / lam_bos
            cf = L["c"] + h
            layer["P"][h, cf, 0] = DELTA / lam_sep
            # [count < 0] as a step, on only where e is this head's; the steps telescope.
            w_in, w_out = np.zeros(F), np.zeros(F)
            w_in[cf] = -1.0
            w_out[dd], w_out[dd - 1] = B_OUT, -B_OUT
            units += step_units(w_in, 0.1 * gap, 0.9 * gap, w_out,
                                gate_in=2.5 * DELTA * gate * lam_q,
                                gate_bias=-2.5 * DELTA * lam_q)
    base_in, sep_in, out0, out_sep = np.zeros(F), np.zeros(F), np.zeros(F), np.zeros(F)
    base_in[L["e"]:L["e"] + w] = 1.0 / lam_dig
    sep_in[L["e"] + w] = 1.0 / lam_dig
    out0[0], out_sep[COMMA] = B_OUT, B_OUT
    units += [(base_in, 0.0, out0), (sep_in, 0.0, out_sep)]
    layer["M1"], layer["b1"], layer["M2"], layer["b2"] = relu_units(units, F)
    return layer


def _numbers(prompt, w: int) -> list[int]:
    """The numbers of a prompt (ids), checking its format."""
    ids = [int(t) for t in prompt]
    if len(ids) < w + 2 or ids[0] != BOS or (len(ids) - 1) % (w + 1):
        raise ValueError(f"a prompt is <bos> then numbers of {w} digits, each followed by "
                         "',' (the last by '=')")
    groups = [ids[1 + k:1 + k + w + 1] for k in range(0, len(ids) - 1, w + 1)]
    for k, group in enumerate(groups):
        end = END if k == len(groups) - 1 else COMMA
        if group[-1] != end or any(not 0 <= t <= 9 for t in group[:-1]):
            raise ValueError(f"number {k + 1} of the prompt is not {w} digits then "
                             f"{'=' if end == END else ','}")
    return [int("".join(map(str, g[:-1]))) for g in groups]


def _prompt(numbers, w: int) -> np.ndarray:
    ids = [BOS]
    for k, x in enumerate(numbers):
        ids += [int(c) for c in f"{x:0{w}d}"] + [END if k == len(numbers) - 1 else COMMA]
    return np.array(ids, dtype=np.int64)


def make(digits: int = 3, count: int = 10) -> Task:
    """The task: sort ``1..count`` zero-padded ``digits``-digit numbers (repeats allowed)."""
    w, n_max = digits, count
    params = build_multidigit_sort_transformer(w, n_max)
    top = 10 ** w - 1

    def encode(text: str) -> np.ndarray:
        words = check_text(text).replace(",", " ").split()
        if not words:
            raise ValueError(f"empty input: give 1 to {n_max} numbers of {w} digits")
        if len(words) > n_max:
            raise ValueError(f"{len(words)} numbers do not fit: at most count={n_max}")
        for word in words:
            if len(word) != w or not word.isascii() or not word.isdigit():
                raise ValueError(f"{word!r} is not a number of exactly {w} digits "
                                 f"(zero-pad it, e.g. {'7'.zfill(w)})")
        return _prompt([int(x) for x in words], w)

    def reference(prompt) -> np.ndarray:
        out = _prompt(sorted(_numbers(prompt, w)), w)[1:-1]
        return out

    def render(ids) -> str:
        return "".join(" " if int(t) == COMMA else str(int(t)) if int(t) < 10 else
                       {END: "=", BOS: "<bos>"}[int(t)] for t in ids)

    def sample(rng, n):
        out = []
        for _ in range(n):
            k = int(rng.integers(1, n_max + 1))
            pool = rng.integers(0, top + 1, max(1, int(rng.integers(1, k + 1))))
            out.append(_prompt(rng.choice(pool, k), w))  # few distinct values: repeats
        return out

    def adversarial():
        k, cases = n_max, []
        for x in (0, top, top // 2):
            cases += [[x], [x] * k]
        near = [top - (i % 2) for i in range(k)]  # differ in the last digit only
        cases += [near, near[::-1], [10 ** (w - 1) * (i % 10) for i in range(k)],
                  [(i * 7919) % (top + 1) for i in range(k)], [top, 0] * (k // 2) or [0],
                  list(range(k))[::-1], [top - i for i in range(k)][::-1],
                  [min(top, 10 ** i) for i in range(k)][::-1]]
        return [_prompt([x % (top + 1) for x in c][:k], w) for c in cases]

    size = sum((top + 1) ** k for k in range(1, n_max + 1))

    def exhaustive():
        for k in range(1, n_max + 1):
            for numbers in itertools.product(range(top + 1), repeat=k):
                yield _prompt(numbers, w)

    return Task(params=params, encode=encode, render=render,
                steps=lambda prompt: len(prompt) - 2, reference=reference, sample=sample,
                exhaustive=(lambda: Counted(size, exhaustive)) if size <= _EXHAUSTIVE_LIMIT
                else None,
                adversarial=adversarial, options=dict(digits=digits, count=count))


PROGRAMS = (
    Program(
        name="multidigit-sort", title="SORT of multi-digit numbers", section="Exercise 5.7",
        summary="Sort numbers written as several digit tokens (repeats allowed), one digit "
                "per step, by counting matched prefixes with hard attention.",
        input_format="numbers of exactly --digits digits (zero-padded), separated by spaces, "
                     "e.g. '042 317 005'",
        build=make,
        options=(Option("digits", int, 3, "digits per number", low=1, high=4, cap=8),
                 Option("count", int, 10, "most numbers in an input", low=1, high=50,
                        cap=1000)),
        examples=("042 317 005", "999 998 999 000"),
    ),
)
