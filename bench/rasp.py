"""Sizes of every compiled library RASP program against tracr's (quoted constants, marked).

    python bench/rasp.py                 # vocab 5 / length 10 and vocab 10 / length 40
    python bench/rasp.py --check 100     # also run each model on 100 seeded random inputs
    python bench/rasp.py --sizes 10x1000 --programs tracr-reverse,tracr-sort --check 5

Every library program (``constructions.rasp_lib.LIBRARY``) is compiled at each size where it
compiles; a refusal is printed with its reason. Vocabularies: integer programs get
``0..vocab-1``; character programs keep their alphabet, padded with unused letters up to
``vocab`` (an alphabet larger than ``vocab``, like blog-add's, is kept whole). Every number
printed is computed here, except the tracr column: those are the sizes quoted in issue 11
(measured with tracr at its default settings), not re-measured by this script.
"""
from __future__ import annotations

import argparse
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
# Not measured here.
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


def measure(name: str, vocab_size: int, n: int, checks: int) -> str:
    entry = LIBRARY[name]
    program = BY_LENGTH[name](n) if name in BY_LENGTH else entry.make()
    vocab = vocabulary(entry.alphabet, vocab_size)
    depth = rasp.layers(program).depth
    try:
        compiled, seconds = timed(rasp.compile, program, vocab, n)
    except ValueError as error:
        return (f"| {name} | {len(vocab)} | {n} | - | {depth} | - | - | - | - | "
                f"refused: {str(error)[:90]} |" + (" - |" if checks else ""))
    params = compiled.params
    total = count_params(params)["n_params"]
    tracr, tracr_layers = TRACR_QUOTED.get((name, vocab_size, n), (None, None))
    quoted = "-" if tracr is None else (
        f"{tracr:,}{f', {tracr_layers} layers' if tracr_layers else ''} (quoted)")
    ratio = f"{tracr / total:.1f}x" if tracr else "-"
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
            f"| {quoted} | {ratio} |{checked}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", type=int, default=0, help="random inputs to verify")
    parser.add_argument("--sizes", default="5x10,10x40", help="vocab x max_seq_len list")
    parser.add_argument("--programs", default="", help="comma-separated names (default all)")
    args = parser.parse_args(argv)
    names = [p for p in args.programs.split(",") if p] or sorted(LIBRARY)
    print(header())
    print("| program | vocab | max_seq_len | layers | RASP depth | d_model | params | "
          f"compile | tracr params | tracr / ours |{' checked |' if args.check else ''}")
    print("|---|---|---|---|---|---|---|---|---|---|" + ("---|" if args.check else ""))
    for size in args.sizes.split(","):
        vocab_size, n = (int(x) for x in size.split("x"))
        for name in names:
            print(measure(name, vocab_size, n, args.check), flush=True)


if __name__ == "__main__":
    main()
