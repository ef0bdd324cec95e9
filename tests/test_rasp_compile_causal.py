"""Causal compiled programs decoded token by token with the key/value cache.

``CompiledProgram.stream`` feeds one token at a time (``taotp.decoding.feed``) and
``taotp.decode_batch`` decodes one step after every prefix (BOS + xs[:i + 1]); both must give
``rasp.evaluate(program, xs, causal=True)`` wherever the evaluator's value is not None."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from constructions.rasp_lib import LIBRARY
from taotp import decode_batch, decode_cached, rasp
from taotp.params import check_params
from tests.test_rasp_compile import agree, frac_prevs, reverse
from tests.test_rasp_compile_lib import FAST, HUGE


def inputs(alphabet, max_len: int):
    for n in range(1, max_len + 1):
        yield from (list(xs) for xs in itertools.product(alphabet, repeat=n))


def check_causal(name: str, dtype, max_len: int | None = None) -> None:
    entry = LIBRARY[name]
    program = entry.make()
    max_len = max_len or HUGE.get(name, entry.max_len)
    try:
        compiled = rasp.compile(program, entry.alphabet, max_len, causal=True, dtype=dtype)
    except ValueError as error:
        assert dtype == np.float32, error  # float64 compiles every library program
        assert any(node.label in str(error) for node in rasp.nodes(program)), error
        return
    assert check_params(compiled.params) == np.dtype(dtype)
    rel = 1e-9 if dtype == np.float64 else 1e-5
    start = 1 + len(compiled.vocab)
    checked = 0
    for n in range(1, max_len + 1):
        xss, expected = [], []
        for xs in itertools.product(entry.alphabet, repeat=n):
            try:
                expected.append(rasp.evaluate(program, list(xs), causal=True))
            except ValueError:
                continue
            xss.append(list(xs))
        if not xss:
            continue
        # one decoding step after each whole input: its last output
        decoded = decode_batch([compiled.ids(xs) for xs in xss], compiled.params, max_steps=1)
        for xs, want, row in zip(xss, expected, decoded):
            value = compiled.outputs[int(row[-1]) - start]
            got = float(value) if compiled.numerical else value
            assert agree(want[-1:], [got], rel), (xs, want, got)
            # token by token through the cache: every position at once
            assert agree(want, list(compiled.stream(xs)), rel), (xs, want)
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("name", FAST)
def test_library_programs_decode_token_by_token(name):
    check_causal(name, np.float64, 4)


def test_float32_stream_keeps_float32():
    compiled = rasp.compile(frac_prevs(), {0, 1}, 5, causal=True, dtype=np.float32)
    assert check_params(compiled.params) == np.float32
    for xs in inputs((0, 1), 5):
        want = rasp.evaluate(frac_prevs(), xs, causal=True)
        assert agree(want, list(compiled.stream(xs)), 1e-5), xs


def test_decode_cached_gives_the_last_output_of_each_prefix():
    compiled = rasp.compile(reverse(), {"a", "b"}, 4, causal=True)
    start = 1 + len(compiled.vocab)
    for xs in inputs("ab", 4):
        want = rasp.evaluate(reverse(), xs, causal=True)[-1]
        step = decode_cached(compiled.ids(xs), compiled.params, max_steps=1)[-1]
        if want is not None:
            assert compiled.outputs[int(step) - start] == want, xs


def test_stream_is_lazy_and_refuses_what_run_refuses():
    compiled = rasp.compile(reverse(), {"a", "b"}, 3, causal=True)
    tokens = iter("ab")
    outputs = compiled.stream(tokens)
    next(outputs)
    assert next(tokens) == "b"  # only one token was read for the first output
    with pytest.raises(ValueError, match="input position 1: token 'z'"):
        list(compiled.stream("az"))
    with pytest.raises(ValueError, match="max_seq_len"):
        list(compiled.stream("abab"))
    with pytest.raises(ValueError, match="causal=True"):
        list(rasp.compile(reverse(), {"a", "b"}, 3).stream("ab"))


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_library_programs_decode_token_by_token_exhaustive(name, dtype):
    check_causal(name, dtype)
