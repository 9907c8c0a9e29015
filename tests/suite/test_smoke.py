"""The smoke suite end to end (the small twin of the published runs): the table's numbers are
the runs' numbers, its summary is recomputed from them, and missing optional packages skip their
baselines with a note."""

import json
import sys

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.registry import DatasetUnavailableError, package_file
from rnnkit.suite import run_suite
from rnnkit.suite.scoring import holdout_scores
from rnnkit.suite.table import MODEL


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    for package, path in (
        ("statsmodels", "statsmodels/datasets/nile/nile.csv"),
        ("sktime", "sktime/datasets/data/ItalyPowerDemand/ItalyPowerDemand_TRAIN.ts"),
    ):
        try:
            package_file(package, path)
        except DatasetUnavailableError:
            pytest.skip(f"{package} is not installed (the smoke suite's data)")
    out = tmp_path_factory.mktemp("smoke") / "results"
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        # As if the optional baseline packages were missing (and so the run stays short).
        mp.setitem(sys.modules, "statsforecast.models", None)
        mp.setitem(sys.modules, "aeon.classification", None)
        mp.setitem(sys.modules, "dtaidistance.dtw", None)
        mp.setitem(sys.modules, "sktime.transformations.rocket", None)
        report = run_suite("smoke", out, seeds=1, max_time="10s", progress=lines.append)
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return out, report, data, lines


def test_writes_markdown_and_json_with_a_progress_line_per_dataset(smoke):
    out, report, data, lines = smoke
    assert [d["name"] for d in data["datasets"]] == ["nile", "ItalyPowerDemand"]
    assert sum("nile:" in line for line in lines) == 2  # a start and an end line
    assert sum("ItalyPowerDemand:" in line for line in lines) == 2
    md = (out / "results.md").read_text(encoding="utf-8")
    assert md == report.render(markdown=True)
    assert "**MASE (lower is better)**" in md and "**accuracy (higher is better)**" in md
    assert data["seeds"] == 1 and data["max_time"] == "10s"


def test_missing_optional_packages_skip_their_baselines_with_a_note(smoke):
    _, _, data, _ = smoke
    nile, italy = data["datasets"]
    assert set(nile["baselines"]) == {"seasonal naive"}
    assert any("AutoETS, AutoTheta, AutoARIMA skipped: statsforecast" in n for n in data["notes"])
    assert any("1-NN DTW skipped: aeon" in n for n in data["notes"])
    assert any("MiniRocket skipped: aeon" in n for n in data["notes"])
    # rnnkit's own classification baselines still run
    assert set(italy["baselines"]) == {
        "1-nearest-neighbour",
        "per-channel statistics logistic regression",
    }


def test_model_numbers_are_the_runs_numbers(smoke):
    out, _, data, _ = smoke
    from rnnkit.tasks import forecast

    nile, italy = data["datasets"]
    # classification: the test accuracy the run wrote
    run = json.loads((out / "runs/ItalyPowerDemand/seed0/metrics.json").read_text("utf-8"))
    assert italy["model"][0]["accuracy"] == run["test"]["model"]["accuracy"]
    # forecasting: forecast again from the saved model and score against the holdout
    volume = pd.read_csv(package_file("statsmodels", "statsmodels/datasets/nile/nile.csv"))[
        "volume"
    ].to_numpy(dtype=float)
    frame = pd.read_csv(out / "data/nile.csv")
    assert frame["value"].tolist() == volume[:-6].tolist()  # the holdout is never trained on
    predicted = forecast.predict(out / "runs/nile/seed0/model.safetensors", frame, seed=0)
    scores = holdout_scores(volume[:-6], volume[-6:], predicted["value"].to_numpy(), 1)
    assert nile["model"][0] == pytest.approx(scores)
    naive = holdout_scores(volume[:-6], volume[-6:], np.full(6, volume[-7]), 1)
    assert nile["baselines"]["seasonal naive"] == pytest.approx(naive)


def test_summary_is_recomputed_from_the_per_dataset_numbers(smoke):
    _, _, data, _ = smoke
    for d in data["datasets"]:
        metric = d["metrics"][0]
        model = float(np.mean([m[metric] for m in d["model"]]))
        summary = data["summary"][d["kind"]]
        assert summary["metric"] == metric
        values = {MODEL: model, **{b: v[metric] for b, v in d["baselines"].items()}}
        sign = 1 if metric == "mase" else -1
        for name, value in values.items():
            better = sum(sign * v < sign * value for v in values.values())
            same = sum(round(v, 3) == round(value, 3) for v in values.values())
            assert summary["ranks"][d["name"]][name] == pytest.approx(better + (same + 1) / 2)
            assert summary["mean_rank"][name] == summary["ranks"][d["name"]][name]  # one dataset
        for b, v in d["baselines"].items():
            tol = 0.005 if metric == "accuracy" else 0.01 * max(abs(model), abs(v[metric]))
            diff = sign * (v[metric] - model)
            expected = [0, 1, 0] if abs(diff) <= tol else ([1, 0, 0] if diff > 0 else [0, 0, 1])
            assert summary["wins_ties_losses"][b] == expected


def test_a_used_out_dir_is_refused(smoke):
    out, _, _, _ = smoke
    with pytest.raises(ValueError, match="out_dir must be a new or empty folder"):
        run_suite("smoke", out, seeds=1)
    with pytest.raises(ValueError, match="seeds must be an integer ≥ 1, got 0"):
        run_suite("smoke", out.parent / "other", seeds=0)
