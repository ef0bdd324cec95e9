"""tracr's library (``tracr/compiler/lib.py``) in taotp's RASP: same names, same programs.

Ported by changing the import; the only edits give inner nodes distinct labels where tracr
reuses one name for two different nodes (``bools_open`` twice in ``make_shuffle_dyck2``),
which taotp's graph refuses. Where a program is wrong on some inputs its docstring says so and
``tests/test_rasp_lib.py`` checks exactly that.

>>> make_reverse(rasp.tokens)("Hello")
['o', 'l', 'l', 'e', 'H']
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from taotp import rasp


def make_length() -> rasp.SOp:
    """Every position holds the sequence length (SelectorWidth of select-all).

    Exact under evaluation for every length. (Compiled by tracr it is wrong from n >= 10 on in
    some settings because the BOS-based width decoding loses precision; that is a compiler
    fact, not a RASP one.)

    >>> make_length()("abcdefg")
    [7, 7, 7, 7, 7, 7, 7]
    """
    all_true = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
    all_true = all_true.named("all_true_selector")
    return rasp.SelectorWidth(all_true).named("length")


def make_reverse(sop: rasp.SOp) -> rasp.SOp:
    """``sop`` reversed: position i reads position length - i - 1 (2 layers).

    >>> make_reverse(rasp.tokens)([1, 2, 3])
    [3, 2, 1]
    """
    opp_idx = (make_length() - rasp.indices).named("opp_idx")
    opp_idx = (opp_idx - 1).named("opp_idx-1")
    reverse_selector = rasp.Select(rasp.indices, opp_idx, rasp.Comparison.EQ)
    reverse_selector = reverse_selector.named("reverse_selector")
    return rasp.Aggregate(reverse_selector, sop).named("reverse")


def make_frac_prevs(bools: rasp.SOp) -> rasp.SOp:
    """Fraction of positions j <= i where ``bools`` holds (numerical mean).

    >>> make_frac_prevs(rasp.tokens == "l")("hello")  # one selected: the bool itself
    [False, 0.0, 0.3333333333333333, 0.5, 0.4]
    """
    bools = rasp.numerical(bools)
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    return rasp.numerical(rasp.Aggregate(prevs, bools, default=0)).named("frac_prevs")


def make_pair_balance(sop: rasp.SOp, open_token: str, close_token: str) -> rasp.SOp:
    """Fraction of opens minus fraction of closes among positions <= i (RASP paper).

    >>> make_pair_balance(rasp.tokens, "(", ")")("()")
    [1, 0.0]
    """
    tag = f"{open_token}{close_token}"
    bools_open = rasp.numerical(sop == open_token).named(f"bools_open_{tag}")
    opens = rasp.numerical(make_frac_prevs(bools_open)).named(f"opens_{tag}")
    bools_close = rasp.numerical(sop == close_token).named(f"bools_close_{tag}")
    closes = rasp.numerical(make_frac_prevs(bools_close)).named(f"closes_{tag}")
    pair_balance = rasp.numerical(rasp.LinearSequenceMap(opens, closes, 1, -1))
    return pair_balance.named(f"pair_balance_{tag}")


def make_shuffle_dyck(pairs: Sequence[str]) -> rasp.SOp:
    """1 everywhere if every pair type is balanced on its own (a shuffle of Dyck-1s), else 0.

    >>> make_shuffle_dyck(["()", "{}"])("({)}")  # tracr's docstring says 1; it is True
    [True, True, True, True]
    >>> make_shuffle_dyck(["()", "{}"])("(){)}")
    [False, False, False, False, False]
    """
    if len(pairs) < 1 or any(len(p) != 2 for p in pairs):
        raise ValueError(f"pairs must be two-character strings like '()', got {pairs!r}")
    balances = [make_pair_balance(rasp.tokens, p[0], p[1]).named(f"balance_{p}") for p in pairs]
    any_negative = balances[0] < 0
    for balance in balances[1:]:
        any_negative = any_negative | (balance < 0)
    any_negative = rasp.numerical(rasp.Map(lambda x: x, any_negative)).named("any_negative")
    select_all = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE).named("select_all")
    has_neg = rasp.numerical(rasp.Aggregate(select_all, any_negative, default=0)).named("has_neg")
    all_zero = balances[0] == 0
    for balance in balances[1:]:
        all_zero = all_zero & (balance == 0)
    select_last = rasp.Select(rasp.indices, make_length() - 1, rasp.Comparison.EQ)
    select_last = select_last.named("select_last")
    last_zero = rasp.Aggregate(select_last, all_zero).named("last_zero")
    not_has_neg = (~has_neg).named("not_has_neg")
    return (last_zero & not_has_neg).named("shuffle_dyck")


def make_shuffle_dyck2() -> rasp.SOp:
    """``make_shuffle_dyck`` for ``()`` and ``{}``.

    >>> make_shuffle_dyck2()("{(})")
    [True, True, True, True]
    """
    return make_shuffle_dyck(pairs=["()", "{}"]).named("shuffle_dyck2")


def make_hist() -> rasp.SOp:
    """How often each position's token occurs in the input (1 layer).

    >>> make_hist()("abac")
    [2, 1, 2, 1]
    """
    same_tok = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ).named("same_tok")
    return rasp.SelectorWidth(same_tok).named("hist")


def make_sort_unique(vals: rasp.SOp, keys: rasp.SOp) -> rasp.SOp:
    """``vals`` sorted by ``keys``; keys must be unique (a repeated key leaves None holes).

    >>> make_sort_unique(rasp.tokens, rasp.tokens)([2, 4, 3, 1])
    [1, 2, 3, 4]
    >>> make_sort_unique(rasp.tokens, rasp.tokens)([2, 2, 1])
    [1, 2.0, None]
    """
    smaller = rasp.Select(keys, keys, rasp.Comparison.LT).named("smaller")
    target_pos = rasp.SelectorWidth(smaller).named("target_pos")
    sel_new = rasp.Select(target_pos, rasp.indices, rasp.Comparison.EQ)
    return rasp.Aggregate(sel_new, vals).named("sort")


def make_sort(vals: rasp.SOp, keys: rasp.SOp, *, max_seq_len: int, min_key: float) -> rasp.SOp:
    """``vals`` sorted by numerical ``keys`` (stable): ties broken by adding
    ``min_key * i / max_seq_len``, which is exact only if keys differ by more than ``min_key``
    and ``min_key`` > 0 (tracr's preconditions).

    >>> make_sort(rasp.tokens, rasp.tokens, max_seq_len=5, min_key=1)([2, 4, 1, 2])
    [1, 2, 2, 4]
    """
    keys = rasp.SequenceMap(lambda x, i: x + min_key * i / max_seq_len, keys, rasp.indices)
    return make_sort_unique(vals, keys)


def make_sort_freq(max_seq_len: int) -> rasp.SOp:
    """Tokens sorted by decreasing frequency, ties in input order.

    >>> make_sort_freq(5)([2, 4, 2, 1])
    [2, 2, 4, 1]
    """
    hist = (-1 * make_hist()).named("neg_hist")
    return make_sort(rasp.tokens, hist, max_seq_len=max_seq_len, min_key=1).named("sort_freq")


def shift_by(offset: int, /, sop: rasp.SOp) -> rasp.SOp:
    """``sop`` shifted right by ``offset``, None-padded.

    >>> shift_by(1, rasp.tokens)("abc")
    [None, 'a', 'b']
    """
    select_off_by_offset = rasp.Select(rasp.indices, rasp.indices, lambda k, q: q == k + offset)
    out = rasp.Aggregate(select_off_by_offset, sop, default=None)
    return out.named(f"shift_by({offset})")


def detect_pattern(sop: rasp.SOp, pattern: Sequence[Any]) -> rasp.SOp:
    """True at the last element of each occurrence of ``pattern``; the first
    ``len(pattern) - 1`` positions are None.

    >>> detect_pattern(rasp.tokens, "abc")("abcabc")
    [None, None, True, False, False, True]
    """
    if len(pattern) < 1:
        raise ValueError(f"Length of `pattern` must be at least 1. Got {pattern}")
    detectors = []
    for i, element in enumerate(reversed(pattern)):
        detector = sop == element
        if i != 0:
            detector = shift_by(i, detector)
        detectors.append(detector)
    pattern_detected = detectors.pop()
    while detectors:
        pattern_detected = pattern_detected & detectors.pop()
    return pattern_detected.named(f"detect_pattern({pattern})")


def make_count_less_freq(n: int) -> rasp.SOp:
    """How many positions hold a token occurring at most ``n`` times (tracr's code uses
    ``<= n`` though its docstring says "fewer than n").

    >>> make_count_less_freq(2)(["a", "a", "a", "b", "b", "c"])
    [3, 3, 3, 3, 3, 3]
    """
    hist = make_hist().named("hist")
    select_less = rasp.Select(hist, hist, lambda x, y: x <= n).named("select_less")
    return rasp.SelectorWidth(select_less).named("count_less_freq")


def make_count(sop: rasp.SOp, token: Any) -> rasp.SOp:
    """How many positions hold ``token``, at every position.

    >>> make_count(rasp.tokens, "a")(["c", "a", "b", "c"])
    [1, 1, 1, 1]
    """
    count = rasp.SelectorWidth(rasp.Select(sop, sop, lambda k, q: k == token))
    return count.named(f"count_{token}")


def make_nary_sequencemap(f: Callable[..., Any], *sops: rasp.SOp) -> rasp.SOp:
    """``f(x1[i], ..., xn[i])`` via chained SequenceMaps building tuples (large when compiled).

    >>> make_nary_sequencemap(lambda a, b, c: a + b * c, rasp.tokens, rasp.indices,
    ...                       rasp.tokens)([1, 2, 3])
    [1, 4, 9]
    """
    values, *rest = sops
    for sop in rest:
        values = rasp.SequenceMap(lambda x, y: (*x, y) if isinstance(x, tuple) else (x, y),
                                  values, sop)
    return rasp.Map(lambda args: f(*args), values)
