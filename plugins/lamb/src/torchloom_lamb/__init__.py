"""torchloom-lamb: the LAMB optimizer (layer-wise adaptive moments) for torchloom.

``from torchloom_lamb import Lamb, lamb_step``; or by name: ``Learner(..., opt_func="lamb")`` /
``learn.use("lamb")``. Names load lazily so plugin discovery stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["MAX_TRUST", "Lamb", "lamb_step", "trust_ratio"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(importlib.import_module(".optimizer", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'torchloom_lamb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return [*__all__, "__version__"]
