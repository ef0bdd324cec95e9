"""Compiled RASP programs as registered taotp programs: ``rasp-reverse``, ``rasp-sort`` ...

Registered: reverse, sort (stable), length, hist, sort-freq, count (of 0), shift (by 1),
frac-prevs (of 0; numerical), cumsum (the blog's sum aggregate).

Each entry compiles a program of the RASP library (``constructions.rasp_lib``) with
``rasp.compile`` over the vocabulary ``0..vocab_size-1`` and inputs of length
``1..max_seq_len``. A compiled RASP model is an encoder (``Task.causal`` false): one
non-causal forward pass over BOS + tokens gives one output per token, the argmax at each
token's position. Inputs are integers, "3 1 2"; outputs are rendered the same way
(numerical outputs as integers when they are whole).

The proven ranges were measured by ``tests/test_limits.py::test_exact_at_the_proven_limit``
(slow): verified at ``vocab_size`` and ``max_seq_len`` both at their highs; the compiler is
exact by construction further on, but taotp has not checked it there, so it refuses.

>>> from constructions.registry import get_program
>>> task = get_program("rasp-sort").make(vocab_size=4, max_seq_len=5)
>>> task.run("3 1 2 1")
'1 1 2 3'
"""
from __future__ import annotations

import itertools
import re
from typing import Callable, Sequence

import numpy as np

from constructions.rasp_lib import blog, paper, references as ref, tracr_lib as lib
from taotp import rasp
from taotp.checks import check_text
from taotp.domains import Counted
from taotp.program import Option, Program, Task

# The largest domain enumerated for exhaustive verification.
_EXHAUSTIVE = 100_000

_WHY = "compiled exactly by construction, but not verified past it"
VOCAB_SIZE = Option("vocab_size", int, 5, "token values 0..vocab_size-1", low=1, high=10,
                    cap=1000, beyond=_WHY)
MAX_SEQ_LEN = Option("max_seq_len", int, 8, "longest input", low=1, high=20, cap=1000,
                     beyond=_WHY)


def _parse(text: str, vocab_size: int, max_seq_len: int) -> list[int]:
    parts = [p for p in re.split(r"[,\s]+", check_text(text).strip()) if p]
    if not parts:
        raise ValueError("empty input: give 1 or more integers, e.g. '3 1 2'")
    if len(parts) > max_seq_len:
        raise ValueError(f"{len(parts):,} tokens do not fit: max_seq_len is {max_seq_len}")
    for p in parts:
        if not re.fullmatch(r"[0-9]+", p) or int(p) >= vocab_size:
            raise ValueError(f"token {p!r} is not an integer in 0..{vocab_size - 1} "
                             f"(vocab_size {vocab_size})")
    return [int(p) for p in parts]


def _show(value) -> str:
    if value is None:  # no value there (e.g. shifted in from before the start)
        return "_"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def compiled_task(program: rasp.SOp, reference: Callable[[Sequence], list], vocab_size: int,
                  max_seq_len: int) -> Task:
    """An encoder Task from a RASP program over integer tokens (the reference is the
    library's plain-Python one, on token values)."""
    compiled = rasp.compile(program, vocab=range(vocab_size), max_seq_len=max_seq_len)
    vocab, outputs = compiled.vocab, compiled.outputs
    first_out = 1 + len(vocab)

    def encode(text: str) -> np.ndarray:
        return compiled.ids(_parse(text, vocab_size, max_seq_len))

    def tokens_of(prompt) -> list:
        return [vocab[int(i) - 1] for i in np.asarray(prompt)[1:]]

    def render(ids: Sequence[int]) -> str:
        out = []
        for i in ids:
            i = int(i)
            if first_out <= i < first_out + len(outputs):
                out.append(_show(outputs[i - first_out]))
            elif 1 <= i < first_out:  # an input id: a wrong answer, shown as such
                out.append(f"<in {vocab[i - 1]}>")
            else:
                out.append("<bos>")
        return " ".join(out)

    def output_id(value) -> int:
        for i, out in enumerate(outputs):  # numbers to 1e-9 relative (a fraction's rounding)
            if out == value or (isinstance(value, float) and isinstance(out, (int, float))
                                and abs(out - value) <= 1e-9 * max(1.0, abs(value))):
                return first_out + i
        raise ValueError(f"reference value {value!r} is outside the compiled output values "
                         f"{outputs}")

    def reference_ids(prompt: np.ndarray) -> np.ndarray:
        return np.array([output_id(v) for v in reference(tokens_of(prompt))], dtype=np.int64)

    def sample(rng: np.random.Generator, n: int) -> list:
        lengths = rng.integers(1, max_seq_len + 1, size=n)
        return [compiled.ids(list(rng.integers(0, vocab_size, size=k))) for k in lengths]

    def exhaustive():
        for k in range(1, max_seq_len + 1):
            for xs in itertools.product(range(vocab_size), repeat=k):
                yield compiled.ids(list(xs))

    def adversarial() -> list:
        top, n = vocab_size - 1, max_seq_len
        cases = [[0], [top], [0] * n, [top] * n, list(range(n)[::-1]),
                 [i % vocab_size for i in range(n)], [(n - i) % vocab_size for i in range(n)],
                 [top] + [0] * (n - 1), [0] * (n - 1) + [top]]
        return [compiled.ids([x % vocab_size for x in xs]) for xs in cases]

    domain = sum(vocab_size ** k for k in range(1, max_seq_len + 1))
    return Task(params=compiled.params, encode=encode, render=render, steps=lambda p: 0,
                reference=reference_ids, sample=sample,
                exhaustive=(lambda: Counted(domain, exhaustive))
                if domain <= _EXHAUSTIVE else None,
                adversarial=adversarial, causal=False,
                options={"vocab_size": vocab_size, "max_seq_len": max_seq_len,
                         "recipes": compiled.recipes})


# Measured with taotp.verify, 300 seeded samples (seed 7) at vocab 20, length 40 (sort), and
# by tests/test_registry.py::test_float32_claims_are_true at the defaults (sort-freq, cumsum).
_FLOAT32 = ("compiled for float64: cast to float32 it gives wrong answers (measured); "
            "compile with rasp.compile(..., dtype=np.float32) instead")


def _entry(name: str, title: str, make: Callable[[int], rasp.SOp], reference, summary: str,
           examples: tuple, float32: str = "") -> Program:
    """``make(max_seq_len)`` builds the RASP program (most ignore the length)."""
    def build(vocab_size: int, max_seq_len: int) -> Task:
        return compiled_task(make(max_seq_len), reference, vocab_size, max_seq_len)

    return Program(name=name, title=title, section="RASP (compiled)", summary=summary,
                   input_format="integers in 0..vocab_size-1, e.g. '3 1 2'", build=build,
                   options=(VOCAB_SIZE, MAX_SEQ_LEN), examples=examples, float32=float32)


PROGRAMS = (
    _entry("rasp-reverse", "Reverse (compiled RASP)", lambda n: lib.make_reverse(rasp.tokens),
           ref.reverse, "tracr's make_reverse compiled: the input backwards",
           ("1 2 3", "4 0 0 2")),
    _entry("rasp-sort", "Sort (compiled RASP)",
           lambda n: paper.make_sort(rasp.tokens, rasp.tokens), ref.sort,
           "the RASP paper's stable sort compiled (repeats allowed)", ("3 1 2", "4 4 0 1"),
           _FLOAT32),
    _entry("rasp-length", "Length (compiled RASP)", lambda n: lib.make_length(), ref.length,
           "tracr's make_length compiled: the input's length at every position",
           ("1 2 3", "0")),
    _entry("rasp-hist", "Histogram (compiled RASP)", lambda n: lib.make_hist(), ref.hist,
           "tracr's make_hist compiled: how often each token occurs", ("1 2 1", "0 0 0 3")),
    _entry("rasp-sort-freq", "Sort by frequency (compiled RASP)", lib.make_sort_freq,
           ref.sort_by_decreasing_freq, "tracr's make_sort_freq compiled: tokens by "
           "decreasing count, stable", ("1 2 2 3", "0 4 4 4 0"), _FLOAT32),
    _entry("rasp-count", "Count zeros (compiled RASP)",
           lambda n: lib.make_count(rasp.tokens, 0), ref.count(0),
           "tracr's make_count(tokens, 0) compiled: how many 0s, at every position",
           ("0 1 0", "3 4")),
    _entry("rasp-shift", "Shift right (compiled RASP)", lambda n: lib.shift_by(1, rasp.tokens),
           ref.shift_by(1), "tracr's shift_by(1, tokens) compiled: _ then the input but its "
           "last token", ("1 2 3", "4")),
    _entry("rasp-frac-prevs", "Fraction of zeros so far (compiled RASP)",
           lambda n: lib.make_frac_prevs(rasp.tokens == 0), ref.frac_prevs(0),
           "tracr's make_frac_prevs(tokens == 0) compiled: a numerical output",
           ("0 1 0 0", "2 0")),
    _entry("rasp-cumsum", "Running sum (compiled RASP)", lambda n: blog.cumsum(), ref.cumsum,
           "the RASPy blog's cumsum compiled (a sum aggregate, which tracr rejects)",
           ("1 2 3", "4 0 4"), _FLOAT32),
)
