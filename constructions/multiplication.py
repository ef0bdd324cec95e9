"""DECIMAL MULTIPLICATION (Exercise 6.21, which the book leaves open): two layers, O(n^2) size.

Tokens: digits 0-9, '*' = 10, '=' = 11. The prompt is ``a*b=`` with both factors zero-padded
to ``n`` digits, most significant first (the book's addition convention): ``a_i`` (digit of
weight 10^i) at position ``n - 1 - i``, '*' at ``n``, ``b_i`` at ``2 n - i``, '=' at
``2 n + 1``. Greedy decoding emits the ``2 n`` digits of ``a b`` LEAST significant first:
digit ``m`` is predicted at position ``p_m = 2 n + 1 + m``, so the token there is the digit
``d_(m-1)`` the model emitted one step before (carries flow upwards, and the model reads its
own lower digits instead of recomputing them). ``render`` shows an output most significant
first ("12*34" -> "0408"); ids that contain '*' or '=' (a prompt) render in order.

With ``col_m = sum_i a_i b_(m-i)``, ``s_k = col_k + c_k``, ``d_k = s_k mod 10`` and
``c_(k+1) = s_k div 10``, the identity ``sum_(j<k) col_j 10^j = sum_(j<k) d_j 10^j + c_k 10^k``
gives ``s_k = sum_(m<=k) 10^(m-k) v_m`` with ``v_m = col_m - d_(m-1) / 10``: every term is
known at its own position. Two layers:

1. ``2 n`` heads gather the digits: head ``i`` reads ``a_i``, head ``n + i`` reads
   ``b_(m-i)``, or a zero ('*' or '=', whose digit value is 0) where ``m - i`` is out of range.
   Each query names its target position ``t`` (a constant, or a per-position value the
   position embedding stores) and the key of position ``j`` is ``(2 j, -j^2)``, so the score
   ``t^2 - (j - t)^2`` peaks exactly at ``t`` (quadratic maximisation). The MLP forms
   ``a b = (a + b)^2 / 4 - (a - b)^2 / 4``: Theorem 6.1's spikes on ``a + b`` (19 values) and
   ``a - b`` (19 values) write each half as a point of its own circle (114 units a digit).
2. One head whose score ``(m - n) ln 10`` does not depend on the query weighs the output
   positions ``10^(m-k)``; its value is ``v_m`` (the halves summed, minus the token's digit
   over 10), 0 at the prompt, and the '*' holds the weight ``1/9`` of the missing tail
   ``sum_(m<0) 10^m``, so the head reads exactly ``0.9 s_k``. ``s_k`` is an integer below
   ``s_max`` (its value for 99..9 x 99..9, about 90 n): the MLP is ``s_max`` rounding steps
   (two units each) that write the token of ``s_k mod 10``, times a large factor.

Layer norm is a known constant: every block the attention reads is a point of a fixed norm
(tokens, digits and product halves on circles, the position block padded to one norm), built
in logical coordinates and embedded mean-free (``taotp.circuits.mean_free``).

Sizes: 2 layers; d_model ``9 n + 11``; heads ``2 n`` (d_head 2) and 1 (d_head 1); d_ff
``114 n`` and ``2 s_max``; block size ``4 n + 1``. Parameters ``~ 5,500 n^2``: 12,096 at one
digit, 69,376 at three, 614,879 at ten and 55,399,049 at 100 (``bench/multiplication.py``).

float32: exact up to ``FLOAT32_MAX`` = 15 digits, measured the way ``run`` decodes (one new
row at a time through the key/value cache). The rounding MLP of the second layer is a spike
MLP over ``s_max ~ 90 n`` points whose active units sum large cancelling terms, so its
float32 output depends on the order BLAS adds them in: a batched pass (teacher-forced
``verify --backend dense``) is right to 100 digits, but the one-row products of cached
decoding lose the worst logit margin as about ``n^2`` (2.1 at 10 digits, 1.2 at 15, 0.58 at
20; dense 2.3 to 3.2) and give wrong digits from 22 digits on (3 of 124 inputs at 25; 62 of
the 101 digits of one 50-digit product). Past 15 digits ``run`` warns on stderr.

>>> task = PROGRAMS[0].make(n_digits=2)
>>> task.run("12*34"), task.run("99*99"), task.run("0*7")
('0408', '9801', '0000')
"""
from __future__ import annotations

import numpy as np

from constructions.addition_text import split_operands
from constructions.multiplication_layers import (
    EQUALS, STAR, Plan, circle_point, layer1, layer2, token_points,
)
from taotp.circuits import mean_free
from taotp.model import base_params
from taotp.domains import Indexed
from taotp.program import Option, Program, Task

SYMBOLS = "0123456789*="
MAX_DIGITS = 100  # measured exact in float64 up to here (tests, bench)
FLOAT32_MAX = 15  # measured exact in float32, decoded as run decodes, up to here
_BEYOND = ("verified on seeded random and nasty pairs up to 100 digits (55M parameters, "
           "tests/test_multiplication.py, slow); not measured beyond")


def build_multiplication_transformer(n_digits: int) -> dict:
    """``a * b =`` -> the ``2 n_digits`` digits of ``a b``, least significant first."""
    if isinstance(n_digits, bool) or not isinstance(n_digits, (int, np.integer)) \
            or not 1 <= n_digits <= MAX_DIGITS:
        raise ValueError(f"n_digits must be an integer in 1..{MAX_DIGITS}, got {n_digits!r} "
                         f"(exactness is measured only that far, and the size grows as n^2)")
    plan = Plan(int(n_digits))
    layout = plan.layout
    params = base_params(vocab_size=12, block_size=plan.block_size, d_model=layout.width)
    params["tok_emb"][:, layout.token] = token_points()
    values = np.concatenate((np.arange(10) / 10, [0.0, 0.0]))  # '*' and '=' read as 0
    params["tok_emb"][:, layout.digit_value] = circle_point(values)
    params["out_emb"] = params["tok_emb"].copy()
    params["pos_emb"][:, layout.position_block] = plan.position_features
    params["layers"] = [layer1(plan), layer2(plan)]
    return mean_free(params)


def sum_estimates(params: dict, prompt, n_digits: int) -> np.ndarray:
    """Layer 2's reading of ``s_k`` (column plus carry) for each of the ``2 n`` digits of a
    prompt's product, teacher-forced, in the dtype of ``params``: how far it is from the
    integer ``s_k`` is how close the program is to failing (MLP 2 tolerates 0.375)."""
    from taotp.model import attention_mask, layer_norm, self_attn, transformer_layer
    from taotp.search_blocks import helmert_basis

    plan = Plan(n_digits)
    prompt = np.asarray(prompt)
    tokens = np.concatenate((prompt, multiply_digits(*_operands(prompt, n_digits))[:-1]))
    mask = attention_mask(len(tokens))
    x = params["tok_emb"][tokens] + params["pos_emb"][np.arange(len(tokens))]
    x = transformer_layer(x, **params["layers"][0], mask=mask)
    last = params["layers"][1]
    heads = (last[key] for key in ("Q", "K", "V", "P"))
    out = self_attn(layer_norm(x, **last["ln1"]), *heads, mask)
    r = (out.astype(np.float64) @ helmert_basis(plan.d_model))[:, plan.layout.sum_estimate]
    return r[2 * n_digits + 1:] / (0.9 * plan.sum_scale)


def column_sums(a: list[int], b: list[int]) -> list[int]:
    """``s_k = col_k + carry_k`` of the schoolbook product, least significant first."""
    n, a, b = len(a), a[::-1], b[::-1]
    out, carry = [], 0
    for k in range(2 * n):
        s = sum(a[i] * b[k - i] for i in range(n) if 0 <= k - i < n) + carry
        out.append(s)
        carry = s // 10
    return out


# --- Registry: parsing, references and test inputs -------------------------------------

def multiply_digits(a: list[int], b: list[int]) -> list[int]:
    """Schoolbook product of equal-length digit lists (most significant first): the ``2 n``
    digits of ``a b``, least significant first (the order the program emits them)."""
    n = len(a)
    value = int("".join(map(str, a)) or "0") * int("".join(map(str, b)) or "0")
    return [int(c) for c in str(value).zfill(2 * n)][::-1]


def render(ids) -> str:
    """Output digits most significant first; a sequence with '*' or '=' in its own order."""
    ids = [int(i) for i in ids]
    text = "".join(SYMBOLS[i] for i in ids)
    return text if STAR in ids or EQUALS in ids else text[::-1]


def parse_product(text: str, max_digits: int) -> tuple[list[int], list[int]]:
    """``"12*34"`` (spaces and a final '=' allowed) -> the two digit lists; errors name why."""
    a, b = split_operands(text, max_digits, operator="*")
    return [int(c) for c in a], [int(c) for c in b]


def make_prompt(a: list[int], b: list[int], n_digits: int) -> np.ndarray:
    """The prompt ids of ``a*b=`` from digit lists (most significant first), zero-padded."""
    pad = lambda x: [0] * (n_digits - len(x)) + list(x)
    return np.array(pad(a) + [STAR] + pad(b) + [EQUALS])


def _operands(prompt, n: int) -> tuple[list[int], list[int]]:
    prompt = [int(t) for t in prompt]
    if len(prompt) != 2 * n + 2 or prompt[n] != STAR or prompt[-1] != EQUALS \
            or any(t > 9 for t in prompt[:n] + prompt[n + 1:2 * n + 1]):
        raise ValueError(f"not a {n}-digit prompt 'a * b =': {render(prompt)!r}")
    return prompt[:n], prompt[n + 1:2 * n + 1]


def nasty_pairs(n: int) -> list[tuple[list[int], list[int]]]:
    """Extremes, maximal column sums and long carry chains, as digit lists of length n."""
    nines, zeros = [9] * n, [0] * n
    one = zeros[:-1] + [1]
    pairs = [(zeros, zeros), (nines, nines), (nines, one), (one, nines), (nines, zeros),
             (one, one), ([5] * n, [5] * n), ([1] * n, [1] * n), ([3] * n, [3] * n)]
    for k in sorted({0, n // 2, n - 1}):  # powers of ten, against nines and each other
        power = zeros.copy()
        power[n - 1 - k] = 1
        pairs += [(power, nines), (nines, power), (power, power)]
    # 10^n - 1 times 10^n - 1 - 10^k: long runs of 9s and 0s in the product.
    for k in sorted({0, n // 2, n - 1}):
        b = [int(c) for c in str(10 ** n - 1 - 10 ** k).zfill(n)]
        pairs.append((nines, b))
    # (10^n - 1) / 9 * 9 style: 33..3 x 33..4 gives 11..1 carries everywhere.
    pairs.append(([3] * n, [3] * (n - 1) + [4]))
    # 5 x 2 chains: 5..5 x 2 = 11..10, 99..95 x 99..92, 50..01 x 99..9.
    pairs.append((nines[:-1] + [5], nines[:-1] + [2]))
    pairs.append(([5] + zeros[1:-1] + [1] if n >= 2 else [5], nines))
    return pairs


def make(n_digits: int) -> Task:
    """The registered program: weights, prompt encoding, rendering and the reference."""
    params = build_multiplication_transformer(n_digits)
    n = n_digits

    def reference(prompt):
        return np.array(multiply_digits(*_operands(prompt, n)))

    def sample(rng, count):
        return [make_prompt(list(rng.integers(0, 10, n)), list(rng.integers(0, 10, n)), n)
                for _ in range(count)]

    def exhaustive_at(i):
        a, b = divmod(i, 10 ** n)
        return make_prompt([int(c) for c in str(a).zfill(n)], [int(c) for c in str(b).zfill(n)], n)

    return Task(params=params, encode=lambda text: make_prompt(*parse_product(text, n), n),
                render=render, steps=lambda prompt: 2 * n, reference=reference, sample=sample,
                exhaustive=(lambda: Indexed(100 ** n, exhaustive_at)) if n <= 3 else None,
                adversarial=lambda: [make_prompt(a, b, n) for a, b in nasty_pairs(n)],
                options=dict(n_digits=n))


def _float32_note(n_digits: int) -> str:
    if n_digits <= FLOAT32_MAX:
        return ""
    return (f"measured exact in float32 only up to {FLOAT32_MAX} digits: its rounding MLP "
            f"sums ~90 n large cancelling terms, and the one-row products of cached decoding "
            f"round them off by more than the margin from 22 digits on (measured)")


PROGRAMS = (
    Program(name="multiplication", title="DECIMAL MULTIPLICATION", section="6 (Exercise 6.21)",
            summary="Multiply two n-digit numbers (n up to 100): column sums of digit "
                    "products by quadratic-maximisation heads and spike MLPs, every carry at "
                    "once by one geometric-weight head; 2 layers, O(n^2) size.",
            input_format="two numbers of at most n digits, e.g. '12*34' -> '0408' (n = 2); "
                         "the model emits the product least significant digit first",
            build=make, options=(Option("n_digits", int, 3, "digits per factor",
                                         flag="--digits", low=1, high=MAX_DIGITS,
                                         cap=MAX_DIGITS, beyond=_BEYOND),),
            examples=("123*456", "999*999", "100*1"), float32=_float32_note,
            sizes=(dict(n_digits=1), dict(n_digits=2), dict(n_digits=5), dict(n_digits=10))),
)
