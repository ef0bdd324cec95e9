"""Shared by the benchmark scripts: timing and a description of the machine."""
from __future__ import annotations

import os
import platform
import time

import numpy as np


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return (f"{cpu}; {os.cpu_count()} cores; Python {platform.python_version()}; "
            f"numpy {np.__version__}; {time.strftime('%Y-%m-%d')}")


def header() -> str:
    """The command that produced a result file, and the machine it ran on."""
    import sys
    from pathlib import Path

    command = " ".join(["python", f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    return f"$ {command}\nmachine: {machine()}\n"


def timed(fn, *args, repeat=1, **kwargs):
    """(result, best seconds over ``repeat`` runs)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return result, best
