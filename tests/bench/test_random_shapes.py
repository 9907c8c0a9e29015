"""``rnnkit bench --random``: seeded draws within the ranges, the size cap, the report."""

from __future__ import annotations

import json

import pytest

from rnnkit.bench import random_shapes as R
from rnnkit.cli import main


def test_draws_are_seeded_and_within_the_ranges() -> None:
    cases = R.draw_cases(300, seed=7)
    assert cases == R.draw_cases(300, seed=7) and cases != R.draw_cases(300, seed=8)
    for name, (low, high) in R.RANGES.items():
        values = [getattr(c, name) for c in cases]
        assert low <= min(values) and max(values) <= high
        # log-uniform: about as many draws below the geometric middle as above it
        middle = (low * high) ** 0.5
        assert 0.35 < sum(v < middle for v in values) / len(values) < 0.65
    assert {c.kind for c in cases} == {"RNN", "LSTM", "GRU"}
    assert {c.task for c in cases} == {"inference", "training"}
    assert {c.lengths for c in cases} == {c.bidirectional for c in cases} == {False, True}
    with pytest.raises(ValueError, match="count must be a positive int, got 0"):
        R.draw_cases(0, seed=1)


def test_gflop_counts_directions_and_training() -> None:
    case = R.Case("GRU", "inference", 2, 10, 3, 4, lengths=False, bidirectional=False)
    assert case.gflop == pytest.approx(2 * 10 * 2 * 3 * 4 * (3 + 4) / 1e9)
    both = R.Case("GRU", "training", 2, 10, 3, 4, lengths=True, bidirectional=True)
    assert both.gflop == pytest.approx(6 * case.gflop)
    assert both.describe() == "GRU training B=2 T=10 F=3 H=4 lengths bidirectional"


def test_cli_times_small_cases_skips_large_ones_and_reports(monkeypatch, tmp_path, capsys):
    small = R.Case("GRU", "training", 3, 4, 2, 5, lengths=True, bidirectional=True)
    large = R.Case("LSTM", "inference", 512, 2000, 512, 1024, lengths=False, bidirectional=False)
    monkeypatch.setattr(R, "draw_cases", lambda count, seed: [small, large][:count])
    path = tmp_path / "random.json"
    assert main(["bench", "--random", "2", "--seed", "3", "--quick", "--json", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "random shapes, seed 3: 2 drawn, 1 timed, 1 skipped for size"
    assert out[1].startswith("worst ratio ") and "(GRU training B=3 T=4 F=2 H=5 lengths " \
        "bidirectional)" in out[1]
    data = json.loads(path.read_text())
    assert data["seed"] == 3 and data["max_gflop"] == 2.0
    timed, skipped = data["results"]
    assert timed["ratio"] == pytest.approx(timed["torch_ms"] / timed["rnnkit_ms"])
    assert skipped["kind"] == "LSTM" and skipped["ratio"] is None


def test_cli_refuses_a_bad_count_or_cap(capsys) -> None:
    assert main(["bench", "--random", "0"]) == 2
    assert "--random must be a positive number of shapes, got 0" in capsys.readouterr().err
    assert main(["bench", "--random", "3", "--max-gflop", "-1"]) == 2
    assert "--max-gflop must be positive, got -1.0" in capsys.readouterr().err
