"""The results table: wins/ties/losses and ranks are recomputed from the per-dataset numbers."""

import json

import pytest

from rnnkit.suite.table import (
    MODEL,
    DatasetResult,
    average_ranks,
    compare,
    render,
    summarize,
    to_json,
)


def forecast(name, model, baselines, published=None, error=None):
    return DatasetResult(
        name,
        "forecast",
        ["mase", "smape"],
        model=[{"mase": m, "smape": 10 * m} for m in model],
        baselines={b: {"mase": v, "smape": 10 * v} for b, v in baselines.items()},
        published={p: {"mase": v} for p, v in (published or {}).items()},
        error=error,
    )


def test_compare_uses_the_stated_tolerances():
    assert compare(0.90, 1.00, "mase") == "win"
    assert compare(1.00, 0.995, "mase") == "tie"  # within 1% of the larger
    assert compare(1.02, 1.00, "mase") == "loss"
    assert compare(0.80, 0.70, "accuracy") == "win"
    assert compare(0.700, 0.704, "accuracy") == "tie"  # within 0.005
    assert compare(0.70, 0.71, "accuracy") == "loss"
    assert compare(None, 5.0, "mase") == "loss"  # a failed model loses


def test_average_ranks_share_ties_and_put_failures_last():
    ranks = average_ranks({"a": 1.0, "b": 1.0, "c": 0.5, "d": None}, lower_is_better=True)
    assert ranks == {"c": 1.0, "a": 2.5, "b": 2.5, "d": 4.0}
    ranks = average_ranks({"a": 0.9, "b": 0.8}, lower_is_better=False)
    assert ranks == {"a": 1.0, "b": 2.0}


def test_summary_is_recomputed_from_the_numbers():
    results = [
        # model mean 0.9 beats naive 1.0, loses to ets 0.5
        forecast("d1", [0.8, 1.0], {"naive": 1.0, "ets": 0.5}, {"theta (published)": 2.0}),
        # model 2.0 loses to both; ties with the published 2.01
        forecast("d2", [2.0], {"naive": 1.5, "ets": 1.8}, {"theta (published)": 2.01}),
        # the model failed: a loss against every column, ranked last
        forecast("d3", [], {"naive": 1.0, "ets": 3.0}, error="too short"),
    ]
    s = summarize(results)
    assert s.metric == "mase"
    assert s.wins_ties_losses == {
        "naive": (1, 0, 2),
        "ets": (0, 0, 3),
        "theta (published)": (1, 1, 0),
    }
    assert s.ranks["d1"] == {MODEL: 2.0, "naive": 3.0, "ets": 1.0}
    assert s.ranks["d2"] == {MODEL: 3.0, "naive": 1.0, "ets": 2.0}
    assert s.ranks["d3"] == {MODEL: 3.0, "naive": 1.0, "ets": 2.0}
    assert s.mean_rank == pytest.approx({MODEL: 8 / 3, "naive": 5 / 3, "ets": 5 / 3})
    assert "theta (published)" not in s.mean_rank  # published numbers are not ranked


def test_summary_refuses_mixed_task_kinds():
    mixed = [
        forecast("d1", [1.0], {"naive": 1.0}),
        DatasetResult("c1", "classify", ["accuracy"], model=[{"accuracy": 0.5}]),
    ]
    with pytest.raises(ValueError, match="one task kind"):
        summarize(mixed)
    # rendering splits by kind instead
    text = render(mixed, markdown=False)
    assert "MASE (lower is better)" in text and "accuracy (higher is better)" in text


def test_render_shows_mean_std_failures_and_summary_rows():
    results = [
        forecast("d1", [0.8, 1.0], {"naive": 1.0}),
        forecast("d2", [], {"naive": 2.0}, error="boom"),
    ]
    md = render(results, markdown=True)
    lines = md.splitlines()
    assert f"| dataset | {MODEL} | naive |" in lines
    assert "| d1 | 0.900 ± 0.100 | 1.000 |" in lines
    assert "| d2 | failed | 2.000 |" in lines
    assert "| W/T/L of the model | — | 1/0/1 |" in lines
    assert "| mean rank | 1.50 | 1.50 |" in lines
    assert "**sMAPE (lower is better)**" in md
    assert "| d1 | 9.000 ± 1.000 | 10.000 |" in lines


def test_json_holds_every_seed_and_the_summary_as_strict_json():
    results = [forecast("d1", [0.8, float("nan")], {"naive": 1.0})]
    data = json.loads(to_json(results, {"suite": "x"}))
    assert data["suite"] == "x"
    assert data["datasets"][0]["model"][1]["mase"] is None  # NaN → null
    assert data["summary"]["forecast"]["wins_ties_losses"] == {"naive": [1, 0, 0]}
    assert data["datasets"][0]["baselines"]["naive"]["mase"] == 1.0
