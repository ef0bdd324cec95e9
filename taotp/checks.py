"""Validators shared by the engine and the programs built on it: refuse bad sizes and bad numbers
before anything is built or allocated, with a message that names the problem.

A reference implementation must never answer wrongly in silence, hang, or crash with a
numpy traceback: every size is an integer checked against a documented maximum first, every
weight is finite, every number a user types is plain ASCII digits of bounded length.

>>> check_int("n_digits", 3, low=1)
3
>>> check_int("n_digits", True)
Traceback (most recent call last):
TypeError: n_digits must be an integer, not bool
>>> parse_int("12", "a number")
12
>>> parse_int("١٢", "a number")
Traceback (most recent call last):
ValueError: '١٢' is not a number (ASCII digits 0-9 only)
"""
from __future__ import annotations

import numpy as np

# Largest number of array elements a built or loaded params dict may hold (2**27 float64
# is 1 GiB): beyond it a build or a load is refused before allocating.
MAX_PARAM_ELEMENTS = 2 ** 27
# Longest integer a user may type (a 10**6-digit word would cost quadratic time to
# convert; 18 digits always fit in an int64 token id).
MAX_INT_DIGITS = 18
# How much of a bad input an error message quotes.
EXCERPT = 40


class Unproven(ValueError):
    """A build that failed its own certificate (e.g. a fitted table that did not learn): an
    error, whose ``task`` a caller may still take by asking to go past the proof
    (``Program.make(unchecked=True)``, which warns)."""

    def __init__(self, message: str, task):
        super().__init__(message)
        self.task = task


def excerpt(text, limit: int = EXCERPT) -> str:
    """``repr`` of at most ``limit`` characters of ``text`` (error messages stay short)."""
    text = str(text)
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def check_int(name: str, value, low: int | None = None, high: int | None = None,
              why: str = "") -> int:
    """``value`` as a Python int (numpy integers accepted, bools refused) in ``low..high``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}" + (f": {why}" if why else ""))
    return value


def parse_int(word: str, what: str = "an integer", signed: bool = False) -> int:
    """An integer typed by a user: ASCII digits only (``str.isdigit`` also takes '²' and
    '١'), at most ``MAX_INT_DIGITS`` of them, a leading '-' only when ``signed``."""
    if not isinstance(word, str):
        raise TypeError(f"input must be a str, not {type(word).__name__}")
    body = word[1:] if signed and word[:1] in "+-" and len(word) > 1 else word
    if not (body and body.isascii() and body.isdigit()):
        raise ValueError(f"{excerpt(word)} is not {what} (ASCII digits 0-9 only)")
    if len(body) > MAX_INT_DIGITS:
        raise ValueError(f"{excerpt(word)} has {len(body)} digits; numbers here have at most "
                         f"{MAX_INT_DIGITS}")
    return int(word)


def check_text(text) -> str:
    """Inputs to ``Task.run`` are strings; anything else is a TypeError naming its type."""
    if not isinstance(text, str):
        raise TypeError(f"input must be a str, not {type(text).__name__}")
    return text


def check_finite(where: str, array) -> None:
    """NaN or inf in a weight makes decoding return garbage: refuse it, naming the place."""
    values = np.asarray(array)
    if values.dtype.kind in "fc" and not np.all(np.isfinite(values)):
        bad = np.argwhere(~np.isfinite(values))
        index = tuple(int(i) for i in bad[0]) if bad.size else ()
        value = values[index] if index else values
        raise ValueError(f"{where}{list(index) if index else ''} is {float(value)}; "
                         "weights must be finite (no NaN or inf)")


def check_elements(what: str, n_elements: int, limit: int = MAX_PARAM_ELEMENTS) -> None:
    """Refuse to allocate more than ``limit`` array elements, before allocating them."""
    if n_elements > limit:
        raise ValueError(f"{what} would hold {n_elements:,} numbers; taotp builds and loads "
                         f"at most {limit:,} ({limit * 8 // 2 ** 20:,} MiB in float64)")


def count_sequences(vocab_size: int, longest: int, limit: int) -> int:
    """How many sequences of length 1..``longest`` over ``vocab_size`` symbols, or
    ``limit + 1`` once past ``limit``: the exact sum is a huge integer at real sizes.

    >>> count_sequences(10, 2, 1000), count_sequences(1000, 10 ** 6, 1000)
    (110, 1001)
    """
    total, power = 0, 1
    for _ in range(longest):
        power *= vocab_size
        total += power
        if total > limit:
            return limit + 1
    return total
