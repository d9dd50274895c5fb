"""Discovery is not activation: finding the plugin imports only its tiny ``plugin`` module."""
from __future__ import annotations

from torchloom.testing import assert_discovery_is_lazy


def test_discovery_imports_only_the_plugin_module():
    assert_discovery_is_lazy("callback", "gan_trainer", "torchloom_gan.callbacks")


def test_every_name_is_registered_with_its_ordering():
    from torchloom import get_registry

    reg = get_registry()
    assert {"gan_trainer", "fixed_gan_switcher", "adaptive_gan_switcher", "gan_discriminative_lr"} <= set(
        reg.names("callback"))
    assert reg.entry("callback", "gan_trainer").dist == "torchloom-gan"
    assert "train_eval" in reg.entry("callback", "gan_trainer").after
    for name in ("fixed_gan_switcher", "adaptive_gan_switcher", "gan_discriminative_lr"):
        e = reg.entry("callback", name)
        assert "gan_trainer" in e.after and "gan_trainer" in e.requires
