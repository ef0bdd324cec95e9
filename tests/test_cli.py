"""The taotp command, end to end."""
from __future__ import annotations

import subprocess
import sys

import pytest

from constructions import PROGRAMS
from taotp import __version__
from constructions.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_console_script_help_and_version():
    out = subprocess.run([sys.executable, "-m", "constructions.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("params", "list", "run", "demo", "verify", "trace", "export", "figures"):
        assert command in out
    version = subprocess.run([sys.executable, "-m", "constructions.cli", "--version"],
                             capture_output=True, text=True, check=True).stdout
    assert version.strip() == f"taotp {__version__}"


def test_list_names_every_program(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    for name, program in PROGRAMS.items():
        assert name in out and program.input_format in out


@pytest.mark.parametrize("argv, expected", [
    (("run", "sort", "6", "2", "12", "18", "7"), "2 6 7 12 18"),
    (("run", "hello-world"), "Hello World!"),
    (("run", "hello-world", "--tokenizer", "ascii", "--message", "Hi there"), "Hi there"),
    (("run", "min", "6", "2", "9", "12"), "2"),
    (("run", "max", "--vocab-size", "30", "6", "2", "29", "12"), "29"),
])
def test_run_prints_the_answer(capsys, argv, expected):
    code, out, _ = run(capsys, *argv)
    assert (code, out.strip()) == (0, expected)


def test_run_addition_example(capsys):
    code, out, _ = run(capsys, "run", "addition", "--digits", "2", "45+78")
    assert (code, out.strip()) == (0, "123")


def test_bad_input_is_a_message_not_a_traceback(capsys):
    code, _, err = run(capsys, "run", "sort", "6", "6", "2")
    assert code == 1 and "error" in err and "Traceback" not in err
    code, _, err = run(capsys, "run", "no-such-program", "1")
    assert code == 1 and "valid:" in err


def test_verify_reports_margins(capsys):
    code, out, _ = run(capsys, "verify", "min", "--vocab-size", "5", "--block-size", "4",
                       "--samples", "50")
    assert code == 0
    assert "correct (100%)" in out and "worst logit margin" in out


def test_demo_prints_one_row_per_program(capsys):
    code, out, _ = run(capsys, "demo")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("program")
    for name in PROGRAMS:
        assert any(line.startswith(name + " ") for line in lines[1:])
    assert "FAILED" not in out


def test_params_prints_counts_of_a_saved_program(capsys, tmp_path):
    from taotp import save

    code, out, _ = run(capsys, "params", "tests/data/figure_8_2.taotp")
    assert code == 0 and "n_params: 72" in out
    path = tmp_path / "sort.npz"
    save(PROGRAMS["sort"].make().params, path)
    code, out, _ = run(capsys, "params", str(path))
    assert code == 0 and "n_params: 918" in out and "non_emb: 150" in out


def test_params_of_a_missing_or_malformed_file_is_a_message(capsys, tmp_path):
    code, _, err = run(capsys, "params", str(tmp_path / "nope.npz"))
    assert code == 1 and "error" in err
    bad = tmp_path / "bad.taotp"
    bad.write_text("{'tok_emb': [[1.0, 2.0]], 'layers': [")
    code, _, err = run(capsys, "params", str(bad))
    assert code == 1 and "line" in err


def test_export_writes_text_and_npz_that_load_back(capsys, tmp_path):
    from taotp import count_params, load

    for to, name in (("text", "min.taotp"), ("npz", "min.npz")):
        code, out, _ = run(capsys, "export", "min", "--vocab-size", "6", "--to", to,
                           "--out", str(tmp_path / name))
        assert code == 0 and name in out
        params = load(tmp_path / name)
        assert count_params(params) == count_params(PROGRAMS["min"].make(vocab_size=6).params)
