"""The progress display as a user reads it: bar totals per phase, the epoch table in each mode."""
from __future__ import annotations

import io
import re
import sys
import types

from torchloom import ProgressCallback, accuracy
from torchloom.callbacks._notebook import html_progress, html_table
from torchloom.testing import synth_learner


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def _learner(**kw):
    # 48 train items / bs 16 = 3 train batches; 32 valid / 16 = 2 valid batches
    learn = synth_learner(n_train=48, n_valid=32, bs=16, task="classification", metrics=accuracy, **kw)
    learn.logger = print
    return learn


def _final_counts(text: str, desc: str) -> set[str]:
    """Every ``n/total`` a bar named ``desc`` rendered (tqdm redraws separated by carriage returns)."""
    return {m.group(1) for m in re.finditer(re.escape(desc) + r":[^\r\n]*?(\d+/\d+)", text)}


def test_terminal_bars_count_each_phase_against_its_own_total():
    out = FakeTTY()
    learn = _learner()
    learn.add_cb(ProgressCallback(mode="terminal", stream=out, mininterval=0))
    learn.fit(2)
    text = out.getvalue()
    for epoch in (1, 2):
        counts = _final_counts(text, f"epoch {epoch}/2 train")
        assert "3/3" in counts, counts
        assert all(c.endswith("/3") for c in counts), counts
    valid = _final_counts(text, "valid")
    assert "2/2" in valid and all(c.endswith("/2") for c in valid), valid
    assert not re.search(r"(train|valid): 0it", text)
    rows = [ln.strip() for ln in re.split(r"[\r\n]", text) if re.match(r"\s*\d+\s+\d", ln)]
    assert [r.split()[0] for r in rows] == ["0", "1"]
    assert re.search(r"epoch\s+train_loss\s+valid_loss\s+accuracy\s+time", text)


def test_log_mode_writes_plain_rows_without_bars():
    out = io.StringIO()
    learn = _learner()
    learn.add_cb(ProgressCallback(mode="log", stream=out))
    learn.fit(2)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and "%" not in out.getvalue()
    assert lines[0].split() == ["epoch", "train_loss", "valid_loss", "accuracy", "time"]
    assert len(lines) == 3
    for i, ln in enumerate(lines[1:]):
        epoch, train_loss, valid_loss, acc, clock = ln.split()
        assert int(epoch) == i and float(train_loss) > 0 and float(valid_loss) > 0
        assert 0 <= float(acc) <= 1 and re.fullmatch(r"\d\d:\d\d", clock)


class _Handle:
    def __init__(self, log: list, obj: object) -> None:
        self.log, self.history = log, [obj]

    def update(self, obj: object) -> None:
        self.history.append(obj)


def _fake_ipython(monkeypatch) -> list:
    """An IPython whose ``display`` records handles (the notebook front end, without Jupyter)."""
    handles: list[_Handle] = []

    def display(obj, display_id=False):
        h = _Handle(handles, obj)
        handles.append(h)
        return h

    shell = types.SimpleNamespace(config={"IPKernelApp": {}})
    disp = types.ModuleType("IPython.display")
    disp.display, disp.HTML = display, lambda s: s
    ipy = types.ModuleType("IPython")
    ipy.get_ipython, ipy.display = (lambda: shell), disp
    monkeypatch.setitem(sys.modules, "IPython", ipy)
    monkeypatch.setitem(sys.modules, "IPython.display", disp)
    return handles


def test_notebook_mode_renders_an_html_bar_and_table(monkeypatch):
    handles = _fake_ipython(monkeypatch)
    out = io.StringIO()
    learn = _learner()
    learn.add_cb(ProgressCallback(stream=out))  # detects the notebook
    learn.fit(2)
    assert out.getvalue() == ""  # nothing as text: no tqdm fallback, no warning line
    bar, table = handles  # one area for the bar, one for the table
    bars = " ".join(bar.history)
    assert "<progress value='3' max='3'" in bars and "[3/3 " in bars and "epoch 2/2 train" in bars
    assert "<progress value='2' max='2'" in bars and "[2/2 " in bars
    assert not re.search(r"\[\d+/(?!3\b|2\b)\d+", bars)  # every bar counts against its own total
    assert re.search(r"loss \d\.\d{4}\]", bars)
    final = table.history[-1]
    assert final.count("<tr>") == 2 and "<th>valid_loss</th>" in final and "<th>accuracy</th>" in final
    assert [r.split("</td>")[0] for r in final.split("<tr><td>")[1:]] == ["0", "1"]


def test_notebook_without_ipython_display_falls_back_to_text(monkeypatch, recwarn):
    shell = types.SimpleNamespace(config={"IPKernelApp": {}})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.setitem(sys.modules, "IPython.display", None)  # import fails
    out = io.StringIO()
    learn = _learner()
    learn.add_cb(ProgressCallback(stream=out))
    learn.fit(1)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("epoch") and lines[1].split()[0] == "0" and len(lines) == 2
    assert not [w for w in recwarn if "progress" in str(w.message).lower()]


def test_html_builders_escape_and_show_totals():
    assert "[5/10 " in html_progress(5, 10, "valid", elapsed=1.0) and "50.00%" in html_progress(5, 10)
    assert "<b>" not in html_progress(1, 2, "<b>")
    t = html_table(["epoch", "a<b"], [["0", "1.5"]])
    assert "<th>a&lt;b</th>" in t and "<td>1.5</td>" in t
