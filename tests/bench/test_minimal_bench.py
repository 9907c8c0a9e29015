"""``rnnkit bench --minimal`` end to end on a tiny shape: every contender, both tasks, ratios
against torch's LSTM, and the JSON written the safe way."""

from __future__ import annotations

import json

import pytest

import rnnkit.bench.minimal as minimal
from rnnkit.cli import main

NAMES = ["torch.nn.LSTM", "torch.nn.GRU", "rnnkit.nn.MinGRU", "rnnkit.nn.MinLSTM"]


def test_minimal_bench_on_a_tiny_shape(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(minimal, "MINIMAL_SHAPE", (2, 5, 3, 4))
    path = tmp_path / "minimal.json"
    assert main(["bench", "--minimal", "--quick", "--markdown", "--json", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "**B=2 T=5 F=3 H=4, float32, median ms**"
    assert out[2] == "| layer | task | ms | vs torch LSTM |"
    assert [line.split(" | ")[:2] for line in out[4:12]] == [
        [f"| {name}", task] for task in ("inference", "training") for name in NAMES]
    assert out[4].endswith("| 1.0x |") and out[8].endswith("| 1.0x |")
    assert out[12].startswith("load average before ")
    data = json.loads(path.read_text())
    assert data["shape"] == [2, 5, 3, 4]
    results = data["results"]
    assert [(r["name"], r["task"]) for r in results] == [
        (name, task) for task in ("inference", "training") for name in NAMES]
    for task in ("inference", "training"):
        rows = {r["name"]: r for r in results if r["task"] == task}
        base = rows["torch.nn.LSTM"]["ms"]
        for row in rows.values():
            assert row["ms"] > 0
            assert row["vs_torch_lstm"] == pytest.approx(base / row["ms"])


def test_the_json_output_is_checked_before_any_timing(monkeypatch, tmp_path, capsys) -> None:
    def never(*args, **kwargs):
        raise AssertionError("timed before the output check")

    monkeypatch.setattr(minimal, "time_minimal", never)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    assert main(["bench", "--minimal", "--json", str(folder)]) == 2
    assert "--json must be a file path, got the folder" in capsys.readouterr().err
