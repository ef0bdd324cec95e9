"""bench/rasp.py compares with the right tracr number: measured, rewritten, same function, quoted.

The rows are made up here (the real ones come from bench/tracr_sizes.py, which needs tracr);
what is tested is which of them bench/rasp.py picks and how it labels it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import rasp as bench  # noqa: E402


def row(program: str, status: str, vocab: tuple, n: int = 10, **fields) -> dict:
    return {"program": program, "vocab_size": len(vocab), "vocab": list(vocab),
            "max_seq_len": n, "status": status, **fields}


@pytest.fixture
def measured(tmp_path):
    abc = bench.vocabulary(tuple("abc"), 5)
    ab = bench.vocabulary(tuple("ab"), 5)
    rows = [
        row("tracr-reverse", "compiled", abc, params=95_054, layers=4, d_model=75,
            check={"inputs": 20, "wrong": 2, "wrong_lengths": [10]}),
        row("blog-flip", "untranslatable", abc, error="flip: sum; tracr lacks it",
            rewritten={"status": "compiled", "params": 13_594,
                       "check": {"inputs": 20, "wrong": 9, "wrong_lengths": [2]}}),
        row("blog-length", "untranslatable", ab, error="length: sum; tracr lacks it",
            rewritten={"status": "compiled", "params": 1_020,
                       "check": {"inputs": 20, "wrong": 0, "wrong_lengths": []}}),
        row("paper-dyck1", "refused", bench.vocabulary(tuple("()"), 5),
            error="NotImplementedError: Unsupported RASP expressions:\ndyck1: no"),
    ]
    path = tmp_path / "tracr_sizes.json"
    path.write_text(json.dumps({"versions": {"tracr-pypi": "1.0.0"}, "rows": rows}))
    return bench.load_tracr(path)


def size(name: str, measured, vocab_size: int = 5, n: int = 10):
    vocab = bench.vocabulary(bench.LIBRARY[name].alphabet, vocab_size)
    return bench.tracr_size(name, vocab, vocab_size, n, measured)


def test_a_measured_size_is_compared_and_its_wrong_outputs_shown(measured):
    text, params = size("tracr-reverse", measured)
    assert params == 95_054
    assert "measured, tracr 1.0.0" in text and "wrong on 2/20 inputs, lengths [10]" in text


def test_a_wrong_rewrite_is_not_compared_but_the_same_function_in_tracr_lib_is(measured):
    text, params = size("blog-flip", measured)
    assert params == 95_054 and "same function: tracr-reverse" in text
    assert text.startswith("not in tracr's RASP: flip: sum (tracr 1.0.0)")


def test_a_rewrite_that_was_right_on_every_checked_input_is_compared(measured):
    text, params = size("blog-length", measured)
    assert params == 1_020 and "rewritten" in text and "right on 20/20" in text


def test_a_refusal_gives_nothing_to_compare_with(measured):
    text, params = size("paper-dyck1", measured)
    assert params is None and text == "refused: dyck1: no (tracr 1.0.0)"


def test_quoted_sizes_only_where_nothing_was_measured(measured):
    text, params = size("tracr-sort", measured)
    assert params == 81_000 and text.endswith("(quoted)")
    assert size("tracr-reverse", ({}, ""))[1] == 95_000  # no results file: the quote
    assert size("tracr-hist", measured) == ("-", None)
