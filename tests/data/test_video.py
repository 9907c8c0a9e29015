"""Users' videos: class folders of GIF / MP4 / frame folders written in the test (a square
moving left or right), the messages of bad folders, and the classify task on them."""

from __future__ import annotations

import numpy as np
import pytest

iio = pytest.importorskip("imageio.v2", reason="the video extra (imageio) is not installed")

from rnnkit.data.video import read_video, read_videos  # noqa: E402


def _clip(direction: int, start: int, size: int = 16, t: int = 6) -> np.ndarray:
    """(t, size, size, 3) uint8: a 4×4 white square moving 2 pixels a frame."""
    frames = np.zeros((t, size, size, 3), dtype=np.uint8)
    for k in range(t):
        x = int(np.clip(start + direction * 2 * k, 0, size - 4))
        frames[k, 6:10, x : x + 4] = 255
    return frames


def _folder(root, n: int = 6, size: int = 16):
    for label, direction, start in (("left", -1, 12), ("right", 1, 0)):
        (root / label).mkdir(parents=True)
        for i in range(n):
            iio.mimwrite(root / label / f"c{i}.gif", list(_clip(direction, start + i % 2, size)))
    return root


def test_gif_frames_folder_and_mp4_read_back(tmp_path):
    clip = _clip(1, 0)
    iio.mimwrite(tmp_path / "a.gif", list(clip))
    np.testing.assert_array_equal(read_video(tmp_path / "a.gif"), clip.astype(np.float32))
    (tmp_path / "frames").mkdir()
    for k, f in enumerate(clip):
        iio.imwrite(tmp_path / "frames" / f"{k:03d}.png", f)
    np.testing.assert_array_equal(read_video(tmp_path / "frames"), clip.astype(np.float32))
    grey = read_video(tmp_path / "frames", grey=True)
    assert grey.shape == (6, 16, 16)
    np.testing.assert_allclose(grey[0, 7, 0:4], 255.0, rtol=1e-5)
    ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="imageio-ffmpeg (MP4) is not installed")
    writer = ffmpeg.write_frames(str(tmp_path / "a.mp4"), (16, 16), fps=10, macro_block_size=1)
    writer.send(None)  # start ffmpeg
    for f in clip:
        writer.send(np.ascontiguousarray(f))
    writer.close()
    mp4 = read_video(tmp_path / "a.mp4")
    assert mp4.shape == (6, 16, 16, 3)
    # lossy, but the square is where it should be
    assert mp4[0, 8, 1] .mean() > 150 and mp4[0, 8, 12].mean() < 60


def test_class_folders_give_labels(tmp_path):
    s = read_videos(_folder(tmp_path / "clips", n=2))
    assert s.labels.tolist() == ["left", "left", "right", "right"]
    assert s.ids == ["left/c0.gif", "left/c1.gif", "right/c0.gif", "right/c1.gif"]
    assert s.step_shape == (16, 16, 3)


def test_bad_folders_are_named(tmp_path):
    (tmp_path / "one" / "wave").mkdir(parents=True)
    iio.mimwrite(tmp_path / "one" / "wave" / "a.gif", list(_clip(1, 0)))
    with pytest.raises(ValueError, match=r"at least two classes, to train or evaluate, got 1 "
                       r"class folder\(s\) \['wave'\]"):
        read_videos(tmp_path / "one")
    (tmp_path / "two" / "a").mkdir(parents=True)
    (tmp_path / "two" / "b").mkdir()
    iio.mimwrite(tmp_path / "two" / "a" / "x.gif", list(_clip(1, 0)))
    iio.mimwrite(tmp_path / "two" / "b" / "y.gif", list(_clip(1, 0, size=20)))
    with pytest.raises(ValueError, match=r"every video must have the same frame size, got "
                       r"\(16, 16, 3\) in .*x.gif.* and \(20, 20, 3\) in .*y.gif.*not resized"):
        read_videos(tmp_path / "two")
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    with pytest.raises(ValueError, match=r"video '.*broken.mp4' is not readable"):
        read_video(tmp_path / "broken.mp4")
    with pytest.raises(ValueError, match=r"video folder '.*one' must hold frame images"):
        read_video(tmp_path / "one")  # a folder of folders, no frames
    (tmp_path / "clip.txt").write_text("x")
    with pytest.raises(ValueError, match="video must be a file with one of the extensions"):
        read_video(tmp_path / "clip.txt")
    with pytest.raises(ValueError, match=r"must hold videos \(.*\), in one sub-folder per class"):
        (tmp_path / "empty").mkdir()
        read_videos(tmp_path / "empty")


def test_video_folder_trains_and_predicts_one_clip(tmp_path):
    from rnnkit.tasks import classify as C

    clips = _folder(tmp_path / "clips", n=8)
    config = C.ClassifyConfig(
        data=str(clips), format="video", hidden_size=16, frame_features=16, baselines=False,
        normalization="global",
    )
    (tmp_path / "run").mkdir()
    result = C.train(
        config, tmp_path / "run", training=C.default_training(epochs=30, lr=1e-2, plots=False),
        quiet=True,
    )
    assert result.metrics["test"]["model"]["n"] == 4
    one = tmp_path / "one.gif"
    iio.mimwrite(one, list(_clip(1, 1)))
    predicted = C.predict(result.artifact_path, str(one))
    assert predicted["sequence_id"].tolist() == ["one.gif"]
    assert predicted["prob_left"].iloc[0] + predicted["prob_right"].iloc[0] == pytest.approx(1.0)
    scored = C.evaluate(result.artifact_path, str(clips))
    # left against right motion of a bright square: learnt from 12 clips in any seed
    assert scored["accuracy"] >= 0.75
