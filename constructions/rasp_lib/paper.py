"""The RASP paper's examples (Weiss, Goldberg, Yahav, "Thinking Like Transformers", ICML 2021)
in tracr-style RASP with mean aggregation: histogram, sort, most-frequent, Dyck-1, Dyck-2.

Layer counts (``rasp.layers``): histogram 1, sort 2, most-frequent 3, Dyck-1 2 as in the paper;
this Dyck-2 takes 4 (the paper reports 3 for its own, different program).

>>> rasp.layers(make_sort(rasp.tokens, rasp.tokens)).depth
2
"""
from __future__ import annotations

from typing import Any, Sequence

from taotp import rasp
from taotp.rasp import Comparison, indices, tokens, where


def make_histogram(seq: rasp.SOp = tokens) -> rasp.SOp:
    """How many times each position's token occurs (1 layer).

    >>> make_histogram()("hello")
    [1, 1, 2, 2, 1]
    """
    return rasp.SelectorWidth(rasp.Select(seq, seq, Comparison.EQ)).named("histogram")


def make_sort(vals: rasp.SOp, keys: rasp.SOp) -> rasp.SOp:
    """``vals`` stably sorted by ``keys`` (any comparable values, repeats allowed): the paper's
    tie-break composes selectors, "smaller key, or equal key and earlier position" (2 layers).

    >>> make_sort(rasp.tokens, rasp.tokens)([3, 1, 3, 0])
    [0, 1, 3, 3]
    """
    earlier = rasp.Select(indices, indices, Comparison.LT)
    smaller = (rasp.Select(keys, keys, Comparison.LT)
               | (rasp.Select(keys, keys, Comparison.EQ) & earlier)).named("smaller_key")
    target = rasp.SelectorWidth(smaller).named("target_pos")
    return rasp.Aggregate(rasp.Select(target, indices, Comparison.EQ), vals).named("sort")


def make_most_freq(pad: Any = "-") -> rasp.SOp:
    """The distinct tokens by decreasing frequency (ties: first appearance first), then
    ``pad`` (3 layers).

    >>> make_most_freq()("abbcc")
    ['b', 'c', 'a', '-', '-']
    """
    same = rasp.Select(tokens, tokens, Comparison.EQ)
    hist = rasp.SelectorWidth(same).named("hist")
    earlier_same = same & rasp.Select(indices, indices, Comparison.LT)
    has_prev = (rasp.SelectorWidth(earlier_same) > 0).named("has_prev")
    sort_key = rasp.SequenceMap(lambda h, dup: 0 if dup else -h, hist, has_prev).named("freq_key")
    by_freq = make_sort(tokens, sort_key).named("by_freq")
    n_distinct = rasp.SelectorWidth(
        rasp.Select(has_prev, has_prev, lambda k, q: not k)).named("n_distinct")
    return where(indices < n_distinct, by_freq, pad).named("most_freq")


def _prefix_mean(values: rasp.SOp, name: str) -> rasp.SOp:
    prevs = rasp.Select(indices, indices, Comparison.LEQ)
    return rasp.numerical(rasp.Aggregate(prevs, rasp.numerical(values), default=0)).named(name)


def make_dyck1(pair: str = "()") -> rasp.SOp:
    """Per prefix: "T" balanced, "P" a valid prefix not yet closed, "F" failed (2 layers).
    Other tokens are ignored.

    >>> make_dyck1()("(()))(")
    ['P', 'P', 'P', 'T', 'F', 'F']
    """
    opener, closer = _pair(pair)
    step = where(tokens == opener, 1, where(tokens == closer, -1, 0)).named("step")
    balance = _prefix_mean(step, "balance")  # (opens - closes) / (i + 1)
    ever_negative = _prefix_mean(rasp.numerical(balance < 0), "ever_negative")
    return rasp.SequenceMap(lambda bad, b: "F" if bad > 0 else ("T" if b == 0 else "P"),
                            ever_negative, balance).named("dyck1")


def _pair(pair: str) -> tuple:
    if not isinstance(pair, str) or len(pair) != 2 or pair[0] == pair[1]:
        raise ValueError(f"a pair is two different characters like '()', got {pair!r}")
    return pair[0], pair[1]


def make_dyck2(pairs: Sequence[str] = ("()", "[]")) -> rasp.SOp:
    """Per prefix "T"/"P"/"F" for properly nested brackets of several kinds (4 layers).

    The k-th closer at nesting level D matches the k-th opener at level D (in a valid
    prefix they alternate), so matching needs no stack: depth (layer 1), rank within the level
    (layer 2), the matched opener (layer 3), failure so far (layer 4).

    >>> make_dyck2()("([])[)")
    ['P', 'P', 'P', 'T', 'P', 'F']
    """
    opens = dict(_pair(p) for p in pairs)
    if len(set(opens) | set(opens.values())) != 2 * len(opens):
        raise ValueError(f"bracket characters must all differ, got {list(pairs)!r}")
    step = tokens.map(lambda t: 1 if t in opens else (-1 if t in opens.values() else 0))
    frac = _prefix_mean(step.named("step"), "depth_frac")
    depth = rasp.SequenceMap(lambda f, i: round(f * (i + 1)), frac, indices).named("depth")
    kind_level = rasp.SequenceMap(
        lambda t, d: ("open", d - 1) if t in opens else (("close", d) if t in opens.values()
                                                          else ("other", d)),
        tokens, depth).named("kind_level")
    same_before = (rasp.Select(kind_level, kind_level, Comparison.EQ)
                   & rasp.Select(indices, indices, Comparison.LEQ))
    rank = rasp.SelectorWidth(same_before).named("rank")
    tag = rasp.SequenceMap(lambda kl, r: (*kl, r), kind_level, rank).named("tag")
    match = rasp.Select(tag, tag, lambda k, q: k[0] == "open" and q[0] == "close"
                        and k[1:] == q[1:])
    matched = rasp.Aggregate(match, tokens, default="").named("matched_opener")
    wrong = rasp.SequenceMap(lambda t, m: t in opens.values() and opens.get(m) != t,
                             tokens, matched).named("mismatch")
    bad = rasp.SequenceMap(lambda w, d: w or d < 0, wrong, depth).named("bad")
    ever_bad = _prefix_mean(bad, "ever_bad")
    return rasp.SequenceMap(lambda e, d: "F" if e > 0 else ("T" if d == 0 else "P"),
                            ever_bad, depth).named("dyck2")
