"""Frame sampling (segment centres / random frame per segment) and video augmentation."""

import numpy as np
import pytest

from rnnkit.data.frame_sampling import (
    VideoClipLoader,
    flip_horizontal,
    frame_indices,
    shift_crop,
)


def test_segment_centres_and_strides_by_hand():
    # 10 frames in 4 segments: bounds ceil(0, 2.5, 5, 7.5, 10) = 0, 3, 5, 8, 10.
    assert frame_indices(10, 4).tolist() == [1, 3, 6, 8]
    assert frame_indices(10, None).tolist() == list(range(10))
    assert frame_indices(10, None, stride=3).tolist() == [0, 3, 6, 9]
    # Thinned to 0, 2, 4, 6, 8, then 2 segments of positions [0, 3) and [3, 5).
    assert frame_indices(10, 2, stride=2).tolist() == [2, 6]
    assert frame_indices(3, 8).tolist() == [0, 1, 2]  # a short video keeps all its frames


@pytest.mark.parametrize("steps,frames", [(10, 4), (7, 7), (100, 16), (17, 5)])
def test_random_frames_stay_in_their_segments_and_cover_them(steps, frames):
    edges = np.ceil(np.linspace(0, steps, frames + 1)).astype(int)
    seen = np.zeros(steps, bool)
    for seed in range(200):
        got = frame_indices(steps, frames, rng=np.random.default_rng(seed))
        assert len(got) == frames
        assert ((edges[:-1] <= got) & (got < edges[1:])).all()
        seen[got] = True
    assert seen.all()  # every frame is drawn some epoch


def test_flip_and_shift_crop_by_hand():
    v = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(flip_horizontal(v)[1, 2], v[1, 2, ::-1])
    assert shift_crop(v, 1, 1, 1).tobytes() == v.tobytes()  # offset (crop, crop): no shift
    moved = shift_crop(v, 1, 0, 2)  # one pixel up-padded, one column left
    np.testing.assert_array_equal(moved[:, 1:, :3], v[:, :2, 1:])
    np.testing.assert_array_equal(moved[:, 0], moved[:, 1])  # edge values repeat
    rgb = np.zeros((1, 4, 4, 3), np.float32)
    assert shift_crop(rgb, 2, 4, 0).shape == rgb.shape


def test_the_loader_draws_per_epoch_reproducibly_and_centres_are_its_lengths():
    rng = np.random.default_rng(0)
    videos = [rng.random((n, 4, 4)).astype(np.float32) for n in (12, 9, 3, 20)]
    centres = [v[frame_indices(len(v), 4)] for v in videos]

    def loader():
        return VideoClipLoader(centres, np.array([0, 1, 0, 1]), raw=videos, transform=lambda a: a,
                               frames=4, flip=True, crop=1, batch_size=4, seed=5)

    a, b = loader(), loader()
    first = [x.inputs.clone() for x in a.batches(0)]
    again = [x.inputs.clone() for x in b.batches(0)]
    assert all((p == q).all() for p, q in zip(first, again, strict=True))  # same (seed, epoch)
    later = [x.inputs.clone() for x in a.batches(1)]
    assert any((p != q).any() for p, q in zip(first, later, strict=True))  # a new epoch, new draws
    assert sorted(x.lengths.tolist() for x in a.batches(2))[0] == sorted([4, 4, 3, 4])
    # A sharded loader keeps drawing (it is the same class, not a plain BucketLoader).
    assert type(a.shard(0, 2)) is VideoClipLoader
