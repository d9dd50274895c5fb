"""An empty validation set (fastai's ``IndexSplitter([])``, ``valid_pct=0``): the loaders build, ``fit`` trains
and skips validation, and the validation loss and metrics show as absent (``None``), as in fastai. A
training set left empty, or a validation folder name that matches nothing, are still errors."""
import pytest
import torch

from torchloom import (
    CategoryBlock,
    DataBlock,
    GrandparentSplitter,
    IndexSplitter,
    Learner,
    RandomSplitter,
    TransformBlock,
    accuracy,
)


def _items(n=96):
    g = torch.Generator().manual_seed(0)
    return [(float(i % 2) * 2 - 1 + 0.3 * float(torch.randn((), generator=g)), "ab"[i % 2]) for i in range(n)]


def _block(splitter):
    return DataBlock(blocks=(TransformBlock, CategoryBlock), get_x=lambda o: torch.tensor([o[0]]),
                     get_y=lambda o: o[1], splitter=splitter)


@pytest.mark.parametrize("splitter", [IndexSplitter([]), RandomSplitter(0.0, seed=0)], ids=["index", "pct0"])
def test_empty_validation_set_trains_and_reports_absent_metrics(splitter):
    dls = _block(splitter).dataloaders(_items(), bs=16, device="cpu")
    assert dls.train.n == 96 and dls.valid.n == 0 and len(dls.valid) == 0 and list(dls.valid) == []
    torch.manual_seed(0)
    learn = Learner(dls, torch.nn.Linear(1, 2), metrics=accuracy, progress=False)
    learn.logger = lambda *a: None
    learn.fit(3, 0.1)
    rows = learn.recorder.values
    assert len(rows) == 3 and all(r[1:] == [None, None] for r in rows)  # valid_loss, accuracy: absent
    assert rows[-1][0] < rows[0][0] < 1.0  # it did train
    assert learn.validate() == [None, None]
    with pytest.raises(ValueError, match="empty"):
        dls.valid.one_batch()  # asking for a validation batch is still a clear error


def test_empty_training_set_and_misnamed_validation_folder_are_still_errors(tmp_path):
    with pytest.raises(ValueError, match="left the training set empty"):
        _block(IndexSplitter(range(10))).datasets(_items(10))
    for split in ("train", "valid"):
        (tmp_path / split / "cat").mkdir(parents=True)
        (tmp_path / split / "cat" / "1.txt").write_text("1")
    files = sorted(str(p) for p in tmp_path.rglob("*.txt"))
    with pytest.raises(ValueError, match=r"no item is under a folder named 'validation' .*\['train', 'valid'\]"):
        GrandparentSplitter(valid_name="validation")(files)
