"""`torchloom predict` with a reader registered by a (fake, pip-installed-like) plugin: the export names
the reader, the command finds it by that name, streams CSV cells through the model and writes a CSV."""
from __future__ import annotations

import csv
import json

import pytest

from tests.kernel.deploy.pointdata import NAMES, READER, READER_PLUGIN, items, make_learner
from torchloom import MissingPluginError, UnreadableItemError, load_exported, predict_files
from torchloom._plugins import reset_registry


@pytest.fixture(scope="module")
def learn():
    return make_learner()


@pytest.fixture
def export(site, learn, tmp_path):
    site.add("torchloom-points", READER_PLUGIN, modules={"reader": READER}, version="2.0")
    reset_registry()
    return learn.export(tmp_path / "points", format="torch.export")


def _csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_export_records_the_reader_and_predict_streams_a_csv(export, learn, tmp_path):
    spec = load_exported(export).spec
    assert spec["reader"] == {"name": "points_reader", "dist": "torchloom-points", "version": "2.0",
                              "preprocess": {"sep": " "}}
    pts = items()[105:]
    src = _csv(tmp_path / "in.csv", [["id", "point"]] + [[str(i), p] for i, p in enumerate(pts)])
    out = tmp_path / "out.csv"
    s = predict_files(export, [src], out=out, column="point", batch_size=7, progress=False)
    assert s.n_predicted == len(pts)
    rows = list(csv.DictReader(open(out)))
    assert [r["item"] for r in rows] == pts
    want = [learn.dls.vocab[i] for i in learn.get_preds(dl=learn.dls.test_dl(pts))[0].argmax(1)]
    assert [r["prediction"] for r in rows] == want
    assert sum(r["prediction"] == n for r, n in zip(rows, NAMES[105:])) / len(rows) > 0.9
    with pytest.raises(ValueError, match="no column 'nope'.*id, point"):
        predict_files(export, [src], out=out, column="nope", progress=False)


def test_unreadable_cells_stop_or_are_skipped(export, tmp_path):
    src = _csv(tmp_path / "in.csv", [["point"], ["3 0"], ["three zero"], ["-3 0"]])
    with pytest.raises(UnreadableItemError, match="cannot read three zero: ValueError"):
        predict_files(export, [src], out=tmp_path / "o.csv", progress=False)
    assert not (tmp_path / "o.csv").exists()
    s = predict_files(export, [src], out=tmp_path / "o.csv", on_error="skip", progress=False)
    assert s.n_predicted == 2 and s.failed[0][0] == "three zero"
    rows = list(csv.DictReader(open(tmp_path / "o.csv")))
    assert [r["prediction"] for r in rows] == ["cat", "", "dog"] and "ValueError" in rows[1]["error"]


def test_folders_need_a_reader_that_reads_files(export, tmp_path):
    with pytest.raises(ValueError, match="does not read files from folders"):
        predict_files(export, [tmp_path], progress=False)


def test_a_missing_reader_plugin_names_its_distribution(export):
    side = export.with_name(export.name + ".json")
    spec = json.loads(side.read_text())
    side.write_text(json.dumps({**spec, "reader": {**spec["reader"], "name": "gone_reader",
                                                   "dist": "torchloom-gone", "version": "3.1"}}))
    with pytest.raises(MissingPluginError, match="reader 'gone_reader' from distribution torchloom-gone 3.1.*"
                                                 "pip install torchloom-gone"):
        predict_files(export, [side], progress=False)


def test_the_command_streams_to_stdout_with_a_progress_bar(export, site, tmp_path):
    src = _csv(tmp_path / "in.csv", [["point"], ["3 0"], ["-3 0"], ["0 3"]])
    proc = site.run("", args=["-m", "torchloom._cli", "predict", str(export), str(src), "--batch-size", "2"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "item,prediction,probability"
    assert [r.split(",")[1] for r in proc.stdout.splitlines()[1:]] == ["cat", "dog", "eel"]
    assert "3item" in proc.stderr.replace(" ", "") and "3 item(s) predicted" in proc.stderr
