"""The syntax of a ``"module:Name"`` target, checked before anything is imported.

Part of the one target resolver (``torchloom._targets``, which re-exports these names); it sits in the
lowest layer so that the plugin registry, which imports installed plugins' targets, can use the same
check without importing the resolver (the resolver asks the registry which names are registered).
"""
from __future__ import annotations

import keyword
from typing import Any

__all__ = ["MissingTargetError", "TargetError", "split_target"]


class TargetError(ValueError):
    """A target named in a file (or passed by code) is malformed or not allowed; nothing was run."""


class MissingTargetError(TargetError, ImportError):
    """An allowed module (the kernel's or an installed plugin's) lacks the module or name asked for."""


def _ident(s: str) -> bool:
    return s.isidentifier() and not keyword.iskeyword(s) and not s.startswith("__")


def split_target(path: Any) -> tuple[str, str]:
    """``"module:Name"`` -> ``("module", "Name")``; every malformed or dangerous spelling is refused."""
    if not isinstance(path, str):
        raise TargetError(f"a target must be a string 'module:Name', got {type(path).__name__}")
    if len(path) > 512:
        raise TargetError(f"target is too long ({len(path)} characters)")
    mod, sep, attr = path.partition(":")
    if not sep:
        raise TargetError(f"target {path!r} is not 'module:QualName'")
    if mod.startswith("."):
        raise TargetError(f"target {path!r}: relative module names are refused")
    if not mod or not all(_ident(p) for p in mod.split(".")):
        raise TargetError(f"target {path!r}: {mod!r} is not a module name (dunder parts are refused)")
    if "." in attr or ":" in attr:
        raise TargetError(f"target {path!r}: attribute paths are refused; name one object defined in the module")
    if not _ident(attr):
        raise TargetError(f"target {path!r}: {attr!r} is not a plain name (dunder names are refused)")
    return mod, attr
