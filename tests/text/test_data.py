"""Numericalize (vocab rules), the LM stream loader and the length-sorted, padded classification loader."""
from __future__ import annotations

from collections import Counter

import pytest
import torch
from torchloom_text import (
    LMDataLoader,
    LMTensorText,
    Numericalize,
    TensorText,
    TextDataLoaders,
    make_vocab,
    pad_input_chunk,
)

from torchloom import Datasets


def test_make_vocab_specials_first_min_freq_max_vocab_multiple_of_8():
    c = Counter({"the": 10, "movie": 5, "rare": 2, "xxbos": 7})
    v = make_vocab(c, min_freq=3)
    assert v[:9] == ["xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxrep", "xxwrep", "xxup", "xxmaj"]
    assert v[9:11] == ["the", "movie"] and "rare" not in v
    assert len(v) % 8 == 0 and set(v[11:]) == {"xxfake"}
    assert [w for w in make_vocab(c, min_freq=1, max_vocab=10) if w != "xxfake"][9:] == ["the"]


def test_numericalize_vocab_from_train_only_unknown_to_xxunk_and_decode():
    items = [["xxbos", "good", "good", "good"], ["xxbos", "bad", "bad", "bad"], ["xxbos", "onlyvalid"] * 3]
    dsets = Datasets(items, tfms=[[Numericalize(min_freq=2)]], splits=[[0, 1], [2]])
    num = dsets.tls[0].tfms.fs[0]
    assert "good" in num.vocab and "bad" in num.vocab and "onlyvalid" not in num.vocab
    x = dsets.valid[0][0]
    assert isinstance(x, TensorText)
    assert x.tolist() == [num.vocab.index("xxbos"), 0] * 3
    assert num.decode(num(["xxbos", "good", "never-seen"])) == "xxbos good xxunk"
    with pytest.raises(ValueError, match="must start with 'xxunk'"):
        Numericalize(vocab=["a", "b"])


def _lm_dls(docs, bs, seq_len, shuffle=False, seed=None):
    ds = Datasets([d for d in docs], tfms=[[Numericalize(vocab=["xxunk"] + [str(i) for i in range(1, 2000)])]])
    return LMDataLoader(ds, bs=bs, seq_len=seq_len, shuffle=shuffle, seed=seed)


def test_lm_loader_streams_are_contiguous_shifted_and_stateful():
    docs = [[str(i) for i in range(s, s + n)] for s, n in [(1, 30), (31, 45), (76, 20), (96, 57)]]
    dl = _lm_dls(docs, bs=3, seq_len=7)
    stream = torch.arange(1, 153)  # the documents concatenated in order (shuffle=False)
    bl = (len(stream) - 1) // 3
    batches = list(dl)
    assert len(batches) == len(dl) == -(-bl // 7)
    xs = torch.cat([b[0] for b in batches], dim=1)
    ys = torch.cat([b[1] for b in batches], dim=1)
    assert isinstance(batches[0][0], LMTensorText) and isinstance(batches[0][1], TensorText)
    for r in range(3):  # row r of each batch continues row r of the previous one
        assert xs[r].tolist() == stream[r * bl:(r + 1) * bl].tolist()
        assert ys[r].tolist() == stream[r * bl + 1:(r + 1) * bl + 1].tolist()
    assert batches[0][0].shape == (3, 7) and batches[-1][0].shape[1] == bl - 7 * (len(batches) - 1)


def test_lm_loader_reshuffles_documents_every_epoch_not_tokens():
    docs = [[str(i)] * 5 for i in range(1, 41)]
    dl = _lm_dls(docs, bs=2, seq_len=10, shuffle=True, seed=1)
    e1 = torch.cat([torch.cat([b[0] for b in dl], 1)], 0)
    e2 = torch.cat([torch.cat([b[0] for b in dl], 1)], 0)
    assert not torch.equal(e1, e2)
    for e in (e1, e2):
        flat = e.flatten().tolist()
        runs = [flat[i:i + 5] for i in range(0, len(flat) - 5, 5)]
        # tokens of a document stay together: the stream is made of whole runs of 5 equal ids (rows cut inside)
        assert sum(len(set(r)) == 1 for r in runs) >= len(runs) - 4


def test_lm_loader_too_small_corpus_is_a_clear_error():
    with pytest.raises(ValueError, match="too few for bs=64"):
        _lm_dls([["1", "2", "3"]], bs=64, seq_len=8)


def test_pad_input_chunk_pads_first_in_whole_chunks():
    a, b = torch.arange(2, 12), torch.arange(2, 5)
    out = pad_input_chunk([(a, 0), (b, 1)], pad_idx=1, seq_len=4)
    assert out[0][0].tolist() == a.tolist()
    # 7 pads: one whole chunk of 4 first, the remaining 3 after the text (fastai's Pad_Chunk)
    assert out[1][0].tolist() == [1, 1, 1, 1, 2, 3, 4, 1, 1, 1]
    back = pad_input_chunk([(a, 0), (b, 1)], pad_idx=1, seq_len=4, pad_first=False)
    assert back[1][0].tolist() == [2, 3, 4, 1, 1, 1, 1, 1, 1, 1]


def test_sorted_dl_valid_sorted_train_bucketed_and_padded(clas_dls):
    vdl = clas_dls.valid
    idxs = vdl.get_idxs()
    lens = [vdl.lengths[i] for i in idxs]
    assert lens == sorted(lens, reverse=True) and sorted(idxs) == list(range(len(vdl.dataset)))
    x, y = vdl.one_batch()
    assert x.shape[1] == max(lens[:16]) and (x[:, -1] != 1).sum() >= 1
    tdl = clas_dls.train
    order = tdl.get_idxs()
    batches = [order[i:i + tdl.bs] for i in range(0, len(order), tdl.bs)]
    blens = [[tdl.lengths[i] for i in b] for b in batches]
    assert all(bl == sorted(bl, reverse=True) for bl in blens)  # similar lengths together
    assert max(blens[0]) == max(max(b) for b in blens)  # longest batch first
    spreads = sum(max(b) - min(b) for b in blens) / len(blens)
    import random
    rnd = list(range(len(tdl.dataset)))
    random.Random(0).shuffle(rnd)
    rnd_spread = sum(max(tdl.lengths[i] for i in rnd[k:k + 16]) - min(tdl.lengths[i] for i in rnd[k:k + 16])
                     for k in range(0, len(rnd) - 16, 16)) / (len(rnd) // 16)
    assert spreads < rnd_spread / 3
    assert tdl.get_idxs() != order  # reshuffled on the next call with a new epoch only when seeded per epoch


def test_text_dataloaders_from_df_labels_vocab_and_show_batch(clas_dls, capsys):
    text_vocab, labels = clas_dls.vocab
    assert labels == ["fresh", "rotten"] and len(text_vocab) % 8 == 0 and clas_dls.c == 2
    df = clas_dls.show_batch(max_n=3, show=False)
    assert list(df.columns) == ["text", "category"] and len(df) == 3
    assert df["text"][0].startswith("xxbos") and set(df["category"]) <= {"fresh", "rotten"}
    capsys.readouterr()
    # shown, nothing returned: a notebook would otherwise show the table a second time
    assert clas_dls.show_batch(max_n=3) is None
    out = capsys.readouterr().out
    assert out.count("category") == 1 and out.count("xxbos") == 3


def test_unseen_label_and_empty_corpus_are_clear_errors(rt_small):
    import pandas as pd

    dls = TextDataLoaders.from_df(rt_small[:300], text_col="text", label_col="label", valid_pct=0.2, seed=0, bs=8,
                                  n_workers=1, device="cpu")
    with pytest.raises(KeyError, match="label 'meh' was not included in the training data"):
        dls.train_ds.tls[1].tfms(_item("meh"))
    with pytest.raises(ValueError, match="corpus is empty"):
        TextDataLoaders.from_df(pd.DataFrame({"text": [], "label": []}), text_col="text", label_col="label")
    with pytest.raises(KeyError, match=r"text column\(s\) \['review'\] not in the DataFrame"):
        TextDataLoaders.from_df(rt_small, text_col="review", label_col="label")


def _item(label):
    from torchloom_text import TextItem

    return TextItem(["xxbos"], label)


def test_from_folder_and_from_csv(tmp_path, rt_small):
    root = tmp_path / "reviews"
    for split, rows in (("train", rt_small[:200]), ("valid", rt_small[200:260])):
        for i, r in enumerate(rows.itertuples()):
            d = root / split / r.label
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{i}.txt").write_text(r.text, encoding="utf-8")
    dls = TextDataLoaders.from_folder(root, bs=8, n_workers=1, device="cpu", min_freq=1)
    assert len(dls.train_ds) == 200 and len(dls.valid_ds) == 60 and dls.vocab[1] == ["fresh", "rotten"]
    assert (tmp_path / "reviews_tok" / "stamp.json").exists()
    rt_small[:100].to_csv(tmp_path / "labels.csv", index=False)
    dls2 = TextDataLoaders.from_csv(tmp_path, text_col="text", label_col="label", bs=8, n_workers=1, device="cpu")
    assert len(dls2.train_ds) + len(dls2.valid_ds) == 100


def test_datablock_with_textblock_picks_the_loader(rt_small):
    from torchloom_text import LMDataLoader, SortedDL, TextBlock

    from torchloom import CategoryBlock, ColReader, DataBlock, RandomSplitter

    df = rt_small[:300]
    db = DataBlock(blocks=(TextBlock.from_df("text", seq_len=72), CategoryBlock), get_x=ColReader("text"),
                   get_y=ColReader("label"), splitter=RandomSplitter(0.2, seed=0))
    dls = TextDataLoaders.from_dblock(db, df, bs=16, device="cpu")
    assert isinstance(dls.train, SortedDL) and dls.vocab[1] == ["fresh", "rotten"]
    x, y = dls.one_batch()
    assert x.shape[0] == 16 and y.shape == (16,)
    lm = DataBlock(blocks=TextBlock.from_df("text", is_lm=True, seq_len=20), get_x=ColReader("text"),
                   splitter=RandomSplitter(0.1, seed=0))
    dls_lm = TextDataLoaders.from_dblock(lm, df, bs=8, device="cpu")
    assert isinstance(dls_lm.train, LMDataLoader) and dls_lm.one_batch()[0].shape == (8, 20)
