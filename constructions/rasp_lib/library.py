"""``LIBRARY``: every known RASP program by name, with its reference and its test domain.

A plain dict, not the construction registry: these are RASP programs (evaluated, drawn, and
compiled by whoever wants to). The CLI's ``taotp rasp NAME INPUT`` looks names up here.

>>> entry = LIBRARY["paper-sort"]
>>> entry.make()(entry.parse("3,1,2")), entry.reference([3, 1, 2])
([1, 2, 3], [1, 2, 3])
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from constructions.rasp_lib import blog, paper, references as ref, tracr_lib as lib
from taotp import rasp


@dataclass(frozen=True)
class LibraryEntry:
    """One program: how to build it, what it should compute, and on which inputs.

    ``alphabet`` and ``max_len`` give the test domain (every sequence of length 1..max_len);
    ``precondition`` (if any) says which inputs the program promises to get right.
    """

    make: Callable[[], rasp.SOp]
    reference: Callable[[Sequence], list]
    description: str
    alphabet: tuple
    max_len: int
    precondition: Callable[[Sequence], bool] | None = None

    def parse(self, text: str) -> list:
        """Input text to tokens: "1,2,3" or "1 2 3" for number alphabets, characters else."""
        if not isinstance(text, str):
            raise TypeError(f"input must be a str, got {type(text).__name__}")
        if all(isinstance(a, int) and not isinstance(a, bool) for a in self.alphabet):
            parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
            try:
                return [int(p) for p in parts]
            except ValueError:
                raise ValueError(f"this program reads integers like '3,1,2', "
                                 f"got {text!r}") from None
        return list(text)

    def check(self, xs: Sequence) -> None:
        """Refuse an input outside the program's precondition (its answer would be wrong)."""
        if self.precondition is not None and not self.precondition(xs):
            raise ValueError(f"input {xs!r} is outside this program's precondition: "
                             f"{self.description}")


def _ints(n: int) -> tuple:
    return tuple(range(n))


def _digits_plus(xs: Sequence) -> bool:
    return re.fullmatch(r"[0-9]+\+[0-9]+", "".join(xs)) is not None


def _unique(xs: Sequence) -> bool:
    return len(set(xs)) == len(xs)


def _trailing_underscores(xs: Sequence) -> bool:
    return "".join(xs).rstrip("_").count("_") == 0


LIBRARY: dict[str, LibraryEntry] = {
    # tracr's lib.py
    "tracr-length": LibraryEntry(lib.make_length, ref.length, "tracr make_length", tuple("ab"), 8),
    "tracr-reverse": LibraryEntry(lambda: lib.make_reverse(rasp.tokens), ref.reverse,
                                  "tracr make_reverse(tokens)", tuple("abc"), 6),
    "tracr-hist": LibraryEntry(lib.make_hist, ref.hist, "tracr make_hist", tuple("abc"), 6),
    "tracr-sort-unique": LibraryEntry(lambda: lib.make_sort_unique(rasp.tokens, rasp.tokens),
                                      ref.sort, "tracr make_sort_unique(tokens, tokens); "
                                      "needs unique keys", _ints(5), 5, _unique),
    "tracr-sort": LibraryEntry(lambda: lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=5,
                                                     min_key=1),
                               ref.sort, "tracr make_sort(max_seq_len=5, min_key=1); integer "
                               "keys, length <= 5", _ints(4), 5, lambda xs: len(xs) <= 5),
    "tracr-sort-freq": LibraryEntry(lambda: lib.make_sort_freq(5), ref.sort_by_decreasing_freq,
                                    "tracr make_sort_freq(5); length <= 5", _ints(4), 5,
                                    lambda xs: len(xs) <= 5),
    "tracr-frac-prevs": LibraryEntry(lambda: lib.make_frac_prevs(rasp.tokens == "a"),
                                     ref.frac_prevs("a"), "tracr make_frac_prevs(tokens == 'a')",
                                     tuple("ab"), 8),
    "tracr-pair-balance": LibraryEntry(lambda: lib.make_pair_balance(rasp.tokens, "(", ")"),
                                       ref.pair_balance("(", ")"), "tracr make_pair_balance",
                                       tuple("()a"), 6),
    "tracr-shuffle-dyck": LibraryEntry(lambda: lib.make_shuffle_dyck(["()"]),
                                       ref.shuffle_dyck(["()"]), "tracr make_shuffle_dyck(['()'])",
                                       tuple("()"), 8),
    "tracr-shuffle-dyck2": LibraryEntry(lib.make_shuffle_dyck2, ref.shuffle_dyck(["()", "{}"]),
                                        "tracr make_shuffle_dyck2", tuple("(){}"), 5),
    "tracr-shift-by": LibraryEntry(lambda: lib.shift_by(1, rasp.tokens), ref.shift_by(1),
                                   "tracr shift_by(1, tokens)", tuple("abc"), 6),
    "tracr-detect-pattern": LibraryEntry(lambda: lib.detect_pattern(rasp.tokens, "abc"),
                                         ref.detect_pattern("abc"),
                                         "tracr detect_pattern(tokens, 'abc')", tuple("abc"), 6),
    "tracr-count-less-freq": LibraryEntry(lambda: lib.make_count_less_freq(2),
                                          ref.count_at_most_freq(2),
                                          "tracr make_count_less_freq(2) (counts <= 2)",
                                          tuple("abc"), 6),
    "tracr-count": LibraryEntry(lambda: lib.make_count(rasp.tokens, "a"), ref.count("a"),
                                "tracr make_count(tokens, 'a')", tuple("abc"), 6),
    # The RASPy blog
    "blog-length": LibraryEntry(blog.length, ref.length, "blog length", tuple("ab"), 8),
    "blog-flip": LibraryEntry(blog.flip, ref.reverse, "blog flip", tuple("abc"), 6),
    "blog-histogram": LibraryEntry(blog.histogram, ref.hist, "blog histogram", tuple("abc"), 6),
    "blog-window-sum": LibraryEntry(blog.window_sum, ref.window_sum(3),
                                    "blog sliding-window sum (window 3)", (-1, 0, 2), 6),
    "blog-cumsum": LibraryEntry(blog.cumsum, ref.cumsum, "blog cumsum", (-2, 0, 1, 3), 5),
    "blog-index": LibraryEntry(lambda: blog.index(1), ref.index(1),
                               "blog index(1); needs length >= 2", tuple("abc"), 6,
                               lambda xs: len(xs) >= 2),
    "blog-shift": LibraryEntry(lambda: blog.shift(2), ref.shift_by(2, "_"), "blog shift(2)",
                               tuple("abc"), 6),
    "blog-minimum": LibraryEntry(blog.minimum, ref.minimum, "blog minimum", _ints(4), 5),
    "blog-first": LibraryEntry(lambda: blog.first("l"), ref.first("l"),
                               "blog first('l'); needs length < 100", tuple("hel"), 6,
                               lambda xs: len(xs) < 100),
    "blog-ralign": LibraryEntry(blog.ralign, ref.ralign("-"),
                                "blog ralign; needs the '_' only at the end", tuple("xy_"), 6,
                                _trailing_underscores),
    "blog-split-first": LibraryEntry(lambda: blog.split("+", True), ref.split("+", True),
                                     "blog split('+', True); needs exactly one '+'",
                                     tuple("xy+"), 6, lambda xs: list(xs).count("+") == 1),
    "blog-split-second": LibraryEntry(lambda: blog.split("+", False), ref.split("+", False),
                                      "blog split('+', False); needs exactly one '+'",
                                      tuple("xy+"), 6, lambda xs: list(xs).count("+") == 1),
    "blog-slide": LibraryEntry(lambda: blog.slide(rasp.tokens != "<"), ref.slide,
                               "blog slide(tokens != '<'); needs a non-'<' last token",
                               tuple("xy<"), 6, lambda xs: xs[-1] != "<"),
    "blog-add": LibraryEntry(blog.add, ref.add, "blog add: 'a+b' -> digits of a + b",
                             tuple("0123456789+"), 7, _digits_plus),
    # The RASP paper
    "paper-histogram": LibraryEntry(paper.make_histogram, ref.hist, "RASP paper histogram",
                                    tuple("abc"), 6),
    "paper-sort": LibraryEntry(lambda: paper.make_sort(rasp.tokens, rasp.tokens), ref.sort,
                               "RASP paper sort (stable, repeats allowed)", _ints(4), 5),
    "paper-most-freq": LibraryEntry(paper.make_most_freq, ref.most_freq,
                                    "RASP paper most-frequent", tuple("abc"), 6),
    "paper-dyck1": LibraryEntry(paper.make_dyck1, ref.dyck(["()"]), "RASP paper Dyck-1 (T/P/F)",
                                tuple("()"), 8),
    "paper-dyck2": LibraryEntry(paper.make_dyck2, ref.dyck(["()", "[]"]),
                                "RASP paper Dyck-2 (T/P/F)", tuple("()[]"), 5),
}


def get_entry(name: str) -> LibraryEntry:
    """The entry called ``name``, or a ValueError listing the valid names."""
    if name not in LIBRARY:
        raise ValueError(f"unknown RASP program {name!r}; known: {', '.join(sorted(LIBRARY))}")
    return LIBRARY[name]
