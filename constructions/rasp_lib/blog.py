"""Every program of the RASPy blog ("Thinking Like Transformers", Rush and Weiss), in taotp.

The blog's aggregation is a **sum** (``sel.value(sop, default=0)``); its programs are written
here exactly as in the blog, in RASPy's syntax. Preconditions the blog states (or silently
assumes) are in each docstring; ``tests/test_rasp_lib.py`` shows what happens outside them.

>>> add()("683+345")
[0, 0, 0, 1, 0, 2, 8]
"""
from __future__ import annotations

from typing import Any

from taotp import rasp
from taotp.rasp import indices, key, query, tokens, where


def before() -> rasp.Selector:
    """Each query selects the earlier positions."""
    return key(indices) < query(indices)


def length() -> rasp.SOp:
    """The sequence length at every position: select everything, add 1 per key (1 layer).

    >>> length()("hello")
    [5, 5, 5, 5, 5]
    """
    return (key(1) == query(1)).value(1).name("length")


def flip() -> rasp.SOp:
    """The input reversed (2 layers).

    >>> flip()("hello")
    ['o', 'l', 'l', 'e', 'h']
    """
    n = (key(1) == query(1)).value(1)
    return (key(n - indices - 1) == query(indices)).value(tokens).name("flip")


def histogram(seq: rasp.SOp = tokens) -> rasp.SOp:
    """How many times each position's token occurs (1 layer).

    >>> histogram()("hello")
    [1, 1, 2, 2, 1]
    """
    return (key(seq) == query(seq)).value(1).name("hist")


def window_sum(window: int = 3, seq: rasp.SOp = tokens) -> rasp.SOp:
    """The sum of the last ``window`` values (the blog's sliding-window example).

    >>> window_sum()([1, 3, 2, 2, 2])
    [1, 4, 6, 7, 6]
    """
    s1 = key(indices) >= query(indices - window + 1)
    s2 = key(indices) <= query(indices)
    return (s1 & s2).value(seq).name("window_sum")


def cumsum(seq: rasp.SOp = tokens) -> rasp.SOp:
    """Running sum (1 layer; 2 when ``seq`` itself needs one, e.g. ``cumsum(length - indices)``).

    >>> cumsum()([3, 1, -2, 3, 1])
    [3, 4, 2, 5, 6]
    """
    return (before() | (key(indices) == query(indices))).value(seq).name("cumsum")


def atoi(seq: rasp.SOp = tokens) -> rasp.SOp:
    """Digit characters to ints (an MLP). Needs one-character digit strings.

    >>> atoi()("31234")
    [3, 1, 2, 3, 4]
    """
    return seq.map(lambda x: ord(x) - ord("0"))


def index(i: int, seq: rasp.SOp = tokens) -> rasp.SOp:
    """Challenge 1: every position gets ``seq[i]`` (needs 0 <= i < length, else the sum's
    default 0 appears).

    >>> index(1)("hello")
    ['e', 'e', 'e', 'e', 'e']
    """
    return (key(indices) == query(i)).value(seq).name("index")


def shift(i: int = 1, default: Any = "_", seq: rasp.SOp = tokens) -> rasp.SOp:
    """Challenge 2: shift right by ``i``, filling with ``default``.

    >>> shift(2)("hello")
    ['_', '_', 'h', 'e', 'l']
    """
    return (key(indices) == query(indices - i)).value(seq, default).name("shift")


def minimum(seq: rasp.SOp = tokens) -> rasp.SOp:
    """Challenge 3: the minimum at every position (2 layers): rank by (value, index), read
    the rank-0 value.

    >>> minimum()([5, 3, 2, 5, 2])
    [2, 2, 2, 2, 2]
    """
    sel1 = before() & (key(seq) == query(seq))
    sel2 = key(seq) < query(seq)
    less = (sel1 | sel2).value(1)
    return (key(less) == query(0)).value(seq).name("min")


def first(q: Any, seq: rasp.SOp = tokens) -> rasp.SOp:
    """Challenge 4: the first index holding ``q``. Needs length < 100 (the blog's sentinel
    99); when ``q`` is absent it answers 99.

    >>> first("l")("hello")
    [2, 2, 2, 2, 2]
    """
    return minimum(where(seq == q, indices, 99))


def ralign(default: Any = "-", sop: rasp.SOp = tokens) -> rasp.SOp:
    """Challenge 5: right-align a sequence padded with trailing "_" (2 layers). Needs the
    "_" only at the end: a "_" elsewhere shifts the wrong tokens.

    >>> ralign()("xyz__")
    ['-', '-', 'x', 'y', 'z']
    """
    c = (key(sop) == query("_")).value(1)
    return (key(indices + c) == query(indices)).value(sop, default).name("ralign")


def split(v: Any, get_first_part: bool, sop: rasp.SOp = tokens, default: Any = "0") -> rasp.SOp:
    """Challenge 6: the part before (right-aligned) or after ``v``. Needs exactly one ``v``.

    >>> split("+", True)("xyz+zyr")
    ['0', '0', '0', '0', 'x', 'y', 'z']
    >>> split("+", False)("xyz+zyr")
    ['0', '0', '0', '0', 'z', 'y', 'r']
    """
    split_point = (key(sop) == query(v)).value(indices)
    if get_first_part:
        return ralign(default, where(indices < split_point, sop, "_"))
    return where(indices > split_point, sop, default)


def slide(match: rasp.SOp, seq: rasp.SOp = tokens) -> rasp.SOp:
    """Challenge 6b: replace each non-``match`` position by the nearest ``match`` value to its
    right (2 layers). With no match to the right the sum's default 0 appears.

    >>> slide(tokens != "<")("xxxh<<<l")
    ['x', 'x', 'x', 'h', 'l', 'l', 'l', 'l']
    """
    x = cumsum(match)
    y = ((key(x) == query(x + 1)) & (key(match) == query(True))).value(seq)
    return where(match, seq, y).name("slide")


def add(sop: rasp.SOp = tokens) -> rasp.SOp:
    """Challenge 7: "a+b" (decimal digits, exactly one "+") to the digits of a + b,
    zero-padded to the input length.

    >>> add()("99+1")
    [0, 1, 0, 0]
    """
    x = atoi(split("+", True, sop)) + atoi(split("+", False, sop))
    gets_carry = shift(-1, "0", where(x > 9, "1", where(x == 9, "<", "0")))
    gets_carry = atoi(slide(gets_carry != "<", gets_carry))
    return ((x + gets_carry) % 10).name("add")


def small_examples() -> dict[str, rasp.SOp]:
    """The blog's one-line transforms of its "Transformers as Code" part, by a short name.

    >>> small_examples()["tokens*2-1"]([1, 2, 3, 5, 2])
    [1, 3, 5, 9, 3]
    """
    return {
        "tokens==l": tokens == "l",
        "tokens*2-1": tokens * 2 - 1,
        "tokens-5+indices": tokens - 5 + indices,
        "l_or_index1": (tokens == "l") | (indices == 1),
        "where_hl_q": where((tokens == "h") | (tokens == "l"), tokens, "q"),
        "atoi_plus2": atoi(where(tokens == "-", "0", tokens)) + 2,
        "cumsum_length_minus_indices": cumsum(length() - indices),
    }
