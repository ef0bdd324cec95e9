"""The text the arithmetic programs read, ``a+b`` or ``a*b`` (spaces and a final '=' allowed),
split into its two numbers with errors that name what is wrong.

>>> split_sum("45 + 78 =", max_digits=2)
('45', '78')
>>> split_operands("12*3", max_digits=2, operator="*")
('12', '3')
"""
from __future__ import annotations


def split_operands(text: str, max_digits: int, operator: str = "+") -> tuple[str, str]:
    """``"45+78"`` -> ("45", "78"); shared by the addition programs and multiplication."""
    example = f"45{operator}78"
    compact = "".join(str(text).split())
    if compact.endswith("="):
        compact = compact[:-1]
    if not compact:
        raise ValueError(f"empty input: expected two numbers like '{example}'")
    if "=" in compact:
        raise ValueError(f"'=' may only end the input, as in '{example}='")
    for char in compact:
        if char not in "0123456789" + operator:
            raise ValueError(f"symbol {char!r} is outside the vocabulary "
                             f"(digits, '{operator}', '=')")
    parts = compact.split(operator)
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"expected exactly two numbers joined by '{operator}', got {text!r}")
    for part in parts:
        if len(part) > max_digits:
            raise ValueError(f"{part[:20]}{'...' if len(part) > 20 else ''} has too many "
                             f"digits: {len(part)} digits, where this program takes numbers "
                             f"of at most {max_digits} digits")
    return parts[0], parts[1]


def split_sum(text: str, max_digits: int) -> tuple[str, str]:
    """``"45+78"`` (spaces and a final '=' allowed) -> ("45", "78"): every addition program's
    parser."""
    return split_operands(text, max_digits, "+")
