"""MIN, MAX and SORT (Chapter 5): one layer, one head, no positions, no MLP.

MIN: a sequence of numbers in ``0..vocab_size-1`` (repeats allowed) -> its smallest number;
MAX likewise -> the largest (Section 5.1, Figure 5.2). The tokens sit on the upper half of the
sqrt(3)-circle; a query that is a positive multiple of the top of the circle makes the head
attend hard to the leftmost token, i.e. the smallest number (MAX flips the key). Size: d_model
3, d_head 3, d_ff 0, tied embeddings, zero ``pos_emb``. Parameters: ``3 * vocab_size + 3 *
block_size + 39``, i.e. the book's ``6n + 39`` when ``vocab_size == block_size == n``, and 11
non-zero outside ``tok_emb`` (as the book says).

SORT: distinct numbers from ``1..n-1`` followed by the terminator 0 -> the numbers in
ascending order, one per decoding step, ``len(input) - 1`` steps (Section 5.2, Figures 5.4
and 5.5). The "powerpoints" ``p_i`` (gaps halving, so each ``i`` is nearest to ``i+1``, then
``i+2``...) and the query points ``q_i`` (between ``p_{i+1}`` and ``p_{i+2}``) are mapped to the
circle and concatenated: d_model 6, d_head 6, one head, d_ff 0. For n=28, block_size=100: 918
parameters, 18 non-zero outside ``tok_emb`` (as the book says) and 184 non-zero in all. The
book says "only 166 non-zero parameters": that is exactly our ``tok_emb``'s non-zero count
(168 entries, two exact zeros), so the book seems to have quoted that entry of
``count_non0_params`` as the total.

Book bugs fixed: Figure 5.5 writes ``layer0['Q'][3:, :3]`` and ``layer0['K'][:3, :3]`` on
arrays of shape (1, 6, 6), which index the *head* axis (numpy cannot even broadcast the
assignment). We build what the text means: the queries select the ``q_i`` part (model dims
3:6 -> head dims 0:3) and the keys the ``p_i`` part (model dims 0:3 -> head dims 0:3). MAX is
"analogous" in the book; we negate MIN's key (``-pos_enc_3d(0)``, exactly two non-zeros,
where ``pos_enc_3d(np.pi)`` would add a 1e-16 third).

Precision: the book claims SORT is robust up to 28 numbers in fp32. With its 1e20 factors the
residual stream reaches 1e20 and layer norm's variance (1e40) overflows float32, so SORT
fails outright in float32 (all logits come out 0). In float64 it sorts every input we tried
up to n=28 and fails at n=29 (and every n up to 36 we tried), so the book's "fp32" was numpy's default float64 (see
``tests/test_sort.py``). MIN and MAX work in float32.

>>> from taotp import count_params
>>> params = build_min_transformer(vocab_size=20, block_size=20)
>>> int(count_params(params)['n_params']) == 6 * 20 + 39
True
>>> PROGRAMS[2].make().run("6 2 12 18 7")
'2 6 7 12 18'
"""
from __future__ import annotations

import itertools

import numpy as np

from taotp.blocks import messy_cleanup, pos_enc_3d, pos_enc_3d_array
from taotp.checks import check_int, count_sequences, parse_int
from taotp.model import base_layer, base_params
from taotp.domains import Counted
from taotp.program import Option, Program, Task

_EXHAUSTIVE_LIMIT = 100_000  # largest MIN/MAX domain `exhaustive` enumerates


def _extreme_transformer(vocab_size: int, block_size: int, sign: float) -> dict:
    check_int("vocab_size", vocab_size, low=1)
    check_int("block_size", block_size, low=1)
    params = base_params(vocab_size, block_size, d_model=3)
    # The open upper half circle, endpoints left out: no token is orthogonal to the query.
    tok_emb = pos_enc_3d_array(2 * vocab_size + 2)[1:1 + vocab_size]
    params["tok_emb"] = params["out_emb"] = tok_emb
    layer0 = base_layer(n_heads=1, d_model=3, d_ff=0, d_head=3)
    params["layers"].append(layer0)
    # Every token's query is a positive multiple of the top of the circle, so the key
    # pos_enc_3d(0) . token (= 3 cos t) ranks tokens by angle: hard attention picks the first.
    layer0["Q"][0, :, 0] = pos_enc_3d(np.pi / 2) * 1e8
    layer0["K"][0, :, 0] = sign * pos_enc_3d(0)
    layer0["V"][0] = np.eye(3)
    layer0["P"][0] = messy_cleanup(np.eye(3), 1e6)  # the residual becomes negligible
    return params


def build_min_transformer(vocab_size: int, block_size: int) -> dict:
    """MIN over up to ``block_size`` numbers in ``0..vocab_size-1`` (Figure 5.2)."""
    return _extreme_transformer(vocab_size, block_size, 1.0)


def build_max_transformer(vocab_size: int, block_size: int) -> dict:
    """MAX: Figure 5.2 with the key negated, so attention picks the rightmost token."""
    return _extreme_transformer(vocab_size, block_size, -1.0)


def stretch(x, mx):
    """Scale ``x`` so its largest value becomes ``mx``."""
    return mx * x / x.max()


def powerpoints(n: int, mx: float = np.pi):
    """``n`` points, ``p_0 = 0`` and ``p_{i+1} = p_i + 2**-i``, stretched onto ``[0, mx]``."""
    if n < 2:
        raise ValueError(f"powerpoints needs n >= 2, got {n}")
    return stretch(np.cumsum(np.concatenate((np.zeros(1), 1 / 2.0 ** np.arange(n - 1)))), mx)


def nextpoint(ts):
    """``q_i = (3 p_{i+1} + p_{i+2}) / 4``, nearest ``p_{i+1}``; the last two are pi and 0."""
    return np.concatenate((ts[1:-1] * 3 / 4 + ts[2:] / 4, np.array([np.pi, 0.0])))


def build_sort_transformer(n: int = 28, block_size: int = 100) -> dict:
    """SORT of distinct numbers in ``1..n-1`` ended by 0 (Figure 5.5, head axis fixed)."""
    check_int("n", n, low=2)
    check_int("block_size", block_size, low=1)
    pi = pos_enc_3d(powerpoints(n)).T
    qi = pos_enc_3d(nextpoint(powerpoints(n))).T
    params = base_params(vocab_size=n, block_size=block_size, d_model=6)
    layer0 = base_layer(n_heads=1, d_model=6, d_ff=0, d_head=6)
    layer0["Q"][0, 3:, :3] = np.eye(3) * 1e20  # query: the q_i half
    layer0["K"][0, :3, :3] = np.eye(3)  # key: the p_i half
    layer0["V"][0] = messy_cleanup(np.eye(6), 1e20)  # instead of cleanup
    layer0["P"][0] = np.eye(6)
    params["tok_emb"] = params["out_emb"] = np.concatenate((pi, qi), axis=1)
    params["layers"].append(layer0)
    return params


# --- Registry: parsing, references and test inputs -------------------------------------

def parse_numbers(text: str, low: int, high: int, hint: str = "") -> list[int]:
    """Space- (or comma-) separated whole numbers in ``low..high``; errors name the word.
    Shared by the programs that read a list of numbers."""
    words = text.replace(",", " ").split()
    if not words:
        raise ValueError("empty input: give at least one number")
    numbers = []
    for word in words:
        value = parse_int(word, f"a number in {low}..{high}{hint}")
        if not low <= value <= high:
            raise ValueError(f"{word} is outside the vocabulary: not a number in "
                             f"{low}..{high}{hint}")
        numbers.append(value)
    return numbers


def _render(ids) -> str:
    return " ".join(str(int(i)) for i in ids)


def _extreme_task(pick, build, vocab_size: int = 20, block_size: int = 20) -> Task:
    params = build(vocab_size, block_size)

    def encode(text):
        numbers = parse_numbers(text, 0, vocab_size - 1)
        if len(numbers) > block_size:
            raise ValueError(f"{len(numbers)} numbers do not fit in block_size={block_size}")
        return np.array(numbers)

    def sample(rng, count):
        return [rng.integers(0, vocab_size, rng.integers(1, block_size + 1))
                for _ in range(count)]

    def exhaustive():
        lengths = range(1, block_size + 1)
        for length in lengths:
            for seq in itertools.product(range(vocab_size), repeat=length):
                yield np.array(seq)

    def adversarial():
        top, cases = vocab_size - 1, []
        for length in sorted({1, 2, block_size}):
            cases += [[0] * length, [top] * length, [top] * (length - 1) + [0],
                      [0] * (length - 1) + [top], [max(top - 1, 0)] * (length - 1) + [top],
                      [min(1, top)] * (length - 1) + [0], [0] + [min(1, top)] * (length - 1),
                      [top] * (length - 1) + [max(top - 1, 0)]]
        cases.append(list(range(min(vocab_size, block_size)))[::-1])
        cases.append(list(range(min(vocab_size, block_size))))
        return [np.array(c) for c in cases]

    domain = count_sequences(vocab_size, block_size, _EXHAUSTIVE_LIMIT)
    return Task(params=params, encode=encode, render=_render, steps=lambda prompt: 1,
                reference=lambda prompt: np.array([pick(int(t) for t in prompt)]),
                sample=sample,
                exhaustive=(lambda: Counted(domain, exhaustive)) if domain <= _EXHAUSTIVE_LIMIT
                else None,
                adversarial=adversarial,
                options=dict(vocab_size=vocab_size, block_size=block_size))


def make(n: int = 28, block_size: int = 100) -> Task:
    """SORT (Section 5.2) as a task: distinct numbers in ``1..n-1``, sorted."""
    params = build_sort_transformer(n, block_size)
    max_numbers = min(n - 1, block_size // 2)  # k numbers + 0 + (k - 1) fed-back outputs

    def encode(text):
        numbers = parse_numbers(text, 0, n - 1)
        if 0 in numbers:
            raise ValueError("0 is the end-of-input token; give numbers in 1..{}".format(n - 1))
        if len(numbers) > max_numbers:  # first: the repeat check below is then short
            raise ValueError(f"{len(numbers)} numbers do not fit: at most {max_numbers} "
                             f"with n={n}, block_size={block_size}")
        repeated = sorted({x for x in numbers if numbers.count(x) > 1})
        if repeated:
            raise ValueError(f"SORT needs distinct numbers; repeated: {repeated}")
        return np.array(numbers + [0])

    def sample(rng, count):
        return [np.append(rng.permutation(np.arange(1, n))[:rng.integers(1, max_numbers + 1)], 0)
                for _ in range(count)]

    def adversarial():
        top = list(range(1, n))
        cases = [top[:max_numbers], top[::-1][:max_numbers], [n - 1], [1], [n - 1, n - 2],
                 [n - 2, n - 1], top[::-1][:min(5, max_numbers)], top[1::2][:max_numbers]]
        valid = [c for c in cases if c and len(c) == len(set(c)) <= max_numbers
                 and min(c) >= 1]
        return [np.array(c + [0]) for c in valid]

    return Task(params=params, encode=encode, render=_render,
                steps=lambda prompt: len(prompt) - 1,
                reference=lambda prompt: np.array(sorted(int(t) for t in prompt[:-1])),
                sample=sample, adversarial=adversarial,
                options=dict(n=n, block_size=block_size))


def make_min(vocab_size: int = 20, block_size: int = 20) -> Task:
    """MIN (Section 5.1) as a task: the smallest number of the input."""
    return _extreme_task(min, build_min_transformer, vocab_size, block_size)


def make_max(vocab_size: int = 20, block_size: int = 20) -> Task:
    """MAX (Section 5.1) as a task: the largest number of the input."""
    return _extreme_task(max, build_max_transformer, vocab_size, block_size)


def _min_max_options(what):
    return (Option("vocab_size", int, 20, f"{what} reads numbers 0..vocab_size-1", low=1,
                   high=1000, cap=10 ** 6, beyond=(
                       "its tokens crowd on the circle: at vocab_size 10,000 5 of 126 inputs "
                       "come out wrong (measured); use stable-min/stable-max")),
            Option("block_size", int, 20, "longest input", low=1, high=1000, cap=10 ** 6))


def _extreme_book_size(vocab_size=20, block_size=20):
    size = {"non0_outside_tok_emb": 11}
    if vocab_size == block_size:  # the book's 6n + 39 is for n numbers in 0..n-1
        size["n_params"] = 6 * vocab_size + 39
    return size


PROGRAMS = (
    Program(name="min", title="MIN", section="5.1",
            summary="Output the smallest of a sequence of numbers (repeats allowed).",
            input_format="numbers separated by spaces, e.g. '6 2 0 12'",
            build=make_min,
            options=_min_max_options("MIN"), examples=("6 2 0 12 18 7 12 12", "5"),
            book_size=_extreme_book_size),
    Program(name="max", title="MAX", section="5.1",
            summary="Output the largest of a sequence of numbers (repeats allowed).",
            input_format="numbers separated by spaces, e.g. '6 2 0 12'",
            build=make_max,
            options=_min_max_options("MAX"), examples=("6 2 0 12 18 7 12 12", "5"),
            book_size=_extreme_book_size),
    Program(name="sort", title="SORT", section="5.2",
            summary="Sort distinct numbers with one attention head and powerpoints.",
            input_format="distinct numbers in 1..n-1 separated by spaces (0 is appended)",
            build=make,
            options=(Option("n", int, 28, "vocabulary: numbers 1..n-1 (0 ends the input)",
                            low=2, high=28, cap=1000, beyond=(
                                "its powerpoints' gaps halve with each number, and from n=29 "
                                "on float64 no longer separates them (measured); use "
                                "multiset-sort")),
                     Option("block_size", int, 100, "context length", low=1, high=10_000,
                            cap=10 ** 6)),
            examples=("6 2 12 18 7", "27 1 26 2 25"),
            book_size=lambda n=28, block_size=100:
                {"non0": 166, "non0_outside_tok_emb": 18} if n == 28 else None,
            float32="its 1e20 factors make layer norm's variance (1e40) overflow float32."),
)
