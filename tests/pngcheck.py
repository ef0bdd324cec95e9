"""Checks that a file is a real, non-blank PNG of a sensible size (shared by figure tests)."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png(path: Path, min_px: int = 300, max_px: int = 6000, min_std: float = 0.02):
    data = Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR", f"{path} has no PNG header chunk"
    width, height = struct.unpack(">II", data[16:24])
    assert min_px <= width <= max_px and min_px <= height <= max_px, \
        f"{path} is {width}x{height} px"
    import matplotlib.image

    pixels = matplotlib.image.imread(path)[..., :3]  # floats in [0, 1]
    assert pixels.shape[:2] == (height, width)
    # A blank (or nearly blank) image has almost no variation in brightness.
    assert float(np.std(pixels)) > min_std, f"{path} looks blank"
    return width, height
