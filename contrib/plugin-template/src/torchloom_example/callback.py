"""The 'example' callback: records the global gradient norm of the model during training.

A starting point to edit: it shows the parts a real callback needs -- an event that reads the
loop state (``after_backward``), no host sync per batch (norms stay on the device until the end
of the epoch), cleanup on errors (``cleanup_fit``) and checkpointable state (``state_dict``).
"""
from __future__ import annotations

from typing import Any

import torch
from torchloom import Callback


class ExampleCallback(Callback):
    """Appends the global L2 norm of the gradients to ``self.norms`` every ``every`` backward passes."""

    def __init__(self, every: int = 1) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"example: `every` must be a positive integer, got {every!r}")
        super().__init__()
        self.every = every
        self.norms: list[float] = []
        self.n_steps = 0
        self._pending: list[torch.Tensor] = []

    def after_backward(self) -> None:
        self.n_steps += 1
        if self.n_steps % self.every:
            return
        grads = [p.grad.detach() for p in self.learn.model.parameters() if p.grad is not None]
        if grads:
            norms = torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])
            self._pending.append(torch.linalg.vector_norm(norms))

    def _flush(self) -> None:
        """Move the norms recorded since the last flush to the host (one sync)."""
        if self._pending:
            self.norms.extend(torch.stack(self._pending).cpu().tolist())
            self._pending = []

    def after_epoch(self) -> None:
        self._flush()

    def cleanup_fit(self) -> None:
        # Runs once at the end of every fit, also after an exception: keep what was recorded.
        self._flush()

    def state_dict(self) -> dict[str, Any]:
        return {"n_steps": self.n_steps, "norms": torch.tensor(self.norms, dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.n_steps = int(state["n_steps"])
        self.norms = [float(v) for v in torch.as_tensor(state["norms"]).tolist()]
        self._pending = []
