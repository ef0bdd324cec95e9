"""Hypothesis: random well-typed RASP programs compile to models equal to rasp.evaluate,
on every input of length 1..3, or compile refuses them with a ValueError naming a node."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taotp import rasp
from tests.test_rasp_compile import agree

VOCAB = (0, 1, 2)
MAX_LEN = 3


def _lin(a, b, m):
    return lambda x: (a * x + b) % m


def _lin2(a, b, m):
    return lambda x, y: (a * x + b * y) % m


@st.composite
def programs(draw):
    """A few random operations over tokens and indices; the last one is the program."""
    cat = [rasp.tokens, rasp.indices]  # categorical SOps with small int values
    num = []                           # numerical SOps
    comparisons = list(rasp.Comparison)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["map", "seqmap", "width", "mean", "copy", "sum",
                                     "nummap", "count", "pair", "threshold", "positions"]))
        pick = lambda pool: pool[draw(st.integers(0, len(pool) - 1))]  # noqa: E731
        a, b, m = draw(st.integers(0, 3)), draw(st.integers(0, 3)), draw(st.integers(2, 4))
        keys_pool = cat + num
        if kind == "map":
            cat.append(rasp.Map(_lin(a, b, m), pick(cat)))
        elif kind == "seqmap":
            cat.append(rasp.SequenceMap(_lin2(a, b, m), pick(cat), pick(cat)))
        elif kind == "width":
            sel = rasp.Select(pick(keys_pool), pick(keys_pool), draw(st.sampled_from(comparisons)))
            if draw(st.booleans()):
                sel = sel & rasp.Select(pick(cat), pick(cat), draw(st.sampled_from(comparisons)))
            width = rasp.SelectorWidth(sel)
            (num.append(rasp.numerical(width)) if draw(st.booleans()) else cat.append(width))
        elif kind == "mean":
            sel = rasp.Select(pick(keys_pool), pick(keys_pool), draw(st.sampled_from(comparisons)))
            if draw(st.booleans()):
                sel = ~sel | rasp.Select(pick(cat), pick(cat), rasp.Comparison.EQ)
            vals = rasp.numerical(rasp.Map(_lin(a, b, m), pick(cat)))
            num.append(rasp.numerical(rasp.Aggregate(sel, vals, default=draw(st.integers(0, 2)))))
        elif kind == "copy":  # at most one key selected: categorical aggregation is exact
            shifted = rasp.Map(lambda i, s=a: i - s, rasp.indices)
            sel = rasp.Select(rasp.indices, shifted, rasp.Comparison.EQ)
            default = draw(st.sampled_from([None, 0, 1]))  # (not None: BOS holds it)
            cat.append(rasp.Aggregate(sel, pick(cat), default=default))
        elif kind == "sum":
            sel = rasp.Select(pick(cat), pick(cat), draw(st.sampled_from(comparisons)))
            num.append(rasp.numerical(sel.value(rasp.numerical(rasp.Map(_lin(a, b, m),
                                                                         pick(cat))))))
        elif kind == "count":  # RASPy's sum of ones: a width (positions.counts)
            sel = rasp.Select(pick(keys_pool), pick(cat), draw(st.sampled_from(comparisons)))
            count = sel.value(1)
            (num.append(rasp.numerical(count)) if draw(st.booleans()) else cat.append(count))
        elif kind == "pair":  # two means over one selector, combined (joint.combined_mean)
            sel = rasp.Select(pick(cat), pick(cat), draw(st.sampled_from(comparisons)))
            x, y = (rasp.numerical(rasp.Aggregate(sel, rasp.numerical(rasp.Map(
                _lin(c, 1, m), pick(cat))), default=draw(st.integers(0, 2)))) for c in (a, b))
            num.append(rasp.numerical(rasp.LinearSequenceMap(x, y, 1, -draw(st.integers(1, 2)))))
        elif kind == "threshold":  # a width read only as "at most a" (emit._erase_apart)
            width = rasp.SelectorWidth(rasp.Select(pick(cat), pick(cat),
                                                   draw(st.sampled_from(comparisons))))
            cat.append(rasp.SelectorWidth(rasp.Select(width, pick(cat),
                                                      lambda k, q, t=a: k <= t)))
        elif kind == "positions":  # a selector of positions alone, maybe with a token part
            # (positions.prefix_only, positions.always: through a causal mask, all or nothing)
            shifted = rasp.Map(lambda i, s=a - 1: i - s, rasp.indices)
            sel = rasp.Select(rasp.indices, shifted, draw(st.sampled_from(comparisons)))
            other = rasp.Select(rasp.indices, rasp.indices, draw(st.sampled_from(comparisons)))
            how = draw(st.sampled_from(["alone", "not", "and", "or", "tokens"]))
            sel = {"alone": sel, "not": ~sel, "and": sel & other, "or": sel | ~other,
                   "tokens": sel & rasp.Select(pick(cat), pick(cat), rasp.Comparison.EQ)}[how]
            if draw(st.booleans()):
                num.append(rasp.numerical(rasp.SelectorWidth(sel)))
            else:
                vals = rasp.numerical(rasp.Map(_lin(a, b, m), pick(cat)))
                num.append(rasp.numerical(rasp.Aggregate(sel, vals, default=draw(
                    st.integers(0, 2)))))
        elif num:
            num.append(rasp.numerical(rasp.Map(lambda x, s=a: x * x - s * x, pick(num))))
    pool = cat[2:] + num
    return pool[-1] if pool else rasp.Map(_lin(1, 1, 3), rasp.tokens)


def check_compiled_equals_evaluated(program, causal, dtype=np.float64):
    """Compiled == evaluated on every input of length 1..MAX_LEN (numbers to 1e-9 relative in
    float64, 1e-5 in float32), or compile refuses with a ValueError naming a node."""
    try:
        compiled = rasp.compile(program, VOCAB, MAX_LEN, causal=causal, dtype=dtype)
    except ValueError as error:  # a clear refusal names a node
        assert any(node.label in str(error) for node in rasp.nodes(program)), error
        return
    tolerance = 1e-9 if dtype == np.float64 else 1e-5
    for n in range(1, MAX_LEN + 1):
        for xs in itertools.product(VOCAB, repeat=n):
            try:
                expected = rasp.evaluate(program, list(xs), causal=causal)
            except ValueError:  # the program itself fails on this input (e.g. None compared)
                continue
            got = compiled.run(list(xs))
            assert agree(expected, got, tolerance), (xs, expected, got)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(program=programs(), causal=st.booleans())
def test_random_programs_compile_exactly_or_are_refused(program, causal):
    check_compiled_equals_evaluated(program, causal)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(program=programs(), causal=st.booleans(), dtype=st.sampled_from([np.float64,
                                                                        np.float32]))
def test_many_random_programs(program, causal, dtype):
    check_compiled_equals_evaluated(program, causal, dtype)


@st.composite
def close_numbers(draw):
    """Numbers ``m + t g`` of large magnitude m and tiny gaps g, averaged or summed (over up
    to every position), then read by a Map: the reader must tell the gaps apart through
    the error the aggregate's cleanup writes at magnitude m. Numerical outputs are compared
    to the compiler's promised resolution (``compiler.RESOLUTION``, relative)."""
    mag = draw(st.sampled_from([0.0, 1.0, 1e2, 1e3, 1e4, 1e6])) * draw(st.sampled_from([1, -1]))
    gap = draw(st.sampled_from([1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6]))
    x = rasp.numerical(rasp.Map(lambda t: mag + t * gap, rasp.tokens)).named("close")
    for step in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["copy", "mean", "sum"]))
        comparison = {"copy": rasp.Comparison.EQ, "mean": rasp.Comparison.LEQ,
                      "sum": draw(st.sampled_from([rasp.Comparison.TRUE,
                                                   rasp.Comparison.LEQ]))}[kind]
        sel = rasp.Select(rasp.indices, rasp.indices, comparison)
        x = rasp.numerical(sel.value(x) if kind == "sum" else
                           rasp.Aggregate(sel, x, default=mag)).named(f"{kind}{step}")
        if draw(st.booleans()):  # Map -> Aggregate -> Map chains
            x = rasp.numerical(rasp.Map(lambda v: v - mag, x)).named(f"less{step}")
    reader = draw(st.sampled_from(["none", "categorical", "numerical"]))
    if reader == "categorical":
        x = rasp.Map(lambda v: int(np.floor(v / gap * 6 + 0.5)) % 3, x).named("read")
    elif reader == "numerical":
        x = rasp.numerical(rasp.Map(lambda v: (v - mag) / gap, x)).named("read")
    return x


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(program=close_numbers(), causal=st.booleans(), dtype=st.sampled_from([np.float64,
                                                                             np.float32]))
def test_large_numbers_with_tiny_gaps_are_exact_or_refused(program, causal, dtype):
    check_compiled_equals_evaluated(program, causal, dtype)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(program=close_numbers(), causal=st.booleans(), dtype=st.sampled_from([np.float64,
                                                                             np.float32]))
def test_many_large_numbers_with_tiny_gaps(program, causal, dtype):
    check_compiled_equals_evaluated(program, causal, dtype)
