"""Compiler stage 1, inside ``lower``: a Lookup composed with the Lookups feeding it."""
from __future__ import annotations

import math
from typing import Callable

from taotp.rasp.ir import Lookup

MAX_INLINE = 5_000  # a Lookup reads through the Lookups feeding it up to this table size


def read_through(ops: list, inputs: tuple, f: Callable) -> tuple:
    """``(inputs, f)`` of a Lookup read through the Lookups among ``ops`` that feed it (one
    MLP instead of a chain) where the combined table stays within ``MAX_INLINE``; else as
    given."""
    producers = {op.out.label: op for op in ops  # (a projection table is keyed by t)
                 if isinstance(op, Lookup) and not op.weights}
    parts = [producers.get(v.label) for v in inputs]
    while True:  # read through as many producers as keep the table small, largest last;
        # partly only for categorical tables (numerical ones lose float32 precision)
        flat = []
        for v, op in zip(inputs, parts):
            for u in (op.inputs if op else (v,)):
                if u not in flat:
                    flat.append(u)
        if math.prod(len(u.domain()) for u in flat) <= MAX_INLINE or not any(parts):
            break
        if any(u.numerical for u in flat):
            parts = [None] * len(parts)
            continue
        sizes = [math.prod(len(u.domain()) for u in op.inputs) if op else 0 for op in parts]
        parts[sizes.index(max(sizes))] = None
    if flat == list(inputs) or math.prod(len(u.domain()) for u in flat) > MAX_INLINE:
        return inputs, f
    tables = [dict(op.table) if op else None for op in parts]
    where = [[flat.index(u) for u in (op.inputs if op else (v,))]
             for v, op in zip(inputs, parts)]

    def composed(*args):
        xs = [t[tuple(args[j] for j in w)] if t is not None else args[w[0]]
              for t, w in zip(tables, where)]
        if any(x is None for x in xs):
            raise ValueError("None")
        return f(*xs)
    return tuple(flat), composed
