"""The example notebooks in docs/examples run top to bottom in a real Jupyter kernel (nbclient), are
stored without outputs, and render what a notebook user expects (HTML table and bar, single figures)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_there_are_notebooks_and_they_are_stored_without_outputs():
    assert {p.stem for p in NOTEBOOKS} >= {"vision_classification", "segmentation", "writing_a_plugin",
                                           "text_classification", "tabular", "collab", "gan"}
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, \
                    f"{path.name}: strip outputs before committing (jupyter nbconvert --clear-output)"


def _run(path: Path, cwd: Path):
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def _outputs(cell, kind: str) -> list:
    return [o["data"][kind] for o in cell.get("outputs", []) if kind in o.get("data", {})]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)  # tox sets Agg; the kernel must pick Jupyter's inline backend
    nb = _run(path, tmp_path)  # raises CellExecutionError naming the cell on any error
    code = [c for c in nb.cells if c.cell_type == "code"]
    for c in code:
        plain = " ".join(_outputs(c, "text/plain"))
        assert "<Axes" not in plain, f"{path.name}: a cell printed a list of Axes: {c.source[:60]!r}"
        assert len(_outputs(c, "image/png")) <= 1, f"{path.name}: a figure was drawn twice: {c.source[:60]!r}"
        stderr = "".join(o.get("text", "") for o in c.outputs if o.get("name") == "stderr")
        assert "Warning" not in stderr, f"{path.name}: {stderr}"
    last = {c.source.splitlines()[-1]: c for c in code}
    if path.stem == "vision_classification":
        assert "Total params" in _outputs(last["learn.summary()"], "text/plain")[0]
        fit = last["learn.fit_one_cycle(1, 1e-2)"]
        html = " ".join(_outputs(fit, "text/html"))
        assert "<table" in html and "<th>accuracy</th>" in html and "<progress" in html
        assert not [o for o in fit.outputs if o.get("output_type") == "stream"]  # no text fallback, no warning
        for line in ("dls.show_batch(max_n=6)", "suggestion", "learn.recorder.plot_loss(skip_start=0)",
                     "learn.show_results(max_n=6)", "interp.plot_confusion_matrix()", "interp.plot_top_losses(6)"):
            assert len(_outputs(last[line], "image/png")) == 1, line
    if path.stem == "segmentation":
        assert "<th>dice</th>" in " ".join(_outputs(last["learn.fit_one_cycle(1, 5e-3)"], "text/html"))
        assert len(_outputs(last["learn.show_results(max_n=2)"], "image/png")) == 1
    if path.stem == "text_classification":
        assert "<th>accuracy</th>" in " ".join(_outputs(last["learn.fit_one_cycle(1, 1e-2)"], "text/html"))
        label, probs = _outputs(last["label, probs"], "text/plain")[0].split(",", 1)
        assert label.strip("(' ") in {"fresh", "rotten"} and "tensor([" in probs
    if path.stem == "tabular":
        assert "<th>accuracy</th>" in " ".join(_outputs(last["learn.fit_one_cycle(1, 1e-2)"], "text/html"))
        assert _outputs(last['row["salary"], probs'], "text/plain")[0].split(",")[0].strip("(' ") in {"<=50K", ">50K"}
        fi = last["fi.head()"]
        assert "importance" in _outputs(fi, "text/html")[0] and len(_outputs(fi, "image/png")) == 1
    if path.stem == "collab":
        assert "<th>rmse</th>" in " ".join(_outputs(last["learn.fit_one_cycle(1, 5e-3, wd=0.1)"], "text/html"))
        recs = _outputs(last["learn.recommend(1, n=5)"], "text/plain")[0].splitlines()
        assert "predicted" in recs[0] and len(recs) == 6
    if path.stem == "gan":
        assert len(_outputs(last["learn.show_results(max_n=16)"], "image/png")) == 1
        printed = "".join(o.get("text", "") for o in last["print(score)"].outputs)
        assert "Fréchet distance" in printed and "class coverage" in printed
