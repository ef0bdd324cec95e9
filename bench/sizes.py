"""Sizes against tracr's and against the prototypes that set the targets (issue 7, bench c).

    python bench/sizes.py > bench/results/sizes.md

Every program against the book is README's first table (``taotp demo``). Here: the
beyond-the-book programs at their headline sizes, and sorting against tracr. Our numbers are
computed from the built weights (and, against tracr, checked on 2,000 random + adversarial
inputs); the prototypes' and tracr's are the published figures quoted in the issue that asked
for this comparison (we do not run tracr here).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header  # noqa: E402

from taotp.params import count_non0_params, count_params  # noqa: E402
from taotp.verify import verify  # noqa: E402

# tracr (Lindner et al. 2023) compiled sorts, as published: (task, params, non-zero, correct).
TRACR = {
    "sort of distinct numbers, vocab 28, length 10": (30_437, 644, None),
    "sort with repeats, vocab 100, length 10": (22_237_193, None, "81%"),
}


def ours_against_tracr():
    from constructions import PROGRAMS

    rows = []
    comparisons = [("sort of distinct numbers, vocab 28, length 10", "sort",
                    dict(n=28, block_size=11))]
    if "multiset-sort" in PROGRAMS:
        comparisons.append(("sort with repeats, vocab 100, length 10", "multiset-sort",
                            dict(vocab_size=100, block_size=21)))
    for what, name, options in comparisons:
        task = PROGRAMS[name].make(**options)
        report = verify(task, samples=2000, progress=False)
        tracr_params, tracr_non0, tracr_correct = TRACR[what]
        rows.append((what, f"taotp {name} ({' '.join(f'{k}={v}' for k, v in options.items())})",
                     count_params(task.params)["n_params"],
                     count_non0_params(task.params)["n_params"],
                     f"{100 * report.n_passed / report.n_inputs:.4g}% of {report.n_inputs:,}",
                     tracr_params, tracr_non0, tracr_correct))
    return rows


# The prototypes quoted in the issue: (program, options) -> parameters.
PROTOTYPE = {
    ("long-addition", 3): 4_127, ("long-addition", 1000): 63_947,
    ("multiset-sort", 1000): 22_890, ("multiset-sort", 100_000): 2_200_000,
}
HEADLINE = [("long-addition", dict(n_digits=3)), ("long-addition", dict(n_digits=1000)),
            ("long-addition", dict(n_digits=10_000)),
            ("multiset-sort", dict(vocab_size=1000, block_size=200)),
            ("multiset-sort", dict(vocab_size=100_000, block_size=200)),
            ("stable-min", dict(vocab_size=1000, block_size=1_000_000))]


def headline_sizes():
    from constructions import PROGRAMS
    from taotp.params import shape_of

    print("| program | options | layers | d_model | params | non-zero | prototype |")
    print("|---|---|---|---|---|---|---|")
    for name, options in HEADLINE:
        params = PROGRAMS[name].make(**options).params
        shape = shape_of(params)
        prototype = PROTOTYPE.get((name, next(iter(options.values()))))
        print(f"| {name} | {' '.join(f'{k}={v}' for k, v in options.items())} | "
              f"{shape.n_layers} | {shape.d_model} | {count_params(params)['n_params']:,} | "
              f"{count_non0_params(params)['n_params']:,} | "
              f"{'—' if prototype is None else format(prototype, ',')} |")


def main():
    print(header())
    print("### Beyond the book, at their headline sizes\n")
    headline_sizes()
    print("\n### Against tracr\n")
    print("| task | ours | params | non-zero | correct | tracr params | tracr non-zero | "
          "tracr correct |")
    print("|---|---|---|---|---|---|---|---|")
    fmt = lambda v: "—" if v is None else (f"{v:,}" if isinstance(v, (int, np.integer)) else v)
    for row in ours_against_tracr():
        print("| " + " | ".join(fmt(v) for v in row) + " |")


if __name__ == "__main__":
    main()
