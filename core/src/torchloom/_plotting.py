"""One door to matplotlib for every plot and ``show_*`` in the kernel (matplotlib is an optional extra).

Without matplotlib every plotting entry point raises the same ``ImportError``, naming what was being
drawn and the extra to install, instead of a bare ``ModuleNotFoundError`` from deep inside a call.
"""
from __future__ import annotations

from typing import Any

__all__ = ["MISSING_MATPLOTLIB", "figure_class", "figure_of", "in_notebook", "plot_lr_find", "pyplot", "subplots"]

MISSING_MATPLOTLIB = "{what} needs matplotlib, which is not installed: pip install 'torchloom[show]'"


def pyplot(what: str = "plotting") -> Any:
    """``matplotlib.pyplot``, or an ``ImportError`` that says which extra provides it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(MISSING_MATPLOTLIB.format(what=what)) from e
    return plt


_CLASSES: dict[str, type] = {}  # filled on first use (matplotlib is imported only when something is drawn)


def figure_class() -> type:
    """A ``matplotlib.figure.Figure`` subclass that a notebook draws exactly once.

    Plots and ``show_*`` return their figure. In Jupyter the inline backend draws every open figure
    when a cell ends, so a plain Figure that is also the cell's result would be drawn twice. This
    class draws itself when displayed (as a result, by ``display(fig)`` or by the backend) and then
    closes itself in pyplot, so the backend does not draw it again.
    """
    cls = _CLASSES.get("figure")
    if cls is None:
        from matplotlib.figure import Figure

        class ShownFigure(Figure):
            def _ipython_display_(self) -> None:
                import io

                import matplotlib.pyplot as plt
                from IPython.display import Image, display

                buf = io.BytesIO()
                self.savefig(buf, format="png", bbox_inches="tight")
                display(Image(data=buf.getvalue()))
                plt.close(self)  # drawn: the inline backend must not draw it again when the cell ends

        cls = _CLASSES["figure"] = ShownFigure
    return cls


def subplots(*args: Any, what: str = "plotting", **kwargs: Any) -> tuple[Any, Any]:
    """``plt.subplots`` making a :func:`figure_class` figure (drawn once in notebooks); the missing-matplotlib
    message names ``what`` was being drawn."""
    return pyplot(what).subplots(*args, FigureClass=figure_class(), **kwargs)


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


def figure_of(ctxs: Any) -> Any:
    """The matplotlib figure that holds ``ctxs`` (an axis or a list of axes); ``ctxs`` itself otherwise.

    ``show_*`` return the figure so that a notebook draws it once instead of printing a list of Axes.
    """
    first = ctxs[0] if isinstance(ctxs, (list, tuple)) and ctxs else ctxs
    fig = getattr(first, "figure", None)
    return fig if fig is not None else ctxs


def plot_lr_find(finder: Any, skip_end: int = 5, ax: Any = None) -> Any:
    """Loss against learning rate (log scale) of an LR range test, with the suggested points; the figure."""
    if ax is None:
        _, ax = subplots(what="lr_find's plot")
    lrs, losses = finder.lrs, finder.losses
    end = len(lrs) - skip_end if skip_end and len(lrs) > skip_end else len(lrs)
    ax.plot(lrs[:end], losses[:end])
    ax.set_xscale("log")
    ax.set_xlabel("Learning Rate")
    ax.set_ylabel("Loss")
    for name, (lr, loss) in getattr(finder, "suggestions", {}).items():
        ax.plot(lr, loss, "o", label=f"{name}: {lr:.2e}")
    if getattr(finder, "suggestions", None):
        ax.legend(loc="best")
    return ax.figure
