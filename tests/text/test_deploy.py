"""Portable exports of a trained text classifier: ONNX Runtime and torch.export give the learner's
probabilities on real validation texts at any batch size and padding; `torchloom predict` streams a CSV
column or .txt files to a CSV that matches `learn.predict` (from the ONNX, .pt2 or default .safetensors export);
an unreadable file is named."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torchloom_text import text_classifier_learner

from torchloom import UnreadableItemError, load_exported, predict_files

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def split_df(rt_small):
    """The snippets with a validation flag, so the raw validation texts are known."""
    df = rt_small.copy()
    df["is_valid"] = np.arange(len(df)) % 4 == 0
    return df


@pytest.fixture(scope="module")
def learn(split_df, tmp_path_factory):
    from torchloom_text import TextDataLoaders

    torch.manual_seed(0)
    dls = TextDataLoaders.from_df(split_df, text_col="text", label_col="label", valid_col="is_valid", bs=16,
                                  n_workers=1, device="cpu")
    learn = text_classifier_learner(dls, config=dict(emb_sz=32, n_hid=48, n_layers=2), drop_mult=0.5,
                                    path=tmp_path_factory.mktemp("clf"), progress=False)
    learn.fine_tune(1, 1e-2)
    return learn


@pytest.fixture(scope="module")
def exports(learn, tmp_path_factory):
    pytest.importorskip("onnxscript")
    d = tmp_path_factory.mktemp("exports")
    return {fmt: learn.export(d / "reviews", format=fmt) for fmt in ("onnx", "torch.export")}


@pytest.fixture(scope="module")
def texts(split_df):
    """40 raw validation snippets of very different lengths, one long text made of 18 of them (several BPTT
    chunks, so a batch pads the others by whole chunks) and one longer than the classifier's ``max_len``
    (1440 tokens: its first chunks only set the state)."""
    valid = split_df[split_df.is_valid].text.tolist()
    by_len = sorted(valid, key=len)
    picked = [by_len[i] for i in np.linspace(0, len(by_len) - 1, 40).astype(int)]
    return picked + [" ".join(valid[:18]), " ".join(valid[:80])]


@pytest.fixture(scope="module")
def learner_probs(learn, texts):
    """``learn.predict`` on each text alone."""
    return np.stack([learn.predict(t)[2].numpy() for t in texts])


def test_onnx_runtime_gives_the_learners_probabilities_at_any_batch_size(exports, texts, learner_probs):
    import onnxruntime as ort

    path = exports["onnx"]
    spec = json.loads(path.with_name(path.name + ".json").read_text())
    assert spec["reader"]["name"] == "text_reader" and spec["reader"]["dist"] == "torchloom-text"
    assert spec["inputs"][0]["shape"] == [None, None] and spec["inputs"][0]["dtype"] == "int64"
    assert spec["classes"] == ["fresh", "rotten"]
    pre = spec["reader"]["preprocess"]
    assert pre["vocab"][:2] == ["xxunk", "xxpad"] and pre["rules"][0] == "fix_html"
    model = load_exported(path)
    reader = model.reader()
    ids = [reader(t) for t in texts]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for bs in (1, 7, len(ids)):
        for start in range(0, len(ids), bs):
            (x,) = reader.collate([(a,) for a in ids[start:start + bs]])
            out = sess.run(None, {"input": x})[0]
            np.testing.assert_allclose(out, learner_probs[start:start + bs], atol=1e-5)
    (x,) = reader.collate([(a,) for a in ids])
    assert x.shape[1] > 1440 and (x == pre["pad_idx"]).any()  # padded, first in whole chunks
    import onnx

    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "Loop" in ops and "LSTM" not in ops  # one loop over time, not unrolled over the example's length


def test_torch_export_program_gives_the_learners_probabilities(exports, texts, learner_probs):
    model = load_exported(exports["torch.export"])
    reader = model.reader()
    ids = [reader(t) for t in texts]
    (x,) = reader.collate([(a,) for a in ids])
    np.testing.assert_allclose(model(x)[0], learner_probs, atol=1e-5)
    ep = torch.export.load(exports["torch.export"])  # a standard torch.export archive
    single = ep.module()(torch.from_numpy(ids[3][None])).detach().numpy()
    np.testing.assert_allclose(single, learner_probs[3:4], atol=1e-5)


def test_learner_batches_agree_with_predict_so_the_reference_is_sound(learn, texts, learner_probs):
    """The learner's own batched path (sorted, padded first, read in BPTT chunks) gives ``predict``'s
    probabilities: the export is compared with one consistent reference, and exporting left it untouched."""
    assert not torch.compiler.is_exporting()
    preds = learn.get_preds(dl=learn.dls.test_dl(texts))[0].numpy()
    np.testing.assert_allclose(preds, learner_probs, atol=1e-5)


def test_torchloom_predict_csv_column_matches_learn_predict(exports, learn, texts, tmp_path):
    src = tmp_path / "texts.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        w.writerows([i, t] for i, t in enumerate(texts[:12]))
    out = tmp_path / "preds.csv"
    r = subprocess.run([str(Path(sys.executable).with_name("torchloom")), "predict", str(exports["onnx"]), str(src), "--column",
                        "text", "--out", str(out), "--batch-size", "5", "--no-progress"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [row["item"] for row in rows] == texts[:12]
    for row, t in zip(rows, texts[:12]):
        label, _, probs = learn.predict(t)
        assert row["prediction"] == label
        assert abs(float(row["probability"]) - float(probs.max())) < 1e-4


def test_txt_files_are_read_and_a_non_utf8_file_is_named(exports, learn, texts, tmp_path):
    folder = tmp_path / "reviews"
    folder.mkdir()
    for i, t in enumerate(texts[:3]):
        (folder / f"{i}.txt").write_text(t, encoding="utf-8")
    out = tmp_path / "preds.csv"
    s = predict_files(exports["torch.export"], [folder], out=out, progress=False)
    assert s.n_predicted == 3
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [r["prediction"] for r in rows] == [learn.predict(t)[0] for t in texts[:3]]
    bad = folder / "1_latin1.txt"
    bad.write_bytes("Un film très réussi".encode("latin-1"))
    with pytest.raises(UnreadableItemError, match="1_latin1.txt.*not valid utf-8"):
        predict_files(exports["torch.export"], [folder], out=tmp_path / "none.csv", progress=False)
    assert not (tmp_path / "none.csv").exists()  # nothing half-written
    s = predict_files(exports["torch.export"], [folder], out=out, on_error="skip", progress=False)
    assert s.n_predicted == 3 and [f for f, _ in s.failed] == [str(bad)]


def test_torchloom_predict_reads_the_default_safetensors_export(learn, texts, learner_probs, tmp_path):
    """The default export needs no extra: the learner is rebuilt and fed by the same text reader."""
    path = learn.export(tmp_path / "reviews")
    assert path.suffix == ".safetensors"
    model = load_exported(path)
    reader = model.reader()
    (x,) = reader.collate([(reader(t),) for t in texts])
    np.testing.assert_allclose(model(x)[0], learner_probs, atol=1e-5)
    src = tmp_path / "texts.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["text"], *([t] for t in texts[:12])])
    out = tmp_path / "preds.csv"
    s = predict_files(path, [src], out=out, column="text", batch_size=5, probs=True, progress=False)
    assert s.n_predicted == 12
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [r["prediction"] for r in rows] == [learn.predict(t)[0] for t in texts[:12]]
    np.testing.assert_allclose([[float(r["fresh"]), float(r["rotten"])] for r in rows], learner_probs[:12], atol=1e-5)
