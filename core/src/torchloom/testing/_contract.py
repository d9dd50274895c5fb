"""CallbackContract: the conformance tests every plugin callback inherits (see the package docstring)."""
from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from torchloom.callbacks._base import Callback
from torchloom.testing._events import EventRecorder
from torchloom.testing._synth import synth_learner

__all__ = ["CallbackContract"]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and bool(
            torch.equal(a.cpu(), b.cpu()))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


class CallbackContract:
    """Subclass in a test module and set ``name`` (registered) or ``callback`` (a class), plus ``kwargs``."""

    name: ClassVar[str | None] = None
    callback: ClassVar[type[Callback] | None] = None
    kwargs: ClassVar[dict[str, Any]] = {}
    task: ClassVar[str] = "regression"
    fit_epochs: ClassVar[int] = 1

    # -- hooks a plugin may override ------------------------------------------------------------
    def make_learner(self) -> Any:
        """The learner the contract runs on; override for callbacks that need other data or models."""
        return synth_learner(task=self.task)

    def activate(self, learn: Any, **overrides: Any) -> Callback:
        """Switch the callback on and return its instance."""
        kwargs = {**self.kwargs, **overrides}
        if self.name is not None:
            learn.use(self.name, **kwargs)
            return learn._used[self.name].cb
        if self.callback is None:
            raise TypeError(f"{type(self).__name__} must set `name` (a registered callback) or `callback` (a class)")
        cb = self.callback(**kwargs)
        learn.add_cb(cb)
        return cb

    def deactivate(self, learn: Any, cb: Callback) -> None:
        if self.name is not None:
            learn.unuse(self.name)
        else:
            learn.remove_cb(cb)

    # -- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _fingerprint(learn: Any) -> dict[str, Any]:
        return {
            "attrs": sorted(k for k in vars(learn) if not k.startswith("_")),
            "cbs": [id(c) for c in learn.cbs],
            "loss_func": id(learn.loss_func),
            "model": id(learn.model),
            "opt": id(learn.opt),
            "opt_func": learn.opt_func,
            "training": learn.training,
            "modes": [m.training for m in learn.model.modules()],
            "logger": learn.logger,
            "used": sorted(learn.plugins_used),
        }

    def _assert_same(self, before: dict[str, Any], after: dict[str, Any], what: str) -> None:
        diff = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        assert not diff, f"{what} left residue on the learner (before, after): {diff}"

    # -- the contract ---------------------------------------------------------------------------
    def test_contract_use_then_unuse_leaves_no_residue(self) -> None:
        learn = self.make_learner()
        before = self._fingerprint(learn)
        cb = self.activate(learn)
        assert cb in learn.cbs and cb.learn is learn
        self.deactivate(learn, cb)
        self._assert_same(before, self._fingerprint(learn), "use + unuse")
        assert cb.learn is None, "a removed callback must be detached from the learner"

    def test_contract_fit_works_and_loss_is_finite(self) -> None:
        learn = self.make_learner()
        self.activate(learn)
        learn.fit(self.fit_epochs)
        assert learn.recorder.values, "fit recorded no epoch"
        train_loss = learn.recorder.values[-1][0]
        assert train_loss is not None and math.isfinite(train_loss), f"training loss is {train_loss}"
        assert all(math.isfinite(v) for v in learn.recorder.losses), "a batch loss was not finite"

    def test_contract_state_dict_round_trips(self) -> None:
        learn = self.make_learner()
        cb = self.activate(learn)
        learn.fit(1)
        state = cb.state_dict()
        assert isinstance(state, dict), f"state_dict() must return a dict, got {type(state).__name__}"
        learn2 = self.make_learner()
        cb2 = self.activate(learn2)
        cb2.load_state_dict(state)
        assert _same(cb2.state_dict(), state), "load_state_dict(state_dict()) did not restore the same state"

    def test_contract_double_use_is_idempotent(self) -> None:
        learn = self.make_learner()
        cb = self.activate(learn)
        n = len(learn.cbs)
        if self.name is None:
            learn.add_cb(cb)
            assert len(learn.cbs) == n, "adding the same callback twice must not duplicate it"
            return
        learn.use(self.name)
        assert len(learn.cbs) == n and learn._used[self.name].cb is cb, "a second use() without kwargs changed things"
        pos = learn.cbs.index(cb)
        learn.use(self.name, **self.kwargs)
        new = learn._used[self.name].cb
        assert len(learn.cbs) == n and sum(type(c) is type(cb) for c in learn.cbs) == sum(
            type(c) is type(cb) for c in learn.cbs[:pos] + [new] + learn.cbs[pos + 1:]), "use() with kwargs duplicated"
        learn.fit(1)

    def test_contract_keyboard_interrupt_mid_fit_leaves_learner_clean(self) -> None:
        learn = self.make_learner()
        self.activate(learn)
        learn.create_opt()
        before = self._fingerprint(learn)
        stopper = EventRecorder(only=(), raise_at={"after_loss": KeyboardInterrupt})
        raised = None
        try:
            learn.fit(1, cbs=[stopper])
        except KeyboardInterrupt as e:
            raised = e
        assert raised is not None, "KeyboardInterrupt did not propagate out of fit"
        self._assert_same(before, self._fingerprint(learn), "a KeyboardInterrupt during fit")
        learn.fit(1)  # and the learner still trains

    def test_contract_no_side_effects_on_other_learners(self) -> None:
        other = self.make_learner()
        before = self._fingerprint(other)
        learn = self.make_learner()
        self.activate(learn)
        learn.fit(1)
        self._assert_same(before, self._fingerprint(other), "activating on another learner")
        fresh = self.make_learner()
        assert [type(c) for c in fresh.cbs] == [type(c) for c in other.cbs], "a new learner got extra callbacks"
