"""Sequence regression: a recurrent backbone with a linear read-out at every step.

Shape legend: B batch, T time, F input features, H hidden units, O outputs, L·D state rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from rnnkit.models.backbone import model_cells, recurrent_layer

if TYPE_CHECKING:
    from rnnkit.data import SequenceBatch



class SequenceRegressor(nn.Module):
    r"""Recurrent backbone (``rnnkit.nn`` LSTM, GRU or Elman RNN) plus a linear head per step.

    .. math::  h_{1..T} = \mathrm{RNN}(x_{1..T}; h_0), \qquad \hat y_t = W_o h_t + b_o

    The head runs at every step, so the same model serves per-step targets (forecasting) and
    per-sequence ones (the adding problem: a target at the last step, the other steps masked).
    Loss: mean squared error over the (sample, step, output) entries that carry a target.

    Args:
        input_size: F.
        hidden_size: H.
        output_size: O.
        cell: 'lstm', 'gru' or 'rnn' (Elman, with ``nonlinearity``).
        num_layers: stacked recurrent layers.
        nonlinearity: 'tanh', 'relu' or 'sigmoid', for ``cell='rnn'`` only.
        dropout: between stacked layers (needs ``num_layers > 1``).
        forget_bias: for LSTM, start the forget gate's bias at this value (1.0 helps long
            memories; Gers et al. 2000); ``None`` keeps torch's initialisation.
        tolerance: if given, the ``solved`` metric is the share of targets with
            |ŷ − y| < tolerance (0.04 for the adding problem).
        backend: passed to the ``rnnkit.nn`` layer.

    Training protocol (:class:`rnnkit.train.TaskModel`):
        ``forward(inputs (B, T, F), state=None, *, lengths=None)`` returns
        ``(outputs (B, T, O), state)`` where state is the backbone's final state — h_n (L, B, H),
        or (h_n, c_n) for LSTM — the same structure it accepts as ``state``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int = 1,
        *,
        cell: str = "lstm",
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        dropout: float = 0.0,
        forget_bias: float | None = None,
        tolerance: float | None = None,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if cell not in model_cells():
            raise ValueError(
                f"SequenceRegressor: cell must be one of {list(model_cells())}, got {cell!r}"
            )
        if forget_bias is not None and cell != "lstm":
            raise ValueError(
                f"SequenceRegressor: forget_bias applies to cell='lstm' only, got cell={cell!r}"
            )
        if tolerance is not None and not tolerance > 0:
            raise ValueError(f"SequenceRegressor: tolerance must be > 0, got {tolerance!r}")
        common = {
            "num_layers": num_layers,
            "dropout": dropout,
            "batch_first": True,
            "backend": backend,
        }
        self.backbone: nn.Module = recurrent_layer(
            cell, input_size, hidden_size, nonlinearity=nonlinearity, **common
        )
        self.head = nn.Linear(hidden_size, output_size)
        self.cell, self.output_size, self.tolerance = cell, output_size, tolerance
        if forget_bias is not None:
            self._set_forget_bias(float(forget_bias))

    def _set_forget_bias(self, value: float) -> None:
        # Gates are stacked (i, f, g, o); torch adds bias_ih and bias_hh, so put it all in one.
        H = self.backbone.hidden_size
        with torch.no_grad():
            for layer in range(self.backbone.num_layers):
                getattr(self.backbone, f"bias_ih_l{layer}")[H : 2 * H] = value
                getattr(self.backbone, f"bias_hh_l{layer}")[H : 2 * H] = 0.0

    def forward(
        self,
        inputs: Tensor,
        state: Tensor | tuple[Tensor, Tensor] | None = None,
        *,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """inputs (B, T, F) → outputs (B, T, O) and the backbone's final state.

        Past a sample's length the backbone emits zeros, so the output there is the head's bias;
        no target sits there (the batch's mask is False).
        """
        hidden, final = self.backbone(inputs, state, lengths=lengths)  # (B, T, H)
        return self.head(hidden), final  # (B, T, O)

    def _errors(self, outputs: Tensor, batch: SequenceBatch) -> tuple[Tensor, Tensor]:
        """(B, T, O) errors ŷ − y and the (B, T, 1) float mask of entries with a target."""
        targets = batch.targets
        if targets.dim() == 2 and self.output_size == 1:
            targets = targets.unsqueeze(-1)  # one target per step: (B, T) → (B, T, 1)
        if targets.shape != outputs.shape:
            raise ValueError(
                f"SequenceRegressor: targets must have shape {tuple(outputs.shape)} (or "
                f"{tuple(outputs.shape[:2])} when output_size=1), got {tuple(batch.targets.shape)}"
            )
        mask = batch.mask.unsqueeze(-1).to(outputs.dtype)  # (B, T, 1)
        return (outputs - targets.to(outputs.dtype)) * mask, mask

    def loss(self, outputs: Tensor, batch: SequenceBatch) -> Tensor:
        """Mean squared error over the entries that carry a target (0 if there are none)."""
        err, mask = self._errors(outputs, batch)
        count = mask.sum() * self.output_size
        return err.square().sum() / count.clamp(min=1.0)

    def metrics(self, outputs: Tensor, batch: SequenceBatch) -> dict[str, tuple[float, float]]:
        """``mse``, ``mae`` (and ``solved`` with a tolerance) as (sum, count) over targets."""
        with torch.no_grad():
            err, mask = self._errors(outputs, batch)
            count = float(mask.sum()) * self.output_size
            out = {
                "mse": (float(err.square().sum()), count),
                "mae": (float(err.abs().sum()), count),
            }
            if self.tolerance is not None:
                hit = (err.abs() < self.tolerance) & mask.bool()
                out["solved"] = (float(hit.sum()), count)
        return out

    @torch.no_grad()
    def predict(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Predictions at each sequence's last real step: inputs (B, T, F) → (B, O)."""
        was_training = self.training
        self.eval()
        try:
            outputs, _ = self(inputs, lengths=lengths)  # (B, T, O)
        finally:
            self.train(was_training)
        B, T = outputs.shape[:2]
        last = torch.full((B,), T - 1) if lengths is None else torch.as_tensor(lengths) - 1
        return outputs[torch.arange(B), last.to(torch.int64)]

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}" + (f", tolerance={self.tolerance}" if self.tolerance else "")
