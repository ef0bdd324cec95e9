"""``taotp verify --shard K/N --json FILE`` and ``taotp verify --merge FILES``, end to end."""
from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from constructions import get_program
from constructions.cli import main
from taotp import reports
from taotp.shards import params_digest
from taotp.verify import verify

MIN = ("min", "--vocab-size", "5", "--block-size", "4", "--exhaustive")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_shards_then_merge_give_the_unsharded_summary(capsys, tmp_path):
    code, whole, _ = run(capsys, "verify", *MIN)
    assert code == 0
    files = []
    for k in (1, 2, 3):
        files.append(str(tmp_path / f"out_{k}.json"))
        code, out, _ = run(capsys, "verify", *MIN, "--shard", f"{k}/3", "--json", files[-1])
        assert code == 0 and f"(shard {k}/3)" in out and f"wrote {files[-1]}" in out
        assert json.loads((tmp_path / f"out_{k}.json").read_text())["shard"] == f"{k}/3"
    code, merged, _ = run(capsys, "verify", "--merge", *files)
    assert code == 0 and "(merged 3 shards" in merged
    # Same line but for the time: "exhaustive: 780/780 correct ... hardness 1; 0.1 s; path
    # fast (...; ...)" (the path's own ';' kept the time in when the split took the last one).
    strip = lambda text: [re.sub(r"; [\d.,]+ s(?=;|$)", "", line)
                          for line in text.splitlines()[1:]]
    assert strip(merged) == strip(whole) and "780/780" in merged


def test_a_merge_with_failures_exits_nonzero(capsys, tmp_path):
    task = get_program("min").make(vocab_size=5, block_size=4)
    broken = replace(task, params={**task.params, "tok_emb": task.params["tok_emb"][::-1].copy()})
    files = []
    for k in (1, 2):
        report = verify(broken, exhaustive=True, shard=f"{k}/2", progress=False)
        files.append(str(reports.save(tmp_path / f"{k}.json", reports.Checked(
            "min", {"vocab_size": 5, "block_size": 4}, params_digest(broken.params), report))))
    code, out, _ = run(capsys, "verify", "--merge", *files)
    assert code == 1 and "FAIL prompt ids" in out and "correct (100%)" not in out


@pytest.mark.parametrize("shard, message", [
    ("0/2", "K must be between 1 and N=2"), ("3/2", "K must be between 1 and N=2"),
    ("2", "not K/N"), ("x/y", "not K/N"),
])
def test_bad_shards_are_a_message(capsys, shard, message):
    code, _, err = run(capsys, "verify", *MIN, "--shard", shard)
    assert code == 1 and message in err and "Traceback" not in err


def test_bad_merges_are_a_message(capsys, tmp_path):
    one = str(tmp_path / "one.json")
    assert run(capsys, "verify", *MIN, "--shard", "1/2", "--json", one)[0] == 0
    for argv, message in [
        (("--merge", one), "missing shard 2/2"),
        (("--merge", one, one), "shard 1/2 given twice"),
        (("--merge", str(tmp_path / "none.json")), "No such file"),
        (("min", "--merge", one), "report files only; also given: min"),
        (("--merge", one, "--shard", "1/2"), "no --shard or --json"),
    ]:
        code, _, err = run(capsys, "verify", *argv)
        assert code == 1 and message in err, (argv, err)
    other = str(tmp_path / "other.json")
    run(capsys, "verify", "min", "--vocab-size", "4", "--block-size", "4", "--exhaustive",
        "--shard", "2/2", "--json", other)
    code, _, err = run(capsys, "verify", "--merge", one, other)
    assert code == 1 and "is not a shard of the same check" in err and "options" in err


def test_torch_backend_from_the_command_line(capsys):
    pytest.importorskip("torch", reason="the torch backend needs the export extra")
    code, out, _ = run(capsys, "verify", *MIN, "--backend", "torch")
    assert code == 0 and "780/780 correct" in out and "path torch-" in out


def test_the_documented_job_array_commands_parse():
    """docs/cluster.md's and README's shard commands use flags the CLI accepts (parsed, not
    run: one shard of all 3-digit additions takes minutes)."""
    import re
    import shlex
    from pathlib import Path

    from constructions.cli import _parser, _program_options
    from taotp.shards import Shard

    root = Path(__file__).resolve().parent.parent
    text = "\n".join((root / name).read_text() for name in ("docs/cluster.md", "README.md"))
    text = text.replace("\\\n", " ").replace("$SLURM_ARRAY_TASK_ID", "3").replace("$N", "8")
    lines = re.findall(r"^\s*taotp verify .*--shard.*$", text, re.M)
    assert len(lines) >= 2
    for line in lines:
        args, rest = _parser().parse_known_args(shlex.split(line, comments=True)[1:])
        program, options, _, _ = _program_options(args, rest)
        assert Shard.parse(args.shard).n == 8 and args.json and program.name == "addition"
