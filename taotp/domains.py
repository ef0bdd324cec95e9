"""Exhaustive domains that know their size, and ones that can build their i-th prompt.

``Task.exhaustive()`` may return any iterable of prompts. If it is sized (``len``), progress
bars show the time left; if it is a sequence (indexable, like ``Indexed`` or a list), a shard
builds only its own prompts (``taotp.shards``) instead of walking the whole enumeration,
which matters at 10^8 inputs; with a vectorised ``batch`` it also builds them (and their
reference outputs) many at a time, so verification never handles one prompt at a time
(``taotp.verify``). Both are plain values: a task whose ``exhaustive`` is replaced
by a generator simply loses them, and can never be checked on stale size or indices.

>>> squares = Indexed(4, lambda i: i * i)
>>> len(squares), list(squares), squares[-1], squares[1:3]
(4, [0, 1, 4, 9], 9, [1, 4])
>>> counted = Counted(3, lambda: iter("abc"))
>>> len(counted), "".join(counted)
(3, 'abc')
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable, Iterable, Iterator

import numpy as np


class Indexed(Sequence):
    """The ``size`` prompts ``at(0), at(1), ...``: iterated in that order, or indexed.

    ``batch(indices)``, if given, builds the prompts at an int array of indices and their
    reference outputs at once: two int arrays ``(k, prompt length)`` and ``(k, output
    length)`` (every prompt of the domain has the same lengths). Tests check it against
    ``at`` and the task's ``reference``."""

    def __init__(self, size: int, at: Callable[[int], Any],
                 batch: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None
                 ) -> None:
        self.size, self.at, self.batch = int(size), at, batch

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.at(j) for j in range(self.size)[i]]
        return self.at(range(self.size)[i])  # IndexError past either end

    def __iter__(self) -> Iterator:
        return map(self.at, range(self.size))


class Counted:
    """An enumeration of ``size`` prompts from ``iterate()`` (not indexable): its size is
    known without walking it."""

    def __init__(self, size: int, iterate: Callable[[], Iterable]) -> None:
        self.size, self.iterate = int(size), iterate

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator:
        return iter(self.iterate())
