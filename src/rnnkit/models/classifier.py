"""Sequence classification: a recurrent backbone, a summary over real steps, a dense head.

.. math::
    o_{1..T} = \\mathrm{RNN}(\\mathrm{embed}(x_{1..T})), \\qquad
    s = \\mathrm{pool}(o_{1..\\ell}), \\qquad
    p(y \\mid x) = \\mathrm{softmax}(W s + b)

where ℓ is the sample's length and ``pool`` is one of

* ``'last'``: the top layer's state at the last real step (for a bidirectional backbone, the
  forward state at step ℓ and the backward state at step 1, concatenated);
* ``'mean'``: :math:`\\frac{1}{\\ell} \\sum_{t \\le \\ell} o_t`;
* ``'max'``: the element-wise maximum over :math:`t \\le \\ell`;
* ``'attention'``: :math:`e_t = v^\\top \\tanh(W_a o_t + b_a)`,
  :math:`\\alpha = \\mathrm{softmax}_{t \\le \\ell}(e)`,
  :math:`s = \\sum_{t \\le \\ell} \\alpha_t o_t`.

The loss is softmax cross-entropy with optional class weights w (for imbalanced classes):
:math:`L = -\\sum_i w_{y_i} \\log p(y_i \\mid x_i) / \\sum_i w_{y_i}`.
Steps past a sample's length never enter ``pool``, so a sequence alone and the same sequence
padded inside a batch get the same logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.sequence_encoder import (
    SequenceEncoder,
    State,
    check_choice,
    check_positive,
    check_probability,
)

if TYPE_CHECKING:
    from rnnkit.data.batching import SequenceBatch

POOLINGS = ("last", "mean", "max", "attention")


class SequenceClassifier(nn.Module):
    """Recurrent sequence classifier.

    Args:
        num_classes: C ≥ 2.
        input_kind, input_size, vocab_size, embedding_dim, frame_shape, frame_features, cell,
            hidden_size, num_layers, bidirectional, backend: the input stage and backbone, see
            :class:`rnnkit.models.sequence_encoder.SequenceEncoder`.
        pooling: 'last', 'mean', 'max' or 'attention' (equations in the module docstring).
        head_hidden: 0 for a linear head W s + b (the classic recipe); > 0 adds a hidden ReLU
            layer of this width.
        dropout: on the recurrent input, between layers, and on the summary before the head.
        class_weights: C per-class loss weights (None: all 1).

    Shapes: :meth:`classify` takes (B, T, F) features, (B, T) token ids or (B, T, H, W[, C])
    frames with lengths (B,) and returns logits (B, C). ``forward``, ``loss`` and ``metrics``
    follow the trainer's task-model protocol (logits placed at each sample's last real step).

    Example:
        >>> model = SequenceClassifier(4, input_kind="features", input_size=6, hidden_size=32)
        >>> model.classify(torch.randn(2, 100, 6), torch.tensor([100, 60])).shape
        torch.Size([2, 4])
    """

    def __init__(
        self,
        num_classes: int,
        *,
        input_kind: str = "features",
        input_size: int | None = None,
        vocab_size: int | None = None,
        embedding_dim: int = 100,
        frame_shape: Sequence[int] | None = None,
        frame_features: int = 64,
        cell: str = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = False,
        pooling: str = "last",
        head_hidden: int = 0,
        dropout: float = 0.0,
        class_weights: Sequence[float] | None = None,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"{owner}: num_classes must be an integer >= 2, got {num_classes!r}")
        self.num_classes = num_classes
        self.pooling = check_choice(owner, "pooling", pooling, POOLINGS)
        if isinstance(head_hidden, bool) or not isinstance(head_hidden, int) or head_hidden < 0:
            raise ValueError(f"{owner}: head_hidden must be an integer >= 0, got {head_hidden!r}")
        check_probability(owner, "dropout", dropout)
        if class_weights is not None:
            class_weights = [float(w) for w in class_weights]
            if len(class_weights) != num_classes or min(class_weights) <= 0:
                raise ValueError(
                    f"{owner}: class_weights must be {num_classes} positive numbers, got "
                    f"{class_weights}"
                )
        self._config: dict[str, Any] = {
            "num_classes": num_classes,
            "input_kind": input_kind,
            "input_size": input_size,
            "vocab_size": vocab_size,
            "embedding_dim": embedding_dim,
            "frame_shape": list(frame_shape) if frame_shape is not None else None,
            "frame_features": frame_features,
            "cell": cell,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "bidirectional": bool(bidirectional),
            "pooling": pooling,
            "head_hidden": head_hidden,
            "dropout": float(dropout),
            "class_weights": class_weights,
        }
        self.encoder = SequenceEncoder(
            input_kind=input_kind,
            input_size=input_size,
            vocab_size=vocab_size,
            embedding_dim=embedding_dim,
            frame_shape=frame_shape,
            frame_features=frame_features,
            cell=cell,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            backend=backend,
        )
        width = self.encoder.output_size
        if pooling == "attention":
            self.attention = nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 1))
        if head_hidden:
            check_positive(owner, "head_hidden", head_hidden)
            self.head = nn.Sequential(
                nn.Dropout(dropout),
                nn.Linear(width, head_hidden),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(head_hidden, num_classes),
            )
        else:
            self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, num_classes))
        weights = torch.tensor(class_weights) if class_weights is not None else None
        # Not persistent: the weights live in the JSON config, so the state dict holds only
        # learned parameters.
        self.register_buffer("class_weights", weights, persistent=False)

    @property
    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-ready) that rebuild this model's architecture."""
        return dict(self._config)

    def summarize(
        self, inputs: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        """The pooled summary s (B, D·H) of each sequence's real steps, and the final state."""
        lengths = self.encoder.resolve_lengths(inputs, lengths)
        outputs, final = self.encoder(inputs, lengths, state)  # (B, T, D·H)
        if self.pooling == "last":
            return self.encoder.top_state(final), final
        mask = self.encoder.step_mask(lengths.to(outputs.device), outputs.shape[1])  # (B, T)
        if self.pooling == "mean":
            total = (outputs * mask.unsqueeze(-1)).sum(dim=1)
            return total / lengths.to(outputs)[:, None], final
        if self.pooling == "max":
            return outputs.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1), final
        scores = self.attention(outputs).squeeze(-1)  # (B, T)
        alpha = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        return torch.bmm(alpha.unsqueeze(1), outputs).squeeze(1), final

    def classify(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Logits (B, C) of (B, T, ...) ``inputs`` with (B,) ``lengths``."""
        summary, _ = self.summarize(inputs, lengths)
        return self.head(summary)

    def forward(
        self, inputs: Tensor, state: State | None = None, *, lengths: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """The task-model protocol's forward (:mod:`rnnkit.train.protocol`).

        Returns outputs (B, T, C) holding each sample's logits at its last real step (zeros
        elsewhere, where the batch's target mask is False too), and the final state.
        """
        lengths = self.encoder.resolve_lengths(inputs, lengths)
        summary, final = self.summarize(inputs, lengths, state)
        logits = self.head(summary)  # (B, C)
        b, t = inputs.shape[:2]
        outputs = logits.new_zeros(b, t, self.num_classes)
        outputs[torch.arange(b), lengths.to(logits.device) - 1] = logits
        return outputs, final

    def loss(self, outputs: Tensor, batch: SequenceBatch) -> Tensor:
        """Weighted softmax cross-entropy over the batch's targets (one per sequence, where
        ``batch.mask`` is True)."""
        return F.cross_entropy(
            outputs[batch.mask], batch.targets[batch.mask].long(), weight=self.class_weights
        )

    def metrics(self, outputs: Tensor, batch: SequenceBatch) -> dict[str, tuple[float, int]]:
        """Accuracy as (correct, count) over the batch's targets."""
        predicted = outputs[batch.mask].argmax(dim=-1)
        target = batch.targets[batch.mask].long()
        return {"accuracy": (float((predicted == target).sum()), int(target.numel()))}

    @torch.no_grad()
    def predict_proba(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Class probabilities (B, C), in evaluation mode (no dropout)."""
        was_training = self.training
        self.eval()
        try:
            return torch.softmax(self.classify(inputs, lengths), dim=-1)
        finally:
            self.train(was_training)
