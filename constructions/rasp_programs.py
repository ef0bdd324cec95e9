"""Every RASP library program, compiled, as a registered taotp program: ``rasp-reverse`` ...

Each entry compiles one program of ``constructions.rasp_lib.LIBRARY`` with ``rasp.compile``
(``constructions.rasp_task``). Its options: ``max_seq_len`` (the longest input),
``vocab_size`` for integer programs (tokens ``0..vocab_size-1``; character programs keep the
library's alphabet), and ``causal``: compile with the causal mask, a causal encoder whose
output i sees tokens 0..i only and follows RASP's causal semantics.

Names (``LIBRARY_NAMES`` maps each library program to its entry): ``rasp-`` and the library
name without its source (``tracr-``, ``blog-``, ``paper-``), e.g. ``rasp-add`` for
``blog-add``; where two programs would share that name, the newer entry keeps its source
(``rasp-tracr-sort``, ``rasp-blog-length``, ``rasp-blog-shift``, ``rasp-blog-histogram``,
``rasp-paper-histogram``). The first nine entries predate the rule and keep their names and
integer tokens: ``rasp-shift`` is tracr's ``shift_by(1)``, ``rasp-count`` and
``rasp-frac-prevs`` count the token 0 (the library's entries count "a").

The proven ranges were measured by ``tests/test_rasp_programs.py`` (slow tests: verified at
every option's high, non-causal and causal); the compiler is exact by construction further
on, but taotp has not checked it there, so it refuses.

>>> from constructions.registry import get_program
>>> task = get_program("rasp-sort").make(vocab_size=4, max_seq_len=5)
>>> task.run("3 1 2 1")
'1 1 2 3'
>>> get_program("rasp-length").make(max_seq_len=5, causal=True).run("3 1 2")
'1 2 3'
"""
from __future__ import annotations

from typing import Callable

from constructions.rasp_lib import LIBRARY, blog, references as ref, tracr_lib as lib
from constructions.rasp_lib import paper
from constructions.rasp_inputs import INPUTS
from constructions.rasp_task import Inputs, compiled_task
from taotp import rasp
from taotp.program import Option, Program, Task

_WHY = "compiled exactly by construction, but not verified past it"
VOCAB_SIZE = Option("vocab_size", int, 5, "token values 0..vocab_size-1", low=1, high=10,
                    cap=1000, beyond=_WHY)
CAUSAL = Option("causal", bool, False, "compile causally masked: a causal encoder, output i "
                "sees tokens 0..i (RASP's causal semantics)")

# Measured with taotp.verify at the defaults (tests/test_registry.py::test_float32_claims_are_true)
_FLOAT32 = ("compiled for float64: cast to float32 it gives wrong answers (measured); "
            "compile with rasp.compile(..., dtype=np.float32) instead")


def _max_seq_len(default: int, high: int, cap: int, low: int = 1, beyond: str = _WHY) -> Option:
    return Option("max_seq_len", int, default, "longest input", low=low, high=high, cap=cap,
                  beyond=beyond)


def _entry(name: str, library: str, title: str, summary: str, examples: tuple,
           length: Option, *, make: Callable[[int], rasp.SOp] | None = None,
           reference=None, integers: bool = False, float32: str = "") -> tuple[str, Program]:
    """``library`` and the registered program ``name`` compiling ``LIBRARY[library]``
    (``make(max_seq_len)`` and ``reference`` override the library's where they differ)."""
    entry = LIBRARY[library]
    make = make or (lambda n: entry.make())
    reference = reference or entry.reference
    inputs = INPUTS.get(library, Inputs())

    def build(max_seq_len: int, causal: bool, vocab_size: int | None = None) -> Task:
        alphabet = tuple(range(vocab_size)) if integers else entry.alphabet
        options = {"max_seq_len": max_seq_len, "causal": causal}
        if integers:
            options = {"vocab_size": vocab_size} | options
        return compiled_task(make(max_seq_len), reference, alphabet, max_seq_len, causal,
                             inputs, options)

    if integers:
        fmt, options = "integers in 0..vocab_size-1, e.g. '3 1 2'", (VOCAB_SIZE, length, CAUSAL)
    else:
        fmt, options = f"characters of {''.join(entry.alphabet)!r}", (length, CAUSAL)
    if inputs.description:
        fmt += f"; {inputs.description}"
    return library, Program(name=name, title=f"{title} (compiled RASP)",
                            section="RASP (compiled)", summary=summary, input_format=fmt,
                            build=build, options=options, examples=examples, float32=float32)


_SMALL = _max_seq_len(8, 20, 1000)   # the first nine: measured at vocab 10, length 20
_ENTRIES = (
    _entry("rasp-reverse", "tracr-reverse", "Reverse", "tracr's make_reverse: the input "
           "backwards", ("1 2 3", "4 0 0 2"), _SMALL, integers=True),
    _entry("rasp-sort", "paper-sort", "Sort", "the RASP paper's stable sort (repeats allowed)",
           ("3 1 2", "4 4 0 1"), _SMALL, integers=True, float32=_FLOAT32),
    _entry("rasp-length", "tracr-length", "Length", "tracr's make_length: the input's length "
           "at every position", ("1 2 3", "0"), _SMALL, integers=True),
    _entry("rasp-hist", "tracr-hist", "Histogram", "tracr's make_hist: how often each token "
           "occurs", ("1 2 1", "0 0 0 3"), _SMALL, integers=True),
    _entry("rasp-sort-freq", "tracr-sort-freq", "Sort by frequency", "tracr's make_sort_freq"
           "(max_seq_len): tokens by decreasing count, stable", ("1 2 2 3", "0 4 4 4 0"),
           _SMALL, make=lib.make_sort_freq, integers=True, float32=_FLOAT32),
    _entry("rasp-count", "tracr-count", "Count zeros", "tracr's make_count(tokens, 0): how "
           "many 0s, at every position", ("0 1 0", "3 4"), _SMALL,
           make=lambda n: lib.make_count(rasp.tokens, 0), reference=ref.count(0),
           integers=True),
    _entry("rasp-shift", "tracr-shift-by", "Shift right", "tracr's shift_by(1, tokens): _ then "
           "the input but its last token", ("1 2 3", "4"), _SMALL, integers=True),
    _entry("rasp-frac-prevs", "tracr-frac-prevs", "Fraction of zeros so far",
           "tracr's make_frac_prevs(tokens == 0): a numerical output", ("0 1 0 0", "2 0"),
           _SMALL, make=lambda n: lib.make_frac_prevs(rasp.tokens == 0),
           reference=ref.frac_prevs(0), integers=True),
    _entry("rasp-cumsum", "blog-cumsum", "Running sum", "the RASPy blog's cumsum (a sum "
           "aggregate, which tracr rejects)", ("1 2 3", "4 0 4"), _SMALL, integers=True,
           float32=_FLOAT32),
    # tracr's library
    _entry("rasp-sort-unique", "tracr-sort-unique", "Sort unique keys", "tracr's "
           "make_sort_unique(tokens, tokens): distinct tokens sorted", ("3 1 2", "0 4"),
           _max_seq_len(5, 10, 1000), integers=True),
    _entry("rasp-tracr-sort", "tracr-sort", "Sort (tracr)", "tracr's make_sort(tokens, tokens, "
           "max_seq_len, min_key=1): stable, ties broken by position", ("3 1 2", "4 4 0 1"),
           _max_seq_len(8, 20, 1000), integers=True,
           make=lambda n: lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=n, min_key=1)),
    _entry("rasp-pair-balance", "tracr-pair-balance", "Pair balance", "tracr's "
           "make_pair_balance(tokens, '(', ')'): opens minus closes so far, over i + 1",
           ("(()", "a)("), _max_seq_len(5, 10, 16)),
    _entry("rasp-shuffle-dyck", "tracr-shuffle-dyck", "Shuffle-Dyck-1", "tracr's "
           "make_shuffle_dyck(['()']): True everywhere iff the brackets balance",
           ("(())", "())("), _max_seq_len(5, 10, 12)),
    _entry("rasp-shuffle-dyck2", "tracr-shuffle-dyck2", "Shuffle-Dyck-2", "tracr's "
           "make_shuffle_dyck2: True everywhere iff () and {} each balance", ("({)}", "(}"),
           _max_seq_len(4, 8, 12), float32=_FLOAT32),
    _entry("rasp-detect-pattern", "tracr-detect-pattern", "Detect pattern", "tracr's "
           "detect_pattern(tokens, 'abc'): True where 'abc' ends", ("abcabc", "cab"),
           _max_seq_len(6, 20, 1000)),
    _entry("rasp-count-less-freq", "tracr-count-less-freq", "Count rare tokens", "tracr's "
           "make_count_less_freq(2): how many tokens occur at most twice", ("aaabbc", "abc"),
           _max_seq_len(6, 20, 1000)),
    # the RASPy blog
    _entry("rasp-blog-length", "blog-length", "Length (blog)", "the blog's length: a sum of "
           "ones", ("abba", "a"), _max_seq_len(8, 20, 1000)),
    _entry("rasp-flip", "blog-flip", "Flip", "the blog's flip: the input backwards",
           ("abc", "aabc"), _max_seq_len(6, 20, 1000)),
    _entry("rasp-blog-histogram", "blog-histogram", "Histogram (blog)", "the blog's histogram: "
           "how often each token occurs", ("abca", "c"), _max_seq_len(6, 20, 1000)),
    _entry("rasp-window-sum", "blog-window-sum", "Window sum", "the blog's sliding-window sum "
           "of the last 3 tokens", ("1 3 2 2 2", "4"), _max_seq_len(6, 20, 40), integers=True,
           float32=_FLOAT32),
    _entry("rasp-index", "blog-index", "Index 1", "the blog's index(1): the second token at "
           "every position", ("abc", "ca"), _max_seq_len(6, 20, 1000, low=2)),
    _entry("rasp-blog-shift", "blog-shift", "Shift by 2 (blog)", "the blog's shift(2): _ _ then "
           "the input but its last two tokens", ("abc", "cab"), _max_seq_len(6, 20, 1000)),
    _entry("rasp-minimum", "blog-minimum", "Minimum", "the blog's minimum: the smallest token "
           "at every position", ("3 1 2", "4 4 0"), _max_seq_len(6, 12, 20), integers=True,
           float32=_FLOAT32),
    _entry("rasp-first", "blog-first", "First l", "the blog's first('l'): the first index of "
           "'l' (99 when absent)", ("hell", "eh"),
           _max_seq_len(5, 8, 10, beyond="compiled exactly by construction, but not verified "
                        "past it (from 12 on rasp.compile refuses: min's inputs too close)"),
           float32=_FLOAT32),
    _entry("rasp-ralign", "blog-ralign", "Right-align", "the blog's ralign: trailing _ "
           "padding moved to the front as -", ("xy__", "yxx_"), _max_seq_len(5, 20, 1000)),
    _entry("rasp-split-first", "blog-split-first", "Split, first part", "the blog's "
           "split('+', True): the part before '+', right-aligned, 0-padded", ("xy+yx", "+x"),
           _max_seq_len(5, 8, 12),
           float32=_FLOAT32),
    _entry("rasp-split-second", "blog-split-second", "Split, second part", "the blog's "
           "split('+', False): the part after '+', 0-padded", ("xy+yx", "x+"),
           _max_seq_len(5, 8, 16),
           float32=_FLOAT32),
    _entry("rasp-slide", "blog-slide", "Slide", "the blog's slide(tokens != '<'): each '<' "
           "becomes the next non-'<' token", ("xx<<y", "<<x"), _max_seq_len(6, 20, 40),
           float32=_FLOAT32),
    _entry("rasp-add", "blog-add", "Add", "the blog's add: 'a+b' to the digits of a + b, "
           "zero-padded to the input's length", ("12+3", "9+9"), _max_seq_len(4, 8, 12, low=3),
           float32=_FLOAT32),
    # the RASP paper
    _entry("rasp-paper-histogram", "paper-histogram", "Histogram (paper)", "the RASP paper's "
           "histogram: a selector width", ("abca", "c"), _max_seq_len(6, 20, 1000)),
    _entry("rasp-most-freq", "paper-most-freq", "Most frequent", "the RASP paper's "
           "most-frequent: distinct tokens by decreasing count, then -", ("abbcc", "cab"),
           _max_seq_len(5, 8, 12),
           float32=_FLOAT32),
    _entry("rasp-dyck1", "paper-dyck1", "Dyck-1", "the RASP paper's Dyck-1: per prefix T "
           "balanced, P open, F failed", ("(())", "())("), _max_seq_len(6, 10, 16)),
    _entry("rasp-dyck2", "paper-dyck2", "Dyck-2", "the RASP paper's Dyck-2 for () and []",
           ("([])", "([)]"), _max_seq_len(4, 5, 6), float32=_FLOAT32),
)

PROGRAMS = tuple(program for _, program in _ENTRIES)
# The registered program that compiles each library program.
LIBRARY_NAMES = {library: program.name for library, program in _ENTRIES}
