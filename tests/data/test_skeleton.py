"""Skeleton sequences: missing frames, body normalisation, velocity, rotation, readers, and the
staged MSR Action3D / weizmann4 loaders (skipped where the data directory lacks them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.skeleton import (
    RotatingLoader,
    read_skeletons,
    real_frames,
    rotate_about_vertical,
    skeleton_features,
)


def _walker(t: int = 5, shift: float = 0.0) -> np.ndarray:
    """Three joints: a centre, one 1 unit up, one 1 unit right; the body moves +x each frame."""
    base = np.array([[0.0, 0.0, 2.0], [0.0, 1.0, 2.0], [1.0, 0.0, 2.0]])
    step = np.array([0.1, 0.0, 0.0])
    return np.stack([base + step * k + [shift, 0.0, 0.0] for k in range(t)])  # (T, 3, 3)


def test_features_are_centred_scaled_and_keep_the_centre_path():
    f = skeleton_features(_walker(), center_joint=0)
    assert f.shape == (5, 24)  # (3 joints + centre path) × xyz, then velocities
    # every frame: joints relative to the centre, divided by the RMS joint distance sqrt(2/3)
    s = np.sqrt(2 / 3)
    np.testing.assert_allclose(f[0, :9], [0, 0, 0, 0, 1 / s, 0, 1 / s, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(f[:, 9], [0.1 * k / s for k in range(5)], rtol=1e-5, atol=1e-7)
    # velocities: 0 at the first frame, then the centre path moves 0.1 / s per frame
    np.testing.assert_allclose(f[0, 12:], 0.0)
    np.testing.assert_allclose(f[1:, 21], 0.1 / s, rtol=1e-5)
    np.testing.assert_allclose(f[1:, 12:21], 0.0, atol=1e-6)


def test_scale_and_translation_do_not_change_features():
    a = skeleton_features(_walker(), center_joint=0)
    b = skeleton_features(_walker(shift=5.0) * 3.0, center_joint=0)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_all_zero_frames_are_missing_not_data():
    x = _walker(4)
    x[2] = 0.0
    assert real_frames(x).tolist() == [True, True, False, True]
    f = skeleton_features(x, center_joint=0)
    assert len(f) == 3  # the missing frame is dropped; its velocity spans the gap
    np.testing.assert_allclose(f[2, 21], 0.2 / np.sqrt(2 / 3), rtol=1e-5)
    with pytest.raises(ValueError, match=r"skeleton sequence 'a13' must have at least one frame "
                       r"with a non-zero joint, got 2 frames that are all zero"):
        skeleton_features(np.zeros((2, 3, 3)), name="a13")


def test_rotation_about_vertical_axis():
    f = np.array([[1.0, 5.0, 0.0, 0.0, 2.0, 1.0]], dtype=np.float32)
    r = rotate_about_vertical(f, np.pi / 2)
    np.testing.assert_allclose(r, [[0.0, 5.0, -1.0, 1.0, 2.0, 0.0]], atol=1e-6)
    # lengths in the horizontal plane are kept, y untouched
    r = rotate_about_vertical(f, 0.3)
    np.testing.assert_allclose(np.hypot(r[0, 0], r[0, 2]), 1.0, rtol=1e-6)
    assert r[0, 1] == 5.0


def test_rotating_loader_draws_per_epoch_and_normalises_after():
    seqs = [skeleton_features(_walker(), center_joint=0) for _ in range(2)]
    loader = RotatingLoader(
        seqs, [0, 1], transform=lambda s: s * 2, max_angle=np.pi, batch_size=2, seed=0
    )
    e0 = next(iter(loader.batches(0))).inputs
    e0_again = next(iter(loader.batches(0))).inputs
    e1 = next(iter(loader.batches(1))).inputs
    np.testing.assert_allclose(e0.numpy(), e0_again.numpy())
    assert not np.allclose(e0.numpy(), e1.numpy())
    # y (vertical) channels are not rotated, only doubled by the transform
    np.testing.assert_allclose(e0.numpy()[..., 1], 2 * np.stack(seqs)[..., 1], rtol=1e-6)


def test_long_csv_and_npz_readers(tmp_path):
    rows = []
    for seq, label, x in (("s1", "left", _walker(4)), ("s2", "right", _walker(3, 1.0))):
        for t in range(len(x)):
            for j in range(3):
                rows.append((seq, t, f"{j}", *x[t, j], label))
    df = pd.DataFrame(rows, columns=["sequence", "frame", "joint", "x", "y", "z", "label"])
    df.sample(frac=1.0, random_state=0).to_csv(tmp_path / "sk.csv", index=False)  # any order
    s = read_skeletons(tmp_path / "sk.csv")
    assert s.ids == ["s1", "s2"] or sorted(s.ids) == ["s1", "s2"]
    by_id = dict(zip(s.ids, s.sequences, strict=True))
    np.testing.assert_allclose(by_id["s1"], skeleton_features(_walker(4)), rtol=1e-5, atol=1e-6)
    assert dict(zip(s.ids, s.labels, strict=True)) == {"s1": "left", "s2": "right"}

    np.savez(
        tmp_path / "sk.npz",
        xyz=np.concatenate([_walker(4), _walker(3)]),
        offsets=np.array([0, 4, 7]),
        label=np.array(["a", "b"]),
    )
    n = read_skeletons(tmp_path / "sk.npz")
    assert [len(q) for q in n.sequences] == [4, 3] and n.labels.tolist() == ["a", "b"]
    df.drop(index=0).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="every frame of sequence 's1' must list the joints"):
        read_skeletons(tmp_path / "bad.csv")
    np.savez(tmp_path / "bad.npz", xyz=np.zeros((4, 3, 3)), offsets=np.array([0, 5]))
    with pytest.raises(ValueError, match=r"offsets must rise from 0 to 4 \(the frame count\)"):
        read_skeletons(tmp_path / "bad.npz")


def _staged(relative: str) -> None:
    from rnnkit.data.lm_corpus import TextDataUnavailableError, find_data_file

    try:
        find_data_file(relative)
    except TextDataUnavailableError:
        pytest.skip(f"{relative} is not in the data directory (licence unknown, not shipped)")


def test_msr_action3d_cross_subject_split():
    _staged("msr_action3d/skeleton_subjects_odd.npz")
    from rnnkit.data.classification_data import read_classification_data

    cols = {"text_column": "text", "label_column": "label", "format": "auto"}
    d = read_classification_data("msr-action3d", cols)
    assert len(d) == 566 and d.sequences[0].shape[1] == 126
    train = d.frame["subject"][d.split == "train"]
    assert set(train) == {1, 3, 5, 7, 9} and set(d.frame["subject"][d.split == "test"]) == {
        2, 4, 6, 8, 10
    }
    assert len(set(d.labels)) == 20
    as1 = read_classification_data("msr-action3d-as1", cols)
    assert len(set(as1.labels)) == 8 and "high throw" in set(as1.labels)
    with pytest.raises(ValueError, match="format 'video' does not fit the bundled dataset "
                       "'msr-action3d', whose steps are skeleton"):
        read_classification_data("msr-action3d", {**cols, "format": "video"})


def test_weizmann4_frames_and_blocks():
    _staged("weizmann4/frames32_part1.npz")
    from rnnkit.data.classification_data import read_classification_data

    d = read_classification_data("weizmann4", {"label_column": "label", "format": "auto"})
    assert len(d) == 36 and d.sequences[0].shape[1:] == (32, 32, 3)
    assert sorted(set(d.labels)) == ["bend", "jack", "wave1", "wave2"]
    assert set(d.frame["subject_block"][d.split == "test"]) == {6, 7, 8}
