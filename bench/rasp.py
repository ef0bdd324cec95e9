"""Sizes of every compiled library RASP program against tracr's (measured where we could).

    python bench/rasp.py                 # vocab 5 / length 10 and vocab 10 / length 40
    python bench/rasp.py --check 100     # also run each model on 100 seeded random inputs
    python bench/rasp.py --sizes 10x1000 --programs tracr-reverse,tracr-sort --check 5

Every library program (``constructions.rasp_lib.LIBRARY``) is compiled at each size where it
compiles; a refusal is printed with its reason. Vocabularies: integer programs get
``0..vocab-1``; character programs keep their alphabet, padded with unused letters up to
``vocab`` (an alphabet larger than ``vocab``, like blog-add's, is kept whole). Every number
printed is computed here except the tracr column, which is read from
``bench/results/tracr_sizes.json`` (written by ``bench/tracr_sizes.py``, which compiles the
same program at the same vocabulary with tracr, in its own environment): "measured, tracr X"
is tracr's parameter count there, or tracr's refusal, or why tracr's RASP cannot say the
program. A program tracr cannot compile is compared, where the library has one, with a
tracr-lib program of the same reference function and alphabet ("same function: NAME").
"(quoted)" marks the sizes quoted in issue 11, used only where nothing was measured.
"""
from __future__ import annotations

import argparse
import json
import random
import string
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import header, timed  # noqa: E402
from constructions.rasp_lib import LIBRARY  # noqa: E402
from constructions.rasp_lib import tracr_lib as lib  # noqa: E402
from taotp import rasp  # noqa: E402
from taotp.params import count_params  # noqa: E402

# Quoted in issue 11 (tracr, layer norm off): (params, layers) at (vocab, max_seq_len).
# Used only where bench/results/tracr_sizes.json has no row.
TRACR_QUOTED = {("tracr-reverse", 5, 10): (95_000, 4), ("tracr-sort", 5, 10): (81_000, None),
                ("tracr-sort-freq", 5, 10): (568_000, None),
                ("tracr-shuffle-dyck2", 5, 10): (1_040_000, 8),
                ("tracr-reverse", 10, 40): (3_800_000, None),
                ("tracr-sort", 10, 40): (3_800_000, None)}

# Programs whose RASP depends on max_seq_len are built for the size measured.
BY_LENGTH = {
    "tracr-sort": lambda n: lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=n, min_key=1),
    "tracr-sort-freq": lambda n: lib.make_sort_freq(n),
}


def vocabulary(alphabet: tuple, size: int) -> tuple:
    """``size`` tokens for a program written for ``alphabet`` (see the module docstring)."""
    if all(isinstance(a, int) and not isinstance(a, bool) for a in alphabet):
        return tuple(range(size))
    spare = [c for c in string.ascii_lowercase if c not in alphabet]
    return tuple(alphabet) + tuple(spare[:max(0, size - len(alphabet))])


TRACR_RESULTS = Path(__file__).resolve().parent / "results" / "tracr_sizes.json"


def load_tracr(path: Path = TRACR_RESULTS) -> tuple[dict, str]:
    """tracr's measured rows keyed by (program, vocabulary, max_seq_len), and tracr's version."""
    if not path.exists():
        return {}, ""
    data = json.loads(path.read_text())
    rows = {(r["program"], tuple(r["vocab"]), r["max_seq_len"]): r for r in data["rows"]}
    return rows, data["versions"]["tracr-pypi"]


def _short(error: str) -> str:
    reason = error.replace("NotImplementedError: Unsupported RASP expressions:\n", "")
    return reason.replace("\n", "; ").replace("|", "/")[:100]


def _same_function(name: str, vocab: tuple, n: int, measured: dict) -> tuple | None:
    """(tracr-lib name, its compiled row) computing the same reference on the same alphabet."""
    entry = LIBRARY[name]
    for other, candidate in sorted(LIBRARY.items()):
        row = measured.get((other, vocab, n))
        if (other != name and other.startswith("tracr-") and candidate.precondition is None
                and candidate.reference is entry.reference
                and candidate.alphabet == entry.alphabet and row
                and row["status"] == "compiled"):
            return other, row
    return None


def _checked(row: dict) -> str:
    checked = row.get("check")
    if not checked:
        return ""
    if checked["wrong"]:
        return (f"; wrong on {checked['wrong']}/{checked['inputs']} inputs, lengths "
                f"{checked['wrong_lengths']}")
    return f"; right on {checked['inputs']}/{checked['inputs']} inputs"


def tracr_size(name: str, vocab: tuple, vocab_size: int, n: int,
               tracr: tuple[dict, str]) -> tuple[str, int | None]:
    """The tracr cell's text and the parameter count to compare with (None: nothing to)."""
    measured, version = tracr
    row = measured.get((name, vocab, n))
    if row is None:
        params, layers = TRACR_QUOTED.get((name, vocab_size, n), (None, None))
        if params is None:
            return "-", None
        return f"{params:,}{f', {layers} layers' if layers else ''} (quoted)", params
    tag = f"measured, tracr {version}"
    if row["status"] == "compiled":
        layers = f"{row['layers']} layer{'s' if row['layers'] != 1 else ''}"
        return (f"{row['params']:,}, {layers}, d_model {row['d_model']} "
                f"({tag}{_checked(row)})"), row["params"]
    why = {"refused": "refused: ", "failed": "crashed: ",
           "untranslatable": "not in tracr's RASP: "}[row["status"]]
    error = row["error"].split(";")[0] if row["status"] == "untranslatable" else row["error"]
    text = f"{why}{_short(error)} (tracr {version})"
    rewritten = row.get("rewritten", {})
    if rewritten.get("status") == "compiled" and rewritten.get("check", {}).get("wrong") == 0:
        return (f"{text}; rewritten (Full as Map, sum as mean): {rewritten['params']:,}"
                f"{_checked(rewritten)}"), rewritten["params"]
    same = _same_function(name, vocab, n, measured)
    if same is None:
        return text, None
    other, other_row = same
    return (f"{text}; same function: {other} {other_row['params']:,}{_checked(other_row)}",
            other_row["params"])


def measure(name: str, vocab_size: int, n: int, checks: int,
            tracr: tuple[dict, str] = ({}, "")) -> str:
    entry = LIBRARY[name]
    program = BY_LENGTH[name](n) if name in BY_LENGTH else entry.make()
    vocab = vocabulary(entry.alphabet, vocab_size)
    depth = rasp.layers(program).depth
    quoted, tracr_params = tracr_size(name, vocab, vocab_size, n, tracr)
    try:
        compiled, seconds = timed(rasp.compile, program, vocab, n)
    except ValueError as error:
        return (f"| {name} | {len(vocab)} | {n} | - | {depth} | - | refused: "
                f"{str(error)[:90]} | - | {quoted} | - | - |" + (" - |" if checks else ""))
    params = compiled.params
    total = count_params(params)["n_params"]
    ratio = f"{tracr_params / total:.1f}x" if tracr_params else "-"
    meets = "-" if not tracr_params else ("yes" if tracr_params >= 10 * total else "no")
    checked = ""
    if checks:
        rng = random.Random(0)
        good = tried = 0
        while tried < checks:
            xs = [rng.choice(vocab) for _ in range(rng.randint(1, n))]
            try:
                expected = rasp.evaluate(program, xs)
            except ValueError:  # outside what the program is defined on
                continue
            tried += 1
            got = compiled.run(xs)
            good += all(e is None or (g == e if not compiled.numerical
                                      else abs(g - e) <= 1e-9 * max(1.0, abs(e)))
                        for e, g in zip(expected, got))
        checked = f" {good}/{checks} |"
    return (f"| {name} | {len(vocab)} | {n} | {len(params['layers'])} | {depth} "
            f"| {params['tok_emb'].shape[1]} | {total:,} | {seconds:.2f} s "
            f"| {quoted} | {ratio} | {meets} |{checked}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", type=int, default=0, help="random inputs to verify")
    parser.add_argument("--sizes", default="5x10,10x40", help="vocab x max_seq_len list")
    parser.add_argument("--programs", default="", help="comma-separated names (default all)")
    parser.add_argument("--tracr", default=str(TRACR_RESULTS),
                        help="tracr's measured sizes (from bench/tracr_sizes.py)")
    args = parser.parse_args(argv)
    names = [p for p in args.programs.split(",") if p] or sorted(LIBRARY)
    print(header())
    print("| program | vocab | max_seq_len | layers | RASP depth | d_model | params | "
          f"compile | tracr | tracr / ours | >= 10x |{' checked |' if args.check else ''}")
    print("|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if args.check else ""))
    tracr = load_tracr(Path(args.tracr))
    verdicts: dict = {"yes": [], "no": []}
    for size in args.sizes.split(","):
        vocab_size, n = (int(x) for x in size.split("x"))
        for name in names:
            line = measure(name, vocab_size, n, args.check, tracr)
            print(line, flush=True)
            meets = line.split("|")[11].strip()
            verdicts.get(meets, []).append(f"{name} {vocab_size}/{n}")
    compared = len(verdicts["yes"]) + len(verdicts["no"])
    if compared:
        print(f"\n10x fewer parameters than tracr on {len(verdicts['yes'])} of {compared} "
              f"compared rows; not on: {', '.join(verdicts['no']) or 'none'}.")


if __name__ == "__main__":
    main()
