"""Shards: a deterministic 1/N of a verification's inputs, so a job array covers a domain no
single machine can (one ``taotp verify ... --shard K/N --json out_K.json`` per job, then
``taotp verify --merge out_*.json``).

Shard K of N takes the inputs whose position ``i`` (0-based) in the enumeration satisfies
``i % N == K - 1``: the exhaustive enumeration, or the seeded sample list followed by the
adversarial inputs, exactly as an unsharded run sees them. A shard walks the whole
enumeration and checks only its own inputs, or, where the domain is indexable (a
``taotp.domains.Indexed``: the addition and multiplication domains), builds only its own;
either way the N shards' inputs are disjoint and their union is the unsharded input
list, whatever N is.

>>> shard = Shard.parse("2/3")
>>> list(shard.take(iter("abcdefghij"))), list(shard.indices(10)), shard.count(10)
(['b', 'e', 'h'], [1, 4, 7], 3)
>>> Shard.parse("4/3")
Traceback (most recent call last):
ValueError: shard 4/3: K must be between 1 and N=3
"""
from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from taotp.params import EMBEDDINGS, LAYER_ARRAYS, LAYER_NORMS, check_params

# Far more shards than any job array runs; past it a typo (``--shard 1/10000000000000``) is
# refused rather than silently checking nothing.
MAX_SHARDS = 10 ** 9
_SHARD = re.compile(r"(\d{1,10})/(\d{1,10})")


@dataclass(frozen=True)
class Shard:
    """Shard ``k`` of ``n`` (1-based): the inputs at positions ``i`` with ``i % n == k - 1``."""
    k: int = 1
    n: int = 1

    def __post_init__(self):
        for name in ("k", "n"):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"shard {name} must be an integer, not {type(value).__name__}")
        if not 1 <= self.n <= MAX_SHARDS:
            raise ValueError(f"shard {self.k}/{self.n}: N must be between 1 and {MAX_SHARDS:,}")
        if not 1 <= self.k <= self.n:
            raise ValueError(f"shard {self.k}/{self.n}: K must be between 1 and N={self.n}")
        object.__setattr__(self, "k", int(self.k))
        object.__setattr__(self, "n", int(self.n))

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"K/N"`` (two positive integers, ``1 <= K <= N``) as a Shard."""
        if not isinstance(text, str):
            raise TypeError(f"a shard is written K/N, not {type(text).__name__}")
        match = _SHARD.fullmatch(text.strip())
        if not match:
            raise ValueError(f"shard {text[:40]!r} is not K/N with integers 1 <= K <= N "
                             f"(e.g. 3/8: the third of eight shards)")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"

    @property
    def whole(self) -> bool:
        """This shard is the whole domain (1/1)."""
        return self.n == 1

    def take(self, items: Iterable) -> Iterator:
        """This shard's items of an enumeration (positions ``k-1, k-1+n, ...``)."""
        return itertools.islice(items, self.k - 1, None, self.n)

    def indices(self, total: int) -> range:
        """This shard's positions in an enumeration of ``total`` items."""
        return range(self.k - 1, total, self.n)

    def count(self, total: int | None) -> int | None:
        """How many of ``total`` enumerated items fall in this shard (None if unknown)."""
        if total is None:
            return None
        return max(0, (total - self.k) // self.n + 1)


def as_shard(value: Shard | str | tuple | None) -> Shard:
    """A Shard from a Shard, ``"K/N"``, ``(K, N)`` or None (the whole domain)."""
    if value is None:
        return Shard()
    if isinstance(value, Shard):
        return value
    if isinstance(value, str):
        return Shard.parse(value)
    if isinstance(value, tuple) and len(value) == 2:
        return Shard(*value)
    raise TypeError(f"shard must be 'K/N', (K, N) or a Shard, not {type(value).__name__}")


def params_digest(params: dict) -> str:
    """SHA-256 of the weights (names, dtypes, shapes and bytes, in the ``.npz`` key order):
    shards merge only if they checked the very same weights."""
    check_params(params)
    digest = hashlib.sha256()

    def add(name, value):
        array = np.ascontiguousarray(np.asarray(value))
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())

    for key in EMBEDDINGS:
        add(key, params[key])
    for i, layer in enumerate(params["layers"]):
        for key in LAYER_ARRAYS:
            add(f"layers.{i}.{key}", layer[key])
        for key in LAYER_NORMS:
            for name, value in sorted(layer[key].items()):
                add(f"layers.{i}.{key}.{name}", value)
    for name, value in sorted(params["lnf"].items()):
        add(f"lnf.{name}", value)
    return digest.hexdigest()
