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

With ``conv_branch=True`` (LSTM-FCN, Karim et al. 2018, for numeric ``'features'`` input) a
fully convolutional branch runs beside the recurrent one and the two summaries are concatenated
before the head:

.. math::
    z^{(k)} = \\mathrm{relu}(\\mathrm{BN}(\\mathrm{conv}_k(z^{(k-1)}))) \\odot m, \\qquad
    g = \\frac{1}{\\ell} \\sum_{t \\le \\ell} z^{(3)}_t, \\qquad
    p(y \\mid x) = \\mathrm{softmax}(W [s; g] + b)

with three blocks of (128, 256, 128) filters of widths (8, 5, 3) by default, 'same' zero
padding, m the (B, 1, T) mask of real steps (so a block never reads a padded step: what lies past
ℓ is zero, exactly the zero padding of the sequence alone), and batch statistics of BN taken over
real steps only. The recurrent branch gives order over long spans, the convolutions local shape;
on small numeric datasets (tens to hundreds of sequences) the pair learns far more reliably than
either alone (Karim et al.; measured in ``docs/classification.md``).

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
#: The temporal CNN of LSTM-FCN (Karim et al. 2018; the FCN of Wang et al. 2017).
CONV_CHANNELS = (128, 256, 128)
CONV_KERNELS = (8, 5, 3)
#: Weight of the loss in :meth:`SequenceClassifier.metrics`' ``selection`` value: small enough
#: that accuracy decides whenever it differs on fewer than 10,000 validation sequences.
TIE_BREAK = 1e-4


class MaskedBatchNorm1d(nn.Module):
    """Batch normalisation over (B, C, T) whose batch statistics count real steps only.

    In training, μ and σ² per channel are the mean and (biased) variance over the real steps of
    the batch (``mask`` True), and the running estimates move towards them (momentum 0.1,
    unbiased variance, as ``torch.nn.BatchNorm1d``); in evaluation the running estimates are
    used, so a sequence's result does not depend on the rest of its batch.

    ``sync_batch_stats``: in data-parallel training the training engine sets it to True, and
    the sums behind μ and σ² are then added over the processes (differentiably, as torch's
    ``SyncBatchNorm`` does), so every process normalises with the statistics of the global
    batch and the update equals that of one process on the global batch.
    """

    def __init__(self, channels: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.sync_batch_stats = False
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """``x`` (B, C, T) with ``mask`` (B, 1, T) of real steps → (B, C, T)."""
        if self.training:
            m = mask.to(x.dtype)
            sums = self._over_processes(torch.cat([(x * m).sum(dim=(0, 2)), m.sum()[None]]))
            n = sums[-1].clamp(min=1.0)
            mean = sums[:-1] / n  # (C,)
            var = self._over_processes((((x - mean[None, :, None]) ** 2) * m).sum(dim=(0, 2))) / n
            with torch.no_grad():
                unbiased = var * n / (n - 1).clamp(min=1.0)
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(unbiased.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        scale = self.weight / torch.sqrt(var + self.eps)
        return (x - mean[None, :, None]) * scale[None, :, None] + self.bias[None, :, None]

    def _over_processes(self, total: Tensor) -> Tensor:
        """``total`` summed over the data-parallel processes when ``sync_batch_stats`` (the
        backward pass sums the gradients the same way); ``total`` itself otherwise."""
        if not self.sync_batch_stats:
            return total
        from torch.distributed.nn.functional import all_reduce

        return all_reduce(total)


class TemporalConvBranch(nn.Module):
    """The FCN branch of LSTM-FCN: conv → masked BN → ReLU blocks, then the mean over real
    steps.

    Args:
        input_size: F, features per step.
        channels: output channels of each block (default (128, 256, 128)).
        kernels: kernel width of each block (default (8, 5, 3)).

    Shape: (B, T, F) with ``mask`` (B, T) → (B, channels[-1]). Steps past a sample's length are
    zeroed before every convolution, so they never reach the result.
    """

    def __init__(
        self,
        input_size: int,
        channels: Sequence[int] = CONV_CHANNELS,
        kernels: Sequence[int] = CONV_KERNELS,
    ) -> None:
        super().__init__()
        if len(channels) != len(kernels) or not channels:
            raise ValueError(
                f"conv_channels and conv_kernels must be non-empty and of one length, got "
                f"{list(channels)} and {list(kernels)}"
            )
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        c_in = input_size
        for c_out, k in zip(channels, kernels, strict=True):
            self.convs.append(nn.Conv1d(c_in, c_out, k))
            self.norms.append(MaskedBatchNorm1d(c_out))
            c_in = c_out
        self.output_size = c_in

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        m = mask.unsqueeze(1)  # (B, 1, T)
        z = inputs.transpose(1, 2) * m  # (B, F, T), padding zeroed
        for conv, norm in zip(self.convs, self.norms, strict=True):
            k = conv.kernel_size[0]
            # 'same' zero padding, (k - 1) // 2 on the left and the rest on the right, written
            # out because torch's padding='same' copies the input for even widths.
            z = torch.relu(norm(conv(F.pad(z, ((k - 1) // 2, k // 2))), m)) * m
        return z.sum(dim=2) / m.sum(dim=2).clamp(min=1)  # (B, C)


class SequenceClassifier(nn.Module):
    """Recurrent sequence classifier.

    Args:
        num_classes: C ≥ 2.
        input_kind, input_size, vocab_size, embedding_dim, frame_shape, frame_features,
            frame_encoder, cell,
            hidden_size, num_layers, bidirectional, backend: the input stage and backbone, see
            :class:`rnnkit.models.sequence_encoder.SequenceEncoder`.
        pooling: 'last', 'mean', 'max' or 'attention' (equations in the module docstring).
        head_hidden: 0 for a linear head W s + b (the classic recipe); > 0 adds a hidden ReLU
            layer of this width.
        dropout: on the recurrent input, between layers, and on the summary before the head.
        class_weights: C per-class loss weights (None: all 1).
        conv_branch: add the temporal CNN of LSTM-FCN beside the recurrent backbone
            (``'features'`` input only; equations in the module docstring).
        conv_channels, conv_kernels: its blocks' output channels and kernel widths.

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
        frame_encoder: str = "cnn",
        cell: str = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = False,
        pooling: str = "last",
        head_hidden: int = 0,
        dropout: float = 0.0,
        class_weights: Sequence[float] | None = None,
        conv_branch: bool = False,
        conv_channels: Sequence[int] = CONV_CHANNELS,
        conv_kernels: Sequence[int] = CONV_KERNELS,
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
            "frame_encoder": frame_encoder,
            "cell": cell,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "bidirectional": bool(bidirectional),
            "pooling": pooling,
            "head_hidden": head_hidden,
            "dropout": float(dropout),
            "class_weights": class_weights,
            "conv_branch": bool(conv_branch),
            "conv_channels": [int(c) for c in conv_channels],
            "conv_kernels": [int(k) for k in conv_kernels],
        }
        self.encoder = SequenceEncoder(
            input_kind=input_kind,
            input_size=input_size,
            vocab_size=vocab_size,
            embedding_dim=embedding_dim,
            frame_shape=frame_shape,
            frame_features=frame_features,
            frame_encoder=frame_encoder,
            cell=cell,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            backend=backend,
        )
        width = self.encoder.output_size
        self.conv: TemporalConvBranch | None = None
        if conv_branch:
            if input_kind != "features":
                raise ValueError(
                    f"{owner}: conv_branch=True needs input_kind='features', got {input_kind!r}"
                )
            for name, values in (("conv_channels", conv_channels), ("conv_kernels", conv_kernels)):
                for v in values:
                    check_positive(owner, name, v)
            self.conv = TemporalConvBranch(input_size, conv_channels, conv_kernels)
            width += self.conv.output_size
        rnn_width = self.encoder.output_size
        if pooling == "attention":
            self.attention = nn.Sequential(
                nn.Linear(rnn_width, rnn_width), nn.Tanh(), nn.Linear(rnn_width, 1)
            )
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
        """The summary of each sequence's real steps — the pooled recurrent outputs (B, D·H),
        beside the conv branch's (B, C_conv) with ``conv_branch`` — and the final state."""
        lengths = self.encoder.resolve_lengths(inputs, lengths)
        summary, final = self._recurrent_summary(inputs, lengths, state)
        if self.conv is None:
            return summary, final
        mask = self.encoder.step_mask(lengths.to(inputs.device), inputs.shape[1])  # (B, T)
        return torch.cat([summary, self.conv(inputs, mask)], dim=1), final

    def _recurrent_summary(
        self, inputs: Tensor, lengths: Tensor, state: State | None
    ) -> tuple[Tensor, State]:
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
        """Over the batch's targets, as (sum, count): ``accuracy``, and ``selection`` — the
        accuracy less :data:`TIE_BREAK` · ce / (1 + ce) per sequence (ce its unweighted
        cross-entropy), which ranks epochs by accuracy and, among equal accuracies, by lower
        loss (what the classify task's best epoch and early stopping watch)."""
        logits = outputs[batch.mask]
        target = batch.targets[batch.mask].long()
        correct = (logits.argmax(dim=-1) == target).double()
        # float64: in float32, 1 − 1e-4 · x keeps only about three digits of x.
        ce = F.cross_entropy(logits.detach().double(), target, reduction="none")
        selection = correct - TIE_BREAK * ce / (1 + ce)
        n = int(target.numel())
        return {"accuracy": (float(correct.sum()), n), "selection": (float(selection.sum()), n)}

    @torch.no_grad()
    def predict_proba(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Class probabilities (B, C), in evaluation mode (no dropout)."""
        was_training = self.training
        self.eval()
        try:
            return torch.softmax(self.classify(inputs, lengths), dim=-1)
        finally:
            self.train(was_training)
