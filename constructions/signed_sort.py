"""SORT of negative numbers (Ex 5.5), ``signed-sort``: every SORT construction only uses the order
of the values, so an order-preserving relabelling ``x -> x + max_abs + 1`` (0 stays the
terminator) turns ``constructions.multiset_sort`` into a sort of ``-max_abs..max_abs`` with
repeats; the transformer is multiset_sort's (vocab ``2 max_abs + 2``), only the tokenizer changes:
20,840 parameters at the default ``max_abs=499, block_size=200`` (up to 100 numbers).

>>> task = make(max_abs=5, block_size=10)
>>> task.run("-5 3 -2 3 0")
'-5 -2 0 3 3'
"""
from __future__ import annotations

import numpy as np

from constructions.multiset_sort import build_multiset_sort_transformer
from taotp.checks import check_int, parse_int
from taotp.program import Option, Program, Task


def build_signed_sort_transformer(max_abs: int = 499, block_size: int = 200) -> dict:
    """multiset-sort's transformer over the relabelled vocabulary ``0..2 max_abs + 1``: the
    weights never see a sign, only the order the tokenizer keeps."""
    check_int("max_abs", max_abs, low=0)
    check_int("block_size", block_size, low=2)
    return build_multiset_sort_transformer(2 * max_abs + 2, block_size)


def make(max_abs: int = 499, block_size: int = 200) -> Task:
    """SORT of integers in ``-max_abs..max_abs`` (repeats allowed) by relabelling (Ex 5.5)."""
    params = build_signed_sort_transformer(max_abs, block_size)
    shift, max_numbers = max_abs + 1, block_size // 2

    def encode(text):
        if not isinstance(text, str):
            raise TypeError(f"input must be a str, not {type(text).__name__}")
        words = text.replace(",", " ").split()
        if not words:
            raise ValueError("empty input: give at least one integer")
        values = []
        for word in words:
            x = parse_int(word, "an integer", signed=True)
            if not -max_abs <= x <= max_abs:
                raise ValueError(f"{x} is outside -{max_abs}..{max_abs}")
            values.append(x)
        if len(values) > max_numbers:
            raise ValueError(f"{len(values)} numbers do not fit: at most {max_numbers} "
                             f"with block_size={block_size}")
        return np.array([x + shift for x in values] + [0])

    def render(ids):
        return " ".join(str(int(i) - shift) for i in ids)

    def sample(rng, count):
        return [np.append(rng.integers(1, 2 * max_abs + 2, int(rng.integers(1, max_numbers + 1))), 0)
                for _ in range(count)]

    def adversarial():
        n, lo, hi = max_numbers, 1, 2 * max_abs + 1
        cases = [[lo] * n, [hi] * n, [shift] * n, [hi, lo] * (n // 2), [shift - 1, shift + 1] * (n // 2),
                 list(range(hi, lo - 1, -1))[:n], [lo], [hi]]
        return [np.array(c + [0]) for c in cases if c]

    return Task(params=params, encode=encode, render=render,
                steps=lambda prompt: len(prompt) - 1,
                reference=lambda prompt: np.array(sorted(int(t) for t in prompt[:-1])),
                sample=sample, adversarial=adversarial,
                options=dict(max_abs=max_abs, block_size=block_size))


PROGRAMS = (
    Program(
        name="signed-sort", title="SORT with negative numbers", section="Exercise 5.5",
        summary="multiset-sort behind an order-preserving tokenizer x -> x + max_abs + 1: "
                "integers in -max_abs..max_abs, repeats allowed.",
        input_format="integers separated by spaces, e.g. '-5 3 -2 3 0' (the terminator is "
                     "appended)",
        build=make,
        options=(Option("max_abs", int, 499, "largest absolute value", low=0, high=5000,
                        cap=10 ** 6),
                 Option("block_size", int, 200, "context: sorts up to block_size // 2 numbers",
                        low=2, high=1000, cap=10 ** 5)),
        examples=("-5 3 -2 3 0", "499 -499 0 -1 1"),
    ),
)
