"""Importing the optional export dependencies with an error that says how to get them."""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import DTypeLike

if TYPE_CHECKING:  # torch is an optional dependency
    import torch

INSTALL_HINT = 'install the export extra: pip install -e ".[export]"'


def require(module: str) -> ModuleType:
    """Import ``module`` (torch, transformer_lens, transformers, safetensors) or explain."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"taotp.export needs {module.split('.')[0]}: {INSTALL_HINT}") from error


def torch_dtype(dtype: DTypeLike | torch.dtype) -> torch.dtype:
    """``"float64"``/``np.float64``/``torch.float64`` (or float32) as a torch dtype."""
    torch = require("torch")
    if isinstance(dtype, torch.dtype):
        name = str(dtype).removeprefix("torch.")
    else:
        name = np.dtype(dtype).name
    if name not in ("float32", "float64"):
        raise TypeError(f"export dtype must be float32 or float64, not {name}")
    return getattr(torch, name)


def tensor(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """A numpy array as a contiguous CPU tensor of ``dtype`` (a copy: the model owns it)."""
    torch = require("torch")
    return torch.tensor(np.ascontiguousarray(array), dtype=dtype)
