"""Long addition at 10,000 digits (issue 15): the slow test's 18 inputs checked by today's dense
teacher-forced pass and by the fast path (exact sparse attention), in one run.

    python bench/long_addition.py                    # both paths on all 18 inputs
    python bench/long_addition.py --baseline-every 3 # dense on inputs 0, 3, 6, ... only

The inputs are those of ``tests/test_long_addition.py::test_ten_thousand_digits_float32``:
every third adversarial input and 9 random ones (seed 10,000), in float32. Each input is one
teacher-forced pass (``forward_batch(tokens[None], params, logits_from=len(prompt) - 1)``,
and ``FastPath(params).forward_batch`` with the same arguments); its verdict is whether the
argmax at every output position is the reference digit. With ``--baseline-every K`` the dense
time of the inputs it skips is extrapolated from those it ran (marked with a star).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's taotp
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header  # noqa: E402

from taotp import astype, forward_batch  # noqa: E402
from taotp.fastpath import FastPath  # noqa: E402


def inputs(task):
    """The slow test's 18 inputs."""
    return task.adversarial()[::3] + task.sample(np.random.default_rng(10_000), 9)


def check(forward, task, prompt):
    """(verdict, logits, seconds) of one teacher-forced pass."""
    tokens = np.concatenate((prompt, task.reference(prompt)[:-1]))[None]
    start = time.perf_counter()
    logits = forward(tokens, logits_from=len(prompt) - 1)[0]
    seconds = time.perf_counter() - start
    return bool(np.array_equal(logits.argmax(-1), task.reference(prompt))), logits, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=10_000)
    parser.add_argument("--baseline-every", type=int, default=1, metavar="K",
                        help="run the dense pass on every K-th input only and extrapolate")
    args = parser.parse_args()
    from constructions import get_program

    task = get_program("long-addition").make(n_digits=args.digits)
    params = astype(task.params, np.float32)
    prompts = inputs(task)
    print(header() + f"load average at start: {os.getloadavg()[0]:.2f}\n")
    start = time.perf_counter()
    fast = FastPath(params)
    build = time.perf_counter() - start
    print(f"{len(prompts)} inputs of {args.digits:,} digits, float32; FastPath built in "
          f"{build:.1f} s ({fast.describe()})\n")
    print(f"{'input':>5} {'dense s':>8} {'fast s':>7} {'ratio':>6}  verdicts   "
          f"max |logit diff| / scale")
    dense_total, fast_total, fast_on_dense, same, diff = 0.0, build, 0.0, True, 0.0
    verdicts = []
    for i, prompt in enumerate(prompts):
        ok_fast, got, fast_s = check(fast.forward_batch, task, prompt)
        fast_total += fast_s
        verdicts.append(ok_fast)
        if i % args.baseline_every:
            print(f"{i:>5} {'-':>8} {fast_s:>7.2f} {'':>6}  fast {'ok' if ok_fast else 'WRONG'}")
            continue
        ok_dense, want, dense_s = check(lambda t, **kw: forward_batch(t, params, **kw),
                                        task, prompt)
        dense_total += dense_s
        fast_on_dense += fast_s
        same &= ok_dense == ok_fast and np.array_equal(got.argmax(-1), want.argmax(-1))
        scale = np.abs(want).max(axis=-1, keepdims=True)
        gap = float(np.abs((got - want) / scale).max())
        diff = max(diff, gap)
        print(f"{i:>5} {dense_s:>8.2f} {fast_s:>7.2f} {dense_s / fast_s:>5.1f}x  "
              f"{'same' if ok_dense == ok_fast else 'DIFFER'} ({'ok' if ok_fast else 'WRONG'})"
              f"   {gap:.2g}")
    ran = len(range(0, len(prompts), args.baseline_every))
    projected = dense_total * len(prompts) / ran  # the dense pass costs the same per input
    star = "*" if ran < len(prompts) else ""
    print(f"\nall {len(prompts)}: dense {projected:.0f} s{star}, fast {fast_total:.1f} s "
          f"(FastPath build included): {projected / fast_total:.1f}x; "
          f"{sum(verdicts)}/{len(prompts)} correct on the fast path; dense and fast "
          f"{'give the same tokens' if same else 'DIFFER'} on the {ran} inputs both ran "
          f"(logits within {diff:.2g} of their scale)")
    if star:
        print(f"* extrapolated: the dense pass ran on {ran} of {len(prompts)} inputs (every "
              f"{args.baseline_every}th) in {dense_total:.0f} s (the fast path took "
              f"{fast_on_dense:.1f} s on those), scaled by {len(prompts)}/{ran}: its work does "
              f"not depend on the digits")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if not (same and all(verdicts)):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
