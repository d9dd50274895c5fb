"""Collaborative filtering on MovieLens: data, training to a stated RMSE, interpretation, recommend, export."""
from __future__ import annotations

import pandas as pd
import pytest
import torch
from torchloom_collab import (
    CollabDataLoaders,
    EmbeddingDotBias,
    EmbeddingNN,
    UnknownUserError,
    collab_learner,
)

import torchloom
from torchloom import rmse


def test_movielens_dataset(ratings):
    assert len(ratings) == 100004
    assert {"userId", "movieId", "title", "rating"} <= set(ratings.columns)
    assert ratings["userId"].nunique() == 671 and ratings["movieId"].nunique() == 9066
    assert ratings["rating"].between(0.5, 5).all()


def test_dataloaders_shapes_and_classes(ratings):
    dls = CollabDataLoaders.from_df(ratings[["userId", "movieId", "rating"]], bs=128, seed=0, device="cpu")
    x, y = dls.one_batch()
    assert x.shape == (128, 2) and x.dtype == torch.long and y.shape == (128, 1)
    assert dls.user_name == "userId" and dls.item_name == "movieId" and dls.rating_name == "rating"
    assert dls.classes["userId"][0] == "#na#" and len(dls.classes["userId"]) <= 672
    shown = dls.show_batch(max_n=3, show=False)
    assert list(shown.columns) == ["userId", "movieId", "rating"] and shown["rating"].between(0.5, 5).all()


def test_dot_product_reaches_rmse(dot_learner):
    valid_rmse = dot_learner.validate()[1]
    assert valid_rmse < 0.90, f"validation RMSE {valid_rmse:.4f}"


def test_interpretation_by_title(dot_learner):
    titles = ["Shawshank Redemption, The", "Godfather, The", "Battlefield Earth"]
    b = dot_learner.bias(titles)
    assert b.shape == (3,) and b[0] > b[2]  # a classic is rated above its factors' prediction more than a flop
    w = dot_learner.weight(titles)
    assert w.shape == (3, 50)
    pcs = dot_learner.pca(3)
    assert list(pcs.columns) == ["PC1", "PC2", "PC3"] and len(pcs) == len(dot_learner.dls.classes["title"]) - 1
    assert pcs["PC1"].var() >= pcs["PC2"].var() >= pcs["PC3"].var()


def test_recommend_unseen_items(dot_learner, ratings):
    rec = dot_learner.recommend(1, n=10)
    assert len(rec) == 10 and rec["predicted"].is_monotonic_decreasing
    seen = set(ratings.loc[ratings["userId"] == 1, "title"])
    assert not seen & set(rec["title"])
    assert rec["predicted"].between(0, 5.5).all()


def test_unknown_user_or_item_is_a_clear_error(dot_learner):
    with pytest.raises(UnknownUserError, match=r"user\(s\) \[999999\] not in the training ratings"):
        dot_learner.recommend(999999)
    with pytest.raises(UnknownUserError, match="No Such Movie"):
        dot_learner.bias(["No Such Movie"])


def test_export_round_trip(dot_learner, tmp_path):
    dot_learner.path = tmp_path
    f = dot_learner.export()
    loaded = torchloom.load_learner(f)
    got = loaded.dls.train_ds.tls[0].tfms.fs
    cat = next(t for t in got if type(t).__name__ == "Categorify")
    assert cat.classes == dot_learner.dls.classes
    rows = pd.DataFrame({"userId": [1, 2, 3], "title": ["Godfather, The", "Heat", "Toy Story"]})
    p1 = dot_learner.get_preds(dl=dot_learner.dls.test_dl(rows))[0]
    p2 = loaded.get_preds(dl=loaded.dls.test_dl(rows))[0]
    torch.testing.assert_close(p1, p2)
    value = loaded.predict({"userId": 2, "title": "Heat"})[0]
    assert float(value) == pytest.approx(float(p1[1]), rel=1e-5)
    from torchloom_tabular import load_learner

    row, pred, _ = load_learner(f).predict({"userId": 2, "title": "Heat"})  # the table API: a decoded row
    assert row["title"] == "Heat" and row["rating"] == pytest.approx(float(p1[1]), rel=1e-5)


def test_recommend_after_load_learner(dot_learner, ratings, tmp_path):
    from torchloom_collab import CollabLearner, load_learner

    dot_learner.path = tmp_path
    loaded = load_learner(dot_learner.export("rec"))
    assert isinstance(loaded, CollabLearner)
    # the export has no ratings: asked to skip seen items without a history, it says what to pass
    with pytest.raises(ValueError, match=r"pass seen=\[the items the user rated\] or exclude_seen=False"):
        loaded.recommend(1)
    seen = ratings.loc[ratings["userId"] == 1, "title"].tolist()
    pd.testing.assert_frame_equal(loaded.recommend(1, n=10, seen=seen), dot_learner.recommend(1, n=10),
                                  check_exact=False, rtol=1e-5)
    pd.testing.assert_frame_equal(loaded.recommend(1, n=5, exclude_seen=False),
                                  dot_learner.recommend(1, n=5, exclude_seen=False), check_exact=False, rtol=1e-5)
    torch.testing.assert_close(loaded.bias(["Heat"]), dot_learner.bias(["Heat"]))


def test_embedding_nn_trains(ratings):
    torch.manual_seed(0)
    sample = ratings.sample(20000, random_state=0)[["userId", "movieId", "rating"]]
    dls = CollabDataLoaders.from_df(sample, bs=128, seed=0, device="cpu")
    learn = collab_learner(dls, use_nn=True, layers=[64], y_range=(0, 5.5), metrics=rmse, progress=False)
    learn.logger = lambda *a: None
    assert isinstance(learn.model, EmbeddingNN)
    before = learn.validate()[1]
    learn.fit_one_cycle(2, 5e-3)
    assert learn.validate()[1] < min(before, 1.1)


def test_bad_ratings(ratings):
    bad = ratings[["userId", "movieId", "rating"]].head(50).copy()
    bad["rating"] = bad["rating"].astype(object)
    bad.loc[7, "rating"] = "five"
    with pytest.raises(ValueError, match=r"rating column 'rating'.*'five'.*row 7"):
        CollabDataLoaders.from_df(bad)
    with pytest.raises(ValueError, match="empty"):
        CollabDataLoaders.from_df(bad.iloc[:0])
    with pytest.raises(KeyError, match="item_name.*'movie'"):
        CollabDataLoaders.from_df(ratings.head(10), user_name="userId", item_name="movie", rating_name="rating")
    nan = ratings[["userId", "movieId", "rating"]].head(50).copy()
    nan.loc[3, "rating"] = float("nan")
    with pytest.raises(ValueError, match="target column 'rating' has 1 missing"):
        CollabDataLoaders.from_df(nan)


def test_model_from_scratch_shapes():
    m = EmbeddingDotBias(8, 5, 7, y_range=(0, 5))
    out = m(torch.tensor([[1, 2], [4, 6]]))
    assert out.shape == (2,) and ((out > 0) & (out < 5)).all()


def test_from_csv(ratings, tmp_path):
    f = tmp_path / "r.csv"
    ratings[["userId", "movieId", "rating"]].head(1000).to_csv(f, index=False)
    dls = CollabDataLoaders.from_csv(f, valid_pct=0.1, seed=0, bs=32, device="cpu")
    assert len(dls.train.dataset) == 900 and len(dls.valid.dataset) == 100
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        CollabDataLoaders.from_csv(tmp_path / "missing.csv")
