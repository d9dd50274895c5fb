"""Bad input gives clear errors: failing item, empty data, empty split, unknown label, mismatched shapes."""
from pathlib import Path

import pytest
import torch

from tests.kernel.data.helpers import make_img
from torchloom import (
    Categorize,
    CategoryBlock,
    DataBlock,
    DataLoader,
    Datasets,
    GrandparentSplitter,
    ItemGetter,
    TfmdLists,
    Transform,
    TransformBlock,
    get_files,
    parent_label,
)
from torchloom._transform import TransformError
from torchloom.data._dataloader import CollateError
from torchloom.data._transforms import LabelNotInVocabError


def read_num(p):
    return torch.tensor([float(Path(p).read_text())])


def test_failing_item_names_index_path_and_transform(tmp_path):
    good, bad = tmp_path / "a.txt", tmp_path / "b.txt"
    good.write_text("1")
    bad.write_text("not a number")
    tl = TfmdLists([good, bad], [Transform(read_num)], do_setup=False)
    with pytest.raises(TransformError) as ei:
        tl[1]
    msg = str(ei.value)
    assert "item 1" in msg and str(bad) in msg and "'read_num'" in msg and "ValueError" in msg
    assert isinstance(ei.value.__cause__, ValueError)  # the original exception is chained
    assert tl[0].item() == 1.0


def test_failing_item_in_subset_names_full_index_and_propagates_from_workers(tmp_path):
    files = []
    for i in range(6):
        f = tmp_path / f"{i}.txt"
        f.write_text("x" if i == 4 else str(i))
        files.append(f)
    tl = TfmdLists(files, [Transform(read_num)], splits=[[0, 1, 2], [3, 4, 5]], do_setup=False)
    with pytest.raises(TransformError, match=r"item 1 \(index 4 in the full items\)"):
        tl.valid[1]
    for nw in (0, 2):
        dl = DataLoader(Datasets(files, [[Transform(read_num)]], splits=[[0, 1, 2], [3, 4, 5]]).valid, bs=3,
                        num_workers=nw)
        with pytest.raises(TransformError, match=r"index 4 in the full items.*4\.txt.*read_num"):
            list(dl)


def test_empty_dataset_errors():
    with pytest.raises(ValueError, match="no items"):
        Datasets([], [[Transform(lambda x: x)]])
    db = DataBlock(blocks=(TransformBlock, CategoryBlock), get_items=lambda src: [])
    with pytest.raises(ValueError, match="found no items in 'somewhere'"):
        db.dataloaders("somewhere")
    with pytest.raises(ValueError, match="empty"):
        DataLoader([], bs=4).one_batch()


def test_split_leaving_a_side_empty(folder_tree):
    db = DataBlock(blocks=(TransformBlock(type_tfms=read_num), CategoryBlock),
                   get_items=lambda p: get_files(p, extensions=".txt"), get_y=parent_label,
                   splitter=GrandparentSplitter(valid_name="validation"))
    with pytest.raises(ValueError, match="GrandparentSplitter left the validation set empty"):
        db.datasets(folder_tree)
    db2 = DataBlock(blocks=(TransformBlock(type_tfms=read_num), CategoryBlock),
                    get_items=lambda p: get_files(p, extensions=".txt"), get_y=parent_label,
                    splitter=GrandparentSplitter(train_name="training"))
    with pytest.raises(ValueError, match="left the training set empty"):
        db2.datasets(folder_tree)
    with pytest.raises(ValueError, match="training split is empty"):
        TfmdLists([1, 2], [Transform(lambda x: x)], splits=[[], [0, 1]])


def test_label_not_in_vocab_names_label_and_shows_vocab():
    items = [(0, "cat"), (1, "dog"), (2, "eel")]
    ds = Datasets(items, [[ItemGetter(0)], [ItemGetter(1), Categorize()]], splits=[[0, 1], [2]])
    with pytest.raises(TransformError) as ei:
        ds.valid[0]
    msg = str(ei.value)
    assert "label 'eel' was not included in the training data" in msg and "['cat', 'dog']" in msg
    assert "item 0 (index 2 in the full items)" in msg
    assert isinstance(ei.value.__cause__, LabelNotInVocabError)
    assert isinstance(ei.value.__cause__, KeyError)
    with pytest.raises(LabelNotInVocabError, match="'fox'.*2 labels"):
        Categorize(vocab=["cat", "dog"])("fox")


def test_mismatched_batch_shapes_name_dataset_indices():
    class Sizes:
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return make_img(i, size=5 if i == 2 else 4), i

    with pytest.raises(CollateError, match=r"shape \(3, 5, 5\) at item\(s\) 2.*shape \(3, 4, 4\)|"
                                           r"shape \(3, 4, 4\) at item\(s\) 0, 1, 3.*shape \(3, 5, 5\) at item\(s\) 2"):
        DataLoader(Sizes(), bs=4).one_batch()


def test_setup_failure_is_raised_not_swallowed():
    class BadSetup(Transform):
        def setups(self, items):
            return items.no_such_attribute

    with pytest.raises(AttributeError, match="setup of transform 'BadSetup' failed.*no_such_attribute"):
        Datasets([1, 2], [[BadSetup()]])


def test_wrapped_errors_keep_the_builtin_type_also_from_workers(tmp_path):
    missing = [tmp_path / "gone.txt"]
    tl = TfmdLists(missing, [Transform(read_num)], do_setup=False)
    with pytest.raises(FileNotFoundError, match="item 0.*gone.txt.*read_num"):
        tl[0]
    ds = Datasets([(0, "cat"), (1, "dog")], [[ItemGetter(0)], [ItemGetter(1), Categorize()]], splits=[[0], [1]])
    with pytest.raises(KeyError, match="'dog' was not included"):
        ds.valid[0]
    dl = DataLoader(Datasets(missing * 2, [[Transform(read_num)]]), bs=2, num_workers=1)
    with pytest.raises(FileNotFoundError, match="gone.txt") as ei:
        next(iter(dl))
    assert isinstance(ei.value, TransformError)
