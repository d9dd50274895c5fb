"""``get_preds`` on sequence batches that continue each other (a language-model loader): batches are joined
along time (``concat_dim=1``, or the loader's ``preds_concat_dim``), so a shorter last chunk is no error."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from torchloom import CrossEntropyLossFlat, Learner


class Chunks(list):
    """Pre-built (x, y) batches of 4 rows; each batch continues every row's sequence."""

    preds_concat_dim = 1


class PerToken(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.emb(x)  # (rows, time, 3): one score vector per token


def _learner() -> tuple[Learner, Chunks, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    stream = torch.randint(0, 10, (4, 13), generator=g)  # 4 rows of 13 tokens, cut in chunks of 5, 5 and 3
    chunks = Chunks((stream[:, i:i + 5], stream[:, i:i + 5] % 3) for i in (0, 5, 10))
    torch.manual_seed(0)
    learn = Learner((chunks, chunks), PerToken(), loss_func=CrossEntropyLossFlat(), progress=False)
    return learn, chunks, stream


def test_sequence_batches_join_along_time_by_the_loaders_own_dim() -> None:
    learn, chunks, stream = _learner()
    x, preds, targs, losses = learn.get_preds(dl=chunks, with_input=True, with_loss=True, act=lambda p: p)
    assert torch.equal(x, stream)  # each row's stream whole again, in order
    assert torch.equal(targs, stream % 3)
    torch.testing.assert_close(preds, learn.model.emb.weight.detach()[stream])
    assert losses.shape == (4, 3)  # one loss per row and chunk


def test_concat_dim_argument_overrides_the_loader() -> None:
    learn, chunks, _ = _learner()
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):  # rows of 5, 5 and 3 tokens on dim 0
        learn.get_preds(dl=chunks, concat_dim=0)
    preds, _ = learn.get_preds(dl=Chunks(chunks), concat_dim=1)
    assert preds.shape == (4, 13, 3)
