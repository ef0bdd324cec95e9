"""MIN and MAX exact in float32 for up to 10^6 numbers (book Exercise 5.2): a sequence of
numbers in ``0..vocab_size-1`` (repeats allowed) -> its smallest (largest) number.

Why the book's MIN (Figure 5.2, ``constructions.sort``) breaks. Its tokens are points on
the upper half of the sqrt(3)-circle, at angles ``t_v = pi (v + 1) / (vocab_size + 1)``, and
the score of token v is ``~ 5e8 sin(t_last) cos(t_v)``. With many numbers:

- The readout. All copies of the minimum get equal weight, so the head's output is that
  token's point, up to float32 rounding of an average over up to 10^6 keys (~1e-6 relative,
  more as n grows). The tied unembedding must tell that point from its neighbours on the
  circle, which are only ``3 (1 - cos(pi / (vocab_size + 1))) ~ 1.5e-5`` apart in logit at
  vocab_size 1,000: rounding can hand the win to a neighbour. Measured at vocab_size
  1,000 and 10^6 numbers in float32: 1 of 20 random near-duplicate inputs wrong (333,257
  copies of 789 among 790s and 791s -> 788); at vocab_size = n = 10^5, the book's own
  setting, 20 of 20 wrong.
- The softmax mass. Adjacent values score ``5e8 sin(t_last) sin(t_v) pi / (vocab_size +
  1)`` apart: near both ends of the half circle that is 15 nats at vocab_size 1,000 (last
  number 999, minimum 0), so 10^6 copies of the runner-up carry 10^6 e^-15 ~ 0.2 of the
  winner's weight (computed; that input still decodes right, the drift being under half);
  at vocab_size 10^5 the gap is 2e-5 nats and the head averages everything.
  And the scores are ~1e6-5e8 in size, where float32 rounds to 0.1-32.

What we build instead (d_model 4, one layer, one head of d_head 3, no MLP):

- Each token is a point on the sphere of radius 2 in the 3 dimensions of ``R^4`` that are
  perpendicular to (1, 1, 1, 1), so every token is fixed by layer norm. Its "height" ``a_v``
  (the first Helmert coordinate, divided by 2) grows *linearly* with v from 1/4 to 1, and
  its longitude turns by the golden angle per value (a Fibonacci spiral): height makes the
  attention score, the spiral keeps every pair of tokens at least ``min_distance`` apart.
- The query is ``N a_last`` (positive, as a_last >= 1/4) and the key ``-a_v`` (MIN) or
  ``+a_v`` (MAX): adjacent values score at least ``SCORE_GAP`` = 30 nats apart (N is set so;
  scores stay below ~2e5, where float32 keeps 0.016), so even 10^6 copies of the runner-up
  carry 10^6 e^-30 ~ 1e-7 of the weight. The head copies the winner's point, scaled by 1e4
  (messy cleanup), and the tied unembedding reads it with a logit margin of
  ``min_distance**2 / 2`` (3.0e-3 at vocab_size 1,000; measured 3.0e-3 in float32 on 10^6
  numbers) against float32 rounding of ~1e-6. The same holds at vocab_size 10^5: it gets
  right the 10^5-number inputs on which the book's MIN fails (a slow test).
- Time and memory, 10^6 numbers in float32 (``forward_batch(..., logits_from=-1)``, 2
  cores): ~0.3 s and ~0.2 GB per input.

Sizes: ``4 vocab_size + 4 block_size + 52`` parameters; at vocab_size 1,000 and block_size
10^6: 4,004,052, of which pos_emb (all zeros: MIN is permutation invariant) is 4,000,000.
The book counts pos_emb, so we do; block_size is the longest input, so 10^6 numbers need
10^6 rows (pick a smaller block_size for shorter inputs: 4,452 parameters at block_size 100).

>>> task = PROGRAMS[0].make(vocab_size=20, block_size=20)
>>> task.run("6 2 12 18 7 12 12"), PROGRAMS[1].make(vocab_size=20, block_size=20).run("6 2 12")
('2', '12')
"""
from __future__ import annotations

import numpy as np

from constructions.sort import parse_numbers
from taotp.checks import check_int, count_sequences
from taotp.model import base_layer, base_params
from taotp.domains import Counted
from taotp.program import Option, Program, Task
from taotp.search_blocks import helmert_basis

GOLDEN_ANGLE = np.pi * (3.0 - 5.0 ** 0.5)
SCORE_GAP = 30.0  # nats between adjacent values: 10^6 runners-up weigh 1e-7 of the winner
LOWEST = 0.25  # the smallest token's height: the query N a_last is at least N / 4
CLEANUP = 1e4  # messy cleanup: the copied point outweighs the last token's own 1e4 times
RADIUS = 2.0  # |token| = sqrt(d_model): layer norm leaves the tokens alone


def spiral(vocab_size: int) -> np.ndarray:
    """``(vocab_size, 3)``: heights linear in v, longitudes turning by the golden angle."""
    v = np.arange(vocab_size)
    a = LOWEST + (1.0 - LOWEST) * v / max(vocab_size - 1, 1)
    rho = np.sqrt(np.maximum(1.0 - a ** 2, 0.0))
    phi = v * GOLDEN_ANGLE
    return RADIUS * np.stack([a, rho * np.cos(phi), rho * np.sin(phi)], axis=1)


def min_distance(vocab_size: int) -> float:
    """The least distance between two tokens of ``spiral(vocab_size)``."""
    points = spiral(vocab_size)
    best = np.inf
    for i in range(len(points) - 1):
        best = min(best, float(np.min(np.linalg.norm(points[i + 1:] - points[i], axis=1))))
    return best


def score_scale(vocab_size: int) -> float:
    """N such that adjacent heights score ``SCORE_GAP`` apart for the lowest query."""
    step = (1.0 - LOWEST) / max(vocab_size - 1, 1)
    return SCORE_GAP * 3.0 ** 0.5 / (LOWEST * step)  # 3 ** 0.5: the scores' 1/sqrt(d_head)


def _extreme_transformer(vocab_size: int, block_size: int, sign: float) -> dict:
    check_int("vocab_size", vocab_size, low=1)
    check_int("block_size", block_size, low=1)
    H = helmert_basis(4)  # (4, 3): the directions perpendicular to (1, 1, 1, 1)
    params = base_params(vocab_size, block_size, d_model=4)
    params["tok_emb"] = params["out_emb"] = spiral(vocab_size) @ H.T
    layer = base_layer(n_heads=1, d_model=4, d_ff=0, d_head=3)
    n = score_scale(vocab_size)
    # Height a = (x . H[:, 0]) / 2: query N a_last, key -a (MIN) or +a (MAX).
    layer["Q"][0, :, 0] = n * H[:, 0] / RADIUS
    layer["K"][0, :, 0] = -sign * H[:, 0] / RADIUS
    layer["V"][0] = H  # the winner's point, in sphere coordinates...
    layer["P"][0] = CLEANUP * H  # ...written back 1e4 times over the last token
    params["layers"].append(layer)
    return params


def build_stable_min_transformer(vocab_size: int = 1000, block_size: int = 1_000_000) -> dict:
    """MIN over up to ``block_size`` numbers in ``0..vocab_size-1``, exact in float32."""
    return _extreme_transformer(vocab_size, block_size, 1.0)


def build_stable_max_transformer(vocab_size: int = 1000, block_size: int = 1_000_000) -> dict:
    """MAX over up to ``block_size`` numbers in ``0..vocab_size-1``, exact in float32."""
    return _extreme_transformer(vocab_size, block_size, -1.0)


# --- Registry: parsing, references and test inputs -------------------------------------

def _render(ids) -> str:
    return " ".join(str(int(i)) for i in ids)


SAMPLE_LENGTH = 1000  # generic checks stay fast; long_adversarial() goes to block_size


def long_adversarial(vocab_size: int, length: int, pick) -> list[np.ndarray]:
    """Long nasty inputs: one answer among ``length - 1`` runners-up (first, middle, last),
    all equal, and the extremes 0 and ``vocab_size - 1`` around them."""
    top = vocab_size - 1
    best, near = (0, 1) if pick is min else (top, top - 1)
    near = near if 0 <= near <= top else best
    cases = []
    for where in (0, length // 2, length - 1):
        seq = np.full(length, near)
        seq[where] = best
        cases.append(seq)
    far = top if pick is min else 0  # a last token at the other end makes the query small
    seq = np.full(length, near)
    seq[length // 3], seq[-1] = best, far
    cases += [seq, np.full(length, best), np.full(length, top), np.full(length, 0)]
    return cases


def _extreme_task(pick, build, vocab_size: int = 1000, block_size: int = 1_000_000) -> Task:
    params = build(vocab_size, block_size)
    top = vocab_size - 1
    short = min(block_size, SAMPLE_LENGTH)

    def encode(text):
        numbers = parse_numbers(text, 0, top)
        if len(numbers) > block_size:
            raise ValueError(f"{len(numbers)} numbers do not fit in block_size={block_size}")
        return np.array(numbers)

    def sample(rng, count):
        prompts = []
        for _ in range(count):
            n = int(rng.integers(1, short + 1))
            lo = int(rng.integers(0, vocab_size))
            hi = int(rng.integers(lo, vocab_size))  # a narrow range: many near-duplicates
            prompts.append(rng.integers(lo, hi + 1, size=n))
        return prompts

    def adversarial():
        cases = long_adversarial(vocab_size, short, pick)
        cases += [np.array([0]), np.array([top]), np.arange(min(vocab_size, short)),
                  np.arange(min(vocab_size, short))[::-1],
                  np.array([top, 0] * (short // 2) or [top])]
        return cases

    def exhaustive():
        import itertools
        for n in range(1, block_size + 1):
            for seq in itertools.product(range(vocab_size), repeat=n):
                yield np.array(seq)

    domain = count_sequences(vocab_size, block_size, 100_000)
    return Task(params=params, encode=encode, render=_render, steps=lambda prompt: 1,
                reference=lambda prompt: np.array([pick(int(t) for t in prompt)]),
                sample=sample, adversarial=adversarial,
                exhaustive=(lambda: Counted(domain, exhaustive)) if domain <= 100_000 else None,
                options=dict(vocab_size=vocab_size, block_size=block_size))


def make_stable_min(vocab_size: int = 1000, block_size: int = 1_000_000) -> Task:
    """Stable MIN (Exercise 5.2) as a task: the smallest number, exact in float32."""
    return _extreme_task(min, build_stable_min_transformer, vocab_size, block_size)


def make_stable_max(vocab_size: int = 1000, block_size: int = 1_000_000) -> Task:
    """Stable MAX (Exercise 5.2) as a task: the largest number, exact in float32."""
    return _extreme_task(max, build_stable_max_transformer, vocab_size, block_size)


def _options(what):
    return (Option("vocab_size", int, 1000, f"{what} reads numbers 0..vocab_size-1", low=1,
                   high=1000, cap=10 ** 6),
            Option("block_size", int, 1_000_000, "longest input (pos_emb has this many rows)",
                   low=1, high=1_000_000, cap=2_000_000))


PROGRAMS = (
    Program(name="stable-min", title="MIN, stable", section="5.3 (Ex. 5.2)",
            summary="The smallest of up to 10^6 numbers, exact in float32: linear heights "
                    "for the score, a Fibonacci spiral for the readout.",
            input_format="numbers separated by spaces, e.g. '6 2 0 12'",
            build=make_stable_min,
            options=_options("MIN"), examples=("6 2 0 12 18 7 12 12", "999 998 999")),
    Program(name="stable-max", title="MAX, stable", section="5.3 (Ex. 5.2)",
            summary="The largest of up to 10^6 numbers, exact in float32: linear heights "
                    "for the score, a Fibonacci spiral for the readout.",
            input_format="numbers separated by spaces, e.g. '6 2 0 12'",
            build=make_stable_max,
            options=_options("MAX"), examples=("6 2 0 12 18 7 12 12", "0 1 0")),
)
