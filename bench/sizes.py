"""Sizes of every program against the book's and against tracr's (issue 7, bench c).

    python bench/sizes.py > bench/results/sizes.md

Our numbers are computed here, from the built weights; the book's come from each registry
entry's ``book_size`` (the figures printed in the book); tracr's are the published figures
quoted in the issue that asked for this comparison (compiled RASP programs: we do not run
tracr here).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

from taotp.demo import demo_rows, format_table  # noqa: E402
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


def main():
    print(f"machine: {machine()}\n")
    print("### Every program against the book\n")
    print(format_table(demo_rows(), markdown=True))
    print("\n### Against tracr\n")
    print("| task | ours | params | non-zero | correct | tracr params | tracr non-zero | "
          "tracr correct |")
    print("|---|---|---|---|---|---|---|---|")
    fmt = lambda v: "—" if v is None else (f"{v:,}" if isinstance(v, (int, np.integer)) else v)
    for row in ours_against_tracr():
        print("| " + " | ".join(fmt(v) for v in row) + " |")


if __name__ == "__main__":
    main()
