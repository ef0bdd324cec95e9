"""DECIMAL ADDITION and its modular warm-ups (Chapter 6): one layer, with an MLP.

Tokens: digits 0-9 are ids 0-9, '+' is 10 and '=' is 11. Numbers are zero-padded to
``n_digits``, most significant digit first.

- SINGLE DIGIT MOD (Figure 6.2, Section 6.6): two digits ``[a, b]`` -> ``(a + b) % 10``.
  Vocabulary 10, block 2, d_model 4 (``[x, 1, a, -x-a-1]``, fixed under layer norm, with
  ``x = digit / 100``), one head reading the average of both digits, and the spike MLP of
  Theorem 6.1 (d_ff 3 * 19) mapping the 19 possible sums to output embeddings; messy cleanup
  (factors 1e4 and 1e10). 629 parameters, 379 non-zero (as the book).
- MULTI-DIGIT MOD (Figure 6.3, Section 6.7): ``a + b =`` -> the units digit of ``a + b``.
  d_model 7 (4 token + 3 position), ``2 n + 1`` heads (one per input digit, attending back by
  a fixed offset, plus a proper-cleanup head), d_ff ``3 (2 * 10**n - 1)``. Parameters for
  n = 1, 2, 3: 1,226 / 9,508 / 90,690 (as the book); non-zero 430 / 3,638 / 35,544 (the book:
  432 / 3,646 / 35,542). The MLP's non-zero counts equal the book's (336 / 3,522 / 35,382),
  so the difference lies in the attention weights, presumably in ``Q``: the book solves a
  singular system for its rotation matrices with LAPACK, so which entries come out exactly
  zero differs from our closed-form ``pos_3d_enc_rotation_matrix`` (where, e.g., rotations by
  2 pi / 3 are exact permutations and the rotation by 0 the exact identity). The count is
  machine-dependent: the book's own solve, run here, gives ``Q`` 20 / 36 / 53 non-zero
  entries (ours 21 / 27 / 57), matching neither the book's totals nor ours.
- DECIMAL ADDITION (Figure 6.4, Section 6.8): ``a + b =`` -> the ``n + 1`` digits of the sum,
  zero-padded as in the book ("04+02" -> "006"). Heads attend to *absolute* positions (the
  query is the constant dimension 1 times the target position); the last head also cleans up
  and adds the first position dimension to the sum, so the MLP's one input encodes both the
  sum and which output digit is due. d_ff ``(n + 1) * 3 * (2 * 10**n - 1)``. Parameters for
  n = 1, 2, 3: 2,088 / 27,432 / 360,576 (as the book); non-zero 735 / 10,438 / 139,265 (the
  book: 737 / 10,440 / 139,267). The MLP's 648 / 10,326 / 139,128 non-zero are the book's;
  the 2 missing presumably come from the cleanup head's rotation by 0, an exact identity
  here but LAPACK-solved in the book.

Precision: exact in float64 on every input checked (exhaustive up to 2 digits, random and
carry-chain inputs at 3). In float32, SINGLE DIGIT MOD, MULTI-DIGIT MOD with 1 digit and
DECIMAL ADDITION with 1 or 2 digits stay exact; MULTI-DIGIT MOD with 2 or 3 digits and DECIMAL
ADDITION with 3 digits fail on most inputs: the MLP's input points are only 1.4e-6, 1.4e-9 and
3.5e-7 apart (``min_sep``), finer than float32 resolves around 1.

Book bugs fixed: the token-embedding formula is printed ``(-3 * x * 2 - 2 * x + 5) * 0.5``;
the layer-norm derivation in Section 6.4 means ``(-3 * x ** 2 - 2 * x + 5) ** 0.5``. Figure 6.3
(lines 37-39) and Figure 6.4 mix the names ``x0s/a0s`` and ``xOs/aOs``: one list each here.
Figure 6.3 evaluates the MLP's points at ``pos_emb[0]``; we use the position the MLP actually
sees (the '=' token's). Layer norm makes them equal, up to rounding.

The recipes come from ``taotp.blocks``: ``attend_back`` (Figure 6.3's relative reads and the
self-attending cleanup head), ``attend_to`` (Figure 6.4's absolute reads), ``proper_cleanup``
(the book writes ``V = -1, P = +1`` where the block writes ``+1, -1``: the same product),
``messy_cleanup`` and ``build_MLP``. The mixing term of Figure 6.4's last head is set by hand.

>>> [p.make().run(text) for p, text in zip(PROGRAMS, ("7+8", "45+78", "45+78"))]
['5', '3', '123']
"""
from __future__ import annotations

from dataclasses import replace

from itertools import product

import numpy as np

from constructions.addition_text import split_sum
from taotp.blocks import (
    attend_back, attend_to, build_MLP, messy_cleanup, pos_enc_3d_array, proper_cleanup,
)
from taotp.checks import check_int
from taotp.model import base_layer, base_params, layer_norm
from taotp.domains import Indexed
from taotp.program import Option, Program, Task

PLUS, EQUALS = 10, 11
SYMBOLS = "0123456789+="


def digit_embeddings() -> np.ndarray:
    """Rows ``[x, 1, a, -x-a-1]``, ``x = digit / 100``: mean 0 and variance 1 (Section 6.4)."""
    x = np.arange(10) / 100
    a = (-x - 1 + (-3 * x ** 2 - 2 * x + 5) ** 0.5) / 2  # the book prints "* 2" and "* 0.5"
    return np.stack([x, np.ones(10), a, -x - a - 1], axis=1)


def build_single_digit_mod_transformer() -> dict:
    """``[a, b] -> (a + b) % 10`` (Figure 6.2)."""
    params = base_params(vocab_size=10, block_size=2, d_model=4)
    tok_emb = digit_embeddings()
    params["tok_emb"] = params["out_emb"] = tok_emb
    layer0 = base_layer(n_heads=1, d_model=4, d_ff=3 * 19, d_head=4)
    # Q = K = 0: uniform attention over both digits. Scaled for messy cleanup (1e4), for the
    # averaging (2) and to undo tok_emb's 1/100 (100).
    layer0["V"][0, :2, :2] = messy_cleanup(np.eye(2), 1e4)
    layer0["V"][0, 0, 0] *= 2 * 100
    layer0["P"][0, :2, :2] = np.eye(2)
    x0s = [layer_norm(np.array([i * 1e4, 1e4, 0.0, 0.0]))[0] for i in range(19)]
    a0s = [messy_cleanup(tok_emb[i % 10], 1e10) for i in range(19)]
    layer0["M1"][0], layer0["b1"], layer0["M2"], layer0["b2"] = build_MLP(x0s, a0s)
    params["layers"].append(layer0)
    return params


def _digits_params(n_digits: int, block_size: int) -> tuple[dict, np.ndarray]:
    """Base params with d_model 7: 4 token dimensions, then 3 of position."""
    params = base_params(vocab_size=12, block_size=block_size, d_model=7)
    tok_emb = np.concatenate((digit_embeddings(), np.tile(digit_embeddings()[:1], (2, 1))))
    tok_emb = np.pad(tok_emb, ((0, 0), (0, 3)))  # '+' and '=' are embedded as 0: any normalised
    params["tok_emb"][:] = params["out_emb"][:] = tok_emb
    params["pos_emb"][:] = np.pad(pos_enc_3d_array(block_size), ((0, 0), (4, 0)))
    return params, tok_emb


def build_multi_digit_mod_transformer(n_digits: int) -> dict:
    """``a + b =`` -> units digit of ``a + b``, for ``n_digits``-digit a, b (Figure 6.3)."""
    check_int("n_digits", n_digits, low=1)
    block_size = 2 * n_digits + 2
    params, tok_emb = _digits_params(n_digits, block_size)
    out_range = 2 * 10 ** n_digits - 1
    n_heads = 2 * n_digits + 1  # one head per input digit, one for cleanup
    layer0 = base_layer(n_heads, d_model=7, d_ff=3 * out_range, d_head=3)
    # From '=' the units digit of b is 1 back and that of a n_digits + 2 back.
    for head, (unit_pos, digit) in enumerate(product([1, n_digits + 2], range(n_digits))):
        attend_back(layer0, head, unit_pos + digit, block_size, hardness=1e6)
        layer0["V"][head, 0, 0] = 100 * 10 ** digit  # undo the 1/100, weigh by place
        layer0["P"][head, 0, 0] = 1
    # The cleanup head attends to itself and erases the padding dims (2, 3), so dimension 0
    # is the only one that varies: no large factors needed.
    attend_back(layer0, n_heads - 1, 0, block_size, hardness=1e6)
    proper_cleanup(layer0, n_heads - 1, rows=[2, 3], cols=[0, 1])
    last = params["pos_emb"][block_size - 1, -3:]
    x0s = [layer_norm(np.concatenate(([i, 1.0, 0.0, 0.0], last)))[0] for i in range(out_range)]
    a0s = [messy_cleanup(tok_emb[i % 10], 1e10) for i in range(out_range)]
    layer0["M1"][0], layer0["b1"], layer0["M2"], layer0["b2"] = build_MLP(x0s, a0s)
    params["layers"].append(layer0)
    return params


def build_decimal_addition_transformer(n_digits: int) -> dict:
    """``a + b =`` -> the ``n_digits + 1`` digits of ``a + b``, zero-padded (Figure 6.4)."""
    check_int("n_digits", n_digits, low=1)
    block_size = 3 * n_digits + 2  # the prompt and all output digits but the last
    params, tok_emb = _digits_params(n_digits, block_size)
    out_range = 2 * 10 ** n_digits - 1
    n_heads = 2 * n_digits + 1  # one head per input digit, one to clean up and mix
    layer0 = base_layer(n_heads, d_model=7, d_ff=(n_digits + 1) * 3 * out_range, d_head=3)
    # Read digits at absolute positions: the output position moves, the inputs do not.
    for head, (num_pos, digit) in enumerate(product([0, n_digits + 1], range(n_digits))):
        target = params["pos_emb"][num_pos + n_digits - 1 - digit, -3:]
        attend_to(layer0, head, query_dim=1, target=target, hardness=1e6)
        layer0["V"][head, 0, 0] = 10 ** digit * 100
        layer0["P"][head, 0, 0] = 1 / 100  # the sum arrives as (a + b) / 100
    mix = n_heads - 1
    attend_back(layer0, mix, 0, block_size, hardness=1e6)
    proper_cleanup(layer0, mix, rows=[2, 3], cols=[0, 1])
    # Replace the current token's own value in dim 0 by the first position dimension, so the
    # MLP's single input tells both the sum and which digit to emit.
    layer0["V"][mix, 0, -1] = -1
    layer0["V"][mix, -3, -1] = 1
    layer0["P"][mix, 0, -1] = 1
    x0s, a0s = [], []
    for i in range(out_range):
        for p in params["pos_emb"][-n_digits - 1:, -3:]:  # where the output digits are due
            x0s.append(layer_norm(np.concatenate(([i / 100 + p[0], 1.0, 0.0, 0.0], p)))[0])
        for digit in range(n_digits, -1, -1):
            a0s.append(messy_cleanup(tok_emb[i // 10 ** digit % 10], 1e10))
    layer0["M1"][0], layer0["b1"], layer0["M2"], layer0["b2"] = build_MLP(x0s, a0s)
    params["layers"].append(layer0)
    return params


# --- Registry: parsing, references and test inputs -------------------------------------

def _render(ids) -> str:
    return "".join(SYMBOLS[int(i)] for i in ids)


def _parse_sum(text: str, n_digits: int) -> tuple[int, int]:
    a, b = split_sum(text, n_digits)
    return int(a), int(b)


def _digits(value: int, width: int) -> list[int]:
    return [int(c) for c in str(value).zfill(width)]


def _prompt(a: int, b: int, n_digits: int) -> np.ndarray:
    return np.array(_digits(a, n_digits) + [PLUS] + _digits(b, n_digits) + [EQUALS])


def _operands(prompt, n_digits: int) -> tuple[int, int]:
    a = int("".join(map(str, prompt[:n_digits])))
    return a, int("".join(map(str, prompt[n_digits + 1:2 * n_digits + 1])))


def _nasty_pairs(n_digits: int) -> list[tuple[int, int]]:
    """Extremes and carry chains: sums of all 9s, sums of 10**k, every carry position."""
    top = 10 ** n_digits - 1
    pairs = {(0, 0), (top, top), (top, 1), (1, top), (top, 0), (0, top)}
    for k in range(n_digits + 1):
        for total in (10 ** k - 1, 10 ** k):
            splits = {0, 1, total // 2 - 1, total // 2, total // 2 + 1, total - 1, total}
            splits |= {a for j in range(k + 1) for a in (10 ** j - 1, 10 ** j, total - 10 ** j)}
            for a in splits:
                if 0 <= a <= top and 0 <= total - a <= top:
                    pairs.add((a, total - a))
    half = 5 * 10 ** (n_digits - 1)
    pairs |= {(half, half), (half - 1, half + 1), (half, half - 1)}
    return sorted(pairs)


def _digit_columns(values: np.ndarray, width: int) -> np.ndarray:
    """``_digits`` of many values at once: ``(k, width)``, most significant first."""
    return values[:, None] // 10 ** np.arange(width - 1, -1, -1, dtype=np.int64) % 10


def _sum_task(n_digits: int, build, width: int) -> Task:
    """The task whose answer is the last ``width`` digits of ``a + b``, zero-padded."""
    params = build(n_digits)
    top = 10 ** n_digits

    def sample(rng, count):
        return [_prompt(int(a), int(b), n_digits) for a, b in rng.integers(0, top, (count, 2))]

    def exhaustive_at(i):
        return _prompt(*divmod(i, top), n_digits)

    def batch(index):  # pair index a * top + b, as `exhaustive_at` orders them
        a, b = index // top, index % top
        prompts = np.concatenate((_digit_columns(a, n_digits), np.full((len(a), 1), PLUS),
                                  _digit_columns(b, n_digits), np.full((len(a), 1), EQUALS)),
                                 axis=1)
        return prompts, _digit_columns((a + b) % 10 ** width, width)

    return Task(params=params, encode=lambda text: _prompt(*_parse_sum(text, n_digits), n_digits),
                render=_render, steps=lambda prompt: width,
                reference=lambda prompt: np.array(
                    _digits(sum(_operands(prompt, n_digits)) % 10 ** width, width)),
                sample=sample,
                exhaustive=lambda: Indexed(top * top, exhaustive_at, batch),  # built lazily
                adversarial=lambda: [_prompt(a, b, n_digits) for a, b in _nasty_pairs(n_digits)],
                options=dict(n_digits=n_digits))


def make_single_digit_mod() -> Task:
    """SINGLE DIGIT ADDITION MOD 10 (Section 6.6) as a task: ``a + b mod 10`` for two digits."""
    def encode(text):
        compact = text.replace("+", " ").split()
        if not compact:
            raise ValueError("empty input: expected two digits like '7+8' or '7 8'")
        if len(compact) == 1 and len(compact[0]) == 2 and "+" not in text:
            compact = list(compact[0])  # "78"
        for word in compact:
            if not (len(word) == 1 and word in "0123456789"):
                raise ValueError(f"{word!r} is not a single digit 0-9")
        if len(compact) != 2:
            raise ValueError(f"expected exactly two digits, got {len(compact)}")
        return np.array([int(w) for w in compact])

    return Task(params=build_single_digit_mod_transformer(), encode=encode, render=_render,
                steps=lambda prompt: 1,
                reference=lambda prompt: np.array([(int(prompt[0]) + int(prompt[1])) % 10]),
                sample=lambda rng, count: list(rng.integers(0, 10, (count, 2))),
                exhaustive=lambda: Indexed(100, lambda i: np.array(divmod(i, 10))),
                adversarial=lambda: [np.array(p) for p in ((0, 0), (9, 9), (9, 1), (5, 5))])


_DIGITS = Option("n_digits", int, 2, "digits per number", flag="--digits", low=1, cap=6)
# The MLP's input points crowd together as 10**-n: the largest n where float64 still
# separates them was measured (tests/test_limits.py checks the limit and one past it).
_MOD_DIGITS = replace(_DIGITS, high=3, beyond=(
    "at 4 digits its MLP points are closer than float64 resolves (11 of 194 inputs wrong, "
    "measured)"))
_ADD_DIGITS = replace(_DIGITS, high=4, beyond=(
    "at 5 digits its MLP points are closer than float64 resolves (every random input wrong, "
    "measured); use long-addition, exact to 10,000 digits"))
_MOD_BOOK = {1: (1_226, 432), 2: (9_508, 3_646), 3: (90_690, 35_542)}
_ADD_BOOK = {1: (2_088, 737), 2: (27_432, 10_440), 3: (360_576, 139_267)}


def make_multi_digit_mod(n_digits: int = 2) -> Task:
    """MULTI-DIGIT ADDITION MOD 10 (Section 6.7) as a task: the units digit of ``a + b``."""
    return _sum_task(n_digits, build_multi_digit_mod_transformer, width=1)


def make(n_digits: int = 2) -> Task:
    """DECIMAL ADDITION (Section 6.8) as a task: the ``n_digits + 1`` digits of ``a + b``."""
    return _sum_task(n_digits, build_decimal_addition_transformer, width=n_digits + 1)


def _book(table):
    def book_size(n_digits=2):
        if n_digits not in table:
            return None
        return {"n_params": table[n_digits][0], "non0": table[n_digits][1]}
    return book_size


PROGRAMS = (
    Program(name="single-digit-mod", title="SINGLE DIGIT ADDITION MOD 10", section="6.6",
            summary="Add two digits mod 10: attention averages them, an MLP decodes the sum.",
            input_format="two digits, e.g. '7+8' or '7 8'",
            build=make_single_digit_mod, examples=("7+8", "0 0", "9 9"),
            book_size=lambda: {"n_params": 629, "non0": 379}),
    Program(name="multi-digit-mod", title="MULTI-DIGIT ADDITION MOD 10", section="6.7",
            summary="The units digit of the sum of two n-digit numbers.",
            input_format="two numbers of at most n digits, e.g. '12+33'",
            build=make_multi_digit_mod,
            options=(_MOD_DIGITS,), examples=("12+33", "99+99", "5+7"),
            book_size=_book(_MOD_BOOK),
            sizes=({"n_digits": 1}, {"n_digits": 3}),
            float32=lambda n_digits: "" if n_digits < 2 else (
                "from 2 digits on, the MLP's input points are 1.4e-6 apart or less, finer "
                "than float32 resolves.")),
    Program(name="addition", title="DECIMAL ADDITION", section="6.8",
            summary="Add two n-digit numbers; the n+1 digits of the sum, zero-padded.",
            input_format="two numbers of at most n digits, e.g. '45+78' -> '123', '4+2' -> '006'",
            build=make,
            options=(_ADD_DIGITS,), examples=("45+78", "99+99", "4+2"),
            book_size=_book(_ADD_BOOK),
            sizes=({"n_digits": 1}, {"n_digits": 3}),
            float32=lambda n_digits: "" if n_digits <= 2 else (
                "from 3 digits on, the MLP's input points are 3.5e-7 apart or less, finer "
                "than float32 resolves.")),
)
