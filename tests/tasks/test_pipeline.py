"""The task pipeline: the registry, one artifact layout and metrics schema for every task,
artifacts written by rnnkit 0.1.0 still loading, and the JSON of ``rnnkit evaluate --json``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import rnnkit
from rnnkit.cli import main
from rnnkit.io.artifact import UnsignedMetadataWarning, load_artifact, read_kind
from rnnkit.tasks import classify, forecast, tag
from rnnkit.tasks.pipeline import Task
from rnnkit.tasks.registry import TASKS, get_task, task_for_kind

LEGACY = Path(__file__).parent.parent / "fixtures" / "legacy_0_1"


def test_registry_names_every_task_once() -> None:
    assert list(TASKS) == ["forecast", "classify", "tag", "lm", "translate", "summarize"]
    assert all(isinstance(t, Task) for t in TASKS.values())
    kinds = [t.artifact_kind for t in TASKS.values()]
    assert kinds == ["forecaster", "sequence-classifier", "sequence-tagger", "language-model",
                     "translator", "summarizer"]
    assert task_for_kind("sequence-tagger") is tag.TASK
    with pytest.raises(ValueError,
                       match=r"task must be one of \['classify', 'forecast', 'lm', 'summarize', "
                       r"'tag', 'translate'\]"):
        get_task("transcribe")
    with pytest.raises(rnnkit.RNNKitError, match="kind 'painting'"):
        task_for_kind("painting")


@pytest.mark.parametrize(
    "name,module,data,loaded_class",
    [
        ("forecaster", forecast, "series.csv", "LoadedForecaster"),
        ("classifier", classify, "reviews.csv", "LoadedClassifier"),
        ("tagger", tag, "tagged.jsonl", "LoadedTagger"),
    ],
)
def test_artifacts_of_rnnkit_0_1_load_and_predict_as_before(
    tmp_path, name, module, data, loaded_class
) -> None:
    path = LEGACY / f"{name}.safetensors"
    with pytest.warns(UnsignedMetadataWarning, match="not covered by its digest"):
        assert load_artifact(path).format == 1
    with pytest.warns(UnsignedMetadataWarning):
        loaded = rnnkit.load(path)
    assert type(loaded).__name__ == loaded_class
    module.predict(loaded, LEGACY / data).to_csv(tmp_path / "now.csv", index=False)
    predicted = pd.read_csv(tmp_path / "now.csv")  # as the CLI writes it, like the fixture
    expected = pd.read_csv(LEGACY / f"{name}_predictions.csv")
    pd.testing.assert_frame_equal(
        predicted.reset_index(drop=True), expected, check_dtype=False, atol=1e-6
    )


def test_an_old_forecaster_evaluates_on_its_own_test_period() -> None:
    with pytest.warns(UnsignedMetadataWarning):
        loaded = forecast.load_forecaster(LEGACY / "forecaster.safetensors")
    assert loaded.config.horizon == 3 and loaded.config.input_length == 14
    metrics = forecast.evaluate(loaded, LEGACY / "series.csv")
    assert set(metrics) >= {"model", "naive", "seasonal_naive", "drift"}
    assert metrics["season_length"] == 7 and metrics["windows"] > 0


@pytest.fixture(scope="module")
def tagger_run(tmp_path_factory) -> Path:
    """A small tagger trained through the one runner."""
    root = tmp_path_factory.mktemp("tag")
    shutil.copy(LEGACY / "tagged.jsonl", root / "tagged.jsonl")
    config = tag.TagConfig(data=str(root / "tagged.jsonl"), hidden_size=4, embedding_dim=4,
                           min_freq=1)
    tag.train(config, root, training=tag.default_training(epochs=2, plots=False), quiet=True)
    return root


def test_every_task_writes_one_artifact_layout_and_training_schema(tagger_run) -> None:
    artifact = load_artifact(tagger_run / "model.safetensors")
    assert artifact.format == 3  # FORMAT_VERSION: metadata and tensors signed
    assert set(artifact.config) == {"model", "task"}
    assert artifact.config["task"]["data"].endswith("tagged.jsonl")
    assert read_kind(tagger_run / "model.safetensors") == "sequence-tagger"
    training = json.loads((tagger_run / "metrics.json").read_text())["training"]
    assert set(training) == {
        "epochs", "best_epoch", "best_value", "monitor", "seconds", "stopped_by"
    }
    assert 1 <= training["best_epoch"] <= training["epochs"] == 2  # 1-based, like the history
    assert training["stopped_by"] is None


def test_evaluate_json_prints_one_object_and_nothing_else(tagger_run, capsys) -> None:
    assert main(["evaluate", str(tagger_run), str(tagger_run / "tagged.jsonl"), "--json"]) == 0
    out = capsys.readouterr().out
    metrics = json.loads(out)
    assert out.count("\n") == 1 and 0.0 <= metrics["accuracy"] <= 1.0
    same = tag.evaluate(tagger_run / "model.safetensors", tagger_run / "tagged.jsonl")
    assert metrics == json.loads(json.dumps(same))  # exactly the API's metrics


def test_max_time_ends_training_keeps_the_best_weights_and_says_so(tmp_path) -> None:
    shutil.copy(LEGACY / "tagged.jsonl", tmp_path / "tagged.jsonl")
    config = tag.TagConfig(data=str(tmp_path / "tagged.jsonl"), hidden_size=4, embedding_dim=4,
                           min_freq=1, batch_size=4)
    # A budget of 1 ms has passed after the first batch, whatever the machine's speed.
    training = tag.default_training(epochs=5, plots=False, max_time="0.001s")
    result = tag.train(config, tmp_path, training=training, quiet=True)
    t = result.metrics["training"]
    assert t["stopped_by"] == "time budget 0.001s reached"
    assert t["epochs"] == 1 and t["best_epoch"] == 1  # the cut epoch still closes
    assert "stopped: time budget 0.001s reached" in result.summary()
    assert rnnkit.load(result.artifact_path).model.config == result.task.build_model(
        result.task.prepare(config, training, lambda _: None)
    ).config


def test_max_time_is_checked_with_the_other_options() -> None:
    with pytest.raises(rnnkit.RNNKitError, match="max_time must be a duration"):
        tag.default_training(max_time="soon")


def test_rnnkit_train_stays_the_function_after_the_engine_is_imported() -> None:
    import rnnkit.train  # the training engine's subpackage
    from rnnkit.train import TrainConfig

    assert callable(rnnkit.train) and rnnkit.train.__module__ == "rnnkit.api"
    assert TrainConfig().epochs == 10


def test_what_the_command_line_needs_is_a_dependency_not_an_extra() -> None:
    import importlib.metadata

    required = importlib.metadata.requires("rnnkit") or []
    plain = [r.split(";")[0].replace(" ", "") for r in required if "extra ==" not in r]
    assert any(r.startswith("pandas") for r in plain), required


def test_the_api_takes_what_load_returned(tmp_path) -> None:
    path = LEGACY / "forecaster.safetensors"
    with pytest.warns(Warning):
        loaded = rnnkit.load(path)
    frame = rnnkit.predict(loaded, LEGACY / "series.csv")
    assert list(frame.columns)[:3] == ["day", "step", "load"] and len(frame) == 3
    assert rnnkit.evaluate(loaded, LEGACY / "series.csv")["windows"] > 0
    with pytest.raises(TypeError, match="model must be a run directory, an artifact file or"):
        rnnkit.predict({"not": "a model"}, LEGACY / "series.csv")


def test_a_loss_to_a_baseline_is_said_first_and_a_win_plainly() -> None:
    from rnnkit.tasks.pipeline import compare_with_baselines, verdict_text

    metrics = {"val": {"model": {"mase": 1.2}, "naive": {"mase": 1.5},
                       "seasonal_naive": {"mase": 0.9}}, "test": {}}
    verdict = compare_with_baselines(forecast.TASK, metrics)
    assert verdict == {"part": "val", "metric": "mase", "higher_is_better": False, "model": 1.2,
                       "best_baseline": "seasonal_naive", "baseline": 0.9, "model_wins": False,
                       "tie": False}
    assert verdict_text(verdict).startswith(
        "**The model loses to the seasonal_naive baseline on the validation data** (mase 1.2 "
        "for the model, 0.9 for seasonal_naive)")
    metrics = {"test": {"model": {"accuracy": 0.9}, "baselines": {"1-NN": {"accuracy": 0.8}}}}
    verdict = compare_with_baselines(tag.TASK, metrics)
    assert verdict["part"] == "test" and verdict["model_wins"]
    assert verdict_text(verdict).startswith("The model beats every baseline on the test data")
    # A tie (BLEU 0 for both on answers too short for 4-grams) is no win, and no loss either.
    metrics = {"val": {"model": {"accuracy": 0.8}, "baselines": {"1-NN": {"accuracy": 0.8}}}}
    verdict = compare_with_baselines(tag.TASK, metrics)
    assert verdict["model_wins"] and verdict["tie"]
    assert verdict_text(verdict) == ("The model ties with the 1-NN baseline on the validation "
                                     "data (accuracy 0.8 for the model, 0.8 for 1-NN): it does "
                                     "not beat it.")


def test_the_run_summary_opens_with_the_verdict(tagger_run) -> None:
    metrics = json.loads((tagger_run / "metrics.json").read_text())
    assert metrics["verdict"]["metric"] == "accuracy"
    assert metrics["verdict"]["best_baseline"] == "most-frequent-tag per token"


def test_an_unseen_series_is_refused_or_skipped_as_asked(tmp_path, capsys) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"store": sid, "day": pd.date_range("2024-01-01", periods=60),
                            "sales": 10 + rng.normal(0, 1, 60)}) for sid in ("a", "b")]
    pd.concat(frames).to_csv(tmp_path / "train.csv", index=False)
    config = forecast.ForecastConfig(data=str(tmp_path / "train.csv"), time_column="day",
                                     targets=["sales"], series_column="store", horizon=2,
                                     input_length=7, hidden_size=4)
    run = tmp_path / "run"
    run.mkdir()
    forecast.train(config, run, training=forecast.default_training(epochs=1, plots=False),
                   quiet=True)
    new = pd.concat([frames[0], frames[1].assign(store="c")])
    new.to_csv(tmp_path / "new.csv", index=False)
    with pytest.raises(ValueError, match=r"1 series the model was not trained on \('c'\).*"
                                         r"--on-bad-rows skip"):
        rnnkit.predict(run, tmp_path / "new.csv")
    with pytest.warns(UserWarning, match="skipped 1 series the model was not trained on: 'c'"):
        out = rnnkit.predict(run, tmp_path / "new.csv", on_bad_rows="skip")
    assert set(out["store"]) == {"a"} and len(out) == 2
    out_file = tmp_path / "p.csv"
    with pytest.warns(UserWarning, match="skipped 1 series"):  # printed on stderr by the CLI
        assert main(["predict", str(run), str(tmp_path / "new.csv"), "-o", str(out_file),
                     "--on-bad-rows", "skip"]) == 0
    assert set(pd.read_csv(out_file)["store"]) == {"a"}


def test_a_constant_series_says_why_its_mase_is_undefined(tmp_path) -> None:
    frame = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=80).strftime("%Y-%m-%d"),
                          "y": [5.0] * 80})
    frame.to_csv(tmp_path / "flat.csv", index=False)
    config = forecast.ForecastConfig(data=str(tmp_path / "flat.csv"), time_column="day",
                                     targets=["y"], horizon=2, input_length=7, hidden_size=4)
    run = tmp_path / "run"
    run.mkdir()
    result = forecast.train(config, run, training=forecast.default_training(epochs=1,
                                                                            plots=False),
                            quiet=True)
    assert result.metrics["mase_undefined"] == ["the series / y"]
    assert "MASE is undefined (NaN) for the series / y" in result.summary()


def test_prediction_never_advises_an_option_it_does_not_have(tmp_path) -> None:
    frame = pd.read_csv(LEGACY / "series.csv")
    frame.loc[70, "load"] = float("nan")
    frame.to_csv(tmp_path / "gappy.csv", index=False)
    with pytest.warns(Warning), pytest.raises(ValueError) as info:
        forecast.predict(LEGACY / "forecaster.safetensors", tmp_path / "gappy.csv")
    assert "the model applies its own missing='error' to new data" in str(info.value)
    assert "pass missing='drop'" not in str(info.value)


def test_without_baselines_turns_off_every_kind_a_config_has():
    from rnnkit.tasks.classify_config import ClassifyConfig
    from rnnkit.tasks.forecast_config import ForecastConfig
    from rnnkit.tasks.pipeline import without_baselines

    forecast = without_baselines(ForecastConfig(data="sunspots"))
    assert forecast.stat_baselines == "off" and forecast.data == "sunspots"
    classify = ClassifyConfig(data="basic-motions")
    off = without_baselines(classify)
    assert off.baselines is False and classify.baselines is True  # a copy; the original kept
