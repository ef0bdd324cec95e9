"""``taotp demo``: build every registered program, run it, check it, compare its size with
the book's. Programs come from the registry, imported lazily."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from taotp.params import count_non0_params, count_params, shape_of
from taotp.program import Option, Program

SAMPLES = 100  # random inputs checked per program, beside its examples


@dataclass(frozen=True)
class Row:
    """One line of the demo table: a program's size, the book's numbers and the check."""
    program: str
    options: str
    layers: int
    heads: int
    d_model: int
    d_ff: int
    params: int
    book_params: int | None
    non0: int
    book_non0: int | None
    non0_outside_tok_emb: int
    book_non0_outside_tok_emb: int | None
    check: str
    ok: bool


def demo_rows(programs=None, samples=SAMPLES, progress=None):
    """One row per program at its default options (run and checked), then one per size the
    book publishes (built and counted)."""
    from taotp.verify import verify

    if programs is None:
        from constructions import PROGRAMS

        programs = PROGRAMS.values()
    rows = []
    for program in programs:
        task = program.make()
        wrong = [text for text in program.examples if task.run(text) != task.answer(text)]
        report = verify(task, samples=samples, progress=False)
        check = (f"{len(program.examples) - len(wrong)}/{len(program.examples)} examples, "
                 f"{report.n_passed}/{report.n_inputs} random + adversarial")
        rows.append(_row(program, program.defaults(), task.params, check,
                         not wrong and report.ok))
        for options in program.sizes:
            options = program.defaults() | options
            if options != program.defaults():
                task = program.make(**options)
                report = verify(task, samples=samples // 5, progress=False)
                check = f"{report.n_passed}/{report.n_inputs} random + adversarial"
                rows.append(_row(program, options, task.params, check, report.ok))
        if progress:
            progress(rows[-1])
    return rows


def _row(program: Program, options, params, check, ok):
    shape = shape_of(params)
    book = program.book_size(**options) or {}
    non0 = count_non0_params(params)
    return Row(program=program.name, options=" ".join(f"{k}={v}" for k, v in options.items()),
               layers=shape.n_layers, heads=shape.n_heads, d_model=shape.d_model,
               d_ff=shape.d_ff, params=count_params(params)["n_params"],
               book_params=book.get("n_params"), non0=non0["n_params"],
               book_non0=book.get("non0"),
               non0_outside_tok_emb=non0["n_params"] - non0["tok_emb"],
               book_non0_outside_tok_emb=book.get("non0_outside_tok_emb"), check=check, ok=ok)


HEADER = ("program", "options", "layers", "heads", "d_model", "d_ff", "params", "book",
          "non-zero", "book", "non-zero outside tok_emb", "book", "check")


def _cells(row: Row):
    def vs(ours, book):
        if book is None:
            return "—"
        return f"{book:,}" + ("" if book == ours else " (≠)")

    return (row.program, row.options, str(row.layers), str(row.heads), str(row.d_model),
            str(row.d_ff), f"{row.params:,}", vs(row.params, row.book_params),
            f"{row.non0:,}", vs(row.non0, row.book_non0), f"{row.non0_outside_tok_emb:,}",
            vs(row.non0_outside_tok_emb, row.book_non0_outside_tok_emb),
            ("ok: " if row.ok else "FAILED: ") + row.check)


def format_table(rows, markdown=False) -> str:
    """Plain text for the terminal, or markdown for README."""
    cells = [HEADER] + [_cells(row) for row in rows]
    if markdown:
        lines = ["| " + " | ".join(c) + " |" for c in cells]
        lines.insert(1, "|" + "|".join("---" for _ in HEADER) + "|")
        return "\n".join(lines)
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(len(HEADER))).rstrip()
                     for c in cells)


RANGE_HEADER = ("program", "option", "default", "proven exact (float64)", "refused past",
                "why")


def range_rows(programs=None) -> list[tuple[str, ...]]:
    """Each program's options with the range where it is proven exact (``Option.proven``,
    measured: ``tests/test_limits.py``) and the hard cap no build may pass."""
    if programs is None:
        from constructions import PROGRAMS

        programs = PROGRAMS.values()
    rows = []
    for program in programs:
        for option in program.options:
            if option.name == "seed":
                continue
            unmeasured = option.high is None and option.beyond == Option.beyond
            why = "" if unmeasured or option.high == option.cap else option.beyond
            capped = f"{option.cap:,}" if option.cap is not None else "—"
            rows.append((program.name, option.cli_flag, str(option.default), option.proven,
                         capped if option.type is int else "—", why))
    return rows


def format_ranges(rows, markdown=False) -> str:
    """The proven-ranges table, as text or (``markdown``) as README's table."""
    cells = [RANGE_HEADER] + list(rows)
    if markdown:
        lines = ["| " + " | ".join(c) + " |" for c in cells]
        lines.insert(1, "|" + "|".join("---" for _ in RANGE_HEADER) + "|")
        return "\n".join(lines)
    widths = [max(len(c[i]) for c in cells) for i in range(len(RANGE_HEADER) - 1)]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(len(widths))).rstrip()
                     + (f"  {c[-1]}" if c[-1] else "") for c in cells)


def demo_table(markdown=False):
    """``taotp demo``: build, run and check every program; the table as text."""
    start = time.perf_counter()
    rows = demo_rows()
    table = format_table(rows, markdown)
    if not markdown:
        table += f"\n\n{len(rows)} rows built, checked and counted in " \
                 f"{time.perf_counter() - start:.1f} s"
        table += "\n\nWhere each program is proven exact (past it: refused, or --unchecked):\n" \
                 + format_ranges(range_rows())
    return table, all(row.ok for row in rows)
