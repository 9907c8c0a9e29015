"""``rnnkit bench --quick`` end to end on a tiny grid (the printed format is pinned elsewhere)."""

from __future__ import annotations

import json

import pytest

from rnnkit.bench import suite
from rnnkit.cli import main


def test_quick_bench_on_a_tiny_grid(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(suite, "QUICK_GRID", ((2, 5, 3, 4),))
    monkeypatch.setattr(suite, "STREAM_HIDDENS", (4,))
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--layers", "GRU", "--no-memory", "--json", str(path)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("threads: ") and "sgemm peak (torch.mm 2048³)" in lines[0]
    assert [line.split()[:6] for line in lines[3:5]] == [
        ["GRU", "inference", "2", "5", "3", "4"], ["GRU", "training", "2", "5", "3", "4"]]
    assert "streaming, B = 1, F = 32, µs per step (torch: its cell)" in lines
    assert "peak extra memory" not in captured.out
    progress = captured.err.splitlines()
    assert progress[0] == "# measuring sgemm peak" and "# streaming latency" in progress
    data = json.loads(path.read_text())
    assert [(t["kind"], t["task"]) for t in data["timings"]] == [
        ("GRU", "inference"), ("GRU", "training")]
    for t in data["timings"]:
        assert t["ratio"] == pytest.approx(t["torch_ms"] / t["rnnkit_ms"])
    assert [(s["kind"], s["hidden"]) for s in data["streaming"]] == [("GRU", 4)]
    assert data["memory"] == [] and data["compile_seconds"] == {}


def test_unknown_layer_is_rejected(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--layers", "TRANSFORMER"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'TRANSFORMER'" in capsys.readouterr().err


def test_an_unwritable_json_path_is_refused_before_any_timing(tmp_path, capsys) -> None:
    from rnnkit.cli import main

    assert main(["bench", "--quick", "--json", str(tmp_path / "no" / "such" / "b.json")]) == 2
    err = capsys.readouterr().err
    assert "--json" in err and "no/such" in err
