"""Known RASP programs: tracr's library, the RASPy blog's, the RASP paper's.

``LIBRARY`` maps a name to a :class:`LibraryEntry` (factory, reference, description, domain).

>>> sorted(LIBRARY)[:2]
['blog-add', 'blog-cumsum']
"""
from __future__ import annotations

from constructions.rasp_lib.library import LIBRARY, LibraryEntry, get_entry

__all__ = ["LIBRARY", "LibraryEntry", "get_entry"]
