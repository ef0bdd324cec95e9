"""``taotp compile FILE.py``: imports the user's file, compiles its ``program``, saves params
that run exactly (encoder by default, causal with --causal)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from constructions.cli import main
from constructions.compile_cli import parse_vocab
from taotp import rasp, transformer
from taotp.textformat import load

PROGRAM = """
from taotp import rasp
length = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE))
program = rasp.Aggregate(rasp.Select(rasp.indices, length - rasp.indices - 1,
                                     rasp.Comparison.EQ), rasp.tokens)
"""


def _cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("suffix,dtype", [(".taotp", "float64"), (".npz", "float32")])
def test_compile_saves_params_that_run_exactly(capsys, tmp_path, suffix, dtype):
    source = tmp_path / "flip.py"
    source.write_text(PROGRAM)
    out = tmp_path / f"flip{suffix}"
    code, text = _cli(capsys, "compile", str(source), "--vocab", "a,b,c", "--max-seq-len", "4",
                      "--out", str(out), "--dtype", dtype)
    assert code == 0 and "layers 3" in text and f"wrote {out}" in text
    params = load(out)
    assert params["tok_emb"].dtype == np.dtype(dtype)
    program = rasp.Aggregate(rasp.Select(rasp.indices, rasp.SelectorWidth(rasp.Select(
        rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)) - rasp.indices - 1,
        rasp.Comparison.EQ), rasp.tokens)
    compiled = rasp.compile(program, vocab="abc", max_seq_len=4, dtype=np.dtype(dtype))
    for n in range(1, 5):
        for xs in itertools.product("abc", repeat=n):
            logits = transformer(compiled.ids(xs), **params, causal=False)
            got = [compiled.outputs[i] for i in logits[1:, 4:].argmax(axis=-1)]
            assert got == rasp.evaluate(program, list(xs)) == list(xs)[::-1]


def test_compile_causal_and_report_only(capsys, tmp_path):
    source = tmp_path / "p.py"
    source.write_text("from taotp import rasp\nprogram = rasp.numerical(rasp.Aggregate("
                      "rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ), "
                      "rasp.numerical(rasp.Map(lambda x: x, rasp.tokens)), default=0))\n")
    code, text = _cli(capsys, "compile", str(source), "--vocab", "0,1,2", "--max-seq-len", "3",
                      "--causal")
    assert code == 0 and "causal," in text and "wrote" not in text


def test_a_prefix_program_is_saved_causally_masked_and_says_so(capsys, tmp_path):
    """Without --causal, a program whose selectors read only keys at or before the query
    compiles causally masked: the output says so, and the saved params run causally."""
    source = tmp_path / "p.py"
    source.write_text("from taotp import rasp\nprogram = rasp.numerical(rasp.Aggregate("
                      "rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ), "
                      "rasp.numerical(rasp.Map(lambda x: x, rasp.tokens)), default=0))\n")
    out = tmp_path / "p.taotp"
    code, text = _cli(capsys, "compile", str(source), "--vocab", "0,1,2", "--max-seq-len", "3",
                      "--out", str(out))
    assert code == 0 and "causally masked: every selector reads only keys at or before" in text
    assert "run it causally" in text
    program = rasp.numerical(rasp.Aggregate(
        rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ),
        rasp.numerical(rasp.Map(lambda x: x, rasp.tokens)), default=0))
    compiled = rasp.compile(program, vocab=[0, 1, 2], max_seq_len=3)
    params = load(out)
    for n in range(1, 4):
        for xs in itertools.product([0, 1, 2], repeat=n):
            logits = transformer(compiled.ids(xs), **params, causal=True)
            got = [compiled.outputs[i] for i in logits[1:, 4:].argmax(axis=-1)]
            want = rasp.evaluate(program, list(xs))
            assert np.allclose(np.array(got, dtype=float), want, rtol=1e-9), (xs, got, want)


@pytest.mark.parametrize("body,message", [
    ("x = 1\n", "defines no `program`"),
    ("program = 3\n", "must be a RASP SOp"),
])
def test_a_file_without_a_program_is_a_clear_error(capsys, tmp_path, body, message):
    source = tmp_path / "bad.py"
    source.write_text(body)
    code, text = _cli(capsys, "compile", str(source), "--vocab", "a", "--max-seq-len", "2")
    assert code == 1 and message in text


def test_missing_file_and_empty_vocab(capsys, tmp_path):
    code, text = _cli(capsys, "compile", str(tmp_path / "none.py"), "--vocab", "a",
                      "--max-seq-len", "2")
    assert code == 1 and "existing .py file" in text
    assert parse_vocab("0, 1,2") == [0, 1, 2] and parse_vocab("a,b") == ["a", "b"]
    with pytest.raises(ValueError, match="empty"):
        parse_vocab(" , ")
