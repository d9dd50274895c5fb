"""Lazy public names for a package (PEP 562), so ``import pkg`` stays cheap.

The kernel and every plugin package expose their public API this way: plugin discovery imports a
plugin's package on the way to its tiny ``plugin`` module, and that must not import the heavy code.
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(package: str, names: Mapping[str, str], extra: Iterable[str] = (), *,
                 dist: str | None = None) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for ``package`` serving ``names`` (public name -> submodule).

    Use in a package's ``__init__``::

        __getattr__, __dir__ = lazy_exports(__name__, {"MixUp": "mixup"}, dist="torchloom-mixup")

    A name is imported from ``package.<submodule>`` on first access and then cached in the package's
    namespace, so later lookups are plain attribute reads. ``extra`` adds names to ``dir()``. With
    ``dist``, ``package.__version__`` is that distribution's installed version, read from its metadata
    when first asked for, so the version is written once (in ``pyproject.toml``).
    """
    listing = sorted({*names, *extra, *(["__version__"] if dist else [])})

    def __getattr__(name: str) -> Any:
        if name == "__version__" and dist is not None:
            from importlib.metadata import version

            value = version(dist)
            setattr(sys.modules[package], name, value)
            return value
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return listing

    return __getattr__, __dir__
