"""The valid inputs of the library programs that have a precondition, and how to draw them.

``INPUTS`` maps a ``LIBRARY`` name to its ``Inputs``: the library's own precondition (one
piece of code: ``LibraryEntry.precondition``), the shortest valid length, and a draw that
builds a valid input of a given length directly (rejection would starve: distinct tokens,
exactly one "+", digits around a "+"). Programs not listed take every input.

>>> import numpy as np
>>> xs = INPUTS["blog-add"].draw(np.random.default_rng(0), tuple("0123456789+"), 5)
>>> "".join(xs), INPUTS["blog-add"].valid(xs)
('652+3', True)
"""
from __future__ import annotations

import numpy as np

from constructions.rasp_lib import LIBRARY
from constructions.rasp_task import Inputs


def _pick(rng: np.random.Generator, choices: list, k: int) -> list:
    return [choices[i] for i in rng.integers(0, len(choices), size=k)]


def _distinct(rng, alphabet, k):
    return [alphabet[i] for i in rng.permutation(len(alphabet))[:k]]


def _padded(rng, alphabet, k):  # tokens, then a run of "_" at the end
    pad = int(rng.integers(0, k + 1))
    return _pick(rng, [a for a in alphabet if a != "_"], k - pad) + ["_"] * pad


def _one_plus(rng, alphabet, k):
    xs = _pick(rng, [a for a in alphabet if a != "+"], k - 1)
    at = int(rng.integers(0, k))
    return xs[:at] + ["+"] + xs[at:]


def _last_kept(rng, alphabet, k):  # the last token is not "<"
    return _pick(rng, list(alphabet), k - 1) + _pick(rng, [a for a in alphabet if a != "<"], 1)


def _sum(rng, alphabet, k):  # digits "+" digits, at least one digit each side
    digits = [a for a in alphabet if a != "+"]
    at = int(rng.integers(1, k - 1))
    return _pick(rng, digits, at) + ["+"] + _pick(rng, digits, k - 1 - at)


def _inputs(name: str, **kwargs) -> Inputs:
    entry = LIBRARY[name]
    return Inputs(valid=entry.precondition, description=entry.description, **kwargs)


INPUTS = {
    "tracr-sort-unique": _inputs("tracr-sort-unique", draw=_distinct,
                                 longest=lambda alphabet, n: min(len(alphabet), n)),
    "blog-index": _inputs("blog-index", min_len=2),
    "blog-first": _inputs("blog-first", nasty=("lll", "hhhhhhhhhhl", "l")),
    "blog-ralign": _inputs("blog-ralign", draw=_padded, nasty=("_", "____", "x___")),
    "blog-split-first": _inputs("blog-split-first", draw=_one_plus, nasty=("+", "+x", "x+")),
    "blog-split-second": _inputs("blog-split-second", draw=_one_plus, nasty=("+", "+x", "x+")),
    "blog-slide": _inputs("blog-slide", draw=_last_kept, nasty=("<<<<x", "x<<<y", "x")),
    "blog-add": _inputs("blog-add", min_len=3, draw=_sum,
                        nasty=("9+1", "99+1", "1+99", "999+1", "0+0", "9+99", "5+5",
                               "99999+1", "1+9999", "49+51")),
}
