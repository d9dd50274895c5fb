"""One door to matplotlib for every plot and ``show_*`` in the kernel (matplotlib is an optional extra).

Without matplotlib every plotting entry point raises the same ``ImportError``, naming what was being
drawn and the extra to install, instead of a bare ``ModuleNotFoundError`` from deep inside a call.
"""
from __future__ import annotations

from typing import Any

__all__ = ["MISSING_MATPLOTLIB", "in_notebook", "pyplot"]

MISSING_MATPLOTLIB = "{what} needs matplotlib, which is not installed: pip install 'torchloom[show]'"


def pyplot(what: str = "plotting") -> Any:
    """``matplotlib.pyplot``, or an ``ImportError`` that says which extra provides it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(MISSING_MATPLOTLIB.format(what=what)) from e
    return plt


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where figures are displayed by the front end)."""
    import sys

    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # pragma: no cover - odd IPython builds
        return False
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})
