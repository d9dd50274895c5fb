"""Two CPU processes (gloo) under ``torchrun`` train exactly like one process on the same global batch.

One module-scoped run of each kind is shared by the tests: a single-process run in this process,
then ``torchrun --standalone --nproc_per_node 2`` of the same job (``ddp_job.py``), each resuming
the other's mid-run checkpoint.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.kernel.distributed.launch import TORCHRUN_TIMEOUT, torchrun_job


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from tests.kernel.distributed import ddp_job

    single_dir, ddp_dir = tmp_path_factory.mktemp("single"), tmp_path_factory.mktemp("ddp")
    single = ddp_job.run(single_dir)
    (ddp_dir / "learn" / "models").mkdir(parents=True)
    shutil.copy(single_dir / "learn/models/single_mid.safetensors", ddp_dir / "learn/models/")
    p = torchrun_job(ddp_dir, "main", "single_mid")
    assert p.returncode == 0, f"torchrun failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}"
    ranks = [torch.load(ddp_dir / f"result_{r}.pt") for r in range(2)]
    shutil.copy(ddp_dir / "learn/models/ddp_mid.safetensors", single_dir / "learn/models/")
    again = ddp_job.make_learner(single_dir / "learn")
    again.fit_one_cycle(3, resume="ddp_mid")
    return {"single": single, "ranks": ranks, "resumed_single": ddp_job._weights(again), "ddp_dir": ddp_dir}


def _close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=lambda m, k=k: f"{k}: {m}")


def test_two_processes_end_with_the_single_process_weights(runs: dict[str, Any]) -> None:
    r0, r1 = runs["ranks"]
    assert r0["distributed"] and r0["world"] == 2
    _close(r0["weights"], runs["single"]["weights"])
    _close(r1["weights"], r0["weights"])


def test_reported_losses_and_metrics_equal_the_single_process_ones(runs: dict[str, Any]) -> None:
    single = runs["single"]
    for r in runs["ranks"]:  # every rank reports what one process on the whole set reports
        torch.testing.assert_close(torch.tensor(r["values"]), torch.tensor(single["values"]), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(torch.tensor(r["losses"]), torch.tensor(single["losses"]), rtol=1e-5, atol=1e-6)
        assert r["validate"] == pytest.approx(single["validate"], rel=1e-5)
        assert r["accum"] == pytest.approx(single["accum"], rel=1e-5)  # stored predictions gathered


def test_lr_find_sees_the_same_losses_and_suggests_the_same_rate(runs: dict[str, Any]) -> None:
    single = runs["single"]
    for r in runs["ranks"]:
        assert len(r["lr_find_losses"]) == len(single["lr_find_losses"]) == 12
        assert r["lr_find_losses"] == pytest.approx(single["lr_find_losses"], rel=1e-5)
        assert r["lr_find"] == pytest.approx(single["lr_find"], rel=1e-5)


def test_get_preds_gathers_every_item_in_dataset_order(runs: dict[str, Any]) -> None:
    single = runs["single"]
    for r in runs["ranks"]:
        assert r["preds"].shape == single["preds"].shape == (37, 3)
        torch.testing.assert_close(r["preds"], single["preds"], rtol=1e-5, atol=1e-6)
        assert torch.equal(r["targs"], single["targs"])


def test_only_rank_zero_writes_files(runs: dict[str, Any]) -> None:
    r0, r1 = runs["ranks"]
    assert r1["writes"] == []
    assert {Path(p).name.split(".")[1] for p in r0["writes"]} == {"ddp_mid", "final"}
    files = sorted(p.name for p in (runs["ddp_dir"] / "learn" / "models").iterdir())
    assert files == ["ddp_mid.safetensors", "final.safetensors", "single_mid.safetensors"]


def test_checkpoints_resume_across_process_counts(runs: dict[str, Any]) -> None:
    single = runs["single"]["weights"]
    _close(runs["ranks"][0]["resumed"], single)  # a one-process checkpoint continued under DDP
    _close(runs["resumed_single"], single)  # a DDP checkpoint continued in one process


def test_gradient_accumulation_matches_one_process(runs: dict[str, Any]) -> None:
    _close(runs["ranks"][0]["ga"], runs["single"]["ga"])


def test_one_rank_raising_ends_the_job_with_its_error(tmp_path: Path) -> None:
    t0 = time.monotonic()
    p = torchrun_job(tmp_path, "explode")
    took = time.monotonic() - t0
    assert p.returncode != 0
    assert "rank one exploded on purpose" in p.stdout + p.stderr
    assert took < TORCHRUN_TIMEOUT
