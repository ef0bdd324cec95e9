"""Sizes of compiled RASP programs against tracr's (quoted constants, marked as such).

    python bench/rasp.py                 # vocab 5 / length 10 and vocab 10 / length 40
    python bench/rasp.py --check 200     # also run each model on 200 seeded random inputs
    python bench/rasp.py --sizes 10x1000 --programs reverse,sort --check 5   # the scale

Every number printed is computed here, except the tracr column: those are the sizes quoted in
issue 11 (measured with tracr at the default settings), not re-measured by this script.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import header, timed  # noqa: E402
from constructions.rasp_lib import tracr_lib as lib  # noqa: E402
from taotp import rasp  # noqa: E402
from taotp.params import count_params  # noqa: E402

# Quoted in issue 11 (tracr, layer norm off): params at (vocab, max_seq_len). Not measured here.
TRACR_QUOTED = {("reverse", 5, 10): 95_000, ("sort", 5, 10): 81_000,
                ("sort_freq", 5, 10): 568_000, ("shuffle_dyck2", 5, 10): 1_040_000,
                ("reverse", 10, 40): 3_800_000, ("sort", 10, 40): 3_800_000}

PROGRAMS = {
    "length": lambda n: lib.make_length(),
    "reverse": lambda n: lib.make_reverse(rasp.tokens),
    "hist": lambda n: lib.make_hist(),
    "sort": lambda n: lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=n, min_key=1),
    "sort_freq": lib.make_sort_freq,
    "shuffle_dyck2": lambda n: lib.make_shuffle_dyck2(),
}
# tracr measured shuffle_dyck2 over the brackets and one other token
VOCABS = {"shuffle_dyck2": lambda size: list("(){}xyzuvwabcdefgh")[:size]}


def measure(name: str, vocab_size: int, n: int, checks: int) -> str:
    program = PROGRAMS[name](n)
    vocab = VOCABS.get(name, lambda size: list(range(size)))(vocab_size)
    try:
        compiled, seconds = timed(rasp.compile, program, vocab, n)
    except ValueError as error:  # a refusal is a result too
        return f"| {name} | {vocab_size} | {n} | refused: {str(error)[:90]} |"
    params = compiled.params
    counts = count_params(params)
    tracr = TRACR_QUOTED.get((name, vocab_size, n))
    ratio = f"{tracr / counts['n_params']:.1f}x" if tracr else "-"
    checked = ""
    if checks:
        rng = random.Random(0)
        bad = 0
        for _ in range(checks):
            xs = [rng.choice(vocab) for _ in range(rng.randint(1, n))]
            bad += compiled.run(xs) != rasp.evaluate(program, xs)
        checked = f" | {checks - bad}/{checks}"
    return (f"| {name} | {vocab_size} | {n} | {len(params['layers'])} "
            f"| {rasp.layers(program).depth} | {params['tok_emb'].shape[1]} "
            f"| {counts['n_params']:,} | {seconds:.2f} s "
            f"| {f'{tracr:,} (quoted)' if tracr else '-'} | {ratio}{checked} |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", type=int, default=0, help="random inputs to verify")
    parser.add_argument("--sizes", default="5x10,10x40", help="vocab x max_seq_len list")
    parser.add_argument("--programs", default=",".join(PROGRAMS),
                        help=f"comma-separated, from {', '.join(PROGRAMS)}")
    args = parser.parse_args(argv)
    print(header())
    print("| program | vocab | max_seq_len | layers | RASP depth | d_model | params | "
          f"compile | tracr params | tracr / ours{' | checked' if args.check else ''} |")
    print("|---|---|---|---|---|---|---|---|---|---|" + ("---|" if args.check else ""))
    for size in args.sizes.split(","):
        vocab_size, n = (int(x) for x in size.split("x"))
        for name in args.programs.split(","):
            if name not in PROGRAMS:
                parser.error(f"unknown program {name!r}; choose from {', '.join(PROGRAMS)}")
            print(measure(name, vocab_size, n, args.check), flush=True)


if __name__ == "__main__":
    main()
