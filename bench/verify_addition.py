"""Verifying the book's DECIMAL ADDITION: the naive decode loop vs our batched check
(issue 7, bench b).

    python bench/verify_addition.py          # 2 digits in full; 3 digits on a large sample
    python bench/verify_addition.py --full   # also all 10^6 three-digit pairs (minutes)

The naive loop (``decode`` per pair, the book's Figure 1.2) is timed on a sample and
extrapolated to the whole domain; the line says so. The batched path is timed on what it
actually checks.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, timed  # noqa: E402

from taotp import decode  # noqa: E402
from taotp.verify import verify  # noqa: E402


def naive_seconds_per_input(task, prompts):
    def loop():
        for prompt in prompts:
            out = decode(prompt, task.params, max_steps=task.steps(prompt))
            if not np.array_equal(out[len(prompt):], task.reference(prompt)):
                raise SystemExit(f"naive decode disagrees on {prompt}")
    _, seconds = timed(loop)
    return seconds / len(prompts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="all 10^6 three-digit pairs")
    parser.add_argument("--sample", type=int, default=100_000,
                        help="three-digit pairs checked when not --full")
    args = parser.parse_args()
    from constructions import get_program

    program = get_program("addition")
    print(header())
    print(f"{'check':<46} {'inputs':>9} {'naive s':>11} {'batched s':>10} {'ratio':>8}  result")
    for n_digits in (2, 3):
        task, build_s = timed(program.make, n_digits=n_digits)
        domain = 10 ** (2 * n_digits)
        rng = np.random.default_rng(n_digits)
        naive = naive_seconds_per_input(task, task.sample(rng, 200))
        if n_digits == 2 or args.full:
            report = verify(task, exhaustive=True)
        else:
            report = verify(task, samples=args.sample)
        what = f"{n_digits}-digit, {'all' if report.mode == 'exhaustive' else 'sampled'} pairs"
        naive_total = naive * report.n_inputs
        print(f"{what:<46} {report.n_inputs:>9,} {naive_total:>10.0f}* {report.seconds:>10.1f} "
              f"{naive_total / report.seconds:>7.0f}x  {report.n_passed:,} correct, "
              f"margin {report.worst_margin:.3g}")
        if report.mode != "exhaustive":
            per = report.seconds / report.n_inputs
            print(f"{'  projected: all 10^6 three-digit pairs':<46} {domain:>9,} "
                  f"{naive * domain:>10.0f}* {per * domain:>9.0f}* "
                  f"{naive / per:>7.0f}x")
    print("\n* naive = the book's decode loop timed on 200 random pairs, times the count"
          + ("" if args.full else "; a starred batched figure is projected from the sampled "
             "run's rate"))


if __name__ == "__main__":
    main()
