"""Plots: lr_find draws in notebooks and can be redrawn later; plots return figures; a missing
matplotlib gives one message naming the extra."""
from __future__ import annotations

import sys

import pytest

from torchloom.testing import synth_learner

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    plt.close("all")
    yield
    plt.close("all")


def _notebook(monkeypatch):
    import torchloom._plotting

    monkeypatch.setattr(torchloom._plotting, "in_notebook", lambda: True)  # a Jupyter kernel, as detected


def test_lr_find_plots_by_default_only_in_a_notebook(monkeypatch):
    learn = synth_learner(n_train=640)
    learn.lr_find(num_it=30)
    assert plt.get_fignums() == []  # a script: nothing drawn unless show_plot=True
    _notebook(monkeypatch)
    sugg = learn.lr_find(num_it=30)
    assert len(plt.get_fignums()) == 1
    ax = plt.gcf().axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines[0].get_xdata()) == 30 - 5
    assert ax.lines[1].get_xdata()[0] == pytest.approx(sugg.valley)  # the suggestion is marked


def test_recorder_redraws_the_last_lr_find():
    learn = synth_learner(n_train=640)
    with pytest.raises(ValueError, match=r"run learn\.lr_find\(\) first"):
        learn.recorder.plot_lr_find()
    learn.lr_find(num_it=30, show_plot=False)
    fig = learn.recorder.plot_lr_find(skip_end=0)
    assert len(fig.axes[0].lines[0].get_xdata()) == 30
    assert "valley" in fig.axes[0].get_legend().get_texts()[0].get_text()


def test_loss_and_schedule_plots_return_figures():
    learn = synth_learner()
    learn.fit_one_cycle(2)
    fig = learn.recorder.plot_loss(skip_start=0)
    assert isinstance(fig, mpl.figure.Figure) and len(fig.axes[0].lines) == 2
    assert isinstance(learn.recorder.plot_sched(), mpl.figure.Figure)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    learn = synth_learner()
    learn.fit(1)
    learn.lr_find(num_it=10, show_plot=False)
    for mod in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, mod, None)
    for call in (learn.recorder.plot_loss, learn.recorder.plot_sched, learn.recorder.plot_lr_find,
                 lambda: learn.lr_find(num_it=10, show_plot=True)):
        with pytest.raises(ImportError, match=r"needs matplotlib, which is not installed: "
                                              r"pip install 'torchloom\[show\]'"):
            call()


def test_returned_figures_are_drawn_once_in_a_notebook(monkeypatch):
    import types

    from torchloom import subplots

    shown = []
    disp = types.ModuleType("IPython.display")
    disp.Image, disp.display = (lambda data: ("png", data[:4])), shown.append
    monkeypatch.setitem(sys.modules, "IPython.display", disp)
    fig, _ = subplots(what="a test")
    assert isinstance(fig, mpl.figure.Figure) and plt.fignum_exists(fig.number)
    fig._ipython_display_()  # the cell's result (or the inline backend at the end of the cell)
    assert shown == [("png", b"\x89PNG")]
    assert not plt.fignum_exists(fig.number)  # closed: the backend will not draw it a second time
    fig._ipython_display_()  # shown again later (e.g. `fig` in another cell): drawn again
    assert len(shown) == 2
