"""Portable exports of a fine-tuned vision classifier: ONNX Runtime and torch.export give the learner's
outputs on real sample images; the README's consumer and command run; `torchloom predict` streams a
folder or a CSV to a CSV, with constant memory and a clear error for an unreadable file."""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from torchloom_vision import fashion_sample_path

from torchloom import (
    InvalidExportError,
    MissingPluginError,
    UnreadableItemError,
    load_exported,
    predict_files,
)

README = Path(__file__).resolve().parents[2] / "plugins" / "vision" / "README.md"
VALID = fashion_sample_path() / "valid"


@pytest.fixture(scope="module")
def exports(aug_learner, tmp_path_factory):
    pytest.importorskip("onnxscript")
    d = tmp_path_factory.mktemp("exports")
    return {fmt: aug_learner.export(d / "fashion", format=fmt) for fmt in ("onnx", "torch.export")}


@pytest.fixture(scope="module")
def valid_files():
    return sorted(VALID.rglob("*.png"))


@pytest.fixture(scope="module")
def learner_probs(aug_learner, valid_files):
    """The learner's own probabilities for every validation file, through its DataLoaders."""
    return aug_learner.get_preds(dl=aug_learner.dls.test_dl(valid_files))[0].numpy()


@pytest.mark.slow
def test_onnx_runtime_gives_the_learners_outputs_on_real_samples(exports, valid_files, learner_probs):
    import onnxruntime as ort

    path = exports["onnx"]
    spec = json.loads(path.with_name(path.name + ".json").read_text())
    assert spec["format"] == "onnx" and spec["inputs"][0]["shape"] == [None, 1, 28, 28]
    assert spec["classes"] == sorted(p.name for p in VALID.iterdir())
    assert spec["output"] == {"activation": "softmax", "decodes": "argmax", "axis": -1}
    assert spec["reader"]["name"] == "image_reader" and spec["reader"]["dist"] == "torchloom-vision"
    model = load_exported(path)
    reader = model.reader()
    x = np.stack([reader(str(f)) for f in valid_files])
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for bs in (1, 7, len(x)):  # the batch dimension is dynamic
        out = sess.run(None, {"input": x[:bs]})[0]
        np.testing.assert_allclose(out, learner_probs[:bs], atol=1e-5)
    assert (model(x)[0].argmax(1) == learner_probs.argmax(1)).all()


@pytest.mark.slow
def test_torch_export_program_gives_the_learners_outputs(exports, valid_files, learner_probs):
    model = load_exported(exports["torch.export"])
    assert model.format == "torch.export" and model.classes == load_exported(exports["onnx"]).classes
    reader = model.reader()
    x = np.stack([reader(str(f)) for f in valid_files[:50]])
    np.testing.assert_allclose(model(x)[0], learner_probs[:50], atol=1e-5)
    ep = torch.export.load(exports["torch.export"])  # a standard torch.export archive
    np.testing.assert_allclose(ep.module()(torch.from_numpy(x)).detach().numpy(), learner_probs[:50], atol=1e-5)


def _readme_blocks():
    text = README.read_text()
    section = text[text.index("## Deployment"):]
    return re.findall(r"```(python|bash)\n(.*?)```", section, re.S)


@pytest.mark.slow
def test_readme_deployment_examples_run(tmp_path, monkeypatch, aug_learner):
    pytest.importorskip("onnxscript")
    blocks = _readme_blocks()
    assert [lang for lang, _ in blocks] == ["python", "bash", "python"]
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    exec(compile(blocks[0][1], "README-train", "exec"), {})
    assert Path("fashion.onnx.json").is_file() and Path("fashion.pt2.json").is_file()
    shutil.copytree(VALID / "Trouser", "images")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(blocks[1][1], shell=True, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open("preds.csv")))
    assert len(rows) == len(list(Path("images").glob("*.png"))) and "item/s" in proc.stderr
    item = sorted(Path("images").glob("*.png"))[0]
    shutil.copy(item, "item.png")
    out = subprocess.run([sys.executable, "-c", blocks[2][1]], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    label, prob = out.stdout.rsplit(" ", 1)
    row = next(r for r in rows if Path(r["item"]).name == item.name)
    assert label == row["prediction"] and abs(float(prob) - float(row["probability"])) < 1e-3


@pytest.mark.slow
def test_predict_streams_a_folder_to_a_csv_like_the_learner(exports, valid_files, learner_probs, tmp_path):
    out = tmp_path / "preds.csv"
    summary = predict_files(exports["onnx"], [VALID], out=out, batch_size=16, probs=True, progress=False)
    assert summary.n_predicted == len(valid_files) and not summary.failed
    rows = list(csv.reader(open(out)))
    classes = load_exported(exports["onnx"]).classes
    assert rows[0] == ["item", "prediction", "probability", *classes]
    assert [r[0] for r in rows[1:]] == [str(f) for f in valid_files]  # folders walked in name order
    got = np.array([[float(v) for v in r[3:]] for r in rows[1:]])
    np.testing.assert_allclose(got, learner_probs, atol=1e-4)
    assert [r[1] for r in rows[1:]] == [classes[i] for i in learner_probs.argmax(1)]
    acc = np.mean([r[1] == Path(r[0]).parent.name for r in rows[1:]])
    assert acc > 0.6


def _write_list(path, cells, header="file"):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([header])
        w.writerows([c] for c in cells)


@pytest.mark.slow
def test_predict_reads_a_csv_and_names_an_unreadable_item_then_stops_or_skips(exports, tmp_path):
    good = sorted((VALID / "Bag").glob("*.png"))[:3]
    for f in good:
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    cells = [good[0].name, "broken.png", good[1].name, good[2].name]
    _write_list(tmp_path / "list.csv", cells)
    out = tmp_path / "preds.csv"
    with pytest.raises(UnreadableItemError, match="broken.png"):
        predict_files(exports["torch.export"], [tmp_path / "list.csv"], out=out, batch_size=2, progress=False)
    assert not out.exists()  # nothing half-written
    s = predict_files(exports["torch.export"], [tmp_path / "list.csv"], out=out, batch_size=2, on_error="skip",
                      progress=False)
    assert s.n_predicted == 3 and len(s.failed) == 1 and "broken.png" in s.failed[0][1]
    rows = list(csv.DictReader(open(out)))
    assert [Path(r["item"]).name for r in rows] == cells  # input order kept
    assert rows[1]["prediction"] == "" and "broken.png" in rows[1]["error"]
    assert all(r["prediction"] and not r["error"] for r in rows[:1] + rows[2:])


def test_predict_command_errors_are_clear(exports, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder: .*nope"):
        predict_files(exports["onnx"], [tmp_path / "nope"], progress=False)
    env = dict(os.environ)
    cmd = [str(Path(sys.executable).with_name("torchloom")), "predict", str(exports["onnx"])]
    (tmp_path / "bad.png").write_bytes(b"garbage")
    proc = subprocess.run(cmd + [str(tmp_path / "bad.png"), "--no-progress"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 1 and "cannot read" in proc.stderr and "bad.png" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_predict_memory_does_not_grow_with_the_number_of_inputs(exports, tmp_path):
    img = sorted((VALID / "Sneaker").glob("*.png"))[0]

    def peak(n):
        _write_list(tmp_path / f"list{n}.csv", [str(img)] * n)
        tracemalloc.start()
        predict_files(exports["onnx"], [tmp_path / f"list{n}.csv"], out=tmp_path / f"p{n}.csv", batch_size=32,
                      progress=False)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(200), peak(2000)
    assert sum(1 for _ in open(tmp_path / "p2000.csv")) == 2001
    assert large < small * 1.5, (small, large)


def test_bad_exports_are_refused_with_clear_errors(exports, tmp_path):
    src = exports["onnx"]
    for f in (src, src.with_name(src.name + ".json")):
        shutil.copy(f, tmp_path / f.name)
    model, side = tmp_path / src.name, tmp_path / (src.name + ".json")
    spec = json.loads(side.read_text())

    side.write_text(json.dumps({**spec, "plugin_api": 99}))
    with pytest.raises(InvalidExportError, match="PLUGIN_API 99"):
        load_exported(model)
    side.write_text(json.dumps({**spec, "reader": {**spec["reader"], "name": "text_reader",
                                                   "dist": "torchloom-text", "version": "0.1.0"}}))
    with pytest.raises(MissingPluginError, match="pip install torchloom-text"):
        load_exported(model).reader()
    side.write_text("{not json")
    with pytest.raises(InvalidExportError, match="not valid JSON"):
        load_exported(model)
    side.write_text(json.dumps(spec))
    data = model.read_bytes()
    model.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidExportError, match="does not match the sha256"):
        load_exported(model)
    with pytest.raises(InvalidExportError, match="not a loadable ONNX model"):
        load_exported(model, check_hash=False)


def test_preprocessing_the_reader_cannot_describe_is_an_error_before_anything_is_written(tmp_path):
    from torchloom_vision import ImageDataLoaders, PILImageBW, SmallResNet, aug_transforms, vision_learner

    dls = ImageDataLoaders.from_folder(fashion_sample_path(), img_cls=PILImageBW, bs=16, seed=0,
                                       batch_tfms=aug_transforms(size=24))
    learn = vision_learner(dls, SmallResNet, progress=False)
    with pytest.raises(ValueError, match=r"AffineCoordTfm\(size=\[24, 24\]\).*item_tfms=Resize"):
        learn.export(tmp_path / "m", format="torch.export")
    assert not list(tmp_path.iterdir())
