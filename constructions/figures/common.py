"""What every figure module shares."""
from __future__ import annotations

SEED = 0  # every random figure is seeded: the committed PNGs are reproducible
