"""DECIMAL MULTIPLICATION (issue 12): sizes at n = 1 ... 100 digits, and how exact it is.

    python bench/multiplication.py                      # the size table only (seconds)
    python bench/multiplication.py --verify             # + checks: n <= 2 in full, 5..100 sampled
    python bench/multiplication.py --verify --full      # + all 10^6 three-digit pairs (minutes)
    python bench/multiplication.py --verify --sizes 1 2 5 10 20    # checks at these sizes only

Sizes are counted on the built weights (``count_params``). Checks go through
``taotp.verify`` (teacher-forced, batched: the same verdict as greedy decoding) in float64
and float32: every pair at n <= 2 (and n = 3 with ``--full``), else seeded random pairs plus
the construction's nasty ones (all nines, powers of ten, maximal column sums, carry chains).
"sum error" is how close a size is to failing: the largest distance, over the first 8 nasty
pairs, between layer 2's reading of a column-plus-carry ``s_k`` and the integer (MLP 2's
rounding tolerates 0.375).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header  # noqa: E402

from taotp.params import astype, count_non0_params, count_params, shape_of  # noqa: E402
from taotp.verify import verify  # noqa: E402

SIZES = (1, 2, 3, 5, 10, 20, 50, 100)
# Random pairs checked per size (beside the nasty ones): fewer where a pass takes seconds.
SAMPLES = {5: 1000, 10: 500, 20: 200, 50: 30, 100: 10}


def size_rows():
    from constructions import get_program

    program = get_program("multiplication")
    rows = []
    for n in SIZES:
        params = program.make(n_digits=n).params
        shape = shape_of(params)
        heads = ", ".join(str(layer["Q"].shape[0]) for layer in params["layers"])
        d_ff = ", ".join(str(layer["M1"].shape[1]) for layer in params["layers"])
        rows.append((n, shape.n_layers, heads, shape.d_model, d_ff, shape.block_size,
                     count_params(params)["n_params"], count_non0_params(params)["n_params"]))
    return rows


def sum_error(task, n: int, dtype: str) -> float:
    from constructions.multiplication import (
        column_sums, make_prompt, nasty_pairs, sum_estimates,
    )

    params = astype(task.params, dtype)
    return max(float(np.abs(sum_estimates(params, make_prompt(a, b, n), n)
                            - column_sums(a, b)).max()) for a, b in nasty_pairs(n)[:8])


def check_rows(full: bool, sizes):
    from constructions import get_program

    program = get_program("multiplication")
    rows = []
    for n in sizes:
        if n == 3 and not full:
            continue
        task = program.make(n_digits=n)
        for dtype in ("float64", "float32"):
            if n <= 3:
                report = verify(task, dtype=dtype, exhaustive=True, progress=False)
            else:
                report = verify(task, dtype=dtype, samples=SAMPLES[n], seed=n, progress=False)
            rows.append((n, dtype, report, sum_error(task, n, dtype)))
            print(f"  n={n} {dtype}: {report.summary()}", file=sys.stderr, flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verify", action="store_true", help="check exactness too")
    parser.add_argument("--full", action="store_true", help="also all 10^6 three-digit pairs")
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES, choices=SIZES,
                        help="digit counts to check (default: all)")
    args = parser.parse_args()
    print(header())
    print("### Sizes\n")
    print("| digits | layers | heads | d_model | d_ff | block size | params | non-zero |")
    print("|---|---|---|---|---|---|---|---|")
    for n, layers, heads, d_model, d_ff, block, params, non0 in size_rows():
        print(f"| {n} | {layers} | {heads} | {d_model} | {d_ff} | {block} | {params:,} | "
              f"{non0:,} |")
    if args.verify:
        print("\n### Exactness\n")
        print("| digits | dtype | inputs | correct | worst logit margin | sum error | seconds |")
        print("|---|---|---|---|---|---|---|")
        for n, dtype, report, error in check_rows(args.full, args.sizes):
            print(f"| {n} | {dtype} | {report.mode} | {report.n_passed:,}/{report.n_inputs:,} "
                  f"| {report.worst_margin:.4g} | {error:.2g} | {report.seconds:.0f} |")


if __name__ == "__main__":
    main()
