"""Verification reports as plain JSON files, and merging the files of a job array's shards.

A report file is one JSON object (written and read with ``json``: nothing in it is ever
executed): ``format``, ``version``, what was checked (``program``, ``options``,
``params_sha256`` of the weights, ``dtype``, ``mode``, ``seed``, ``shard`` as ``"K/N"``) and
what was found (``n_inputs``, ``n_passed``, ``worst_margin``, ``worst_hardness``, ``failures``
as ``{prompt, expected, got}`` token ids, ``seconds``, ``path``: which forward pass ran).
Strict JSON has no infinities: a margin or hardness that is not finite (no inputs, no
attention) is written ``"inf"``, ``"-inf"`` or ``"nan"``.

``merge`` accepts shards only when they checked the same weights on the same inputs
(program, options, digest, dtype, mode, seed all equal) and cover shards ``1..N`` of one
``N`` exactly once; then it sums the counts, takes the worst margins and hardness and
concatenates the failures (in shard order).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from taotp.shards import Shard
from taotp.verify import Report

FORMAT, VERSION = "taotp-verify-report", 1
MAX_BYTES = 64 * 2 ** 20  # a report holds counts and a few failures; refuse anything huge
# What shards must agree on to be parts of one check.
SAME = ("program", "options", "params_sha256", "dtype", "mode", "seed")


@dataclass(frozen=True)
class Checked:
    """A Report with what it checked: the program, its options and its weights' digest."""
    program: str
    options: dict
    params_sha256: str
    report: Report

    def field(self, name: str):
        """A field of this record or of its report (for the merge's consistency check)."""
        return getattr(self, name) if hasattr(self, name) else getattr(self.report, name)


def to_json(checked: Checked) -> str:
    """The record as a strict JSON text (one object, indented)."""
    r = checked.report
    record = {
        "format": FORMAT, "version": VERSION, "program": checked.program,
        "options": checked.options, "params_sha256": checked.params_sha256,
        "dtype": r.dtype, "mode": r.mode, "seed": r.seed, "shard": str(r.shard),
        "n_inputs": r.n_inputs, "n_passed": r.n_passed,
        "worst_margin": _number(r.worst_margin), "worst_hardness": _number(r.worst_hardness),
        "failures": [{"prompt": list(map(int, p)), "expected": list(map(int, e)),
                      "got": list(map(int, g))} for p, e, g in r.failures],
        "seconds": r.seconds, "path": r.path,
    }
    try:
        return json.dumps(record, indent=1, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"report is not plain JSON (options must be numbers, strings, "
                         f"booleans or null): {error}") from error


def save(path: str | Path, checked: Checked) -> Path:
    """Write the record to ``path`` as JSON; return the path."""
    path = Path(path)
    path.write_text(to_json(checked) + "\n", encoding="utf-8")
    return path


def load(path: str | Path) -> Checked:
    """Read a record written by ``save``; a ValueError names the file and what is wrong."""
    path = Path(path)
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size:,} bytes is not a verify report "
                         f"(at most {MAX_BYTES:,})")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a JSON verify report ({error})") from error
    try:
        return from_record(record)
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"{path}: {error}") from error


def from_record(record) -> Checked:
    """A parsed JSON object as a Checked record, every field checked for type and range."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"not a verify report (no \"format\": \"{FORMAT}\")")
    if record.get("version") != VERSION:
        raise ValueError(f"report version {record.get('version')!r}; this taotp reads {VERSION}")
    n_inputs, n_passed = _count(record, "n_inputs"), _count(record, "n_passed")
    if n_passed > n_inputs:
        raise ValueError(f"n_passed {n_passed} > n_inputs {n_inputs}")
    failures = tuple(_failure(f) for f in _typed(record, "failures", list))
    if len(failures) > n_inputs - n_passed:
        raise ValueError(f"{len(failures)} failures listed but only {n_inputs - n_passed} "
                         f"inputs failed")
    seed = record.get("seed")
    if seed is not None and not _is_int(seed):
        raise TypeError(f"seed must be an integer or null, not {seed!r}")
    seconds = _typed(record, "seconds", (int, float))
    report = Report(mode=_typed(record, "mode", str), dtype=_typed(record, "dtype", str),
                    n_inputs=n_inputs, n_passed=n_passed,
                    worst_margin=_float(record, "worst_margin"),
                    worst_hardness=_float(record, "worst_hardness"),
                    seconds=float(seconds), failures=failures,
                    shard=Shard.parse(_typed(record, "shard", str)), seed=seed,
                    path=_typed(record, "path", str))
    return Checked(program=_typed(record, "program", str),
                   options=_typed(record, "options", dict),
                   params_sha256=_typed(record, "params_sha256", str), report=report)


def merge(records: Sequence[Checked], names: Sequence[str] | None = None) -> Checked:
    """One record for the whole domain from the records of shards ``1..N`` (each once)."""
    if not records:
        raise ValueError("nothing to merge: give the shards' report files")
    names = list(names) if names is not None else [f"report {i + 1}" for i in range(len(records))]
    first = records[0]
    for name in SAME:
        for other, where in zip(records[1:], names[1:]):
            if other.field(name) != first.field(name):
                raise ValueError(f"{where} is not a shard of the same check as {names[0]}: "
                                 f"{name} {other.field(name)!r} != {first.field(name)!r}")
    order = _coverage([r.report.shard for r in records], names)
    reports = [records[i].report for i in order]
    paths = list(dict.fromkeys(r.path for r in reports))
    merged = replace(
        first.report, n_inputs=sum(r.n_inputs for r in reports),
        n_passed=sum(r.n_passed for r in reports),
        worst_margin=_worst(r.worst_margin for r in reports),
        worst_hardness=_worst(r.worst_hardness for r in reports),
        seconds=sum(r.seconds for r in reports),
        failures=tuple(f for r in reports for f in r.failures), shard=Shard(),
        path="+".join(paths))
    return replace(first, report=merged)


def merge_files(paths: Sequence[str | Path]) -> Checked:
    """``merge`` the report files at ``paths`` (errors name the files)."""
    return merge([load(p) for p in paths], [str(p) for p in paths])


def _coverage(shards, names):
    """Indices of the records in shard order, if they are shards 1..N of one N exactly once."""
    n = shards[0].n
    for shard, name in zip(shards, names):
        if shard.n != n:
            raise ValueError(f"shards of different splits: {names[0]} is {shards[0]}, "
                             f"{name} is {shard}")
    seen = {}
    for i, (shard, name) in enumerate(zip(shards, names)):
        if shard.k in seen:
            raise ValueError(f"shard {shard} given twice: {names[seen[shard.k]]} and {name}")
        seen[shard.k] = i
    missing = [k for k in range(1, n + 1) if k not in seen]
    if missing:
        listed = ", ".join(f"{k}/{n}" for k in missing[:10])
        more = f" and {len(missing) - 10:,} more" if len(missing) > 10 else ""
        raise ValueError(f"missing shard{'s' if len(missing) > 1 else ''} {listed}{more}: "
                         f"a merge needs all {n} shards")
    return [seen[k] for k in range(1, n + 1)]


def _worst(values):
    values = list(values)
    return math.nan if any(math.isnan(v) for v in values) else min(values, default=math.inf)


def _number(value: float):
    return float(value) if math.isfinite(value) else str(float(value))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _typed(record, key, kind):
    if key not in record:
        raise ValueError(f"missing field {key!r}")
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"field {key!r} has the wrong type ({type(value).__name__})")
    return value


def _count(record, key):
    value = _typed(record, key, int)
    if value < 0:
        raise ValueError(f"field {key!r} must be >= 0, got {value}")
    return value


def _float(record, key):
    value = _typed(record, key, (int, float, str))
    if isinstance(value, str):
        if value not in ("inf", "-inf", "nan"):
            raise ValueError(f"field {key!r} must be a number, 'inf', '-inf' or 'nan'")
    return float(value)


def _failure(item):
    if not isinstance(item, dict) or set(item) != {"prompt", "expected", "got"}:
        raise ValueError("each failure must be {prompt, expected, got}")
    ids = []
    for key in ("prompt", "expected", "got"):
        value = item[key]
        if not isinstance(value, list) or not all(_is_int(t) and t >= 0 for t in value):
            raise ValueError(f"failure {key} must be a list of token ids")
        ids.append(value)
    return tuple(ids)
