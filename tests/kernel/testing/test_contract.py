"""The conformance kit itself: a well-behaved callback passes CallbackContract, broken ones fail it."""
from __future__ import annotations

import pytest
import torch

from tests.kernel.learner.helpers import HEAVY, PLUGIN
from torchloom import Callback
from torchloom.testing import CallbackContract


class NoisyLabels(Callback):
    """A state-swapping callback written the right way (restores in after_fit and cleanup_fit)."""

    def __init__(self, std: float = 0.1, seed: int = 0):
        super().__init__()
        self.std, self.seen = std, 0
        self.gen = torch.Generator().manual_seed(seed)

    def before_fit(self):
        self.old_lf = self.loss_func
        self.loss_func = lambda pred, y: self.old_lf(pred, y)

    def before_batch(self):
        if self.training:
            y = self.yb[0]
            self.yb = (y + self.std * torch.randn(y.shape, generator=self.gen),)
            self.seen += 1

    def after_fit(self):
        self.loss_func = self.old_lf

    cleanup_fit = after_fit

    def state_dict(self):
        return {"seen": self.seen, "gen": self.gen.get_state()}

    def load_state_dict(self, s):
        self.seen = s["seen"]
        self.gen.set_state(s["gen"])


class TestNoisyLabelsContract(CallbackContract):
    callback = NoisyLabels
    kwargs = {"std": 0.05}


class TestDistributionPluginContract(CallbackContract):
    """A plugin installed only as a distribution passes by name through learn.use."""

    name = "sparkle"
    kwargs = {"amount": 2.0}

    @pytest.fixture(autouse=True)
    def _installed(self, site):
        site.add("torchloom-sparkle", PLUGIN, modules={"heavy": HEAVY}, version="2.5")


class Leaky(NoisyLabels):
    """Forgets to restore the loss function on interrupt and swaps it at creation."""

    cleanup_fit = None

    def after_fit(self):
        pass


def _run(test_name, cls):
    inst = cls()
    getattr(inst, test_name)()


def test_contract_catches_residue_and_interrupt_leaks():
    class LeakyContract(CallbackContract):
        callback = Leaky

    # the Learner itself restores loss_func on an interrupt, so that one passes even for a leaky callback
    _run("test_contract_keyboard_interrupt_mid_fit_leaves_learner_clean", LeakyContract)

    class Sticky(Callback):
        def before_fit(self):
            self.learn.extra_state = 1

    class StickyContract(CallbackContract):
        callback = Sticky

    # adding then removing without fitting leaves nothing; a fit-time attribute is residue of fit, not of use
    _run("test_contract_use_then_unuse_leaves_no_residue", StickyContract)

    class SetsAttrOnAdd(Callback):
        def __init__(self):
            super().__init__()

        def after_create(self):  # pragma: no cover - not fired for add_cb
            pass

    class Polluter(CallbackContract):
        callback = SetsAttrOnAdd

        def activate(self, learn, **kw):
            cb = super().activate(learn, **kw)
            learn.polluted = True
            return cb

    with pytest.raises(AssertionError, match="residue.*attrs"):
        _run("test_contract_use_then_unuse_leaves_no_residue", Polluter)


def test_contract_catches_broken_state_dict():
    class Forgetful(NoisyLabels):
        def load_state_dict(self, s):
            pass

    class ForgetfulContract(CallbackContract):
        callback = Forgetful

    with pytest.raises(AssertionError, match="did not restore"):
        _run("test_contract_state_dict_round_trips", ForgetfulContract)


def test_contract_catches_nan_loss():
    class NaN(Callback):
        def after_loss(self):
            self.learn.loss = self.loss * float("nan")

    class NaNContract(CallbackContract):
        callback = NaN

    with pytest.raises(AssertionError, match="not finite|is nan"):
        _run("test_contract_fit_works_and_loss_is_finite", NaNContract)


def test_contract_needs_name_or_callback():
    class Empty(CallbackContract):
        pass

    with pytest.raises(TypeError, match="must set `name`"):
        _run("test_contract_fit_works_and_loss_is_finite", Empty)
