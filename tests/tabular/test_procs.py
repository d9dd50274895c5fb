"""Each proc learns its state from the training rows only and applies it unchanged elsewhere."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from torchloom_tabular import Categorify, FillMissing, Normalize, TabularPandas, cont_cat_split

TRAIN, VALID = list(range(150)), list(range(150, 200))


def test_categorify_train_only_and_na_for_missing_and_unseen(small_df):
    df = small_df.copy()
    df.loc[160, "color"] = "purple"  # only in a validation row
    to = TabularPandas(df, [Categorify], cat_names=["color"], cont_names=["x"], y_names="y", splits=(TRAIN, VALID))
    assert to.classes["color"] == ["#na#", "blue", "green", "red"]  # sorted, no 'purple'
    codes = to.items["color"]
    assert codes[160] == 0 and codes[5] == 0  # unseen and missing -> #na#
    assert codes[0] == to.classes["color"].index(df.loc[0, "color"])


def test_categorify_keeps_ordered_categories(small_df):
    to = TabularPandas(small_df, [Categorify], cat_names=["size"], cont_names=["z"], y_names="y",
                       splits=(TRAIN, VALID))
    assert to.classes["size"] == ["#na#", "S", "M", "L"]
    assert list(to.decode(to.cats[:5], None)["size"]) == list(small_df["size"][:5].astype(str))


def test_categorify_accepts_arrow_or_string_dtypes(small_df):
    df = small_df.copy()
    df["color"] = df["color"].astype("string")
    to = TabularPandas(df, [Categorify], cat_names=["color"], cont_names=["x"], y_names="y", splits=(TRAIN, VALID))
    assert to.classes["color"] == ["#na#", "blue", "green", "red"]
    df["color"] = small_df["color"].astype("category")  # unordered pandas category: its categories are kept
    to2 = TabularPandas(df, [Categorify], cat_names=["color"], cont_names=["x"], y_names="y", splits=(TRAIN, VALID))
    assert to2.classes == to.classes and (to2.items["color"] == to.items["color"]).all()


def test_categorify_arrow_strings(small_df):
    pytest.importorskip("pyarrow")
    df = small_df.copy()
    df["color"] = df["color"].astype("string[pyarrow]")
    to = TabularPandas(df, [Categorify], cat_names=["color"], cont_names=["x"], y_names="y", splits=(TRAIN, VALID))
    assert to.classes["color"] == ["#na#", "blue", "green", "red"] and to.items["color"][5] == 0


@pytest.mark.parametrize("strategy", ["median", "mode", "constant"])
def test_fill_missing_uses_training_rows_and_adds_indicator(small_df, strategy):
    df = small_df.copy()
    df.loc[VALID, "x"] = df.loc[VALID, "x"] + 1000  # valid rows must not move the statistic
    fm = FillMissing(fill_strategy=strategy, fill_vals={"x": -1.0})
    to = TabularPandas(df, [fm, Categorify], cat_names=["color"], cont_names=["x", "z"], y_names="y",
                       splits=(TRAIN, VALID))
    train_x = df.loc[TRAIN, "x"]
    expected = {"median": train_x.median(), "mode": train_x.mode().iloc[0], "constant": -1.0}[strategy]
    assert fm.na_dict["x"] == pytest.approx(expected)
    assert fm.na_cols == ["x"]  # z had no missing value: no indicator
    assert "x_na" in to.cat_names and "z_na" not in to.cat_names
    assert to.items.loc[3, "x"] == pytest.approx(expected)
    assert to.classes["x_na"] == ["#na#", False, True]
    assert bool(to.decode(to.cats[3:4], None)["x_na"].iloc[0]) is True


def test_normalize_uses_training_statistics(small_df):
    df = small_df.copy()
    df.loc[VALID, "z"] = 1e6
    to = TabularPandas(df, [FillMissing, Normalize], cont_names=["z"], cat_names=[], y_names="y",
                       splits=(TRAIN, VALID))
    norm = to.procs[-1]
    assert norm.means["z"] == pytest.approx(df.loc[TRAIN, "z"].mean())
    assert norm.stds["z"] == pytest.approx(df.loc[TRAIN, "z"].std(ddof=0), rel=1e-5)
    train_vals = to.conts[TRAIN, to.cont_names.index("z")]
    assert abs(float(train_vals.mean())) < 1e-5 and float(to.conts[VALID[0], 0]) > 1000
    back = to.decode(None, to.conts[:4])["z"].to_numpy()
    np.testing.assert_allclose(back, df["z"][:4].to_numpy(), rtol=1e-5)


def test_new_rows_processed_like_training(small_df):
    to = TabularPandas(small_df, [Categorify, FillMissing, Normalize], cat_names=["color", "size"],
                       cont_names=["x", "z"], y_names="y", splits=(TRAIN, VALID))
    new = pd.DataFrame({"color": ["blue", "never-seen"], "size": ["M", None], "x": [np.nan, 11.0],
                        "z": [5.0, 6.0]})
    t2 = to.new(new)
    assert t2.ys is None
    row = t2.decode(t2.cats, t2.conts)
    assert list(row["color"]) == ["blue", "#na#"] and list(row["size"]) == ["M", "#na#"]
    assert list(row["x_na"]) == [True, False]
    fill = to.procs[0].na_dict["x"]
    assert row["x"].iloc[0] == pytest.approx(fill, rel=1e-5)


def test_cont_cat_split():
    df = pd.DataFrame({"a": [1.5, 2.5, 3.5], "b": ["u", "v", "w"], "c": [1, 2, 3], "y": [0, 1, 0]})
    cont, cat = cont_cat_split(df, max_card=2, dep_var="y")
    assert cont == ["a", "c"] and cat == ["b"]
    assert cont_cat_split(df, max_card=20, dep_var="y") == (["a"], ["b", "c"])
