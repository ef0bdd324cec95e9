"""An explicit registry: each construction module exposes ``PROGRAMS``, a tuple of entries."""
from __future__ import annotations

import importlib

from taotp.program import Program

# One module per book program (and the beyond-the-book ones), in the book's order.
MODULES = (
    "hello_world",
    "lookup_table",
    "search",
    "sort",
    "addition",
    # Beyond the book.
    "long_addition",
    "unpadded_addition",
    "multiplication",
    "multiset_sort",
    "stable_min",
    # Capabilities from the book's exercises.
    "exercises",
)


def _collect() -> dict[str, Program]:
    programs = {}
    for module in MODULES:
        for program in importlib.import_module(f"constructions.{module}").PROGRAMS:
            if program.name in programs:
                raise RuntimeError(f"two programs are named {program.name!r}")
            programs[program.name] = program
    return programs


PROGRAMS: dict[str, Program] = _collect()


def get_program(name: str) -> Program:
    try:
        return PROGRAMS[name]
    except KeyError:
        raise ValueError(f"unknown program {name!r}; valid: {', '.join(PROGRAMS)}") from None
