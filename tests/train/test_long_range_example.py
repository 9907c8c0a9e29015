"""examples/long_range.py: each task trains, reports its score beside the memoryless one, and
writes its plots (a tiny budget: the published pattern is measured in docs/diagnostics.md)."""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "long_range.py"


def _example():
    spec = importlib.util.spec_from_file_location("long_range_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("task,metric,trivial", [
    ("adding", "test_mse", 2 / 3),
    ("temporal-order", "test_accuracy", 0.25),
    ("copy", "test_loss", 10 * math.log(8) / (12 + 20)),
])
def test_each_long_range_task_trains_and_reports_against_the_memoryless_score(
        tmp_path, task, metric, trivial):
    example = _example()
    args = argparse.Namespace(task=task, hidden=4, updates=4, train_size=64, lr=1e-2, seed=0,
                              out=tmp_path)
    row = example.run("gru", 12, 1.0, args)
    assert row["run"] == "gru_T12_clip" and row["T"] == 12
    assert row["trivial"] == pytest.approx(trivial)
    assert math.isfinite(row["score"])
    if metric == "test_accuracy":
        assert 0.0 <= row["score"] <= 1.0
    else:
        assert row["score"] > 0.0
    assert (tmp_path / "gru_T12_clip" / "gradient_norms.png").stat().st_size > 1000
    assert row["memory_after"] >= 1
