"""Real training on UCI Adult, predictions as decoded rows, export / load_learner round trip, importance."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torchloom_tabular import (
    Categorify,
    FillMissing,
    Normalize,
    TabularDataLoaders,
    TabularPandas,
    TabularSplit,
    tabular_learner,
)

import torchloom
from torchloom import accuracy, rmse

ADULT_CATS = ["workclass", "education", "marital-status", "occupation", "relationship", "race", "sex",
              "native-country"]
ADULT_CONTS = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]




@pytest.fixture(scope="module")
def adult_learner(adult):
    """Train on adult.data, validate on adult.test: 2 epochs of one-cycle (about 5 s)."""
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # module-scoped: set up before the per-test one-thread fixture applies
    torch.manual_seed(0)
    df, tr, te = adult.combined()
    df.loc[::97, "age"] = np.nan  # some missing numbers, so FillMissing adds an indicator column
    to = TabularPandas(df, [Categorify, FillMissing, Normalize], ADULT_CATS, ADULT_CONTS, "salary", splits=(tr, te))
    dls = to.dataloaders(bs=64, seed=0, device="cpu")
    learn = tabular_learner(dls, layers=[200, 100], metrics=accuracy, progress=False)
    learn.logger = lambda *a: None
    learn.fit_one_cycle(2, 1e-2)
    torch.set_num_threads(n_threads)
    return learn


def test_adult_accuracy(adult_learner):
    loss, acc = adult_learner.validate()
    assert acc >= 0.845, f"Adult test accuracy {acc:.4f} below 84.5 %"
    assert "age_na" in adult_learner.dls.cat_names


def test_batches_gather_columns_not_rows(adult_learner, monkeypatch):
    def per_row(self, i):
        raise AssertionError("a batch was built row by row")

    monkeypatch.setattr(TabularSplit, "__getitem__", per_row)
    dl = adult_learner.dls.train
    n = sum(len(b[0]) for b in dl)
    assert n == len(dl) * dl.bs  # drop_last on the shuffled training loader
    cats, conts, y = adult_learner.dls.valid.one_batch()
    assert cats.dtype == torch.long and conts.dtype == torch.float32 and y.shape == (64,)


def test_show_batch_and_results_are_decoded_frames(adult_learner, adult, capsys):
    df = adult_learner.dls.show_batch(max_n=5, show=False)
    assert isinstance(df, pd.DataFrame) and len(df) == 5
    assert set(df["salary"]) <= {"<=50K", ">50K"} and set(df["workclass"]) <= set(adult.train["workclass"]) | {"#na#"}
    res = adult_learner.show_results(max_n=4, show=False)
    assert list(res.columns[-2:]) == ["salary", "salary_pred"] and len(res) == 4
    capsys.readouterr()
    # shown, nothing returned: a notebook would otherwise show the table a second time
    assert adult_learner.dls.show_batch(max_n=5) is None
    assert adult_learner.show_results(max_n=4) is None
    out = capsys.readouterr().out
    assert out.count("salary_pred") == 1 and out.count("workclass") == 2


def test_predict_dict_series_and_unseen(adult_learner, adult):
    row = adult.test.iloc[3]
    dec, cls, probs = adult_learner.predict(row)
    assert dec["salary"] in ("<=50K", ">50K") and int(cls) in (0, 1)
    assert probs.shape == (2,) and float(probs.sum()) == pytest.approx(1.0, abs=1e-5)
    d = row.drop("salary").to_dict()
    assert int(adult_learner.predict(d)[1]) == int(cls)
    d.update({"workclass": "Astronaut", "age": None})  # unseen category, missing number
    dec2, _, probs2 = adult_learner.predict(d)
    assert dec2["workclass"] == "#na#" and bool(dec2["age_na"]) is True
    assert torch.isfinite(probs2).all()


def test_test_dl_matches_validation_predictions(adult_learner, adult):
    test = adult.test.head(300)
    p_test = adult_learner.get_preds(dl=adult_learner.dls.test_dl(test.drop(columns=["salary"])))[0]
    p_valid = adult_learner.get_preds()[0][:300]
    age_missing = np.arange(len(adult.train), len(adult.train) + 300) % 97 == 0  # rows changed by the fixture
    torch.testing.assert_close(p_test[~age_missing], p_valid[~age_missing])


def test_export_round_trip_keeps_procs_state(adult_learner, adult, tmp_path):
    adult_learner.path = tmp_path
    f = adult_learner.export("adult_export")
    assert f.read_bytes()[:1] != b"\x80"  # not a pickle
    import json

    from safetensors import safe_open

    with safe_open(str(f), "pt") as h:
        saved = json.loads(h.metadata()["torchloom"])["meta"]["dls"]["tls"][0]
    assert [t["target"] for t in saved][1:4] == ["fill_missing", "categorify", "normalize_tab"]  # registered procs
    assert saved[2]["state"]["classes"]["sex"] == ["#na#", "Female", "Male"]  # state as JSON
    loaded = torchloom.load_learner(f)
    orig = {type(p).__name__: p.state_dict() for p in adult_learner.dls.procs}
    fs = loaded.dls.train_ds.tls[0].tfms.fs
    got = {type(p).__name__: p.state_dict() for p in fs if type(p).__name__ in orig}
    assert got == orig  # category maps, fill values and indicator columns, means and stds
    test = adult.test.iloc[:40]
    p_loaded = loaded.get_preds(dl=loaded.dls.test_dl(test))[0]
    p_orig = adult_learner.get_preds(dl=adult_learner.dls.test_dl(test))[0]
    torch.testing.assert_close(p_loaded, p_orig, rtol=1e-4, atol=1e-5)
    label, cls, probs = loaded.predict(test.iloc[0].to_dict())
    assert label == adult_learner.predict(test.iloc[0])[0]["salary"] and probs.shape == (2,)


def test_feature_importance(adult_learner):
    import matplotlib

    matplotlib.use("Agg")
    fi = adult_learner.feature_importance(plot=True)
    assert set(fi["feature"]) == set(ADULT_CATS) | set(ADULT_CONTS)
    assert fi["importance"].iloc[0] > 0.01  # shuffling the top column hurts the loss
    assert fi["importance"].is_monotonic_decreasing and "accuracy_drop" in fi.columns


def test_regression_beats_the_mean(adult):
    torch.manual_seed(0)
    df = adult.train.sample(8000, random_state=0).reset_index(drop=True)
    dls = TabularDataLoaders.from_df(df, cat_names=["occupation", "marital-status", "relationship", "sex"],
                                     cont_names=["education-num", "hours-per-week"], y_names="age", bs=64, seed=0,
                                     device="cpu")
    assert dls.tabular.y_kind == "regression"
    learn = tabular_learner(dls, y_range=(15, 95), metrics=rmse, progress=False)
    learn.logger = lambda *a: None
    learn.fit_one_cycle(3, 1e-2)
    valid_rmse = learn.validate()[1]
    baseline = float(df["age"].iloc[dls.tabular.splits[1]].std(ddof=0))
    assert valid_rmse < 0.9 * baseline
    dec, value, _ = learn.predict(df.iloc[0])
    assert 15 <= float(value) <= 95 and dec["age"] == pytest.approx(float(value))


def test_tabular_load_learner_restores_the_table_api(adult_learner, adult, tmp_path):
    from torchloom_tabular import TabularLearner, load_learner

    adult_learner.path = tmp_path
    f = adult_learner.export("for_tabular_load")
    loaded = load_learner(f)
    assert isinstance(loaded, TabularLearner) and loaded.dls.cat_names == adult_learner.dls.cat_names
    row = adult.test.iloc[7]
    dec, cls, probs = loaded.predict(row)
    dec0, cls0, probs0 = adult_learner.predict(row)
    assert dec.equals(dec0) and int(cls) == int(cls0)
    torch.testing.assert_close(probs, probs0)
    test = adult.test.head(500)
    torch.testing.assert_close(loaded.get_preds(dl=loaded.dls.test_dl(test))[0],
                               adult_learner.get_preds(dl=adult_learner.dls.test_dl(test))[0])
