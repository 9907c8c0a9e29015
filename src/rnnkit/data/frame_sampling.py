"""Which frames of a video the model sees, and the training-time augmentation of videos.

**Frame sampling** (segment sampling, as in temporal segment networks, Wang et al. 2016): a
video of T frames is first thinned to every ``stride``-th frame, then, when more than
``frames`` remain, cut into ``frames`` equal segments with one frame taken from each:

* evaluation and prediction take each segment's centre (deterministic: the same video always
  gives the same input);
* training takes a random frame of each segment, new every epoch (temporal jitter), so the
  model sees the whole video at a fixed cost per sequence and never the same clip twice.

A video with ``frames`` or fewer (thinned) frames keeps them all.

**Augmentation** of a training video (one draw per video and epoch, the same for all its
frames, so the motion stays coherent): a horizontal flip with probability 1/2 (only where a
mirrored action keeps its label, which the user decides), and a random crop: each frame is
padded by ``crop`` pixels (edge values) and a window of the original size is cut at a random
offset, i.e. a shift of up to ``crop`` pixels in each direction.

Frames are arrays (T, H, W) or (T, H, W, C); draws come from ``(seed, epoch, i)``, so an epoch is
the same however it is resumed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from rnnkit.data.bucketing import BucketLoader, SequenceBatch


def frame_indices(
    steps: int, frames: int | None, stride: int = 1, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Indices (T',) of the frames a video of ``steps`` frames is reduced to.

    Every ``stride``-th frame, then, when more than ``frames`` are left, one per segment of
    ``frames`` equal segments: the centre (``rng`` None) or a random one (``rng`` given).
    """
    idx = np.arange(0, steps, stride)
    if frames is None or len(idx) <= frames:
        return idx
    # Integer segment bounds: segment k holds thinned positions [lo_k, hi_k), never empty.
    edges = np.ceil(np.linspace(0, len(idx), frames + 1)).astype(np.int64)
    lo, hi = edges[:-1], edges[1:]
    pick = (lo + hi - 1) // 2 if rng is None else rng.integers(lo, hi)
    return idx[pick]


def flip_horizontal(video: np.ndarray) -> np.ndarray:
    """The video mirrored left-right: (T, H, W[, C]), the W axis reversed."""
    return video[:, :, ::-1].copy()


def shift_crop(video: np.ndarray, crop: int, dy: int, dx: int) -> np.ndarray:
    """Pad every frame by ``crop`` pixels (edge values) and cut the original size at offset
    (``dy``, ``dx``) in [0, 2·crop]: (T, H, W[, C]) -> the same shape."""
    H, W = video.shape[1:3]
    pad = [(0, 0), (crop, crop), (crop, crop)] + [(0, 0)] * (video.ndim - 3)
    padded = np.pad(video, pad, mode="edge")
    return padded[:, dy : dy + H, dx : dx + W].copy()


class VideoClipLoader(BucketLoader):
    """A :class:`BucketLoader` of videos that, every epoch, draws each training video's frames
    (:func:`frame_indices` with a random frame per segment) and its augmentation (flip, shifted
    crop) before ``transform`` (the normaliser fit on the training split).

    ``sequences`` are the model inputs of the deterministic sampling (segment centres), used
    for the lengths and buckets; ``raw`` the whole videos, from which each batch is drawn.
    """

    def __init__(
        self,
        sequences: Sequence[np.ndarray],
        targets: Sequence[object] | np.ndarray,
        *,
        raw: Sequence[np.ndarray],
        transform: Callable[[np.ndarray], np.ndarray],
        frames: int | None,
        stride: int = 1,
        flip: bool = False,
        crop: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(sequences, targets, **kwargs)
        self.raw = list(raw)
        self.transform = transform
        self.frames, self.stride, self.flip, self.crop = frames, int(stride), bool(flip), int(crop)
        self._epoch = 0

    def batches(self, epoch: int, start: int = 0) -> Iterator[SequenceBatch]:
        self._epoch = int(epoch)
        yield from super().batches(epoch, start)

    def draw(self, i: int, epoch: int) -> np.ndarray:
        """Video ``i`` as training epoch ``epoch`` sees it (before the normaliser)."""
        rng = np.random.default_rng([self.seed, int(epoch), int(i), 17])
        video = self.raw[i]
        video = video[frame_indices(len(video), self.frames, self.stride, rng)]
        if self.flip and rng.random() < 0.5:
            video = flip_horizontal(video)
        if self.crop:
            dy, dx = rng.integers(0, 2 * self.crop + 1, size=2)
            video = shift_crop(video, self.crop, int(dy), int(dx))
        return video

    def batch(self, index: Sequence[int] | np.ndarray) -> SequenceBatch:
        for i in index:
            self.sequences[i] = self.transform(self.draw(int(i), self._epoch))
        return super().batch(index)
