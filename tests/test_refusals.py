"""The probes of issue 13, each pinned: a clear error (or a correct answer), never a wrong
answer with exit code 0, a hang, or a raw numpy/zip traceback."""
from __future__ import annotations

import io

import numpy as np
import pytest

from constructions import get_program
from taotp import check_params
from constructions.cli import main
from taotp.textformat import compile_TAOTP, load, load_npz, save_npz


@pytest.fixture(scope="module")
def small():
    return get_program("min").make(vocab_size=4, block_size=4).params


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_params_refuses_non_finite_weights(small, bad):
    params = {**small, "pos_emb": small["pos_emb"].copy()}
    params["pos_emb"][1, 2] = bad
    with pytest.raises(ValueError, match=r"pos_emb\[1, 2\]|pos_emb\[\[1, 2\]\]|finite"):
        check_params(params)
    params = {**small, "lnf": {"gamma": bad, "beta": 0.0}}
    with pytest.raises(ValueError, match="finite"):
        check_params(params)


def test_npz_with_inf_is_refused(small):
    buffer = io.BytesIO()
    save_npz(small, buffer)
    arrays = dict(np.load(io.BytesIO(buffer.getvalue())))
    arrays["tok_emb"] = arrays["tok_emb"].copy()
    arrays["tok_emb"][0, 0] = np.inf
    forged = io.BytesIO()
    np.savez(forged, **arrays)
    with pytest.raises(ValueError, match="finite"):
        load_npz(io.BytesIO(forged.getvalue()))


def test_a_flipped_byte_in_an_npz_is_a_value_error(small, tmp_path):
    path = tmp_path / "p.npz"
    save_npz(small, path)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 3] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="not a taotp .npz"):
        load(path)


@pytest.mark.parametrize("text, message", [
    ('{"tok_emb": [[1e999]], "block_size": 1}', "beyond the range"),
    ('{"tok_emb": [[' + "9" * 401 + ']], "block_size": 1}', "401 digits"),
    ('{"tok_emb": [[1.0]], "block_size": 10000000000000}', "would hold"),
    ('{"tok_emb": {"zeros": [100000, 100000]}, "block_size": 1}', "would hold"),
    ('{"tok_emb": [[1.0]], "block_size": 1, "lnf": {"gamma": 1e999}}', "finite"),
])
def test_text_loader_refuses_huge_and_infinite_numbers(text, message):
    with pytest.raises(ValueError, match=message):
        compile_TAOTP(text)


def test_taotp_params_refuses_a_non_finite_file(tmp_path, capsys):
    path = tmp_path / "p.taotp"
    path.write_text('{"tok_emb": [[1.0, 1e999]], "block_size": 1}')
    assert main(["params", str(path)]) == 1
    assert "finite" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["run", "addition", "--digits", "5", "1+1"], "proven exact only up to 4"),
    (["run", "multi-digit-mod", "--digits", "4", "0+1"], "proven exact only up to 3"),
    (["run", "sort", "--n", "29", "3", "1", "2"], "proven exact only up to 28"),
    (["run", "lookup-table", "--iters", "0", "1"], "iters .* must be >= 1"),
    (["run", "min", "--block-size", "100000", "5"], "proven exact only up to 1,000"),
    (["run", "addition", "--digits", "100000000000", "--unchecked", "1+1"],
     "largest size taotp builds"),
    (["export", "min", "--to", "npz", "--out", "x.txt"], "needs the suffix .npz"),
    (["export", "min", "--to", "text", "--out", "x.npz"], "needs the suffix .taotp"),
])
def test_cli_refuses_with_the_reason(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"taotp {argv[0]}: error:")
    assert __import__("re").search(message, err), err


def test_cli_unchecked_warns_and_still_answers(capsys):
    assert main(["run", "sort", "--n", "29", "--unchecked", "3", "1", "2"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "1 2 3" and "warning" in err and "built anyway" in err


def test_run_program_help_lists_its_options_and_ranges(capsys):
    assert main(["run", "addition", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--digits" in out and "proven exact: 1..4" in out and "--unchecked" in out
