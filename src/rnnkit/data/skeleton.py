"""Skeleton (pose) sequences: readers, body normalisation, velocity features, rotation
augmentation.

A skeleton sequence is an array (T, J, 3): J joints with (x, y, z) coordinates per frame, y
pointing up (the Kinect convention; MSR Action3D's ``Real3D`` files follow it). What a recurrent
classifier sees per frame is made here:

1. **Missing frames.** A frame whose joints are all exactly zero is a tracker failure, not a
   pose at the origin. It is dropped (the network sees only real frames, and a velocity spans the
   gap) rather than fed in as data. A sequence with no real frame cannot be classified and is an
   error naming it.
2. **Body normalisation** (Du et al. 2015, Vemulapalli et al. 2014): every frame is centred on
   the centre joint c (the hip centre of MSR Action3D; the joints' centroid for other skeletons),
   then the whole sequence is divided by one body size s, the median over its frames of the RMS
   distance of the joints from the centre,

   .. math::
       p'_{t,j} = (p_{t,j} - p_{t,c}) / s, \\quad
       s = \\mathrm{median}_t \\sqrt{\\tfrac{1}{J} \\sum_j \\lVert p_{t,j} - p_{t,c} \\rVert^2},

   so that subjects of different height and distance from the camera give the same numbers,
   and the centre's own path (walking, jumping) is kept as 3 extra channels, its position
   relative to its first real frame divided by s.
3. **Velocity**: v_t = p'_t − p'_{t−1} (v_0 = 0), the differential features of Veeriah et al.
   2015 in their simplest form.

The features of one frame are [p' (3J), centre path (3), v (3(J + 1))], every group of three an
(x, y, z) triple, so a rotation about the vertical axis rotates each triple alike
(:func:`rotate_about_vertical`, used as training augmentation by :class:`RotatingLoader`).

Readers: a long CSV (one row per joint and frame: ``sequence, frame, joint, x, y, z`` and an
optional label column) and an NPZ (``xyz`` (N_frames, J, 3) with ``offsets`` (N + 1), optional
``label``/``action`` and ``seq``), the layout of the staged MSR Action3D files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from rnnkit.data.bucketing import BucketLoader, SequenceBatch
from rnnkit.data.sequence_files import SequenceSet, require_columns

#: Columns of a long skeleton CSV (besides an optional label column).
SKELETON_COLUMNS = ("sequence", "frame", "joint", "x", "y", "z")


def real_frames(xyz: np.ndarray) -> np.ndarray:
    """(T,) bool: frames with at least one non-zero coordinate (all zero: missing)."""
    return np.any(np.asarray(xyz).reshape(len(xyz), -1) != 0, axis=1)


def skeleton_features(
    xyz: np.ndarray, *, center_joint: int | None = None, velocity: bool = True, name: str = ""
) -> np.ndarray:
    """Per-frame features of one skeleton sequence (see the module docstring).

    Args:
        xyz: (T, J, 3) joint coordinates, all-zero frames missing.
        center_joint: index of the joint to centre on (None: the joints' centroid).
        velocity: append the frame-to-frame differences.
        name: the sequence's name, for messages.

    Returns:
        (T', 3(J + 1)) or, with velocity, (T', 6(J + 1)) float32, T' the real frames.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    where = f"skeleton sequence {name!r}" if name else "skeleton sequence"
    if xyz.ndim != 3 or xyz.shape[2] != 3 or xyz.shape[1] < 1:
        raise ValueError(f"{where} must have shape (T, J, 3), got {xyz.shape}")
    if not np.isfinite(xyz).all():
        raise ValueError(f"{where} must hold finite coordinates, got NaN or Inf")
    real = real_frames(xyz)
    if not real.any():
        raise ValueError(
            f"{where} must have at least one frame with a non-zero joint, got {len(xyz)} frames "
            "that are all zero (missing)"
        )
    j = xyz.shape[1]
    if center_joint is not None and not 0 <= center_joint < j:
        raise ValueError(f"center_joint must be in [0, {j}), got {center_joint}")
    p = xyz[real]  # (T', J, 3)
    centre = p[:, center_joint] if center_joint is not None else p.mean(axis=1)  # (T', 3)
    rel = p - centre[:, None, :]
    size = float(np.median(np.sqrt((rel**2).sum(axis=2).mean(axis=1))))
    size = size if size > 1e-9 else 1.0  # one joint, or all joints at the centre
    path = (centre - centre[0]) / size  # (T', 3)
    pos = np.concatenate([rel.reshape(len(p), -1) / size, path], axis=1)  # (T', 3(J + 1))
    if velocity:
        vel = np.diff(pos, axis=0, prepend=pos[:1])
        pos = np.concatenate([pos, vel], axis=1)
    return pos.astype(np.float32)


def feature_names(joints: int, velocity: bool = True) -> list[str]:
    """The names of :func:`skeleton_features`' channels for ``joints`` joints."""
    groups = [f"j{k:02d}" for k in range(joints)] + ["centre_path"]
    names = [f"{g}_{a}" for g in groups for a in "xyz"]
    return names + [f"d_{n}" for n in names] if velocity else names


def rotate_about_vertical(features: np.ndarray, angle: float) -> np.ndarray:
    """Rotate every (x, y, z) triple of ``features`` (T, 3K) by ``angle`` radians about y.

    .. math:: x' = x \\cos a + z \\sin a, \\quad y' = y, \\quad z' = -x \\sin a + z \\cos a
    """
    f = np.asarray(features)
    if f.shape[-1] % 3:
        raise ValueError(f"features must have a multiple of 3 channels, got {f.shape[-1]}")
    t = f.reshape(*f.shape[:-1], -1, 3)
    c, s = np.cos(angle), np.sin(angle)
    out = np.stack([t[..., 0] * c + t[..., 2] * s, t[..., 1], -t[..., 0] * s + t[..., 2] * c], -1)
    return out.reshape(f.shape).astype(f.dtype)


def rotated_copies(
    sequences: Sequence[np.ndarray], max_degrees: float, seed: int, copies: int = 4
) -> list[np.ndarray]:
    """``copies`` rotations of every sequence by random angles in ±``max_degrees``: what a
    normaliser is fit on when training rotates, so that a channel that is constant in the data
    (e.g. z of a flat pose) does not get a tiny σ that rotation then blows up."""
    rng = np.random.default_rng([seed, 7])
    bound = np.deg2rad(max_degrees)
    return [rotate_about_vertical(s, rng.uniform(-bound, bound)) for s in sequences for _ in
            range(copies)]


class RotatingLoader(BucketLoader):
    """A :class:`BucketLoader` of skeleton features that rotates each training sequence by its
    own random angle about the vertical axis before ``transform`` (the normaliser, fit on
    :func:`rotated_copies` of the training split) — a view-point augmentation.

    The angle of sequence i in epoch e is uniform in [−max_angle, max_angle] radians, drawn from
    ``(seed, epoch, i)``, so an epoch is the same however it is resumed.
    """

    def __init__(
        self,
        sequences: Sequence[np.ndarray],
        targets: Sequence[object] | np.ndarray,
        *,
        transform: Callable[[np.ndarray], np.ndarray],
        max_angle: float,
        **kwargs,
    ) -> None:
        super().__init__(sequences, targets, **kwargs)
        self.raw = [np.asarray(s, dtype=np.float32) for s in sequences]
        self.transform, self.max_angle = transform, float(max_angle)
        self._epoch = 0

    def batches(self, epoch: int, start: int = 0) -> Iterator[SequenceBatch]:
        self._epoch = int(epoch)
        yield from super().batches(epoch, start)

    def batch(self, index: Sequence[int] | np.ndarray) -> SequenceBatch:
        for i in index:
            rng = np.random.default_rng([self.seed, self._epoch, int(i)])
            angle = rng.uniform(-self.max_angle, self.max_angle)
            self.sequences[i] = self.transform(rotate_about_vertical(self.raw[i], angle))
        return super().batch(index)


def read_skeleton_csv(
    path: str | os.PathLike[str], *, label_column: str | None = "label", labelled: bool = True
) -> tuple[list[np.ndarray], np.ndarray | None, list[str]]:
    """Raw skeletons of a long CSV: one row per (sequence, frame, joint) with x, y, z.

    Every frame of every sequence must list the same joints; frames are ordered by ``frame``
    and joints by ``joint``. A label, when present, must be the same on all rows of a sequence.

    Returns:
        (sequences (T_i, J, 3) float64, labels (N,) or None, sequence ids).
    """
    import pandas as pd

    where = repr(str(path))
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{where} is not a readable CSV file: {err}") from err
    names = [str(c) for c in df.columns]
    if label_column is not None and label_column not in names and not labelled:
        label_column = None
    wanted = {f"skeleton column {c!r}": c for c in SKELETON_COLUMNS}
    require_columns(names, {**wanted, "label_column": label_column}, where)
    for col in ("frame", "x", "y", "z"):
        numeric = pd.to_numeric(df[col], errors="coerce")
        bad = numeric.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{where}: column {col!r} must be numeric, got {df[col].iloc[row]!r} at data "
                f"row {row + 1}"
            )
        df[col] = numeric
    df["sequence"] = df["sequence"].astype(str)
    df["joint"] = df["joint"].astype(str)
    joints = sorted(df["joint"].unique(), key=_natural)
    sequences, labels, ids = [], [], []
    for seq, rows in df.groupby("sequence", sort=False):
        table = rows.pivot_table(index="frame", columns="joint", values=["x", "y", "z"])
        missing = [j for j in joints if j not in table["x"].columns]
        if missing or table.isna().any().any():
            raise ValueError(
                f"{where}: every frame of sequence {seq!r} must list the joints {joints}, got "
                f"frames without joint(s) {missing or 'some'}"
            )
        xyz = np.stack([table[a][joints].to_numpy() for a in "xyz"], axis=-1)  # (T, J, 3)
        sequences.append(xyz)
        ids.append(str(seq))
        if label_column is not None:
            values = rows[label_column].unique()
            if len(values) != 1:
                raise ValueError(
                    f"{where}: label column {label_column!r} must be the same on every row of a "
                    f"sequence, got {list(values)[:5]} in sequence {seq!r}"
                )
            labels.append(values[0])
    return sequences, None if label_column is None else np.asarray(labels), ids


def read_skeleton_npz(
    path: str | os.PathLike[str],
) -> tuple[list[np.ndarray], np.ndarray | None, list[str]]:
    """Raw skeletons of an NPZ: ``xyz`` (N_frames, J, 3), ``offsets`` (N + 1; sequence i is
    rows offsets[i]:offsets[i+1]), optional ``label`` (or ``action``) (N,) and ``seq`` (N,)
    ids. Read without pickle."""
    where = repr(str(path))
    try:
        z = np.load(path, allow_pickle=False)
        arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError) as err:
        raise ValueError(f"{where} is not a readable NPZ archive of arrays: {err}") from err
    for key in ("xyz", "offsets"):
        if key not in arrays:
            raise ValueError(
                f"{where} must hold arrays 'xyz' and 'offsets', got {sorted(arrays)}"
            )
    xyz, offsets = arrays["xyz"], np.asarray(arrays["offsets"], dtype=np.int64)
    if xyz.ndim != 3 or xyz.shape[2] != 3:
        raise ValueError(f"{where}: xyz must have shape (N_frames, J, 3), got {xyz.shape}")
    if offsets.ndim != 1 or len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != len(xyz) or (
        np.diff(offsets) < 1
    ).any():
        raise ValueError(
            f"{where}: offsets must rise from 0 to {len(xyz)} (the frame count) with at least "
            f"one frame per sequence, got {offsets[:6].tolist()}..."
        )
    n = len(offsets) - 1
    labels = arrays.get("label", arrays.get("action"))
    if labels is not None and len(labels) != n:
        raise ValueError(
            f"{where}: label must have one entry per sequence ({n}), got {len(labels)}"
        )
    ids = [str(s) for s in arrays["seq"]] if "seq" in arrays else [str(i) for i in range(n)]
    sequences = [xyz[offsets[i] : offsets[i + 1]] for i in range(n)]
    return sequences, labels, ids


def skeleton_set(
    sequences: Sequence[np.ndarray],
    labels: np.ndarray | None,
    ids: Sequence[str],
    *,
    center_joint: int | None = None,
    split: np.ndarray | None = None,
) -> SequenceSet:
    """A :class:`SequenceSet` of :func:`skeleton_features` (every sequence must share J)."""
    joints = {s.shape[1] for s in sequences if np.ndim(s) == 3}
    if len(joints) > 1:
        raise ValueError(
            f"every skeleton must have the same number of joints, got {sorted(joints)}"
        )
    feats = [
        skeleton_features(s, center_joint=center_joint, name=i)
        for s, i in zip(sequences, ids, strict=True)
    ]
    return SequenceSet(feats, labels, list(ids), feature_names(joints.pop()), split)


def read_skeletons(
    path: str | os.PathLike[str], *, label_column: str | None = "label", labelled: bool = True
) -> SequenceSet:
    """Skeleton features of a long CSV or an NPZ file (told by the extension)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"data must be an existing skeleton file, got {str(p)!r} (not found)")
    if p.suffix.lower() == ".npz":
        seqs, labels, ids = read_skeleton_npz(p)
    else:
        seqs, labels, ids = read_skeleton_csv(p, label_column=label_column, labelled=labelled)
    return skeleton_set(seqs, labels, ids)


def _natural(name: str) -> tuple:
    """Sort key: '2' before '10'."""
    return (0, int(name), "") if name.lstrip("-").isdigit() else (1, 0, name)
