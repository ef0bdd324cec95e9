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

The weights are built in ``constructions.addition_weights`` (from ``taotp.blocks``' recipes);
the builders are importable from here.

>>> [p.make().run(text) for p, text in zip(PROGRAMS, ("7+8", "45+78", "45+78"))]
['5', '3', '123']
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from constructions.addition_text import split_sum
from constructions.addition_weights import (  # noqa: F401  (digit_embeddings: re-exported)
    build_decimal_addition_transformer, build_multi_digit_mod_transformer,
    build_single_digit_mod_transformer, digit_embeddings,
)
from taotp.domains import Indexed
from taotp.program import Option, Program, Task

PLUS, EQUALS = 10, 11
SYMBOLS = "0123456789+="


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
