"""Input stage + recurrent backbone shared by :class:`SequenceClassifier` and
:class:`SequenceTagger`.

Three kinds of input, one recurrent stack:

* ``'features'``: numeric steps (B, T, F), e.g. accelerometer channels or image rows;
* ``'tokens'``: token ids (B, T) through an embedding (id 0 is padding);
* ``'frames'``: videos (B, T, H, W[, C]) through a per-frame :class:`FrameEncoder`.

The backbone is an ``rnnkit.nn`` ``LSTM``, ``GRU`` or tanh ``RNN`` run with ``lengths=``, so its
outputs past each length are zero and its final state is the one at each sample's last real
step: padding never reaches the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import torch
from torch import Tensor, nn

from rnnkit.models.backbone import model_cells, recurrent_layer
from rnnkit.models.frame_encoder import FRAME_ENCODERS, make_frame_encoder

INPUT_KINDS = ("features", "tokens", "frames")

#: A recurrent state as ``rnnkit.nn`` layers return it: h_n, or (h_n, c_n) for an LSTM.
State = Union[Tensor, tuple[Tensor, Tensor]]  # noqa: UP007 - a runtime alias


def check_choice(owner: str, argument: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{owner}: {argument} must be one of {list(choices)}, got {value!r}")
    return str(value)


def check_positive(owner: str, argument: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {argument} must be an integer >= 1, got {value!r}")
    return value


def check_probability(owner: str, argument: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{owner}: {argument} must be a number in [0, 1), got {value!r}")
    return float(value)


class SequenceEncoder(nn.Module):
    """(B, T, ...) input + lengths → per-step outputs (B, T, D·H) and final states.

    Args:
        input_kind: 'features', 'tokens' or 'frames' (see the module docstring).
        input_size: F, features per step (``'features'`` only).
        vocab_size: number of token ids, padding and unknown included (``'tokens'`` only).
        embedding_dim: E, the size of token embeddings (``'tokens'``).
        frame_shape: (H, W) or (H, W, C) of one frame (``'frames'`` only).
        frame_features: E, the size of each frame's code (``'frames'``).
        frame_encoder: 'cnn' (each frame coded on its own), 'convlstm' or 'convgru' (a
            convolutional recurrent backbone; see :mod:`rnnkit.models.frame_encoder`).
        cell: 'lstm', 'gru' or 'rnn' (Elman, tanh).
        hidden_size: H. num_layers: L. bidirectional: D = 2 if True else 1.
        dropout: on the recurrent input (embeddings, frame codes or features) and between
            recurrent layers, in training mode.
        backend: passed to the ``rnnkit.nn`` layer ('auto': fastest correct kernel).
    """

    def __init__(
        self,
        *,
        input_kind: str,
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
        dropout: float = 0.0,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_kind = check_choice(owner, "input_kind", input_kind, INPUT_KINDS)
        self.cell = check_choice(owner, "cell", cell, model_cells())
        self.hidden_size = check_positive(owner, "hidden_size", hidden_size)
        self.num_layers = check_positive(owner, "num_layers", num_layers)
        self.bidirectional = bool(bidirectional)
        self.dropout = check_probability(owner, "dropout", dropout)
        self.directions = 2 if self.bidirectional else 1
        self.embedding: nn.Embedding | None = None
        self.frames: nn.Module | None = None
        if input_kind == "features":
            if input_size is None:
                raise ValueError(f"{owner}: input_kind='features' needs input_size, got None")
            rnn_input = check_positive(owner, "input_size", input_size)
        elif input_kind == "tokens":
            if vocab_size is None:
                raise ValueError(f"{owner}: input_kind='tokens' needs vocab_size, got None")
            check_positive(owner, "vocab_size", vocab_size)
            rnn_input = check_positive(owner, "embedding_dim", embedding_dim)
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        else:
            if frame_shape is None:
                raise ValueError(f"{owner}: input_kind='frames' needs frame_shape, got None")
            rnn_input = check_positive(owner, "frame_features", frame_features)
            check_choice(owner, "frame_encoder", frame_encoder, FRAME_ENCODERS)
            self.frames = make_frame_encoder(frame_encoder, frame_shape, frame_features)
        self.rnn = recurrent_layer(
            cell,
            rnn_input,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            # Between-layer dropout only exists with a second layer (torch warns otherwise).
            dropout=self.dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
            backend=backend,
        )
        self.input_dropout = nn.Dropout(self.dropout)

    @property
    def output_size(self) -> int:
        """D·H, the width of each step's output."""
        return self.directions * self.hidden_size

    def forward(
        self, inputs: Tensor, lengths: Tensor, state: State | None = None
    ) -> tuple[Tensor, State]:
        """Run the input stage and the recurrent stack.

        Args:
            inputs: (B, T, F) floats, (B, T) token ids, or (B, T, H, W[, C]) frames.
            lengths: (B,) int64, each in [1, T].
            state: initial recurrent state as the ``rnnkit.nn`` layer takes it (None: zeros).

        Returns:
            outputs (B, T, D·H), zero past each length, and the final state at each sample's
            last real step: h_n (L·D, B, H), or (h_n, c_n) for an LSTM.
        """
        if self.embedding is not None:
            if inputs.dtype not in (torch.int64, torch.int32):
                raise TypeError(
                    f"{type(self).__name__}: token input must be an integer tensor, "
                    f"got {inputs.dtype}"
                )
            x = self.embedding(inputs)  # (B, T, E)
        elif self.frames is not None:
            x = self.frames(inputs, lengths)  # (B, T, E)
        else:
            x = inputs
        x = self.input_dropout(x)
        return self.rnn(x, state, lengths=lengths)

    def top_state(self, state: State) -> Tensor:
        """The top layer's final hidden state (B, D·H): for a bidirectional stack the forward
        direction's state at step ℓ beside the backward direction's at step 1."""
        h_n = state[0] if isinstance(state, tuple) else state  # h of (h, c, ...): (L·D, B, H)
        top = h_n[-self.directions :]  # (D, B, H)
        return top.permute(1, 0, 2).reshape(top.shape[1], -1)

    @staticmethod
    def resolve_lengths(inputs: Tensor, lengths: Tensor | None) -> Tensor:
        """(B,) int64 lengths; None means every sample has all T steps."""
        if lengths is None:
            return torch.full((inputs.shape[0],), inputs.shape[1], dtype=torch.int64)
        return torch.as_tensor(lengths, dtype=torch.int64)

    def step_mask(self, lengths: Tensor, steps: int) -> Tensor:
        """(B, T) bool: True at real steps, False at padding."""
        return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]
