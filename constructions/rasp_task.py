"""A compiled RASP program as a Task: parse, render, reference, and the inputs to check.

``compiled_task`` compiles a program with ``rasp.compile`` over an alphabet (integers
``0..vocab_size-1`` or a library program's characters) and inputs of length up to
``max_seq_len``, and wraps the weights in a ``taotp.program.Task`` of kind ``"encoder"``
(one non-causal pass over BOS + tokens, one output per token) or, with ``causal``,
``"causal-encoder"`` (the same pass causally masked: output i sees tokens 0..i only). A
program whose selectors all read only keys at or before the query (``frac_prevs``) is
compiled causally masked either way (``rasp.compile``), so its Task is a causal encoder
checked against the non-causal reference.

The reference of an encoder is the library's plain-Python one. A causal program computes
something else (every selector also requires key <= query: a causal "length" at position i is
i + 1), so its reference is RASP's own causal semantics, ``rasp.evaluate(program, xs,
causal=True)`` (an interpreter, independent of the weights).

``Inputs`` says which inputs the program promises to answer (the library's precondition) and
how to draw them: sample, exhaustive and adversarial give valid inputs only, and ``encode``
refuses the others with the precondition's description.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from taotp import rasp
from taotp.checks import check_text
from taotp.domains import Counted
from taotp.params import is_tied
from taotp.program import Task

# The largest domain (before the precondition filters it) enumerated for exhaustive checks.
EXHAUSTIVE = 100_000


def _uniform(rng: np.random.Generator, alphabet: tuple, k: int) -> list:
    return [alphabet[i] for i in rng.integers(0, len(alphabet), size=k)]


@dataclass(frozen=True)
class Inputs:
    """The valid inputs: ``valid(xs)`` (the library's precondition), lengths ``min_len`` up to
    ``longest(alphabet, max_seq_len)``, and ``draw(rng, alphabet, k)``, a valid input of
    length k (uniform unless the precondition needs a construction)."""
    valid: Callable[[Sequence], bool] = lambda xs: True
    description: str = ""
    min_len: int = 1
    draw: Callable[[np.random.Generator, tuple, int], list] = _uniform
    longest: Callable[[tuple, int], int] = lambda alphabet, n: n
    nasty: tuple = ()  # inputs (as text) worth checking whenever they fit


def _parse(text: str, alphabet: tuple, max_seq_len: int, integers: bool) -> list:
    text = check_text(text)
    if integers:
        parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
        for p in parts:
            if not re.fullmatch(r"[0-9]+", p) or int(p) >= len(alphabet):
                raise ValueError(f"token {p!r} is not an integer in 0..{len(alphabet) - 1} "
                                 f"(vocab_size {len(alphabet)})")
        xs = [int(p) for p in parts]
    else:
        xs = list(text)
        for x in xs:
            if x not in alphabet:
                raise ValueError(f"character {x!r} is not in this program's alphabet "
                                 f"{''.join(alphabet)!r}")
    if not xs:
        raise ValueError("empty input: give 1 or more tokens, e.g. "
                         + ("'3 1 2'" if integers else repr("".join(alphabet[:3]))))
    if len(xs) > max_seq_len:
        raise ValueError(f"{len(xs):,} tokens do not fit: max_seq_len is {max_seq_len}")
    return xs


def _show(value) -> str:
    if value is None:  # no value there (e.g. shifted in from before the start)
        return "_"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def compiled_task(program: rasp.SOp, reference: Callable[[Sequence], list], alphabet: tuple,
                  max_seq_len: int, causal: bool = False, inputs: Inputs = Inputs(),
                  options: dict | None = None) -> Task:
    """A Task running ``program`` compiled over ``alphabet`` (module docstring); ``reference``
    is the plain-Python one, on token values, used when not ``causal``."""
    integers = all(isinstance(a, int) and not isinstance(a, bool) for a in alphabet)
    compiled = rasp.compile(program, vocab=alphabet, max_seq_len=max_seq_len, causal=causal)
    vocab, outputs = compiled.vocab, compiled.outputs
    first_out = 1 + len(vocab)
    params = _merge_twins(compiled.params, outputs, first_out)
    lengths = range(inputs.min_len, min(inputs.longest(alphabet, max_seq_len), max_seq_len) + 1)
    if not lengths:
        raise ValueError(f"no valid input fits max_seq_len {max_seq_len}: "
                         f"{inputs.description}")

    def check(xs: list) -> list:
        if len(xs) < inputs.min_len or not inputs.valid(xs):
            raise ValueError(f"input {''.join(map(str, xs)) if not integers else xs} is "
                             f"outside this program's precondition: {inputs.description}")
        return xs

    def encode(text: str) -> np.ndarray:
        return compiled.ids(check(_parse(text, alphabet, max_seq_len, integers)))

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
        for i, out in enumerate(outputs):
            if out == value or (isinstance(value, float) and _close(out, value)):
                return first_out + i
        raise ValueError(f"reference value {value!r} is outside the compiled output values "
                         f"{outputs}")

    expected = (lambda xs: rasp.evaluate(program, xs, causal=True)) if causal else reference

    def reference_ids(prompt: np.ndarray) -> np.ndarray:
        return np.array([output_id(v) for v in expected(tokens_of(prompt))], dtype=np.int64)

    def sample(rng: np.random.Generator, n: int) -> list:
        ks = rng.integers(lengths.start, lengths.stop, size=n)
        return [compiled.ids(check(inputs.draw(rng, alphabet, int(k)))) for k in ks]

    def every():
        for k in lengths:
            for xs in itertools.product(alphabet, repeat=k):
                if inputs.valid(list(xs)):
                    yield compiled.ids(list(xs))

    def adversarial() -> list:
        return [compiled.ids(xs) for xs in _nasty(alphabet, lengths, inputs, integers)]

    def domain() -> Counted:
        size = sum(inputs.valid(list(xs)) for k in lengths
                   for xs in itertools.product(alphabet, repeat=k))
        return Counted(size, every)

    total = sum(len(alphabet) ** k for k in lengths)
    return Task(params=params, encode=encode, render=render, steps=lambda p: 0,
                reference=reference_ids, sample=sample,
                exhaustive=domain if total <= EXHAUSTIVE else None,
                adversarial=adversarial,
                kind="causal-encoder" if compiled.causal else "encoder",  # (prefix programs too)
                options=(options or {}) | {"vocab": vocab, "recipes": compiled.recipes})


def _close(a, b) -> bool:
    """Numbers within 1e-9 relative: the compiler's float64 resolution for numerical values
    (``rasp.compiler.RESOLUTION``), so a fraction's two roundings are one answer."""
    number = (int, float)
    return (isinstance(a, number) and isinstance(b, number) and not isinstance(a, bool)
            and not isinstance(b, bool) and abs(a - b) <= 1e-9 * max(1.0, abs(b)))


def _merge_twins(params: dict, outputs: tuple, first_out: int) -> dict:
    """Give each numerical output value the unembedding row of the first value within the
    resolution of it (``_close``; e.g. 2/3 computed as 0.6666666666666666 and as
    0.6666666666666667), so the two tie bit for bit and argmax takes the first: one answer,
    one id, the one ``output_id`` gives. Output ids are never fed in, so their ``tok_emb``
    rows change alike and tied embeddings stay tied."""
    twins = {i: next(j for j in range(i) if _close(outputs[j], outputs[i]))
             for i in range(len(outputs))
             if any(_close(outputs[j], outputs[i]) for j in range(i))}
    if not twins:
        return params
    tied = is_tied(params)
    out_emb = params["out_emb"].copy()
    for i, j in twins.items():
        out_emb[first_out + i] = out_emb[first_out + j]
    return params | {"out_emb": out_emb, "tok_emb": out_emb if tied else params["tok_emb"]}


def _nasty(alphabet: tuple, lengths: range, inputs: Inputs, integers: bool) -> list:
    """Extremes, runs and cycles at the shortest and longest lengths, and the program's own
    nasty inputs, kept where valid."""
    n, short = lengths.stop - 1, lengths.start
    a = list(alphabet)
    cases = [[x] * k for x in a for k in (short, n)]
    cases += [[a[i % len(a)] for i in range(n)], [a[(n - i) % len(a)] for i in range(n)],
              [a[-1]] + [a[0]] * (n - 1), [a[0]] * (n - 1) + [a[-1]], a[::-1][:n]]
    for text in inputs.nasty:
        xs = [int(t) for t in text.split()] if integers else list(text)
        if all(x in alphabet for x in xs):
            cases.append(xs)
    out, seen = [], set()
    for xs in cases:
        key = tuple(xs)
        if key not in seen and len(xs) in lengths and inputs.valid(xs):
            seen.add(key)
            out.append(xs)
    return out
