"""Shards: a partition of the inputs; their JSON reports merged give one unsharded run."""
from __future__ import annotations

import json
import math
from collections.abc import Sequence, Sized
from dataclasses import replace

import numpy as np
import pytest

from constructions import PROGRAMS, get_program
from taotp import reports
from taotp.shards import MAX_SHARDS, Shard, as_shard, params_digest
from taotp.verify import verify


@pytest.fixture(scope="module")
def min_task():
    return get_program("min").make(vocab_size=5, block_size=4)


def _broken(task):
    """``task`` with its token embedding reversed: it fails on some inputs, not all."""
    params = {**task.params, "tok_emb": task.params["tok_emb"][::-1].copy()}
    return replace(task, params=params)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 12, 40])
def test_shards_partition_any_enumeration(n):
    items = list(range(23))
    parts = [list(Shard(k, n).take(iter(items))) for k in range(1, n + 1)]
    assert sorted(x for part in parts for x in part) == items
    assert [len(p) for p in parts] == [Shard(k, n).count(len(items)) for k in range(1, n + 1)]


@pytest.mark.parametrize("text, message", [
    ("0/3", "K must be between 1 and N=3"), ("4/3", "K must be between 1 and N=3"),
    ("1/0", "N must be between 1"), ("3", "not K/N"), ("a/b", "not K/N"), ("-1/3", "not K/N"),
    ("1/2/3", "not K/N"), ("", "not K/N"), (f"1/{MAX_SHARDS + 1}", "N must be between 1"),
])
def test_bad_shards_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        Shard.parse(text)


def test_shard_types():
    assert as_shard(None) == Shard(1, 1) and as_shard((2, 5)) == Shard.parse(" 2/5 ")
    assert str(Shard(np.int64(2), 5)) == "2/5"
    for bad in (True, 1.0, "1"):
        with pytest.raises(TypeError, match="integer"):
            Shard(bad, 2)
    with pytest.raises(TypeError):
        as_shard(3)
    with pytest.raises(TypeError, match="K/N"):
        Shard.parse(3)


def _shards(task, n, tmp_path, **kwargs):
    """Run ``n`` shards through their JSON files; return the merged record."""
    paths = []
    for k in range(n, 0, -1):  # any order
        report = verify(task, shard=f"{k}/{n}", progress=False, **kwargs)
        checked = reports.Checked("p", {"o": 1}, params_digest(task.params), report)
        paths.append(reports.save(tmp_path / f"out_{k}.json", checked))
    return reports.merge_files(paths)


def _same(merged, whole):
    assert (merged.n_inputs, merged.n_passed) == (whole.n_inputs, whole.n_passed)
    assert merged.worst_margin == pytest.approx(whole.worst_margin, rel=1e-12, abs=1e-15)
    assert merged.worst_hardness == pytest.approx(whole.worst_hardness, rel=1e-12)
    assert sorted(map(str, merged.failures)) == sorted(map(str, whole.failures))
    assert (merged.mode, merged.dtype, merged.seed, merged.shard) == \
        (whole.mode, whole.dtype, whole.seed, Shard())


@pytest.mark.parametrize("n", [1, 3, 7, 1000])
def test_sharded_exhaustive_merged_is_the_unsharded_run(min_task, tmp_path, n):
    whole = verify(min_task, exhaustive=True, progress=False)
    _same(_shards(min_task, n, tmp_path, exhaustive=True).report, whole)


@pytest.mark.parametrize("n", [2, 5])
def test_a_broken_program_fails_the_same_sharded(min_task, tmp_path, n):
    broken = _broken(min_task)
    whole = verify(broken, exhaustive=True, progress=False, max_failures=10 ** 6)
    assert 0 < whole.n_passed < whole.n_inputs and whole.worst_margin < 0
    merged = _shards(broken, n, tmp_path, exhaustive=True, max_failures=10 ** 6).report
    _same(merged, whole)
    assert len(merged.failures) == whole.n_inputs - whole.n_passed


@pytest.mark.parametrize("name, options", [
    ("addition", dict(n_digits=1)), ("rasp-reverse", dict(vocab_size=3, max_seq_len=4)),
    ("hello-world", {}),
])
def test_sharded_samples_merged_are_the_unsharded_run(tmp_path, name, options):
    task = get_program(name).make(**options)
    whole = verify(task, samples=60, seed=4, progress=False)
    _same(_shards(task, 4, tmp_path, samples=60, seed=4).report, whole)


def test_json_round_trip(min_task, tmp_path):
    report = verify(_broken(min_task), exhaustive=True, progress=False, shard="2/3")
    checked = reports.Checked("min", {"vocab_size": 5, "block_size": 4},
                              params_digest(min_task.params), report)
    back = reports.load(reports.save(tmp_path / "r.json", checked))
    assert back == checked and back.report.failures and back.report.shard == Shard(2, 3)
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["shard"] == "2/3" and record["seed"] is None
    for value in (math.inf, -math.inf):  # strict JSON: written as text, read back
        odd = replace(checked, report=replace(report, worst_hardness=value))
        assert reports.load(reports.save(tmp_path / "odd.json", odd)) == odd
    nan = reports.load(reports.save(tmp_path / "nan.json", replace(
        checked, report=replace(report, worst_margin=math.nan))))
    assert math.isnan(nan.report.worst_margin)


def test_merge_takes_the_worst_and_propagates_nan(min_task):
    base = reports.Checked("p", {}, "d", verify(min_task, samples=5, progress=False))
    parts = [replace(base, report=replace(base.report, shard=Shard(k, 2), worst_margin=m))
             for k, m in ((1, 0.5), (2, 0.25))]
    assert reports.merge(parts).report.worst_margin == 0.25
    parts[0] = replace(parts[0], report=replace(parts[0].report, worst_margin=math.nan))
    assert math.isnan(reports.merge(parts).report.worst_margin)


def test_merge_refuses_parts_of_different_checks(min_task):
    report = verify(min_task, samples=5, progress=False, shard="1/2")
    first = reports.Checked("min", {"a": 1}, "abc", report)
    second = replace(first, report=replace(report, shard=Shard(2, 2)))
    assert reports.merge([first, second]).report.shard == Shard()
    for change, field in [(dict(program="max"), "program"), (dict(options={"a": 2}), "options"),
                          (dict(params_sha256="abd"), "params_sha256")]:
        with pytest.raises(ValueError, match=f"b.json is not a shard .* a.json: {field}"):
            reports.merge([first, replace(second, **change)], ["a.json", "b.json"])
    for change, field in [(dict(dtype="float32"), "dtype"), (dict(mode="exhaustive"), "mode"),
                          (dict(seed=1), "seed")]:
        other = replace(second, report=replace(second.report, **change))
        with pytest.raises(ValueError, match=field):
            reports.merge([first, other])


def test_merge_refuses_bad_coverage(min_task):
    report = verify(min_task, samples=5, progress=False)
    part = lambda k, n: reports.Checked("min", {}, "d", replace(report, shard=Shard(k, n)))
    with pytest.raises(ValueError, match="missing shard 2/3"):
        reports.merge([part(1, 3), part(3, 3)])
    with pytest.raises(ValueError, match="missing shards 2/3, 3/3"):
        reports.merge([part(1, 3)])
    with pytest.raises(ValueError, match="shard 1/2 given twice: a and c"):
        reports.merge([part(1, 2), part(2, 2), part(1, 2)], ["a", "b", "c"])
    with pytest.raises(ValueError, match="different splits: a is 1/2, b is 2/3"):
        reports.merge([part(1, 2), part(2, 3)], ["a", "b"])
    with pytest.raises(ValueError, match="nothing to merge"):
        reports.merge([])


def _record(min_task, tmp_path):
    report = verify(_broken(min_task), samples=20, progress=False)
    checked = reports.Checked("min", {}, "d", report)
    return json.loads(reports.to_json(checked))


@pytest.mark.parametrize("change, message", [
    (dict(format="pickle"), "not a verify report"), (dict(version=2), "version 2"),
    (dict(n_inputs=True), "wrong type"), (dict(n_inputs=-1), ">= 0"),
    (dict(n_passed=10 ** 9), "n_passed .* > n_inputs"), (dict(worst_margin="1e3"), "number"),
    (dict(shard="2/1"), "K must be between"), (dict(seed=1.5), "seed"),
    (dict(failures=[{"prompt": [1]}]), "prompt, expected, got"),
    (dict(failures=[{"prompt": [-1], "expected": [], "got": []}]), "token ids"),
    (dict(options=[1]), "wrong type"), (dict(program=None), "wrong type"),
])
def test_bad_report_files_are_refused(min_task, tmp_path, change, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_record(min_task, tmp_path) | change))
    with pytest.raises(ValueError, match=f"bad.json: .*{message}"):
        reports.load(path)


def test_missing_fields_and_non_json_are_refused(min_task, tmp_path):
    path = tmp_path / "bad.json"
    record = _record(min_task, tmp_path)
    del record["n_passed"]
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="missing field 'n_passed'"):
        reports.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a JSON verify report"):
        reports.load(path)
    report = verify(min_task, samples=1, progress=False)
    with pytest.raises(ValueError, match="plain JSON"):
        reports.to_json(reports.Checked("min", {"o": object()}, "d", report))


def test_the_digest_sees_one_changed_weight(min_task):
    params = min_task.params
    changed = {**params, "layers": [dict(params["layers"][0])]}
    changed["layers"][0]["Q"] = params["layers"][0]["Q"].copy()
    changed["layers"][0]["Q"].flat[0] = np.nextafter(changed["layers"][0]["Q"].flat[0], np.inf)
    assert params_digest(params) == params_digest(dict(params))
    assert params_digest(changed) != params_digest(params)


# Options at which each program's exhaustive domain is small enough to count here.
SMALL = {"min": dict(vocab_size=4, block_size=4), "max": dict(vocab_size=4, block_size=4),
         "multiset-sort": dict(vocab_size=4, block_size=8),
         "stable-min": dict(vocab_size=4, block_size=5),
         "stable-max": dict(vocab_size=4, block_size=5), "long-addition": dict(n_digits=1),
         "multiplication": dict(n_digits=1), "unpadded-addition": dict(max_digits=1),
         "lookup-table-general": dict(entries=20, key_len=2, block_size=2),
         "multidigit-sort": dict(digits=1, count=3),
         **{name: dict(max_seq_len=4) | ({"vocab_size": 3} if any(
             o.name == "vocab_size" for o in PROGRAMS[name].options) else {})
            for name in PROGRAMS if name.startswith("rasp-")}}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_exhaustive_domains_know_their_size(name):
    task = PROGRAMS[name].make(**SMALL.get(name, {}))
    if task.exhaustive is None:
        assert name in ("search", "signed-sort", "sort")  # the only ones with no domain
        return
    domain = task.exhaustive()
    prompts = list(domain)
    assert isinstance(domain, Sized) and len(domain) == len(prompts) > 0
    if isinstance(domain, Sequence):  # a shard indexes it: same prompts, same order
        for i, prompt in enumerate(prompts):
            np.testing.assert_array_equal(domain[i], prompt)
    assert len(list(task.exhaustive())) == len(prompts)  # each call starts afresh


def test_a_replaced_generator_domain_is_walked_not_indexed(tmp_path):
    task = get_program("addition").make(n_digits=1)
    part = replace(task, exhaustive=lambda: (p for p in task.exhaustive() if p[0] == 3))
    whole = verify(part, exhaustive=True, progress=False)
    assert whole.n_inputs == 10 and whole.ok
    _same(_shards(part, 3, tmp_path, exhaustive=True).report, whole)


@pytest.mark.parametrize("name, options", [("addition", dict(n_digits=1)),
                                           ("unpadded-addition", dict(max_digits=1))])
def test_indexed_shards_merged_are_the_unsharded_run(tmp_path, name, options):
    task = get_program(name).make(**options)
    broken = _broken(task)
    for t in (task, broken):
        whole = verify(t, exhaustive=True, progress=False, max_failures=10 ** 6)
        _same(_shards(t, 3, tmp_path, exhaustive=True, max_failures=10 ** 6).report, whole)
    assert not whole.ok


def test_progress_bar_knows_the_total(min_task, capsys):
    verify(min_task, exhaustive=True, progress=True, shard="2/3")
    assert "/260" in capsys.readouterr().err
