"""Pose and image sequences through the classify task: a skeleton CSV trains (with rotation
augmentation), evaluates and predicts from the saved artifact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnkit.tasks import classify as C


def _skeleton_csv(path, n_per_class: int = 12, seed: int = 0):
    """Two actions of a 4-joint body: the 'hand' joint circles up-down ('wave') or left-right
    ('swing'), with a random speed, phase, body position and size per sequence."""
    rng = np.random.default_rng(seed)
    rows = []
    for label, axis in (("wave", 1), ("swing", 0)):
        for k in range(n_per_class):
            t = np.arange(rng.integers(12, 20))
            size, origin = rng.uniform(0.8, 1.2), rng.normal(0, 1, 3)
            phase, speed = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 0.9)
            for f in t:
                joints = np.array([[0, 0, 0], [0, 1, 0], [0.3, 0.8, 0], [0.6, 0.8, 0]], float)
                joints[3, axis] += 0.8 * np.sin(speed * f + phase)
                if k == 0 and f == 3:
                    joints[:] = -origin / size  # a tracker failure: all zero after the shift
                xyz = joints * size + origin
                for j in range(4):
                    rows.append((f"{label}{k}", int(f), j, *xyz[j], label))
    df = pd.DataFrame(rows, columns=["sequence", "frame", "joint", "x", "y", "z", "label"])
    df.to_csv(path, index=False)
    return df


def test_skeleton_csv_trains_predicts_and_evaluates(tmp_path):
    data = tmp_path / "poses.csv"
    _skeleton_csv(data)
    config = C.ClassifyConfig(
        data=str(data),
        format="skeleton",
        rotation=20,
        hidden_size=16,
        pooling="mean",
        baselines=False,
    )
    (tmp_path / "run").mkdir()
    result = C.train(
        config, tmp_path / "run", training=C.default_training(epochs=40, lr=1e-2, plots=False),
        quiet=True,
    )
    assert result.metrics["data"]["train"] + result.metrics["data"]["val"] == 20
    assert result.metrics["test"]["model"]["n"] == 4
    # Up-down against left-right motion of one joint: well separated, in any seed.
    assert result.metrics["val"]["model"]["accuracy"] >= 0.5
    new = tmp_path / "new.csv"
    _skeleton_csv(new, n_per_class=4, seed=1)
    scored = C.evaluate(result.artifact_path, str(new))
    assert scored["accuracy"] >= 0.75
    predicted = C.predict(result.artifact_path, str(new))
    assert list(predicted.columns[:2]) == ["sequence_id", "predicted_label"]
    assert set(predicted["predicted_label"]) <= {"wave", "swing"}
    np.testing.assert_allclose(predicted[["prob_swing", "prob_wave"]].sum(axis=1), 1.0, rtol=1e-5)


def test_rotation_is_checked():
    with pytest.raises(ValueError, match=r"rotation must be a number of degrees in \[0, 180\], "
                       "got 400"):
        C.ClassifyConfig(data="x.csv", rotation=400)
