"""The text every addition program reads, ``a+b`` (spaces and a final '=' allowed), split into
its two numbers with errors that name what is wrong.

>>> split_sum("45 + 78 =", max_digits=2)
('45', '78')
"""
from __future__ import annotations


def split_sum(text: str, max_digits: int) -> tuple[str, str]:
    """``"45+78"`` (spaces and a final '=' allowed) -> ("45", "78"); errors name what is
    wrong. Shared by every addition program."""
    compact = "".join(str(text).split())
    if not compact:
        raise ValueError("empty input: expected two numbers like '45+78'")
    if compact.endswith("="):
        compact = compact[:-1]
    if "=" in compact:
        raise ValueError("'=' may only end the input, as in '45+78='")
    for char in compact:
        if char not in "0123456789+":
            raise ValueError(f"symbol {char!r} is outside the vocabulary (digits, '+', '=')")
    parts = compact.split("+")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"expected exactly two numbers joined by '+', got {text!r}")
    for part in parts:
        if len(part) > max_digits:
            raise ValueError(f"{part[:20]}{'...' if len(part) > 20 else ''} has too many "
                             f"digits: {len(part)} digits, where this program adds numbers "
                             f"of at most {max_digits} digits")
    return parts[0], parts[1]
