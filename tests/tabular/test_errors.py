"""Bad input gets an error naming the culprit; nothing is silently dropped."""
from __future__ import annotations

import numpy as np
import pytest
from torchloom_tabular import ColumnNotFoundError, TabularDataLoaders, TabularPandas


def test_unknown_column_lists_columns(small_df):
    with pytest.raises(ColumnNotFoundError, match=r"cont_names.*'nope'.*color, size, x, z, y"):
        TabularPandas(small_df, cat_names=["color"], cont_names=["nope"], y_names="y")
    with pytest.raises(ColumnNotFoundError, match="cat_names"):
        TabularDataLoaders.from_df(small_df, cat_names=["colour"], cont_names=["x"], y_names="y")


def test_text_in_continuous_column_names_column_and_value(small_df):
    df = small_df.copy()
    df["x"] = df["x"].astype(object)
    df.loc[42, "x"] = "twelve"
    with pytest.raises(ValueError, match=r"continuous column 'x'.*'twelve'.*row 42"):
        TabularPandas(df, cat_names=["color"], cont_names=["x"], y_names="y")


def test_nan_in_target(small_df):
    df = small_df.copy()
    df.loc[[9, 11], "y"] = np.nan
    with pytest.raises(ValueError, match=r"target column 'y' has 2 missing value\(s\).*\[9, 11\]"):
        TabularPandas(df, cat_names=["color"], cont_names=["x"], y_names="y")


def test_all_missing_column(small_df):
    df = small_df.copy()
    df["empty"] = np.nan
    with pytest.raises(ValueError, match=r"\['empty'\] have no value in the training rows"):
        TabularPandas(df, cat_names=["color"], cont_names=["x", "empty"], y_names="y")


def test_empty_dataframe(small_df):
    with pytest.raises(ValueError, match="empty"):
        TabularPandas(small_df.iloc[:0], cat_names=["color"], cont_names=["x"], y_names="y")
    with pytest.raises(ValueError, match="empty"):
        TabularDataLoaders.from_df(small_df.iloc[:0], cat_names=["color"], y_names="y")


def test_test_dl_missing_column_and_bad_value(small_df):
    dls = TabularDataLoaders.from_df(small_df, cat_names=["color", "size"], cont_names=["x", "z"], y_names="y",
                                     bs=16, seed=0)
    with pytest.raises(ColumnNotFoundError, match="'z'"):
        dls.test_dl(small_df.drop(columns=["z"]))
    bad = small_df.head(3).copy()
    bad["z"] = ["1", "2", "n/a"]
    with pytest.raises(ValueError, match="'z'.*'n/a'"):
        dls.test_dl(bad)


def test_regression_inferred_and_overridable(small_df):
    from torchloom import CategoryBlock, RegressionBlock

    to = TabularPandas(small_df, cat_names=["color"], cont_names=["x"], y_names="z")
    assert to.y_kind == "regression" and to.ys.shape == (200, 1)
    assert TabularPandas(small_df, cat_names=["color"], cont_names=["x"], y_names="y").y_kind == "category"
    for blk in ("category", CategoryBlock()):
        to = TabularPandas(small_df, cat_names=["color"], cont_names=["x"], y_names="z", y_block=blk)
        assert to.y_kind == "category" and to.vocab == sorted(small_df["z"].iloc[to.splits[0]].unique().tolist())
    to = TabularPandas(small_df.assign(k=1), cat_names=["color"], cont_names=["x"], y_names="k",
                       y_block=RegressionBlock())
    assert to.y_kind == "regression"
    df = small_df.assign(t=["a"] * 200)
    with pytest.raises(ValueError, match="regression target column 't'.*'a'"):
        TabularPandas(df, cat_names=["color"], cont_names=["x"], y_names="t", y_block="regression")


def test_from_csv(small_df, tmp_path):
    f = tmp_path / "t.csv"
    small_df.to_csv(f, index=False)
    dls = TabularDataLoaders.from_csv(f, cat_names=["color", "size"], cont_names=["x", "z"], y_names="y", bs=32,
                                      valid_idx=range(150, 200))
    assert len(dls.valid.dataset) == 50 and dls.vocab == ["hi", "lo"]
    assert dls.cat_names == ["color", "size", "x_na"]
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        TabularDataLoaders.from_csv(tmp_path / "nope.csv", y_names="y")
