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
    assert out[1].startswith("numba: worst ratio ") and "(GRU training B=3 T=4 F=2 H=5 " \
        "lengths bidirectional)" in out[1]
    assert out[3].startswith("auto: worst ratio ")
    data = json.loads(path.read_text())
    assert data["seed"] == 3 and data["max_gflop"] == 2.0
    timed, skipped = data["results"]
    assert timed["ratio"] == pytest.approx(timed["torch_ms"] / timed["rnnkit_ms"])
    assert timed["auto_ratio"] == pytest.approx(timed["torch_ms"] / timed["auto_ms"])
    assert timed["auto_backend"] == "numba"  # the cost model is off in tests: numba-first
    assert skipped["kind"] == "LSTM" and skipped["ratio"] is None and skipped["auto_ms"] is None


def test_report_gives_worst_median_and_losses_for_numba_and_auto() -> None:
    def case(steps):
        return R.Case("LSTM", "inference", 2, steps, 3, 16, lengths=False, bidirectional=False)

    results = [R.CaseResult(case(1), 1.0, 2.0, 1.0, "torch"),
               R.CaseResult(case(2), 3.0, 1.0, 1.0, "numba"),
               R.CaseResult(case(3), 2.0, 1.0, 2.1, "numba"), R.CaseResult(case(4), None, None)]
    text = R.format_random(results, seed=5, markdown=True).splitlines()
    assert text[:5] == [
        "random shapes, seed 5: 4 drawn, 3 timed, 1 skipped for size",
        "numba: worst ratio 0.50x (LSTM inference B=2 T=1 F=3 H=16); median 2.00x",
        "numba slower than torch by more than 5%: 1 of 3",
        "auto: worst ratio 0.95x (LSTM inference B=2 T=3 F=3 H=16); median 1.00x",
        "auto slower than torch by more than 5%: 0 of 3",
    ]
    assert text[8] == ("| LSTM inference B=2 T=1 F=3 H=16 | 1.00 | 2.00 | 0.50x | torch | 1.00 "
                       "| 1.00x |")
    numba_only = R.format_random([R.CaseResult(case(1), 1.0, 2.0)], seed=5).splitlines()
    assert not any(line.startswith("auto") for line in numba_only)
    assert numba_only[-1].split() == ["LSTM", "inference", "B=2", "T=1", "F=3", "H=16", "1.00",
                                      "2.00", "0.50x"]


def test_cli_refuses_a_bad_count_or_cap(capsys) -> None:
    assert main(["bench", "--random", "0"]) == 2
    assert "--random must be a positive number of shapes, got 0" in capsys.readouterr().err
    assert main(["bench", "--random", "3", "--max-gflop", "-1"]) == 2
    assert "--max-gflop must be positive, got -1.0" in capsys.readouterr().err


def test_cli_calibrate_measures_saves_and_prints_verdicts(monkeypatch, tmp_path, capsys):
    from rnnkit.kernels import cost_model
    from tests.kernels.test_cost_model import synthetic_timer

    monkeypatch.setenv("RNNKIT_COST_MODEL", "on")
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cost_model, "_time_layers", synthetic_timer)
    try:
        assert main(["bench", "--calibrate", "--json", str(tmp_path / "model.json")]) == 0
        out = capsys.readouterr().out
        assert "cost model: calibrated in " in out
        assert "gru training lengths T=500 B=4 F=32 H=64: numba" in out
        # what --random reports 'auto' ran is the registry's verdict under this model
        tiny = R.Case("GRU", "training", 1, 2, 8, 16, lengths=True, bidirectional=False)
        long = R.Case("GRU", "training", 4, 500, 32, 64, lengths=True, bidirectional=False)
        assert (R.auto_choice(tiny), R.auto_choice(long)) == ("torch", "numba")
        saved = cost_model.load()
        assert saved is not None and saved.coefficients["lstm/inference/dense"]["numba"] == \
            pytest.approx([0.2, 0.002, 0.0, 1e-8], rel=1e-6, abs=1e-12)
        assert json.loads((tmp_path / "model.json").read_text()) == json.loads(saved.to_json())
    finally:
        cost_model.use(None)
