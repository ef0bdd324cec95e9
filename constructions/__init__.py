"""The book's programs, built from taotp blocks, and the registry that names them.

``PROGRAMS`` maps a name to a :class:`taotp.program.Program`; ``get_program(name)`` raises a
ValueError listing the valid names.
"""
from __future__ import annotations

from constructions.registry import PROGRAMS, get_program

__all__ = ["PROGRAMS", "get_program"]
