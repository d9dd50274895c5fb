"""EventRecorder: a callback that writes down every event it receives, to assert loop sequences."""
from __future__ import annotations

import types
from collections.abc import Iterable

from torchloom.callbacks._base import EVENTS, Callback

__all__ = ["EventRecorder"]


class EventRecorder(Callback):
    """Records ``(event)`` names in ``events`` (``phases`` keeps ``"train"``/``"valid"`` for inner-loop ones).

    ``only`` limits recording to some events; ``raise_at={"after_loss": CancelBatchException}``
    raises an exception (class or instance) the first time that event fires -- handy for testing
    cancel paths and cleanup.
    """

    order = 1000  # sees what the other callbacks left behind

    def __init__(self, only: Iterable[str] | None = None, raise_at: dict | None = None, times: int = 1) -> None:
        super().__init__()
        self.only = None if only is None else set(only)
        self.raise_at = dict(raise_at or {})
        self.times = times
        self.events: list[str] = []
        self.phases: list[str] = []
        self._raised: dict[str, int] = {}
        for ev in EVENTS:
            if self.only is None or ev in self.only or ev in self.raise_at:
                object.__setattr__(self, ev, types.MethodType(_make_handler(ev), self))

    def _record(self, ev: str) -> None:
        if self.only is None or ev in self.only:
            self.events.append(ev)
            learn = self.learn
            self.phases.append("train" if learn is not None and learn.training else "valid")
        exc = self.raise_at.get(ev)
        if exc is not None and self._raised.get(ev, 0) < self.times:
            self._raised[ev] = self._raised.get(ev, 0) + 1
            raise exc() if isinstance(exc, type) else exc

    def clear(self) -> None:
        self.events, self.phases = [], []

    def assert_order(self, *expected: str, exact: bool = False) -> None:
        """``expected`` occurs in ``events`` in this order (as a subsequence; ``exact`` = the whole list)."""
        seq = list(expected[0]) if len(expected) == 1 and not isinstance(expected[0], str) else list(expected)
        if exact:
            assert self.events == seq, f"events differ:\n  got      {self.events}\n  expected {seq}"
            return
        it = iter(self.events)
        for i, ev in enumerate(seq):
            if not any(got == ev for got in it):
                raise AssertionError(f"event {ev!r} (position {i} of {seq}) not found in order in {self.events}")

    def count(self, event: str) -> int:
        return self.events.count(event)


def _make_handler(ev: str):
    def handler(self: EventRecorder) -> None:
        self._record(ev)
    handler.__name__ = ev
    return handler
