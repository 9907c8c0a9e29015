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
