"""DataBlock, blocks, splitters and getters."""
from pathlib import Path

import pytest
import torch

from torchloom import (
    CategoryBlock,
    ColReader,
    ColSplitter,
    DataBlock,
    FuncSplitter,
    GrandparentSplitter,
    IndexSplitter,
    MultiCategoryBlock,
    RandomSplitter,
    RegexLabeller,
    RegressionBlock,
    TensorBase,
    TensorCategory,
    TensorMultiCategory,
    TransformBlock,
    get_files,
    get_image_files,
    parent_label,
)
from torchloom.data._splitters import EndSplitter, MaskSplitter


def read_num(p) -> TensorBase:
    return TensorBase(torch.full((2,), float(Path(p).read_text())))


def folder_block(**kw):
    kw.setdefault("splitter", GrandparentSplitter())
    kw.setdefault("get_items", lambda p: get_files(p, extensions=".txt"))
    return DataBlock(blocks=(TransformBlock(type_tfms=read_num), CategoryBlock), get_y=parent_label, **kw)


# --- getters -----------------------------------------------------------------------------------------------
def test_get_files_extensions_recurse_folders_hidden(folder_tree):
    allf = get_files(folder_tree)
    assert len(allf) == 19 and all(not p.name.startswith(".") for p in allf)  # 18 txt + notes.md
    txt = get_files(folder_tree, extensions=".txt")
    assert len(txt) == 18 and txt == sorted(txt)
    assert len(get_files(folder_tree, extensions=["TXT"], folders=["valid"])) == 6
    assert [p.name for p in get_files(folder_tree, recurse=False)] == ["notes.md"]
    assert get_image_files(folder_tree) == []
    with pytest.raises(FileNotFoundError, match="does not exist"):
        get_files(folder_tree / "missing")


def test_labellers():
    assert parent_label(Path("train/cat/1.txt")) == "cat"
    rl = RegexLabeller(r"/([a-z]+)_\d+\.jpg$")
    assert rl(Path("/data/great_pyrenees/beagle_12.jpg")) == "beagle"
    with pytest.raises(ValueError, match="does not match"):
        rl("nope.png")
    assert RegexLabeller(r"^(\w)", match=True)("xyz") == "x"


def test_col_reader_duck_typed_rows():
    row = {"fname": "a.jpg", "labels": "x y"}
    assert ColReader("fname", pref="imgs/")(row) == "imgs/a.jpg"
    assert ColReader("labels", label_delim=" ")(row) == ["x", "y"]
    assert ColReader(["fname", "labels"])(row) == ["a.jpg", "x y"]
    with pytest.raises(KeyError, match="'nope' not found"):
        ColReader("nope")(row)


def test_col_reader_and_splitter_on_dataframe():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": ["a", "b", "a", "b"], "is_valid": [0, 0, 0, 1]})
    db = DataBlock(blocks=(TransformBlock(type_tfms=lambda v: torch.tensor([v])), CategoryBlock),
                   get_x=ColReader("x"), get_y=ColReader("y"), splitter=ColSplitter())
    dls = db.dataloaders(df, bs=2)
    assert len(dls.train_ds) == 3 and len(dls.valid_ds) == 1 and dls.vocab == ["a", "b"]
    x, y = dls.valid.one_batch()
    assert x.tolist() == [[4.0]] and y.tolist() == [1]
    with pytest.raises(KeyError, match="not found"):
        ColSplitter("missing")(df)


# --- splitters ---------------------------------------------------------------------------------------------
def test_random_splitter_seeded_and_pct():
    items = list(range(100))
    t1, v1 = RandomSplitter(0.2, seed=42)(items)
    t2, v2 = RandomSplitter(0.2, seed=42)(items)
    assert (t1, v1) == (t2, v2) and len(v1) == 20 and sorted(t1 + v1) == items
    assert RandomSplitter(0.2, seed=1)(items)[1] != v1
    with pytest.raises(ValueError, match="valid_pct"):
        RandomSplitter(1.5)


def test_index_end_mask_func_grandparent_splitters(folder_tree):
    assert IndexSplitter([1, 3])(list("abcd")) == ([0, 2], [1, 3])
    with pytest.raises(IndexError):
        IndexSplitter([7])(list("abc"))
    assert EndSplitter(0.25)(list("abcd")) == ([0, 1, 2], [3])
    assert MaskSplitter([0, 1, 0])(list("abc")) == ([0, 2], [1])
    assert FuncSplitter(lambda o: o > 1)([0, 1, 2, 3]) == ([0, 1], [2, 3])
    files = get_files(folder_tree, extensions=".txt")
    tr, va = GrandparentSplitter()(files)
    assert len(tr) == 12 and len(va) == 6 and all("valid" in str(files[i]) for i in va)


# --- DataBlock ---------------------------------------------------------------------------------------------
def test_datablock_folder_classification(folder_tree):
    db = folder_block(get_items=lambda p: get_files(p, extensions=".txt"))
    dls = db.dataloaders(folder_tree, bs=4)
    assert dls.vocab == ["cat", "dog"] and dls.c == 2
    assert len(dls.train_ds) == 12 and len(dls.valid_ds) == 6
    x, y = dls.valid.one_batch()
    assert type(x) is TensorBase and x.shape == (4, 2) and type(y) is TensorCategory
    assert dls.valid.decode_batch((x, y), max_n=1)[0][1] == "cat"


def test_datablock_item_and_batch_tfms_dedup_by_class(folder_tree):
    from torchloom import Transform

    class Scale(Transform):
        def __init__(self, k=1.0):
            super().__init__()
            self.k = k

        def encodes(self, x: TensorBase):
            return x * self.k

    blk = TransformBlock(type_tfms=read_num, batch_tfms=Scale(2.0))
    db = DataBlock(blocks=(blk, CategoryBlock), get_items=lambda p: get_files(p, extensions=".txt"),
                   get_y=parent_label, splitter=GrandparentSplitter(), batch_tfms=Scale(10.0))
    assert len(db.batch_tfms) == 1 and db.batch_tfms[0].k == 10.0  # the user's Scale replaces the block's
    x, _ = db.dataloaders(folder_tree, bs=6).valid.one_batch()
    assert x[1, 0].item() == 10.0


def test_multicategory_block():
    items = [("a b", 0), ("b", 1), ("c a", 2), ("a", 3)]
    db = DataBlock(blocks=(TransformBlock(), MultiCategoryBlock), get_x=lambda o: torch.tensor([o[1]]),
                   get_y=lambda o: o[0].split(" "), splitter=IndexSplitter([3]))
    dls = db.dataloaders(items, bs=2, shuffle=False)
    assert dls.vocab == ["a", "b", "c"] and dls.c == 3
    x, y = dls.train.one_batch()
    assert type(y) is TensorMultiCategory and y.tolist() == [[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    assert dls.train.decode_batch((x, y))[0][1] == ["a", "b"]


def test_encoded_multicategory_and_regression_blocks():
    items = [([1, 0], 0.5), ([0, 1], 1.5), ([1, 1], 2.5)]
    db = DataBlock(blocks=(TransformBlock(), MultiCategoryBlock(encoded=True, vocab=["p", "q"]), RegressionBlock()),
                   n_inp=1, get_x=lambda o: torch.tensor([0.0]), get_y=[lambda o: o[0], lambda o: o[1]],
                   splitter=IndexSplitter([2]))
    dls = db.dataloaders(items, bs=2, shuffle=False)
    _, y1, y2 = dls.train.one_batch()
    assert y1.tolist() == [[1.0, 0.0], [0.0, 1.0]] and y2.dtype == torch.float32 and y2.tolist() == [0.5, 1.5]
    dec = dls.train.decode_batch(dls.train.one_batch())
    assert dec[0][1] == ["p"] and abs(float(dec[1][2]) - 1.5) < 1e-6
    with pytest.raises(ValueError, match="vocab"):
        MultiCategoryBlock(encoded=True)


def test_category_block_with_fixed_vocab(folder_tree):
    db = DataBlock(blocks=(TransformBlock(type_tfms=read_num), CategoryBlock(vocab=["cat", "dog", "eel"])),
                   get_items=lambda p: get_files(p, extensions=".txt"), get_y=parent_label,
                   splitter=GrandparentSplitter())
    dls = db.dataloaders(folder_tree, bs=2)
    assert dls.c == 3 and dls.vocab == ["cat", "dog", "eel"]


def test_getter_count_mismatch_is_explained():
    with pytest.raises(ValueError, match="get_y has 2 function"):
        DataBlock(blocks=(TransformBlock, CategoryBlock), get_y=[str, str])
    with pytest.raises(TypeError, match="TransformBlock"):
        DataBlock(blocks=(5, CategoryBlock))
    with pytest.raises(TypeError):
        DataBlock(blocks=(TransformBlock, CategoryBlock), get_z=str)


def test_summary_prints_steps(folder_tree, capsys):
    db = folder_block(get_items=lambda p: get_files(p, extensions=".txt"))
    db.summary(folder_tree, bs=2)
    out = capsys.readouterr().out
    assert "Found 18 items" in out and "applying parent_label gives" in out
    assert "applying Categorize" in out and "Batch" in out and "(2, 2)" in out


def test_summary_names_failing_step(folder_tree, capsys):
    from torchloom._transform import TransformError

    def broken(p):
        raise RuntimeError("cannot read")

    db = DataBlock(blocks=(TransformBlock(type_tfms=broken), CategoryBlock),
                   get_items=lambda p: get_files(p, extensions=".txt"), get_y=parent_label,
                   splitter=GrandparentSplitter())
    with pytest.raises(TransformError, match="transform 'broken' of pipeline 0 failed"):
        db.summary(folder_tree)
    assert "applying broken failed: RuntimeError: cannot read" in capsys.readouterr().out
