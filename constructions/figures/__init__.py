"""The book's figures that come from code or data we have, regenerated with matplotlib.

``render_all(out_dir)`` writes every figure of ``FIGURES`` as ``<name>.png`` (names follow the
book's numbering: ``figure_2_3``, ``exercise_7_9``); ``taotp figures [--out DIR] [--quick]``
calls it. Each figure function takes ``quick`` (fewer runs and sizes, for tests) and returns
a matplotlib Figure. Programs are reached through the registry, lazily, never by module.

Figures: 2.3 (the message's tokens on the unit circle), 2.6 (layer norm on R^2 and R^3), 2.7
(HELLO WORLD's 3D token embedding), 3.8 (LOOKUP TABLE decoding precision), 5.1 (MIN's token
embedding), 5.3 (powerpoints), 6.3 (the spike MLP and Theorem 6.1), 7.2, 7.6, 7.8, 7.9, 7.10,
7.13 (the chapter 7 encodings), Exercise 7.9 (four rotation embeddings, named: the book
asks which is which) and Exercise 6.21 (a traced step of DECIMAL MULTIPLICATION).

What differs from the book: Figure 3.8 sweeps fewer sizes and runs (see ``chapter3._SWEEP_FULL``; it
still shows the book's findings: 10 entries perfect from d_model 7-8, 100 entries from 13,
1,000 entries over 100 tokens from 33, and 1,000 entries over 10 tokens stuck near 25%).
Figure 7.9 is measured, and contradicts the text's "> 0.99 from about 10 dimensions" for
random rotations (see ``taotp.encodings``). Figure 6.3 of the book is the multi-digit
addition code; the spike plot it is cited for is drawn here under that number.

Cost: ``quick`` takes a few seconds in all; the full run about 3-4 minutes, nearly all of it
Figure 3.8's 138 table fits (run it with ``OPENBLAS_NUM_THREADS=1`` on a busy machine:
multi-threaded BLAS on small matrices is ~10x slower there).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from constructions.figures.chapter2 import figure_2_3, figure_2_6, figure_2_7
from constructions.figures.chapter3 import figure_3_8, lookup_precision
from constructions.figures.chapter5 import figure_5_1, figure_5_3
from constructions.figures.chapter6 import exercise_6_21, figure_6_3
from constructions.figures.chapter7 import (
    exercise_7_9, figure_7_2, figure_7_6, figure_7_8, figure_7_9, figure_7_10, figure_7_13,
)
from taotp.plotting import progress, save

__all__ = ["FIGURES", "lookup_precision", "render_all"]

FIGURES: dict[str, Callable[..., object]] = {
    "figure_2_3": figure_2_3,
    "figure_2_6": figure_2_6,
    "figure_2_7": figure_2_7,
    "figure_3_8": figure_3_8,
    "figure_5_1": figure_5_1,
    "figure_5_3": figure_5_3,
    "figure_6_3": figure_6_3,
    "figure_7_2": figure_7_2,
    "figure_7_6": figure_7_6,
    "figure_7_8": figure_7_8,
    "figure_7_9": figure_7_9,
    "figure_7_10": figure_7_10,
    "figure_7_13": figure_7_13,
    "exercise_7_9": exercise_7_9,
    "exercise_6_21": exercise_6_21,
}


def render_all(out_dir: str | Path = "figures", quick: bool = False,
               names: list[str] | None = None) -> list[Path]:
    """Write every figure (or those ``names``) as ``out_dir/<name>.png``; returns the paths."""
    names = list(FIGURES) if names is None else list(names)
    unknown = [name for name in names if name not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure {', '.join(unknown)}; valid: {', '.join(FIGURES)}")
    paths = []
    for name in progress(names, "figures"):
        paths.append(save(FIGURES[name](quick=quick), Path(out_dir) / f"{name}.png"))
    return paths
