"""Unknown names: the error lists what is installed, suggests close names, says what to install."""
from __future__ import annotations

import importlib.metadata

import pytest

from tests.kernel.fakedist import Site
from torchloom._plugins import PluginError, UnknownNameError, get_registry


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def test_unknown_name_lists_installed_and_suggests(site: Site, select) -> None:
    site.add("tl-good")
    select()
    reg = get_registry()
    with pytest.raises(UnknownNameError) as err:
        reg.entry("callback", "sparkel")
    msg = str(err.value)
    assert isinstance(err.value, KeyError) and isinstance(err.value, PluginError)
    assert msg.startswith("unknown callback 'sparkel'. Did you mean 'sparkle'?")
    assert "Installed callbacks: cast_to_tensor, checkpoint," in msg and "sparkle" in msg.split("Installed")[1]


def test_unknown_name_of_the_wrong_kind_says_which_kind(site: Site, select) -> None:
    site.add("tl-good")
    select()
    with pytest.raises(UnknownNameError, match="'tiny' is registered as a dataset, not a callback"):
        get_registry().entry("callback", "tiny")


def test_unknown_kind_is_a_clear_value_error(site: Site, select) -> None:
    select()
    with pytest.raises(ValueError, match="unknown kind 'callbacks'; kinds are callback, transform"):
        get_registry().names("callbacks")


def test_first_party_name_says_which_distribution(site: Site, select) -> None:
    select()  # only the (empty) fake site is selected: installed first-party plugins are not loaded
    reg = get_registry()
    with pytest.raises(UnknownNameError) as err:
        reg.entry("callback", "mixup")
    if _installed("torchloom-mixup"):
        assert "'mixup' is provided by torchloom-mixup, which is installed but not loaded (not listed in " \
               "TORCHLOOM_PLUGINS" in str(err.value)
    else:
        assert "'mixup' is provided by the distribution torchloom-mixup: pip install torchloom-mixup." in str(err.value)


def test_first_party_name_suggested_for_a_typo(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHLOOM_PLUGINS", "")  # only the kernel
    with pytest.raises(UnknownNameError) as err:
        get_registry().entry("dataset", "fashion-mnst")
    if _installed("torchloom-vision"):
        expected = "It is provided by torchloom-vision, which is installed but not loaded (not listed in"
    else:
        expected = "It is provided by the distribution torchloom-vision: pip install torchloom-vision."
    assert str(err.value).startswith("unknown dataset 'fashion-mnst'. Did you mean 'fashion-mnist'? " + expected)


def test_quarantined_first_party_plugin_is_named_with_its_cause(site: Site) -> None:
    # a broken "torchloom-mixup" shadows any real one (the fake site comes first on the path)
    site.add("torchloom-mixup", "import torchloom\nraise RuntimeError('needs a newer torch')\n", version="9.9")
    out = site.run("""
        import warnings
        warnings.simplefilter("ignore")
        from torchloom._plugins import get_registry
        try:
            get_registry().entry("callback", "mixup")
        except KeyError as e:
            print(e)
    """)
    assert out.returncode == 0, out.stderr
    assert "'mixup' is provided by torchloom-mixup 9.9, which is installed but was quarantined: import failed: " \
           "RuntimeError: needs a newer torch" in out.stdout


def test_load_dataset_unknown_name(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchloom

    monkeypatch.setenv("TORCHLOOM_PLUGINS", "")
    with pytest.raises(UnknownNameError, match="unknown dataset 'fashion-mnist'.*torchloom-vision"):
        torchloom.load_dataset("fashion-mnist")


def test_unknown_name_mentions_quarantined_and_skipped_plugins(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.add("tl-a")
    site.add("tl-off", prefix="off_")
    site.add("tl-broken", "raise ImportError('missing libfoo')\n")
    monkeypatch.setenv("TORCHLOOM_PLUGINS", "tl-a,tl-broken")
    with pytest.warns(UserWarning, match="missing libfoo"):
        reg = get_registry()
    with pytest.raises(UnknownNameError) as err:
        reg.entry("callback", "glitter")
    msg = str(err.value)
    assert "(plugin 'tl-broken' from tl-broken 1.0 is quarantined: import failed: ImportError: missing libfoo" in msg
    assert "installed but not loaded: " in msg and "tl-off" in msg.split("installed but not loaded: ")[1]
