"""Users' videos: a folder per class of video files or frame folders, or a single video.

The layout most video tools use::

    clips/
        wave/  a.mp4  b.avi  c.gif  d/ (a folder of frames: 0001.png, 0002.png, ...)
        walk/  ...

Each class folder's name is the label. Videos are decoded by imageio (GIF and frame images
through Pillow, MP4/AVI/MOV/MKV/WEBM through imageio-ffmpeg's bundled ffmpeg), the optional
``video`` extra: ``pip install "rnnkit[video]"``. Frames become float32 arrays (T, H, W, 3) with
values 0..255, or (T, H, W) grey (``grey=True``, the 'depth' format: luminance of RGB frames,
a single-channel image as it is).

Frame sizes are **refused, not resized**, when they differ between videos: resizing would
silently change the aspect and the scale the model learns from, so the message names two
files of different sizes and asks for one size (e.g. ``ffmpeg -vf scale=W:H``).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np

from rnnkit.data.sequence_files import SequenceSet

INSTALL = 'pip install "rnnkit[video]"'
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif", ".m4v", ".mpg", ".mpeg")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _imageio():
    try:
        import imageio.v2 as iio
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"reading videos needs imageio (and imageio-ffmpeg for MP4/AVI), which is not "
            f"installed; install it with: {INSTALL}"
        ) from err
    return iio


def _as_frames(frames: list[np.ndarray], grey: bool, where: str) -> np.ndarray:
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise ValueError(f"{where}: every frame must have the same size, got {sorted(shapes)}")
    x = np.stack(frames).astype(np.float32)  # (T, H, W) or (T, H, W, C)
    if x.ndim == 4 and x.shape[-1] == 4:
        x = x[..., :3]  # alpha carries no appearance
    if x.ndim == 3:
        x = x[..., None]  # (T, H, W, 1)
    if grey:
        if x.shape[-1] == 3:
            x = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)[:, None]  # ITU-R 601
        return x[..., 0]
    return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


def read_video(path: str | os.PathLike[str], *, grey: bool = False) -> np.ndarray:
    """One video file or folder of frame images as (T, H, W, 3) (grey: (T, H, W)) float32."""
    p = Path(path)
    iio = _imageio()
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in FRAME_SUFFIXES)
        if not files:
            raise ValueError(
                f"video folder {str(p)!r} must hold frame images {list(FRAME_SUFFIXES)}, got none"
            )
        frames = []
        for f in files:
            try:
                frames.append(np.asarray(iio.imread(f)))
            except Exception as err:  # decoders raise many types; the file is named either way
                raise ValueError(f"frame {str(f)!r} is not a readable image: {err}") from err
        return _as_frames(frames, grey, repr(str(p)))
    if p.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(
            f"video must be a file with one of the extensions {list(VIDEO_SUFFIXES)} or a folder "
            f"of frames, got {str(p)!r}"
        )
    try:
        if p.suffix.lower() == ".gif":
            frames = [np.asarray(f) for f in iio.mimread(p, memtest=False)]
        else:
            frames = _ffmpeg_frames(p)
    except Exception as err:  # a damaged or unsupported file: name it, keep the cause
        raise ValueError(f"video {str(p)!r} is not readable: {type(err).__name__}: {err}") from err
    if not frames:
        raise ValueError(f"video {str(p)!r} must hold at least one frame, got none")
    return _as_frames(frames, grey, repr(str(p)))


def _ffmpeg_frames(p: Path) -> list[np.ndarray]:
    """RGB frames (H, W, 3) uint8 of a video decoded by imageio-ffmpeg's ffmpeg. The generator
    is read to its end, which closes ffmpeg's pipes (imageio's reader leaves them open)."""
    try:
        import imageio_ffmpeg
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"reading {p.suffix} videos needs imageio-ffmpeg, which is not installed; install "
            f"it with: {INSTALL}"
        ) from err
    # ffmpeg run here (not imageio_ffmpeg.read_frames, which leaves its pipes open): raw RGB
    # frames on stdout, the stream header with the frame size on stderr.
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-i", str(p), "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=False,
    )
    header = done.stderr.decode("utf-8", "replace")
    size = re.search(r"Stream #.*?Video:.*?\b(\d{1,5})x(\d{1,5})\b", header)
    if done.returncode != 0 or size is None:
        last = header.strip().splitlines()[-1:] or ["no output"]
        raise ValueError(f"ffmpeg could not decode it ({last[0]})")
    w, h = int(size.group(1)), int(size.group(2))
    frames = np.frombuffer(done.stdout, dtype=np.uint8)
    if frames.size % (h * w * 3):
        raise ValueError(f"ffmpeg gave {frames.size} bytes, not whole {w}x{h} RGB frames")
    return list(frames.reshape(-1, h, w, 3))


def _is_video(p: Path) -> bool:
    return (p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES) or (
        p.is_dir() and any(f.suffix.lower() in FRAME_SUFFIXES for f in p.iterdir())
    )


def read_videos(
    path: str | os.PathLike[str], *, grey: bool = False, labelled: bool = True
) -> SequenceSet:
    """Videos of ``path``: a folder with one sub-folder of videos per class (labelled), a folder
    of videos, or one video (unlabelled, for prediction).

    Raises:
        ValueError: no video, a single class for training, an unreadable video (named), or
            videos of different frame sizes (refused, see the module docstring).
    """
    root = Path(path)
    if not root.exists():
        raise ValueError(
            f"data must be a video or a folder of videos, got {str(root)!r} (not found)"
        )
    items: list[tuple[Path, str | None]]
    if root.is_file() or _is_video(root):
        items = [(root, None)]
    else:
        classes = sorted(d for d in root.iterdir() if d.is_dir() and not _is_video(d))
        if classes:
            items = [(v, d.name) for d in classes for v in sorted(d.iterdir()) if _is_video(v)]
        else:
            items = [(v, None) for v in sorted(root.iterdir()) if _is_video(v)]
    if not items:
        raise ValueError(
            f"{str(root)!r} must hold videos ({', '.join(VIDEO_SUFFIXES)} or folders of frames), "
            "in one sub-folder per class for training, got none"
        )
    labels = [label for _, label in items]
    if labelled:
        found = sorted({str(label) for label in labels if label is not None})
        if None in labels or len(found) < 2:
            raise ValueError(
                f"{str(root)!r} must have one sub-folder of videos per class, at least two "
                f"classes, to train or evaluate, got {len(found)} class folder(s) {found}"
            )
    videos = [read_video(v, grey=grey) for v, _ in items]
    sizes = {v.shape[1:]: item for v, (item, _) in zip(videos, items, strict=True)}
    if len(sizes) > 1:
        (s1, f1), (s2, f2) = list(sizes.items())[:2]
        raise ValueError(
            f"every video must have the same frame size, got {s1} in {str(f1)!r} and {s2} in "
            f"{str(f2)!r}; videos are not resized: resize them to one size first (e.g. ffmpeg "
            "-vf scale=W:H)"
        )
    ids = [str(v.relative_to(root)) if v != root else v.name for v, _ in items]
    label_array = None if any(label is None for label in labels) else np.asarray(labels, object)
    return SequenceSet(videos, label_array, ids)
