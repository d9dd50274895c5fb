"""torchloom-fp16: mixed precision, ``learn.use("fp16")`` (float16 + dynamic loss scaling) or ``"bf16"``.

Names load lazily so plugin discovery stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["BF16", "FP16", "MixedPrecision", "to_float"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(importlib.import_module(".precision", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'torchloom_fp16' has no attribute {name!r}")


def __dir__() -> list[str]:
    return [*__all__, "__version__"]
