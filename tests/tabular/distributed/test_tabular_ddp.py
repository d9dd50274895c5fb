"""``TabDataLoader`` under ``learn.use("ddp")``: two CPU processes (gloo, ``torchrun``) fit like one.

Each rank gathers its share of the same seeded epoch permutation, so the ranks' rows partition the data
and a 2-process fit with ``bs`` per rank ends with the weights and metrics of one process with ``2 * bs``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch

HERE = Path(__file__).parent
TORCHRUN_TIMEOUT = 240  # a shared, loaded CI machine; an idle one needs about 15 s


def _torchrun(out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(HERE / "tab_ddp_job.py"), str(out)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TORCHRUN_TIMEOUT)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from tests.tabular.distributed import tab_ddp_job

    single = tab_ddp_job.run(tmp_path_factory.mktemp("single"))
    out = tmp_path_factory.mktemp("ddp")
    p = _torchrun(out)
    assert p.returncode == 0, f"torchrun failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}"
    return {"single": single, "ranks": [torch.load(out / f"result_{r}.pt") for r in range(2)]}


def _rows(t: torch.Tensor) -> Counter:
    return Counter(tuple(round(v, 5) for v in r) for r in t.tolist())


def test_each_rank_sees_its_own_shard_and_together_all_rows(runs: dict[str, Any]) -> None:
    single, (r0, r1) = runs["single"], runs["ranks"]
    assert r0["world"] == r1["world"] == 2
    for phase, n in (("train", 1536), ("valid", 301)):
        a, b = r0["rows"][phase], r1["rows"][phase]
        assert len(a) + len(b) == len(single["rows"][phase]) == n  # no row padded in, none dropped
        assert _rows(a) + _rows(b) == _rows(single["rows"][phase])
    assert len(r0["rows"]["valid"]) == 151 and len(r1["rows"]["valid"]) == 150


def test_two_processes_end_with_the_single_process_weights_and_metrics(runs: dict[str, Any]) -> None:
    single = runs["single"]
    for r in runs["ranks"]:
        assert r["weights"].keys() == single["weights"].keys()
        for k, v in single["weights"].items():
            torch.testing.assert_close(r["weights"][k], v, rtol=1e-4, atol=1e-5, msg=lambda m, k=k: f"{k}: {m}")
        torch.testing.assert_close(torch.tensor(r["values"]), torch.tensor(single["values"]), rtol=1e-4, atol=1e-5)
    assert single["values"][-1][-1] > 0.75  # a real fit: accuracy of a trained model on Adult
