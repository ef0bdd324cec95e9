"""Plain-Python statements of what each library program is meant to compute (test oracles).

Written from the task descriptions, not from the RASP programs: loops and stacks, no selectors.

>>> reverse("abc"), most_freq("abbcc"), dyck(["()", "[]"])("([)]")
(['c', 'b', 'a'], ['b', 'c', 'a', '-', '-'], ['P', 'P', 'F', 'F'])
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Sequence


def length(xs: Sequence) -> list:
    """n at every position."""
    return [len(xs)] * len(xs)


def reverse(xs: Sequence) -> list:
    """The input backwards."""
    return list(xs)[::-1]


def hist(xs: Sequence) -> list:
    """Count of each position's token."""
    counts = Counter(xs)
    return [counts[x] for x in xs]


def sort(xs: Sequence) -> list:
    """Stable ascending sort."""
    return sorted(xs)


def sort_by_decreasing_freq(xs: Sequence) -> list:
    """Stable sort by decreasing count."""
    counts = Counter(xs)
    return sorted(xs, key=lambda x: -counts[x])


def most_freq(xs: Sequence, pad: Any = "-") -> list:
    """Distinct tokens by decreasing count, ties by first appearance, then padding."""
    counts = Counter(xs)
    distinct = sorted(dict.fromkeys(xs), key=lambda x: -counts[x])
    return distinct + [pad] * (len(xs) - len(distinct))


def frac_prevs(target: Any) -> Callable[[Sequence], list]:
    """Fraction of positions <= i holding ``target``."""
    def ref(xs: Sequence) -> list:
        return [sum(x == target for x in xs[:i + 1]) / (i + 1) for i in range(len(xs))]
    return ref


def pair_balance(opener: str, closer: str) -> Callable[[Sequence], list]:
    """(opens - closes among positions <= i) / (i + 1), as two fractions subtracted."""
    def ref(xs: Sequence) -> list:
        return [sum(x == opener for x in xs[:i + 1]) / (i + 1)
                - sum(x == closer for x in xs[:i + 1]) / (i + 1) for i in range(len(xs))]
    return ref


def shuffle_dyck(pairs: Sequence[str]) -> Callable[[Sequence], list]:
    """All True if each bracket kind alone never dips below zero and ends at zero."""
    def ref(xs: Sequence) -> list:
        ok = True
        for opener, closer in pairs:
            depth = 0
            for x in xs:
                depth += (x == opener) - (x == closer)
                ok = ok and depth >= 0
            ok = ok and depth == 0
        return [ok] * len(xs)
    return ref


def dyck(pairs: Sequence[str]) -> Callable[[Sequence], list]:
    """Per prefix: "T" balanced, "P" still completable, "F" already failed (a stack)."""
    closer_of = {p[0]: p[1] for p in pairs}
    def ref(xs: Sequence) -> list:
        out, stack, failed = [], [], False
        for x in xs:
            if x in closer_of:
                stack.append(x)
            elif x in closer_of.values():
                failed = failed or not stack or closer_of[stack.pop()] != x
            out.append("F" if failed else ("T" if not stack else "P"))
        return out
    return ref


def shift_by(offset: int, fill: Any = None) -> Callable[[Sequence], list]:
    """Shift right by ``offset`` (left if negative), padding with ``fill``."""
    def ref(xs: Sequence) -> list:
        n = len(xs)
        return [xs[i - offset] if 0 <= i - offset < n else fill for i in range(n)]
    return ref


def detect_pattern(pattern: Sequence) -> Callable[[Sequence], list]:
    """True where an occurrence of ``pattern`` ends; None before a full pattern fits."""
    k = len(pattern)
    def ref(xs: Sequence) -> list:
        return [None if i < k - 1 else list(xs[i - k + 1:i + 1]) == list(pattern)
                for i in range(len(xs))]
    return ref


def count_at_most_freq(n: int) -> Callable[[Sequence], list]:
    """Number of positions whose token occurs at most ``n`` times."""
    def ref(xs: Sequence) -> list:
        counts = Counter(xs)
        return [sum(counts[x] <= n for x in xs)] * len(xs)
    return ref


def count(token: Any) -> Callable[[Sequence], list]:
    """Occurrences of ``token`` at every position."""
    def ref(xs: Sequence) -> list:
        return [list(xs).count(token)] * len(xs)
    return ref


def cumsum(xs: Sequence) -> list:
    """Running sums."""
    out, total = [], 0
    for x in xs:
        total += x
        out.append(total)
    return out


def window_sum(window: int) -> Callable[[Sequence], list]:
    """Sum of the last ``window`` values."""
    def ref(xs: Sequence) -> list:
        return [sum(xs[max(0, i - window + 1):i + 1]) for i in range(len(xs))]
    return ref


def index(i: int) -> Callable[[Sequence], list]:
    """``xs[i]`` everywhere."""
    def ref(xs: Sequence) -> list:
        return [xs[i]] * len(xs)
    return ref


def minimum(xs: Sequence) -> list:
    """The minimum everywhere."""
    return [min(xs)] * len(xs)


def first(q: Any) -> Callable[[Sequence], list]:
    """Index of the first ``q`` everywhere (the blog's 99 when absent)."""
    def ref(xs: Sequence) -> list:
        return [list(xs).index(q) if q in xs else 99] * len(xs)
    return ref


def ralign(fill: Any = "-") -> Callable[[Sequence], list]:
    """Drop the "_" tokens and right-align the rest, filling on the left."""
    def ref(xs: Sequence) -> list:
        kept = [x for x in xs if x != "_"]
        return [fill] * (len(xs) - len(kept)) + kept
    return ref


def split(v: Any, first_part: bool, fill: Any = "0") -> Callable[[Sequence], list]:
    """The part before ``v`` right-aligned, or the part after ``v`` in place, ``fill`` around."""
    def ref(xs: Sequence) -> list:
        xs = list(xs)
        at = xs.index(v)
        if first_part:
            return [fill] * (len(xs) - at) + xs[:at]
        return [fill] * (at + 1) + xs[at + 1:]
    return ref


def slide(xs: Sequence) -> list:
    """Each "<" replaced by the nearest non-"<" token to its right."""
    out = list(xs)
    for i in range(len(out) - 2, -1, -1):
        if out[i] == "<":
            out[i] = out[i + 1]
    return out


def add(xs: Sequence) -> list:
    """Digits of a + b for input "a+b", zero-padded on the left to the input length."""
    a, b = "".join(xs).split("+")
    digits = str(int(a) + int(b)).rjust(len(xs), "0")
    return [int(d) for d in digits]
