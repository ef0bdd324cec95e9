"""Verifying the book's DECIMAL ADDITION: the book's decode loop vs the batched dense check vs
the fast path (issues 7 and 15), in one run.

    python bench/verify_addition.py          # 2 digits in full; 3 digits: fast on all 10^6,
                                             # dense on the first 100,000 (projected)
    python bench/verify_addition.py --full   # dense on all 10^6 three-digit pairs too

The book's loop (``decode`` per pair, Figure 1.2) is timed on 200 random pairs and
extrapolated to the whole domain; so is the dense path when not ``--full``; a star marks
every extrapolated figure. Verdicts are compared where both paths ran.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's taotp
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


def same_verdicts(a, b):
    return (a.n_inputs, a.n_passed, a.failures) == (b.n_inputs, b.n_passed, b.failures)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="dense on all 10^6 three-digit pairs")
    parser.add_argument("--dense-shards", type=int, default=10,
                        help="the dense path checks one shard of this many of the three-digit "
                             "pairs when not --full (default 10: 100,000 pairs)")
    args = parser.parse_args()
    from constructions import get_program

    program = get_program("addition")
    print(header() + f"load average at start: {os.getloadavg()[0]:.2f}\n")
    print(f"{'check':<22} {'inputs':>9} {'book s':>8} {'dense s':>9} {'fast s':>7} "
          f"{'fast/dense':>10} {'fast/book':>9}  result")
    for n_digits in (2, 3):
        task = program.make(n_digits=n_digits)
        domain = len(task.exhaustive())
        naive = naive_seconds_per_input(task, task.sample(np.random.default_rng(n_digits), 200))
        fast = verify(task, exhaustive=True, backend="fast", progress=False)
        shard = f"1/{1 if n_digits == 2 or args.full else args.dense_shards}"
        dense = verify(task, exhaustive=True, shard=shard, backend="dense", progress=False)
        same = fast if shard == "1/1" else verify(
            task, exhaustive=True, shard=shard, backend="fast", progress=False)
        dense_s = dense.seconds * domain / dense.n_inputs
        star = "" if shard == "1/1" else "*"
        verdicts = "same verdicts" if same_verdicts(same, dense) else "VERDICTS DIFFER"
        if shard != "1/1":
            verdicts += f" on shard {shard} ({dense.n_inputs:,} pairs)"
        print(f"{f'{n_digits}-digit, all pairs':<22} {domain:>9,} {naive * domain:>7.0f}* "
              f"{dense_s:>8.1f}{star or ' '} {fast.seconds:>7.1f} {dense_s / fast.seconds:>9.1f}x "
              f"{naive * domain / fast.seconds:>8.0f}x  {fast.n_passed:,} correct, "
              f"margin {fast.worst_margin:.3g}; {verdicts}")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    print("* extrapolated: the book's loop from 200 random pairs"
          + ("" if args.full else f", the dense path from its run on shard 1/"
             f"{args.dense_shards} of the three-digit pairs"))
    print(f"fast path: {fast.path}")


if __name__ == "__main__":
    main()
