"""Readers for variable-length inputs (text-like): ``dynamic_axes`` keeps the sequence axis variable in
the export, ``collate`` pads each batch; predictions match the model run on each sequence alone."""
from __future__ import annotations

import csv
import random

import numpy as np
import pytest
import torch
from torch import nn

from torchloom import (
    Categorize,
    DataLoaders,
    Datasets,
    Learner,
    TensorBase,
    Transform,
    load_exported,
    predict_files,
)
from torchloom._plugins import reset_registry

READER_PLUGIN = """
import torchloom
PLUGIN_API = 1

@torchloom.hookimpl
def register_transforms(register):
    register("tokens_reader", "{pkg}.reader:TokensReader", reader=True, doc="'1 2 2' -> token ids")
"""

READER = """
import numpy as np


class TokensReader:
    extensions = ()
    paths = False
    dynamic_axes = {1: "seq"}

    @classmethod
    def describe(cls, dls):
        tfms = dls.valid.dataset.tls[0].tfms.fs
        return {"pad": 0} if any(type(t).__name__ == "Tokens" for t in tfms) else None

    def __init__(self, preprocess):
        self.pad = preprocess["pad"]

    def __call__(self, item):
        return np.array([int(t) for t in item.split()], dtype=np.int64)

    def collate(self, samples):
        n = max(len(s[0]) for s in samples)
        out = np.full((len(samples), n), self.pad, dtype=np.int64)
        for i, (s,) in enumerate(samples):
            out[i, : len(s)] = s
        return (out,)
"""


class TensorTokens(TensorBase):
    pass


class Tokens(Transform):
    def encodes(self, o: str) -> TensorTokens:
        return TensorTokens(torch.tensor([int(t) for t in o.split()]))


class BagOfTokens(nn.Module):
    """Mean embedding of the non-pad tokens, then a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.emb, self.lin = nn.Embedding(5, 8, padding_idx=0), nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = (x != 0).float().unsqueeze(-1)
        return self.lin((self.emb(x) * mask).sum(1) / mask.sum(1).clamp(min=1))


def _seq(rng: random.Random, n: int) -> str:
    return " ".join(str(rng.randint(1, 4)) for _ in range(n))


def _label(s: str) -> str:
    toks = s.split()
    return "ones" if toks.count("1") > toks.count("2") else "twos"


@pytest.fixture
def export(site, tmp_path):
    site.add("torchloom-tokens", READER_PLUGIN, modules={"reader": READER})
    reset_registry()
    rng = random.Random(0)
    xs = [_seq(rng, 6) for _ in range(300)]
    dsets = Datasets(xs, [[Tokens()], [_label, Categorize()]], splits=(list(range(240)), list(range(240, 300))))
    dls = DataLoaders.from_dsets(dsets.train, dsets.valid, bs=32, seed=0)
    torch.manual_seed(0)
    learn = Learner(dls, BagOfTokens(), progress=False, lr=0.05)
    learn.logger = lambda *a, **k: None
    learn.fit(8)
    return learn, learn.export(tmp_path / "tokens", format="torch.export")


def test_variable_length_inputs_stream_through_a_dynamic_sequence_axis(export, tmp_path):
    learn, path = export
    model = load_exported(path)
    assert model.spec["inputs"][0]["shape"] == [None, None] and model.spec["inputs"][0]["dtype"] == "int64"
    rng = random.Random(1)
    cells = [_seq(rng, rng.randint(2, 12)) for _ in range(40)]
    with open(tmp_path / "in.csv", "w", newline="") as f:
        csv.writer(f).writerows([["text"]] + [[c] for c in cells])
    predict_files(path, [tmp_path / "in.csv"], out=tmp_path / "out.csv", batch_size=8, progress=False)
    rows = list(csv.DictReader(open(tmp_path / "out.csv")))
    learn.model.eval()
    with torch.no_grad():
        alone = [learn.model(torch.tensor([[int(t) for t in c.split()]])).softmax(-1)[0] for c in cells]
    assert [r["prediction"] for r in rows] == [learn.dls.vocab[int(p.argmax())] for p in alone]
    np.testing.assert_allclose([float(r["probability"]) for r in rows], [float(p.max()) for p in alone], atol=1e-5)
    assert np.mean([r["prediction"] == _label(c) for r, c in zip(rows, cells)]) > 0.8
