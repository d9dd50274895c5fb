"""learn.use over the plugin registry, with plugins installed only as distributions (entry points)."""
from __future__ import annotations

import sys

import pytest

from tests.kernel.learner.helpers import HEAVY, PLUGIN, tiny
from torchloom import PluginConflictError
from torchloom._plugins import UnknownNameError, get_registry


@pytest.fixture
def site(site):
    site.add("torchloom-sparkle", PLUGIN, modules={"heavy": HEAVY}, version="2.5")
    return site


def test_use_is_lazy_chainable_and_applies_manifest(site):
    assert get_registry().get("callback", "sparkle").dist == "torchloom-sparkle"
    assert "torchloom_sparkle.heavy" not in sys.modules  # discovery is not activation
    learn = tiny()
    assert learn.use("sparkle", amount=3.0) is learn
    assert "torchloom_sparkle.heavy" in sys.modules
    cb = learn.sparkle
    assert type(cb).__name__ == "Sparkle" and cb.amount == 3.0 and cb.order == 7 and tuple(cb.after) == ("recorder",)
    learn.fit(1)
    assert cb.n == 3  # 2 train + 1 valid batch
    assert learn.plugins_used == {"sparkle": {"dist": "torchloom-sparkle", "version": "2.5", "kind": "callback"}}


def test_class_attributes_win_when_manifest_omits(site):
    learn = tiny().use("glitter")
    assert learn.glitter.order == 33


def test_second_use_is_idempotent_and_kwargs_reconfigure_in_place(site):
    learn = tiny().use("sparkle")
    first, pos, n = learn.sparkle, learn.cbs.index(learn.sparkle), len(learn.cbs)
    learn.use("sparkle")
    assert learn.sparkle is first and len(learn.cbs) == n
    learn.use("sparkle", amount=5.0)
    assert learn.sparkle is not first and learn.sparkle.amount == 5.0
    assert learn.cbs.index(learn.sparkle) == pos and len(learn.cbs) == n and first.learn is None


def test_conflicts_name_both_sides_and_distributions(site):
    learn = tiny().use("sparkle")
    with pytest.raises(PluginConflictError, match=r"'glitter' \(torchloom-sparkle 2.5\).*conflicts with 'sparkle' "
                                                  r"\(torchloom-sparkle 2.5\).*unuse\('sparkle'\)"):
        learn.use("glitter")
    learn2 = tiny().use("glitter")
    with pytest.raises(PluginConflictError, match="'sparkle'.*conflicts with 'glitter'"):
        learn2.use("sparkle")
    assert "sparkle" not in learn2.plugins_used


def test_slot_is_exclusive(site):
    learn = tiny().use("fp_a")
    with pytest.raises(PluginConflictError, match="slot 'precision' is taken by 'fp_a'"):
        learn.use("fp_b")
    learn.unuse("fp_a").use("fp_b")
    assert "fp_b" in learn.plugins_used


def test_requires(site):
    with pytest.raises(PluginConflictError, match=r"'needy'.*requires 'sparkle'.*learn.use\('sparkle'\)"):
        tiny().use("needy")
    assert "needy" in tiny().use("sparkle").use("needy").plugins_used


def test_unuse(site):
    learn = tiny()
    n = len(learn.cbs)
    learn.use("sparkle").unuse("sparkle")
    assert len(learn.cbs) == n and not hasattr(learn, "sparkle") and learn.plugins_used == {}
    with pytest.raises(KeyError, match="'sparkle' is not in use"):
        learn.unuse("sparkle")


def test_using_is_scoped_and_restores_previous_configuration(site):
    learn = tiny()
    with learn.using("sparkle", amount=2.0) as lrn:
        assert lrn is learn and learn.sparkle.amount == 2.0
        learn.fit(1)
    assert "sparkle" not in learn.plugins_used and not hasattr(learn, "sparkle")
    learn.use("sparkle", amount=1.0)
    outer = learn.sparkle
    with learn.using(("sparkle", {"amount": 9.0}), "needy"):
        assert learn.sparkle.amount == 9.0 and "needy" in learn.plugins_used
    assert learn.sparkle is outer and "needy" not in learn.plugins_used


def test_using_cleans_up_on_error(site):
    learn = tiny()
    with pytest.raises(RuntimeError), learn.using("sparkle"):
        raise RuntimeError("inside")
    assert learn.plugins_used == {}


def test_learner_use_argument(site):
    learn = tiny(use=["sparkle", ("needy", {})])
    assert set(learn.plugins_used) == {"sparkle", "needy"}


def test_registered_optimizer_by_name(site):
    learn = tiny(opt_func="sparkle_sgd")
    learn.fit(1)
    assert type(learn.opt).__name__ == "Optimizer" and learn.opt.hypers[0]["mom"] == 0.0
    learn.use("sparkle_sgd", mom=0.5)
    assert learn.opt is None
    learn.fit(1)
    assert learn.opt.hypers[0]["mom"] == 0.5
    assert learn.plugins_used["sparkle_sgd"]["kind"] == "optimizer"
    learn.unuse("sparkle_sgd")
    assert learn.opt_func == "sparkle_sgd" and learn.opt is None


def test_unknown_name_lists_installed(site):
    with pytest.raises(UnknownNameError, match="Did you mean 'sparkle'"):
        tiny().use("sparkel")


def test_stepper_is_not_an_optimizer():
    learn = tiny(opt_func="adam_step")
    with pytest.raises(UnknownNameError, match="'adam_step' is registered as a stepper, not an optimizer"):
        learn.fit(1)


def test_defaults_come_from_the_registry_and_progress_flag():
    names = [e.name for e in get_registry().defaults("callback")]
    assert names == ["train_eval", "cast_to_tensor", "recorder", "fit_guard", "progress"]
    assert [c.name for c in tiny(progress=True).cbs] == names
    assert [c.name for c in tiny(progress=False).cbs] == names[:4]
    assert tiny(default_cbs=False).cbs == []


def test_errors_in_plugin_callbacks_name_the_distribution(site):
    learn = tiny().use("sparkle")
    learn.sparkle.before_batch = lambda: 1 / 0  # break the instance (the event lists follow)
    with pytest.raises(ZeroDivisionError) as info:
        learn.fit(1)
    assert any("callback 'sparkle' (Sparkle, from torchloom-sparkle 2.5) during event 'before_batch'" in n
               for n in info.value.__notes__)


def test_use_of_a_default_or_hand_added_callback_does_not_duplicate(site):
    learn = tiny(progress=True)
    n = len(learn.cbs)
    learn.use("progress")
    assert len(learn.cbs) == n
    learn.use("progress", mode="log")
    assert len(learn.cbs) == n and learn.progress.mode == "log" and "progress" not in learn.plugins_used
    learn.unuse("progress")
    assert not hasattr(learn, "progress") and len(learn.cbs) == n - 1
    from torchloom_sparkle.heavy import Sparkle

    learn.add_cb(Sparkle())
    learn.use("sparkle")
    assert sum(type(c).__name__ == "Sparkle" for c in learn.cbs) == 1 and "sparkle" in learn.plugins_used
