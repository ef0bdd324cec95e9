"""SORT with repeats over large vocabularies (beyond the book; Chapter 5's SORT, Exercises
5.4 and 5.6): numbers from ``1..vocab_size-1``, repeats allowed, then the terminator 0 ->
the numbers in ascending order, repeats repeated, one per decoding step.

Why not the book's way: one attention head cannot pick "the smallest input above p" without
keys of rank ~vocab_size (a thermometer code, ``d_model >= vocab_size``) or exponentially
spaced scores (the powerpoints of Section 5.2, dead at 29 numbers). We binary-search the
value instead, one attention layer per bit, and the search needs only *equality* tests on
bit prefixes, which hard attention does exactly.

The counting argument. Let the query compute ``o_k``, the k-th smallest input (k = 0, 1,
...). Every output position ``n + i`` (the terminator is position n) runs the same search
for ``o_i`` and, by the time the layer for bit j runs, holds the bits of ``o_i`` above j *in
place* of its own token's bits. Let ``A`` be the bits of ``o_k`` above j (already found). In
sorted order the outputs with prefix ``A`` start at ``o_m``, ``m`` = the number of inputs
below prefix ``A``; so ``O = k - m + 1`` of the positions ``n .. n + k`` hold prefix ``A``,
and ``o_k`` has bit j = 0 exactly when ``I >= O``, ``I`` = the inputs with prefix ``A`` and
bit j = 0 (``o_k`` is among the first ``I`` outputs with prefix ``A`` iff ``k - m < I``). One head counts both at once: keys are the prefix bits plus bit j, queries
the prefix of ``A`` plus "bit j = 0"; inputs carry the value +1, outputs -1, so the head's
average has the sign of ``I - O``. Repeats need nothing special: the counts carry them.

Mechanism, layer by layer (B = bits of ``vocab_size - 1``, d_model = B + 2, ``n_max =
block_size // 2`` numbers at most):

- Embedding: B bit features (+-1) and a flag ``f`` (-1 for numbers) on Helmert directions
  (``taotp.search_blocks.FeatureSpace``): every state the search passes through has the same
  norm, so layer norm leaves it alone. The terminator is an "output" from the start: f =
  sqrt(2) and its top bit a placeholder 0 (one 0 and one sqrt 2 weigh as much as two +-1).
  ``pos_emb`` is zero: only the flag tells outputs from inputs.
- Layer 0: a head attends to the terminator (if in view) and copies its flag, so every
  position from the terminator on becomes an output (f = sqrt 2); the MLP (2 ReLUs) clears
  outputs' top bit to the placeholder 0.
- Then two layers per bit j, from the top:
  - Count (one head, ``d_head = B - j``): query = the prefix found so far plus "bit j = 0";
    key = the prefix bits plus one column where inputs with bit j = 0 score ``N - c`` and
    outputs (bit j held at 0) ``sqrt(2) c``, with ``N - (1 + sqrt 2) c = ln sqrt 2``, so an
    input weighs sqrt(2) outputs and, against values +1/sqrt(2) (inputs) and -1 (outputs),
    the average is exactly ``eps (I - O) / (sqrt(2) I + O)`` (eps = 1/16). Each mismatched
    bit costs 2N = 24 nats. It lands in bit j (0 at outputs). Bit j = 1 iff this is
    negative, and then it is at most ``-eps gap``, ``gap = 1 / ((1 + sqrt 2) n_max)``.
    The MLP (6 ReLUs) makes a gentle step of it (gain 50, centred on ``-eps gap / 2``),
    written at scale 1/32, removes the count, and takes inputs' constant share (eps /
    sqrt 2: inputs only see inputs) back off, calibrated to layer norm's scale per sign.
  - Decide (no heads, an MLP of 8 ReLUs): a second step turns the half-made value into
    exactly +-1 at outputs, and clears bit j - 1 of outputs to the placeholder 0. Two gentle
    steps rather than one step of gain ~n: a sharp step's large hidden values leave ~1e-4 of
    float32 rounding in *every* feature (the directions share dimensions), and outputs'
    bits are keys for later queries.
- The last decide layer turns outputs' flag back to -1: the residual is then the answer's
  own embedding, which the tied unembedding reads with a margin of 2 bits' worth.
- Every MLP unit that must act only at outputs (or only at inputs) is gated by the flag.

Sizes (``vocab_size=1000, block_size=200``, up to 100 numbers): d_model 12, 21 layers (1 +
2 x 10), one head of d_head <= 10 in 11 of them, d_ff <= 8: **20,840 parameters**
(tok_emb 12,000, pos_emb 2,400 zeros, the rest 6,440; 15,983 non-zero), below the 22,890 of
the earlier prototype (d_model 14, 12 layers). At ``vocab_size=100_000, block_size=200``:
d_model 19, 35 layers, **1,925,451 parameters** (tok_emb 1,900,000), against the
prototype's 2.2M (both prototype figures and the tracr one are quoted from the project's
issue 7, not re-measured here: tracr compiles a sort of 10 numbers with repeats over vocab
100 to 22,237,193 parameters, right on 81% of inputs). The count is ``(V + block_size)
(B + 2)`` plus the layers: tok_emb is the floor of any design with a +-1 feature per bit.

float32: exact. Scores are at most N B ~ 200 in size (rounding ~1e-5), the count's decision
gap is ``gap`` (4e-3 at 100 numbers), and bits are exact again before they serve as keys.
Measured in float32 at vocab 1,000 and 100 numbers: the decide layer's input stays at
least 0.050 clear of its ramp (0.0518 in exact arithmetic); the worst final logit margin
(top-1 minus top-2) is 2.18. It also sorts 200 numbers (block_size 400) in float32 on the
inputs we tried; beyond that the gap shrinks as 1/n and float32 will eventually lose.

>>> task = PROGRAMS[0].make(vocab_size=20, block_size=16)
>>> task.run("6 2 12 18 7 2 2")
'2 2 2 6 7 12 18'
"""
from __future__ import annotations

import math

import numpy as np

from constructions.sort import parse_numbers
from taotp.checks import check_int, count_sequences
from taotp.model import base_layer, base_params
from taotp.domains import Counted
from taotp.program import Option, Program, Task
from taotp.search_blocks import (
    FeatureSpace, gated_linear_units, relu_units, step_units,
)

N_SEARCH = 12.0  # per prefix bit: a mismatch costs 2 N = 24 nats
N_FLAG = 12.0  # layer 0: the terminator outscores the rest by N (1 + sqrt 2) = 29 nats
EPS = 2.0 ** -4  # scale of the count average written into bit j (layer norm barely sees it)
EPS2 = 2.0 ** -5  # scale of the half-made decision c in [0, 1] between the two MLPs
GAIN = 50.0  # gain of the first, gentle step
SQRT2 = 2.0 ** 0.5


def n_bits(vocab_size: int) -> int:
    """B: how many bits the numbers ``0..vocab_size-1`` need (one bit layer each)."""
    return max(1, (vocab_size - 1).bit_length())


def build_multiset_sort_transformer(vocab_size: int = 1000, block_size: int = 200) -> dict:
    """Sort up to ``block_size // 2`` numbers in ``1..vocab_size-1`` (repeats allowed),
    terminated by 0, one output per step."""
    check_int("vocab_size", vocab_size, low=2)
    check_int("block_size", block_size, low=2)
    B = n_bits(vocab_size)
    F = B  # feature index of the flag; bits are features 0 (LSB) .. B-1 (MSB)
    space = FeatureSpace(n_features=B + 1)
    d = space.d_model
    n_max = block_size // 2

    codes = np.zeros((vocab_size, B + 1))
    values = np.arange(vocab_size)
    for i in range(B):
        codes[:, i] = 2.0 * ((values >> i) & 1) - 1.0
    codes[:, F] = -1.0
    codes[0, B - 1], codes[0, F] = 0.0, SQRT2  # the terminator: an output from the start
    params = base_params(vocab_size, block_size, d)
    params["tok_emb"] = params["out_emb"] = space.embed(codes)

    params["layers"].append(_flag_layer(space, B, F))
    for j in range(B - 1, -1, -1):
        params["layers"].append(_bit_layer(space, B, F, j, n_max))
        params["layers"].append(_decide_layer(space, B, F, j, n_max))
    return params


def _flag_layer(space: FeatureSpace, B: int, F: int) -> dict:
    d = space.d_model
    layer = base_layer(n_heads=1, d_model=d, d_ff=2, d_head=1)
    # Numbers (f = -1) query with +N_FLAG: the terminator (f = sqrt 2) wins if in view; the
    # terminator itself queries with a negative sign and so reads the numbers' f = -1.
    layer["Q"][0, :, 0] = -N_FLAG * space.reader(F)
    layer["K"][0, :, 0] = space.reader(F)
    layer["V"][0, :, 0] = space.reader(F)
    layer["P"][0, :, 0] = space.writer(F)
    # f becomes f + read + 1: numbers -1 -> -1, outputs -1 -> sqrt 2, terminator stays.
    # Before b2 is added the MLP sees f = -2 (numbers) or sqrt 2 - 1 (outputs, terminator);
    # ReLU(+-bit + f) fires for exactly one sign at outputs, never at numbers, and equally
    # for both at the terminator (top bit 0): the difference clears the top bit.
    lam_out = ((B + 1) / (B + (SQRT2 - 1) ** 2)) ** 0.5  # layer norm's scale at outputs
    on = lam_out * SQRT2
    msb, f = space.reader(B - 1), space.reader(F)
    units = [(msb + f, 0.0, -space.writer(B - 1) / on),
             (-msb + f, 0.0, space.writer(B - 1) / on)]
    layer["M1"], layer["b1"], layer["M2"], layer["b2"] = relu_units(
        units, d, b2=space.writer(F))
    return layer


def _bit_layer(space: FeatureSpace, B: int, F: int, j: int, n_max: int) -> dict:
    d = space.d_model
    prefix = list(range(B - 1, j, -1))
    d_head = len(prefix) + 1
    layer = base_layer(n_heads=1, d_model=d, d_ff=0, d_head=d_head)
    root = float(d_head) ** 0.5  # undo the 1/sqrt(d_head) of the attention scores
    for col, i in enumerate(prefix):
        layer["Q"][0, :, col] = N_SEARCH * root * space.reader(i)
        layer["K"][0, :, col] = space.reader(i)
    # Last column: the query is the constant f / sqrt 2 = 1 of outputs; inputs with bit j = 0
    # score N - c, outputs (bit j held at 0) sqrt(2) c, and N - c - sqrt(2) c = ln sqrt 2
    # weights each input sqrt(2) times an output, against values 1/sqrt(2) and -1.
    c = (N_SEARCH - math.log(SQRT2)) / (1.0 + SQRT2)
    layer["Q"][0, :, -1] = root * space.reader(F) / SQRT2
    layer["K"][0, :, -1] = -N_SEARCH * space.reader(j) + c * space.reader(F)
    layer["V"][0, :, 0] = -EPS / SQRT2 * space.reader(F)
    layer["P"][0, :, 0] = space.writer(j)

    f = space.reader(F) / SQRT2  # 1 at outputs, -1/sqrt 2 at inputs
    bit, write = space.reader(j), space.writer(j)
    # Stage 1 of the decision: outputs read t = -count/eps; the count is >= 0 when bit j is 0
    # and <= -gap when it is 1. A gentle step (gain GAIN) writes c = clip(1/2 + GAIN (t -
    # gap/2), 0, 1) into bit j at the small scale EPS2; the next layer's MLP makes it a bit.
    # (One sharp step of gain ~n would leave ~n ulps of rounding in every feature.)
    gap = _gap(n_max)
    g1 = 1.2 / EPS / (1.0 + 1.0 / SQRT2)  # inputs read t ~ +-1/EPS: keep the step off there
    units = step_units(-bit / EPS, gap / 2 - 0.5 / GAIN, gap / 2 + 0.5 / GAIN, EPS2 * write,
                       gate_in=g1 * f, gate_bias=-g1)
    units += gated_linear_units(bit, -write, headroom=2 * EPS, gate_in=f, gate_bias=-1.0)
    # Inputs read the constant eps/sqrt(2) (they only see inputs): take it off again, one
    # unit per sign of their bit j, each calibrated to layer norm's scale for that sign.
    for sign in (1.0, -1.0):
        bit_j = sign + EPS / SQRT2  # the input's bit j as the MLP finds it
        lam = ((B + 1) / (B + bit_j ** 2)) ** 0.5
        on = lam * (abs(bit_j) + 1 / SQRT2) - 1.5
        units.append((sign * bit - f, -1.5, -(EPS / SQRT2) / on * write))
    layer["M1"], layer["b1"], layer["M2"], layer["b2"] = relu_units(units, d)
    return layer


def _decide_layer(space: FeatureSpace, B: int, F: int, j: int, n_max: int) -> dict:
    """No heads. Stage 2: outputs' bit j (``EPS2 c``) becomes exactly -1 (c < 1/2) or +1;
    bit j - 1 of outputs becomes the placeholder 0; after the last bit the flag goes back
    to -1."""
    d = space.d_model
    layer = base_layer(n_heads=0, d_model=d, d_ff=0, d_head=1)
    f = space.reader(F) / SQRT2
    bit, write = space.reader(j), space.writer(j)
    half = min(GAIN * _gap(n_max) / 4, 0.25)  # c is at least 2 half away from 1/2
    g2 = 1.2 / EPS2 / (1.0 + 1.0 / SQRT2)  # inputs read c ~ +-1/EPS2
    units = step_units(bit / EPS2, 0.5 - half, 0.5 + half, 2.0 * write,
                       gate_in=g2 * f, gate_bias=-g2)
    units += gated_linear_units(bit, -write, headroom=2 * EPS2, gate_in=f, gate_bias=-1.0)
    # h = 1 at outputs, 0 at inputs (a step, so exactly 1 whatever layer norm's scale): the
    # "-1" of the new bit, the "+1" that clears bit j - 1, the flag's way back to -1.
    out_h = -write
    if j > 0:
        out_h = out_h + space.writer(j - 1)
        units += step_units(space.reader(j - 1), -0.5, 0.5, -2.0 * space.writer(j - 1),
                            gate_in=f, gate_bias=-1.0)
    else:
        out_h = out_h - (1.0 + SQRT2) * space.writer(F)
    units += step_units(f, 0.2, 0.6, out_h)
    layer["M1"], layer["b1"], layer["M2"], layer["b2"] = relu_units(units, d)
    return layer


def _gap(n_max: int) -> float:
    """The least |I - O| / (sqrt(2) I + O) when I < O <= n_max and I <= n_max."""
    return 1.0 / ((1.0 + SQRT2) * n_max)


# --- Registry: parsing, references and test inputs -------------------------------------

def _render(ids) -> str:
    return " ".join(str(int(i)) for i in ids)


def make(vocab_size: int = 1000, block_size: int = 200) -> Task:
    """SORT with repeats as a task: numbers in ``1..vocab_size-1``, sorted, repeats kept."""
    params = build_multiset_sort_transformer(vocab_size, block_size)
    top, max_numbers = vocab_size - 1, block_size // 2

    def encode(text):
        numbers = parse_numbers(text, 1, top, " (0 is the end-of-input token, appended for you)")
        if len(numbers) > max_numbers:
            raise ValueError(f"{len(numbers)} numbers do not fit: at most {max_numbers} "
                             f"with block_size={block_size}")
        return np.array(numbers + [0])

    def sample(rng, count):
        prompts = []
        for _ in range(count):
            n = int(rng.integers(1, max_numbers + 1))
            pool = int(rng.choice([2, 5, top]))  # few distinct values -> many repeats
            values = rng.choice(np.arange(1, top + 1), size=min(pool, top), replace=False)
            prompts.append(np.append(rng.choice(values, size=n), 0))
        return prompts

    def adversarial():
        n, second = max_numbers, min(2, top)
        cases = [[1] * n, [top] * n, [second] * (n - 1) + [1], [1] + [second] * (n - 1),
                 [top, 1] * (n // 2), list(range(top, 0, -1))[:n], list(range(1, top + 1))[:n],
                 [top] * (n - 1) + [1], [1], [top], [max(top - 1, 1), top] * (n // 2)]
        cases.append([max(1, top - i % 3) for i in range(n)])  # near-duplicates
        cases.append(sorted([1, top] * (n // 2), reverse=True))
        cases.append([2 ** i for i in range(n_bits(vocab_size)) if 2 ** i <= top][:n])
        return [np.array(c + [0]) for c in cases if c]

    def exhaustive():
        import itertools
        for n in range(1, max_numbers + 1):
            for seq in itertools.product(range(1, top + 1), repeat=n):
                yield np.array(seq + (0,))

    domain = count_sequences(top, max_numbers, 100_000)
    return Task(params=params, encode=encode, render=_render,
                steps=lambda prompt: len(prompt) - 1,
                reference=lambda prompt: np.array(sorted(int(t) for t in prompt[:-1])),
                sample=sample, adversarial=adversarial,
                exhaustive=(lambda: Counted(domain, exhaustive)) if domain <= 100_000 else None,
                options=dict(vocab_size=vocab_size, block_size=block_size))


PROGRAMS = (
    Program(name="multiset-sort", title="SORT with repeats", section="5.3 (Ex. 5.4, 5.6)",
            summary="Sort numbers with repeats over a large vocabulary: binary search over "
                    "the value, one attention layer per bit, counting inputs against "
                    "outputs.",
            input_format="numbers in 1..vocab_size-1 separated by spaces, repeats allowed "
                         "(0 is appended)",
            build=make,
            options=(Option("vocab_size", int, 1000, "numbers 1..vocab_size-1 (0 ends input)",
                            low=2, high=100_000, cap=10 ** 6),
                     Option("block_size", int, 200,
                            "context length: sorts up to block_size // 2 numbers", low=2,
                            high=200, cap=10_000)),
            examples=("6 2 12 18 7 2 2", "999 1 500 1 999"),
            ),
)
