"""Running sums of an epoch: loss, metrics, gradient norms and clipping.

Everything is kept as (sum, count) so that epoch values are exact means whatever the batch
sizes, and so that data-parallel processes can add their sums before dividing (one all-reduce).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Reducer = Callable[[list[float]], list[float]]


def _identity(values: list[float]) -> list[float]:
    return values


class Meters:
    """Sums of one pass over data (an epoch of training, or an evaluation).

    ``loss_sum`` is Σ (batch mean loss × batch targets) and ``targets`` Σ batch targets, so
    ``loss_sum / targets`` is the mean loss per target. Metrics are (sum, count) pairs from
    the model's ``metrics``.
    """

    def __init__(self) -> None:
        self.loss_sum = 0.0
        self.targets = 0.0
        self.metrics: dict[str, list[float]] = {}
        self.grad_norm_sum = 0.0
        self.updates = 0
        self.clipped = 0
        self.samples = 0
        self.seconds = 0.0

    def add_loss(self, loss: float, targets: int) -> None:
        self.loss_sum += loss * targets
        self.targets += targets

    def add_metrics(self, metrics: Mapping[str, tuple[Any, Any]]) -> None:
        for name, (total, count) in metrics.items():
            pair = self.metrics.setdefault(name, [0.0, 0.0])
            pair[0] += float(total)
            pair[1] += float(count)

    def add_update(self, grad_norm: float, clipped: bool) -> None:
        self.grad_norm_sum += grad_norm
        self.updates += 1
        self.clipped += int(clipped)

    @property
    def mean_loss(self) -> float:
        """Running mean loss per target (nan before the first target)."""
        return self.loss_sum / self.targets if self.targets else float("nan")

    def mean(self, name: str) -> float:
        """Running mean of one metric (nan before its first count)."""
        total, count = self.metrics.get(name, (0.0, 0.0))
        return total / count if count else float("nan")

    def summary(self, prefix: str, reduce: Reducer = _identity, *,
                training: bool = False) -> dict[str, float]:
        """Epoch values named ``{prefix}_loss``, ``{prefix}_<metric>`` (and, for training,
        ``grad_norm``, ``clipped_share``, ``updates``), summed over processes by ``reduce``."""
        names = sorted(self.metrics)
        local = [self.loss_sum, self.targets]
        for name in names:
            local.extend(self.metrics[name])
        total = reduce(local)
        loss_sum, targets = total[0], total[1]
        out = {f"{prefix}_loss": loss_sum / targets if targets else float("nan")}
        for i, name in enumerate(names):
            s, c = total[2 + 2 * i], total[3 + 2 * i]
            out[f"{prefix}_{name}"] = s / c if c else float("nan")
        if training:
            # Every process makes the same updates, so use one process's counts, not the sum.
            updates, clipped = self.updates, self.clipped
            out["grad_norm"] = self.grad_norm_sum / updates if updates else float("nan")
            out["clipped_share"] = clipped / updates if updates else 0.0
            out["updates"] = float(updates)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in vars(self).items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for key, value in state.items():
            if key == "metrics":
                value = {k: list(v) for k, v in value.items()}
            setattr(self, key, value)
