"""torchloom-wandb in W&B's offline mode: what the run file holds is what the Recorder saw."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from torchloom import accuracy
from torchloom.testing import CallbackContract, assert_discovery_is_lazy, run_markdown, synth_learner

wandb = pytest.importorskip("wandb")

README = Path(__file__).resolve().parents[2] / "contrib" / "wandb" / "README.md"


@pytest.fixture(scope="module", autouse=True)
def _offline_env(tmp_path_factory):
    """Offline mode, and runs without an explicit dir go to a scratch folder (W&B reads these once)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_SILENT", "true")
        mp.setenv("WANDB_DIR", str(tmp_path_factory.mktemp("wandb-default")))
        yield


@pytest.fixture(autouse=True)
def _finish_leftover_run(one_torch_thread):
    yield
    if wandb.run is not None:
        wandb.run.finish()


def _records(path: Path) -> list[bytes]:
    """The protobuf records of a W&B run file: a ``:W&B`` header, then LevelDB-log framing (32 KiB blocks;
    each chunk is crc32, little-endian length, type FULL=1 / FIRST=2 / MIDDLE=3 / LAST=4)."""
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    block, pos, out, buf = 32768, 7, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # block trailer padding
            pos += left
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 1:
            out.append(chunk)
        elif kind == 2:
            buf = chunk
        elif kind == 3:
            buf += chunk
        elif kind == 4:
            out.append(buf + chunk)
    return out


def _history(run_dir: Path) -> tuple[list[dict], dict]:
    """The logged rows and the config, read back from the offline run's own file."""
    from wandb.proto import wandb_internal_pb2

    deadline = time.monotonic() + 60
    while True:  # W&B's service writes the file asynchronously; the run is complete once 'exit' is there
        recs = []
        for data in _records(next(run_dir.glob("*.wandb"))):
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(data)
            recs.append(rec)
        if any(r.WhichOneof("record_type") == "exit" for r in recs) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    rows, config = [], {}
    for rec in recs:
        kind = rec.WhichOneof("record_type")
        if kind == "history":
            rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                         for item in rec.history.item})
        update = rec.run.config.update if kind == "run" else rec.config.update if kind == "config" else ()
        for item in update:
            config[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return rows, config


def _run_dir(tmp_path: Path) -> Path:
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, runs
    return runs[0]


def test_losses_lr_metrics_and_config_are_logged(tmp_path):
    learn = synth_learner(task="classification", metrics=accuracy)
    learn.use("wandb", project="torchloom-test", config={"note": "unit"}, dir=str(tmp_path))
    learn.fit_one_cycle(2, 1e-2)
    assert wandb.run is None  # the run it started is finished
    rows, config = _history(_run_dir(tmp_path))
    n = len(learn.dls.train)
    batch = [r for r in rows if "train/lr" in r]
    assert [r["_step"] for r in batch] == list(range(1, 2 * n + 1))
    assert [r["train/lr"] for r in batch] == pytest.approx(learn.recorder.lrs, rel=1e-6)
    assert [r["train/loss_smooth"] for r in batch] == pytest.approx(learn.recorder.losses, rel=1e-6)
    epochs = [r for r in rows if "epoch/accuracy" in r]
    assert [r["epoch/epoch"] for r in epochs] == [0, 1]
    logged = [v for r in epochs for v in (r["epoch/train_loss"], r["epoch/valid_loss"], r["epoch/accuracy"])]
    assert logged == pytest.approx([v for row in learn.recorder.values for v in row], rel=1e-6)
    assert epochs[-1]["epoch/accuracy"] > 0.8
    assert config["bs"] == 16 and config["note"] == "unit"
    assert config["model"] == "Linear" and config["plugins"] == "wandb" and config["lr"] == pytest.approx(1e-2)


def test_an_active_run_is_used_and_left_open(tmp_path):
    run = wandb.init(project="mine", dir=str(tmp_path))
    learn = synth_learner().use("wandb")
    learn.fit(1)
    assert wandb.run is run and learn.wandb.wandb_run is None
    run.finish()
    rows, _ = _history(_run_dir(tmp_path))
    assert any("epoch/valid_loss" in r for r in rows)


def test_lr_find_and_inference_start_no_run(tmp_path):
    learn = synth_learner(n_train=640).use("wandb", dir=str(tmp_path))
    learn.lr_find(num_it=20, show_plot=False)
    learn.get_preds()
    assert not (tmp_path / "wandb").exists()


def test_bad_arguments_name_the_callback():
    with pytest.raises(ValueError, match=r"WandbCallback\(mode=...\)"):
        synth_learner().use("wandb", mode="sometimes")


def test_discovery_does_not_import_wandb():
    assert_discovery_is_lazy("callback", "wandb", "torchloom_wandb.callback")  # wandb comes with it, at use


class TestWandbContract(CallbackContract):
    name = "wandb"


def test_readme_example_runs(tmp_path):
    ns = run_markdown(README, cwd=tmp_path)
    assert len(ns["learn"].recorder.values) == 2 and ns["learn"].wandb.wandb_run is None  # trained, run finished


def test_log_preds_logs_an_image_of_predictions(tmp_path):
    pytest.importorskip("matplotlib").use("Agg")
    import torch
    from torch import nn

    from torchloom import Categorize, Datasets, ItemGetter, Learner

    g = torch.Generator().manual_seed(0)
    ys = torch.randint(0, 2, (64,), generator=g)
    items = [(torch.randn(2, generator=g) + 3 * y, ["no", "yes"][int(y)]) for y in ys]
    dls = Datasets(items, [[ItemGetter(0)], [ItemGetter(1), Categorize()]],
                   splits=[list(range(48)), list(range(48, 64))]).dataloaders(bs=16)
    learn = Learner(dls, nn.Linear(2, 2), progress=False)
    learn.use("wandb", dir=str(tmp_path), log_preds=True, n_preds=4)
    learn.fit(1)
    rows, _ = _history(_run_dir(tmp_path))
    pred = [r for r in rows if "predictions/_type" in r]  # W&B flattens the image record's fields
    assert len(pred) == 1 and pred[0]["predictions/_type"] == "image-file" and pred[0]["predictions/width"] > 100
    assert list((_run_dir(tmp_path) / "files" / "media" / "images").glob("predictions_*.png"))
