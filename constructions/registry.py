"""An explicit registry: each program module exposes ``PROGRAMS``, a tuple of entries.

Plain imports, so that a reader (and an import-graph tool) sees every program module here.
"""
from __future__ import annotations

from constructions import (
    addition, hello_world, long_addition, lookup_table, lookup_table_general,
    lookup_table_trained, multidigit_sort, multiplication, multiset_sort, rasp_programs, search,
    signed_sort, sort, stable_min, unpadded_addition,
)
from taotp.program import Program

# One module per book program (and the beyond-the-book ones), in the book's order. Their
# tasks decode greedily (``Task.kind`` "decoder").
DECODER_MODULES = (
    hello_world,
    lookup_table,
    search,
    sort,
    addition,
    # Beyond the book.
    long_addition,
    unpadded_addition,
    multiplication,
    multiset_sort,
    stable_min,
    # Capabilities from the book's exercises.
    lookup_table_general,
    signed_sort,
    lookup_table_trained,
    multidigit_sort,
)
# RASP programs compiled by rasp.compile: encoders, or causal encoders with causal=True, run in
# one pass (``Task.kind`` "encoder" or "causal-encoder"), never decoded.
ENCODER_MODULES = (rasp_programs,)
MODULES = DECODER_MODULES + ENCODER_MODULES


def _collect(modules) -> dict[str, Program]:
    """Name -> entry, in the modules' order; a name used twice is a bug in the registry."""
    programs = {}
    for module in modules:
        for program in module.PROGRAMS:
            if program.name in programs:
                raise RuntimeError(f"two programs are named {program.name!r}")
            programs[program.name] = program
    return programs


PROGRAMS: dict[str, Program] = _collect(MODULES)
# The programs whose tasks are decoded (tests/test_registry.py checks every task's kind).
DECODERS: tuple[str, ...] = tuple(p.name for module in DECODER_MODULES for p in module.PROGRAMS)


def get_program(name: str) -> Program:
    """The entry called ``name``; an unknown name is an error listing the valid ones."""
    try:
        return PROGRAMS[name]
    except KeyError:
        raise ValueError(f"unknown program {name!r}; valid: {', '.join(PROGRAMS)}") from None
