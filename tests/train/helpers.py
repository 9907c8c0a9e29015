"""Small models, data and trainer subclasses shared by the training-engine tests."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.data import BatchLoader, SequenceBatch, adding_problem
from rnnkit.models import SequenceRegressor
from rnnkit.train import Trainer


def regressor(cell: str = "lstm", hidden: int = 6, inputs: int = 2, outputs: int = 1,
              seed: int = 0, **kwargs) -> SequenceRegressor:
    """A small SequenceRegressor with weights fixed by ``seed``."""
    torch.manual_seed(seed)
    return SequenceRegressor(inputs, hidden, outputs, cell=cell, **kwargs)


def clone(model: torch.nn.Module, **kwargs) -> SequenceRegressor:
    """A SequenceRegressor of the same shape with the same weights."""
    twin = SequenceRegressor(model.backbone.input_size, model.backbone.hidden_size,
                             model.output_size, cell=model.cell, **kwargs)
    twin.load_state_dict(model.state_dict())
    return twin


def adding_loader(n: int = 64, length: int = 12, batch_size: int = 16, seed: int = 0,
                  **kwargs) -> BatchLoader:
    x, y = adding_problem(n, length, seed=seed)
    return BatchLoader(x, y, batch_size=batch_size, target_at="last", seed=seed, **kwargs)


def per_step_batch(batch: int = 3, steps: int = 12, features: int = 2, seed: int = 0,
                   lengths: list[int] | None = None) -> SequenceBatch:
    """Random inputs with a target at every real step."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, steps, features, generator=g)
    y = torch.randn(batch, steps, generator=g)
    lens = None if lengths is None else torch.tensor(lengths)
    return SequenceBatch(x, y, lengths=lens)


def weights(model: torch.nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class GradRecorder(Trainer):
    """A trainer that keeps a copy of every update's gradient (before clipping): one rung of the
    ladder overridden, as a user would."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.grads: list[dict[str, Tensor]] = []

    def optimizer_step(self):
        self.grads.append({n: p.grad.detach().clone() for n, p in self.model.named_parameters()
                           if p.grad is not None})
        return super().optimizer_step()


class StateRecorder(torch.nn.Module):
    """Wraps a task model and records the state every forward call receives."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.seen: list[object] = []

    def forward(self, inputs, state=None, *, lengths=None):
        self.seen.append(state)
        return self.inner(inputs, state, lengths=lengths)

    def loss(self, outputs, batch):
        return self.inner.loss(outputs, batch)
