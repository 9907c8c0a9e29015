"""Sequence tagging: one label per step (word segmentation, part-of-speech tags...).

.. math::
    o_{1..T} = \\mathrm{RNN}(\\mathrm{embed}(x_{1..T})), \\qquad
    p(y_t \\mid x) = \\mathrm{softmax}(W o_t + b)

``forward``, ``loss`` and ``metrics`` follow the trainer's task-model protocol. The loss
averages the per-step cross-entropy over real steps only,

.. math::
    L = -\\frac{\\sum_i \\sum_{t \\le \\ell_i} w_{y_{it}} \\log p(y_{it} \\mid x_i)}
             {\\sum_i \\sum_{t \\le \\ell_i} w_{y_{it}}},

so whatever sits in padded positions (inputs or targets) changes neither the loss nor its
gradient. The backbone is bidirectional by default: a step's tag usually depends on what follows
it as much as on what precedes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.sequence_encoder import SequenceEncoder, State, check_probability

if TYPE_CHECKING:
    from rnnkit.data.batching import SequenceBatch


class SequenceTagger(nn.Module):
    """Recurrent tagger: per-step logits (B, T, C).

    Args:
        num_tags: C ≥ 2.
        input_kind, input_size, vocab_size, embedding_dim, frame_shape, frame_features, cell,
            hidden_size, num_layers, bidirectional, dropout, backend: see
            :class:`rnnkit.models.sequence_encoder.SequenceEncoder`.
        tag_weights: C per-tag loss weights (None: all 1).

    Example:
        >>> tagger = SequenceTagger(4, input_kind="tokens", vocab_size=50, embedding_dim=8,
        ...                         hidden_size=16)
        >>> logits, _ = tagger(torch.randint(2, 50, (2, 7)), lengths=torch.tensor([7, 3]))
        >>> logits.shape
        torch.Size([2, 7, 4])
    """

    def __init__(
        self,
        num_tags: int,
        *,
        input_kind: str = "tokens",
        input_size: int | None = None,
        vocab_size: int | None = None,
        embedding_dim: int = 64,
        frame_shape: Sequence[int] | None = None,
        frame_features: int = 64,
        cell: str = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
        tag_weights: Sequence[float] | None = None,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags < 2:
            raise ValueError(f"{owner}: num_tags must be an integer >= 2, got {num_tags!r}")
        check_probability(owner, "dropout", dropout)
        if tag_weights is not None:
            tag_weights = [float(w) for w in tag_weights]
            if len(tag_weights) != num_tags or min(tag_weights) <= 0:
                raise ValueError(
                    f"{owner}: tag_weights must be {num_tags} positive numbers, got {tag_weights}"
                )
        self.num_tags = num_tags
        self._config: dict[str, Any] = {
            "num_tags": num_tags,
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
            "dropout": float(dropout),
            "tag_weights": tag_weights,
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
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(self.encoder.output_size, num_tags)
        )
        weights = torch.tensor(tag_weights) if tag_weights is not None else None
        self.register_buffer("tag_weights", weights, persistent=False)

    @property
    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-ready) that rebuild this model's architecture."""
        return dict(self._config)

    def forward(
        self, inputs: Tensor, state: State | None = None, *, lengths: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """Per-step logits (B, T, C) and the final state (the task-model protocol's forward).

        Rows past a sample's length are meaningless; :meth:`loss`, :meth:`metrics` and
        :meth:`predict` only read real steps.
        """
        lengths = self.encoder.resolve_lengths(inputs, lengths)
        outputs, final = self.encoder(inputs, lengths, state)  # (B, T, D·H)
        return self.head(outputs), final

    def loss(self, outputs: Tensor, batch: SequenceBatch) -> Tensor:
        """Weighted cross-entropy over the real steps (``batch.mask``) of logits (B, T, C) and
        tag ids ``batch.targets`` (B, T)."""
        return F.cross_entropy(
            outputs[batch.mask], batch.targets[batch.mask].long(), weight=self.tag_weights
        )

    def metrics(self, outputs: Tensor, batch: SequenceBatch) -> dict[str, tuple[float, int]]:
        """Per-step tag accuracy as (correct, count) over real steps."""
        predicted = outputs[batch.mask].argmax(dim=-1)
        target = batch.targets[batch.mask].long()
        return {"accuracy": (float((predicted == target).sum()), int(target.numel()))}

    @torch.no_grad()
    def predict(self, inputs: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Most likely tags (B, T) int64, −1 past each length, and their probabilities (B, T, C)
        (evaluation mode)."""
        lengths = self.encoder.resolve_lengths(inputs, lengths)
        was_training = self.training
        self.eval()
        try:
            probs = torch.softmax(self(inputs, lengths=lengths)[0], dim=-1)
        finally:
            self.train(was_training)
        mask = self.encoder.step_mask(lengths.to(probs.device), probs.shape[1])
        tags = probs.argmax(dim=-1).masked_fill(~mask, -1)
        return tags, probs
