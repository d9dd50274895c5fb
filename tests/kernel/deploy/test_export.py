"""learn.export(format="torch.export") on the kernel alone, and what loading an export refuses."""
from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch

from tests.kernel.deploy.pointdata import items, make_learner
from torchloom import InvalidExportError, load_exported
from torchloom._download import sha256_file


@pytest.fixture(scope="module")
def learn():
    return make_learner()


@pytest.fixture
def pt2(learn, tmp_path):
    return learn.export(tmp_path / "points", format="torch.export")


def test_torch_export_round_trip_gives_the_learners_probabilities(learn, pt2):
    assert pt2.name == "points.pt2" and (pt2.parent / "points.pt2.json").is_file()
    spec = json.loads((pt2.parent / "points.pt2.json").read_text())
    assert spec["classes"] == ["cat", "dog", "eel"] and spec["plugin_api"] == 1
    assert spec["inputs"] == [{"name": "input", "shape": [None, 2], "dtype": "float32"}]
    assert spec["output"]["activation"] == "softmax" and spec["reader"] is None  # no reader plugin installed
    model = load_exported(pt2)
    x = np.array([[float(v) for v in s.split()] for s in items()], dtype=np.float32)
    probs = learn.get_preds(dl=learn.dls.test_dl(items()))[0].numpy()
    np.testing.assert_allclose(model(x)[0], probs, atol=1e-6)
    np.testing.assert_allclose(model(x[:1])[0], probs[:1], atol=1e-6)  # any batch size
    with pytest.raises(InvalidExportError, match="names no reader"):
        model.reader()
    with pytest.raises(ValueError, match="takes 1 input"):
        model(x, x)


def test_export_format_errors(learn, tmp_path):
    with pytest.raises(ValueError, match="unknown export format 'tflite'.*'onnx'"):
        learn.export(tmp_path / "m", format="tflite")
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install onnx onnxscript"):
            learn.export(tmp_path / "m", format="onnx")
        assert not list(tmp_path.iterdir())


def _rewrite(src, dst, replace):
    """Copy the zip ``src`` to ``dst`` with some members' bytes replaced (``replace(name, data) -> data``)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, replace(info.filename, zin.read(info.filename)))


def _resign(path):
    """Record the tampered file's hash in its JSON, as an attacker shipping both files would."""
    side = path.with_name(path.name + ".json")
    spec = json.loads(side.read_text())
    side.write_text(json.dumps({**spec, "sha256": sha256_file(path)}))


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_pickle_hidden_in_a_torch_export_archive_is_refused_and_never_runs(pt2, tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps(_Evil(str(marker)))
    _rewrite(pt2, tmp_path / "evil.pt2", lambda n, d: evil if "sample_inputs" in n else d)
    (tmp_path / "evil.pt2.json").write_text((pt2.parent / "points.pt2.json").read_text()
                                            .replace("points.pt2", "evil.pt2"))
    _resign(tmp_path / "evil.pt2")
    with pytest.raises(InvalidExportError, match="sample inputs .* are not plain tensors"):
        load_exported(tmp_path / "evil.pt2")
    assert not marker.exists()


def test_pickled_weights_and_foreign_members_are_refused(pt2, tmp_path):
    def pickled(name, data):
        if name.endswith("_weights_config.json"):
            cfg = json.loads(data)
            first = next(iter(cfg["config"]))
            cfg["config"][first]["use_pickle"] = True
            return json.dumps(cfg).encode()
        return data

    for i, (how, match) in enumerate([(pickled, "stored as a pickled object"), (None, "unexpected member")]):
        bad = tmp_path / f"bad{i}.pt2"
        if how is None:
            _rewrite(pt2, bad, lambda n, d: d)
            with zipfile.ZipFile(bad, "a") as z:
                z.writestr("points/data/aotinductor/model/model.so", b"\x7fELF")
        else:
            _rewrite(pt2, bad, how)
        (tmp_path / f"bad{i}.pt2.json").write_text((pt2.parent / "points.pt2.json").read_text()
                                                   .replace("points.pt2", bad.name))
        _resign(bad)
        with pytest.raises(InvalidExportError, match=match):
            load_exported(bad)


def test_corrupt_missing_or_newer_exports_are_named(pt2, tmp_path):
    side = pt2.parent / "points.pt2.json"
    spec = json.loads(side.read_text())
    side.write_text(json.dumps({**spec, "torchloom_export": 7}))
    with pytest.raises(InvalidExportError, match="layout 7.*upgrade torchloom"):
        load_exported(pt2)
    side.write_text(json.dumps({**spec, "plugin_api": 2}))
    with pytest.raises(InvalidExportError, match="PLUGIN_API 2, newer than"):
        load_exported(side)  # the .json names the export too
    side.write_text(json.dumps(spec))
    pt2.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(InvalidExportError, match="sha256"):
        load_exported(pt2)
    with pytest.raises(InvalidExportError, match="not a torch.export archive"):
        load_exported(pt2, check_hash=False)
    pt2.unlink()
    with pytest.raises(InvalidExportError, match="points.pt2, which is missing"):
        load_exported(side)
    with pytest.raises(FileNotFoundError, match="no such export"):
        load_exported(tmp_path / "nothing.pt2")
    (tmp_path / "lonely.pt2").write_bytes(io.BytesIO(b"x").read())
    with pytest.raises(InvalidExportError, match="has no lonely.pt2.json"):
        load_exported(tmp_path / "lonely.pt2")


def test_the_exported_graph_matches_on_the_device_the_learner_trained_on(learn, tmp_path):
    """The export is traced from a CPU copy: the learner's own model is left where and as it was."""
    before = {k: v.clone() for k, v in learn.model.state_dict().items()}
    mode = learn.model.training
    learn.export(tmp_path / "again", format="torch.export")
    assert learn.model.training == mode
    assert all(torch.equal(before[k], v) for k, v in learn.model.state_dict().items())
