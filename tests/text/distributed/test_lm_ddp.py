"""``LMDataLoader`` under ``learn.use("ddp")``: each rank reads its own contiguous streams.

With ``world`` processes the stream is cut into ``bs * world`` rows and rank ``r`` reads rows
``r, r + world, ...``: the ranks' batches interleaved are one process's batches with ``bs * world`` rows.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torchloom_text import LMDataLoader

from torchloom import Shard

GLOBAL_BS = 16  # lm_ddp_job.GLOBAL_BS

HERE = Path(__file__).parent
TORCHRUN_TIMEOUT = 240  # a shared, loaded CI machine; an idle one needs about 20 s


def _docs(n: int = 40) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randint(2, 50, (int(torch.randint(3, 30, (), generator=g)),), generator=g) for _ in range(n)]


def _interleave(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.stack([a, b], 1).flatten(0, 1)


@pytest.mark.parametrize("shuffle", [False, True])
def test_rank_streams_interleave_to_the_single_process_batches_of_twice_the_rows(shuffle: bool) -> None:
    docs = _docs()
    whole = list(LMDataLoader(docs, bs=8, seq_len=7, shuffle=shuffle, seed=3))
    per_rank = []
    for r in range(2):
        dl = LMDataLoader(docs, bs=4, seq_len=7, shuffle=shuffle, seed=3)
        dl.shard = Shard(r, 2, even=True)
        assert len(dl) == len(whole)
        per_rank.append(list(dl))
    for k, (x, y) in enumerate(whole):
        (x0, y0), (x1, y1) = per_rank[0][k], per_rank[1][k]
        assert x0.shape == (4, x.shape[1])
        assert torch.equal(_interleave(x0, x1), x) and torch.equal(_interleave(y0, y1), y)
    rows0 = torch.cat([b[0] for b in per_rank[0]], 1)  # each rank's rows continue from batch to batch
    assert torch.equal(rows0, torch.cat([b[0] for b in whole], 1)[0::2])


def test_a_corpus_too_small_for_every_rank_is_a_clear_error() -> None:
    dl = LMDataLoader([torch.arange(2, 12)], bs=4, seq_len=3)
    dl.shard = Shard(0, 4)
    with pytest.raises(ValueError, match="bs=4 streams on each of 4 processes"):
        list(dl)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from tests.text.distributed import lm_ddp_job

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = lm_ddp_job.run(tmp_path_factory.mktemp("single"))
    finally:
        torch.set_num_threads(n)
    out = tmp_path_factory.mktemp("ddp")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(HERE / "lm_ddp_job.py"), str(out)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TORCHRUN_TIMEOUT)
    assert p.returncode == 0, f"torchrun failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}"
    return {"single": single, "ranks": [torch.load(out / f"result_{r}.pt") for r in range(2)]}


def test_under_torchrun_the_ranks_read_disjoint_streams_covering_the_global_batches(runs: dict[str, Any]) -> None:
    single, (r0, r1) = runs["single"], runs["ranks"]
    assert r0["world"] == r1["world"] == 2
    assert r0["n_batches"] == r1["n_batches"] == single["n_batches"]
    assert len(r0["batches"]) == len(single["batches"]) > 3
    for x, x0, x1 in zip(single["batches"], r0["batches"], r1["batches"]):
        assert torch.equal(_interleave(x0, x1), x)


def test_lm_fit_reports_the_same_metrics_on_every_rank_as_one_process(runs: dict[str, Any]) -> None:
    single, (r0, r1) = runs["single"], runs["ranks"]
    assert r0["values"] == r1["values"]  # validation reduced across ranks: one answer everywhere
    torch.testing.assert_close(torch.tensor(r0["values"]), torch.tensor(single["values"]), rtol=1e-4, atol=1e-4)
    for k, v in single["weights"].items():
        torch.testing.assert_close(r0["weights"][k], v, rtol=1e-4, atol=1e-5, msg=lambda m, k=k: f"{k}: {m}")


def test_get_preds_gathers_the_validation_rows_in_the_single_process_order(runs: dict[str, Any]) -> None:
    single, (r0, r1) = runs["single"], runs["ranks"]
    preds, targs = single["preds"], single["targs"]
    # one process: bs rows, each row's stream whole (batches joined along time), one score per token
    assert preds.ndim == 3 and len(preds) == GLOBAL_BS and preds.shape[1] > 20 and targs.shape == preds.shape[:2]
    for r in (r0, r1):  # every rank holds the whole validation set, rows in one process's order
        assert r["preds"].shape == preds.shape
        assert torch.equal(r["targs"], targs)
        torch.testing.assert_close(r["preds"], preds, rtol=1e-4, atol=1e-4)
