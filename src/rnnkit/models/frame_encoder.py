"""A small per-frame convolutional encoder for short videos fed to a recurrent layer.

A video (T, H, W) or (T, H, W, C) becomes a sequence of T feature vectors (T, E) by running the
same small CNN on every frame; the recurrent layer then models how the frames change. Only real
frames are encoded (padded frames are skipped, not computed and masked), and the network has no
batch statistics (no batch norm), so a frame's code never depends on other frames or on padding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class FrameEncoder(nn.Module):
    """Per-frame CNN: two 3×3 convolutions with ReLU and 2×2 max pooling, then a linear map.

    .. math::
        z_t = W \\, \\mathrm{vec}(\\mathrm{pool}(\\mathrm{relu}(\\mathrm{conv}_2(
              \\mathrm{pool}(\\mathrm{relu}(\\mathrm{conv}_1(x_t)))))) + b

    Frames smaller than 4 pixels on a side skip the pooling that would shrink them below 1.

    Args:
        frame_shape: (H, W) or (H, W, C) of one frame.
        out_features: E, the size of each frame's code.
        channels: output channels of the two convolutions.

    Shape: input (B, T, H, W[, C]) with ``lengths`` (B,) → (B, T, E), zero past each length.
    """

    def __init__(
        self, frame_shape: Sequence[int], out_features: int = 64, channels: Sequence[int] = (16, 32)
    ) -> None:
        super().__init__()
        frame_shape = tuple(int(s) for s in frame_shape)
        if len(frame_shape) not in (2, 3) or min(frame_shape) < 1:
            raise ValueError(
                f"frame_shape must be (H, W) or (H, W, C) of positive sizes, got {frame_shape}"
            )
        if out_features < 1:
            raise ValueError(f"out_features must be >= 1, got {out_features}")
        self.frame_shape = frame_shape
        self.out_features = int(out_features)
        h, w = frame_shape[:2]
        c_in = frame_shape[2] if len(frame_shape) == 3 else 1
        layers: list[nn.Module] = []
        for c_out in channels:
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()]
            if min(h, w) >= 4:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c_in = c_out
        self.conv = nn.Sequential(*layers)
        self.proj = nn.Linear(c_in * h * w, out_features)

    def forward(self, frames: Tensor, lengths: Tensor) -> Tensor:
        b, t = frames.shape[:2]
        if tuple(frames.shape[2:]) != self.frame_shape:
            raise ValueError(
                f"FrameEncoder: frames must have shape (B, T, *{self.frame_shape}), "
                f"got {tuple(frames.shape)}"
            )
        mask = torch.arange(t, device=frames.device)[None, :] < lengths.to(frames.device)[:, None]
        real = frames[mask]  # (N_real, H, W[, C]): only frames inside each length
        x = real.unsqueeze(1) if real.dim() == 3 else real.permute(0, 3, 1, 2)  # (N, C, H, W)
        codes = torch.relu(self.proj(self.conv(x).flatten(1)))  # (N_real, E)
        out = frames.new_zeros(b, t, self.out_features)
        out[mask] = codes
        return out


#: Per-frame encoders of a video classifier: ``'cnn'`` codes each frame on its own
#: (:class:`FrameEncoder`); ``'convlstm'`` / ``'convgru'`` carry a convolutional recurrent state
#: across frames (:class:`ConvRecurrentFrameEncoder`).
FRAME_ENCODERS = ("cnn", "convlstm", "convgru")


class ConvRecurrentFrameEncoder(nn.Module):
    """A ConvLSTM or ConvGRU backbone (Shi et al. 2015) that turns a video into frame codes.

    Each frame goes through a 3×3 convolution with ReLU and 2×2 max pooling (the stem: halves
    H and W, so the recurrence runs on a quarter of the pixels), then a convolutional
    recurrent layer whose state (K, H', W') keeps *where* things moved between frames — what a
    per-frame CNN followed by a vector RNN loses by flattening each frame first. Each step's
    output is average-pooled to a P × P grid and mapped to the code:

    .. math::
        s_t = \\mathrm{pool}(\\mathrm{relu}(\\mathrm{conv}(x_t))), \\quad
        h_t = \\mathrm{ConvRNN}(s_t, h_{t-1}), \\quad
        z_t = \\mathrm{relu}(W \\, \\mathrm{vec}(\\mathrm{avgpool}_{P×P}(h_t)) + b)

    Args:
        frame_shape: (H, W) or (H, W, C) of one frame.
        out_features: E, the size of each frame's code.
        cell: 'convlstm' or 'convgru'.
        channels: channels of the stem and of the recurrent state K.
        grid: P, the side of the pooled grid (at most the state's own size).

    Shape: input (B, T, H, W[, C]) with ``lengths`` (B,) → (B, T, E), zero past each length
    (the recurrent layer stops at each length, so padding never reaches a real code).
    """

    def __init__(
        self,
        frame_shape: Sequence[int],
        out_features: int = 64,
        cell: str = "convlstm",
        channels: int = 16,
        grid: int = 4,
    ) -> None:
        super().__init__()
        from rnnkit.nn.conv_rnn import ConvGRU, ConvLSTM

        frame_shape = tuple(int(s) for s in frame_shape)
        if len(frame_shape) not in (2, 3) or min(frame_shape) < 1:
            raise ValueError(
                f"frame_shape must be (H, W) or (H, W, C) of positive sizes, got {frame_shape}"
            )
        if cell not in ("convlstm", "convgru"):
            raise ValueError(f"cell must be 'convlstm' or 'convgru', got {cell!r}")
        if out_features < 1:
            raise ValueError(f"out_features must be >= 1, got {out_features}")
        self.frame_shape, self.out_features, self.cell = frame_shape, int(out_features), cell
        h, w = frame_shape[:2]
        c_in = frame_shape[2] if len(frame_shape) == 3 else 1
        stem: list[nn.Module] = [nn.Conv2d(c_in, channels, 3, padding=1), nn.ReLU()]
        if min(h, w) >= 4:
            stem.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        self.stem = nn.Sequential(*stem)
        layer = ConvLSTM if cell == "convlstm" else ConvGRU
        self.recurrence = layer(channels, channels, 3, batch_first=True)
        self.grid = (min(grid, h), min(grid, w))
        self.pool = nn.AdaptiveAvgPool2d(self.grid)
        self.proj = nn.Linear(channels * self.grid[0] * self.grid[1], out_features)

    def forward(self, frames: Tensor, lengths: Tensor) -> Tensor:
        b, t = frames.shape[:2]
        if tuple(frames.shape[2:]) != self.frame_shape:
            raise ValueError(
                f"ConvRecurrentFrameEncoder: frames must have shape (B, T, *{self.frame_shape}), "
                f"got {tuple(frames.shape)}"
            )
        x = frames.flatten(0, 1)  # (B·T, H, W[, C])
        x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)  # (B·T, C, H, W)
        s = self.stem(x)
        s = s.view(b, t, *s.shape[1:])  # (B, T, K, H', W')
        out, _ = self.recurrence(s, lengths=lengths.to(frames.device))  # zero past each length
        pooled = self.pool(out.flatten(0, 1)).flatten(1)  # (B·T, K·P·P)
        codes = torch.relu(self.proj(pooled)).view(b, t, self.out_features)
        mask = torch.arange(t, device=frames.device)[None, :] < lengths.to(frames.device)[:, None]
        return codes * mask[..., None]


def make_frame_encoder(kind: str, frame_shape: Sequence[int], out_features: int) -> nn.Module:
    """The per-frame encoder named ``kind`` (one of :data:`FRAME_ENCODERS`)."""
    if kind == "cnn":
        return FrameEncoder(frame_shape, out_features)
    if kind in ("convlstm", "convgru"):
        return ConvRecurrentFrameEncoder(frame_shape, out_features, cell=kind)
    raise ValueError(f"frame_encoder must be one of {list(FRAME_ENCODERS)}, got {kind!r}")
