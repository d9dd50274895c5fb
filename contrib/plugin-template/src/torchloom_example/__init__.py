"""torchloom-example: the 'example' callback for torchloom (``learn.use("example")``).

Kept import-light on purpose: torchloom imports ``torchloom_example.plugin`` (and so this file) when it
discovers plugins, so the callback module is only imported when the callback is first used.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["ExampleCallback"]


def __getattr__(name: str) -> Any:
    if name == "ExampleCallback":
        from .callback import ExampleCallback

        return ExampleCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
