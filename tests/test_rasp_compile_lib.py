"""Every library program (tracr's, the RASPy blog's, the RASP paper's) compiled and checked
against rasp.evaluate on every input of its test domain; float32 may refuse, naming a node."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from constructions.rasp_lib import LIBRARY
from taotp import rasp
from tests.test_rasp_compile import EXTRA_LAYERS, agree

HUGE = {"blog-add": 4, "paper-dyck2": 4}  # shorter domains: 11^7 inputs, a 10M-param model
FAST = ["tracr-reverse", "tracr-sort", "tracr-frac-prevs", "blog-flip", "tracr-hist"]


def check(name: str, dtype, max_len: int | None = None) -> None:
    entry = LIBRARY[name]
    program = entry.make()
    max_len = max_len or HUGE.get(name, entry.max_len)
    try:
        compiled = rasp.compile(program, entry.alphabet, max_len, dtype=dtype)
    except ValueError as error:
        assert dtype == np.float32, error  # float64 compiles every library program
        assert any(node.label in str(error) for node in rasp.nodes(program)), error
        return
    rel = 1e-9 if dtype == np.float64 else 1e-5
    for n in range(1, max_len + 1):
        for xs in itertools.product(entry.alphabet, repeat=n):
            try:
                expected = rasp.evaluate(program, list(xs))
            except ValueError:
                continue
            assert agree(expected, compiled.run(list(xs)), rel), (xs, expected)


@pytest.mark.parametrize("name", FAST)
def test_library_programs_fast(name):
    check(name, np.float64, 4)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_library_programs_exhaustive(name, dtype):
    check(name, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_layers_at_most_rasp_depth_plus_a_constant(dtype):
    """Categorical Maps of tokens live in the embeddings, so a layer per RASP layer plus at
    most EXTRA_LAYERS, over the whole library."""
    excess = {}
    for name, entry in LIBRARY.items():
        program = entry.make()
        try:
            compiled = rasp.compile(program, entry.alphabet, HUGE.get(name, entry.max_len),
                                    dtype=dtype)
        except ValueError:
            assert dtype == np.float32
            continue
        excess[name] = len(compiled.params["layers"]) - rasp.layers(program).depth
    assert max(excess.values()) <= EXTRA_LAYERS, excess
