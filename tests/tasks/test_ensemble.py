"""Seed ensembles (``--ensemble N``): members trained with seeds seed, seed + 1, ...; their
predictions combined (mean probabilities; mean point forecasts, Vincentized quantiles); one
artifact; the ensemble beside its members in metrics.json and summary.md; what refuses it."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.data.bucketing import pad_sequences
from rnnkit.io.artifact import ArtifactError, load_artifact
from rnnkit.tasks import classify, forecast, tag
from rnnkit.tasks.ensemble import ClassifierEnsemble, ForecasterEnsemble, TaggerEnsemble

FIXTURES = Path(__file__).parent.parent / "fixtures" / "legacy_0_1"
FAST = {"epochs": 2, "plots": False, "quiet": True, "ensemble": 2, "seed": 5}


def _train(root: Path, task: str, **options) -> rnnkit.api.TrainOutcome:
    return rnnkit.train(task, runs_root=str(root), name=task, **FAST, **options)


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ens-classify")
    data = root / "reviews.csv"
    shutil.copy(FIXTURES / "reviews.csv", data)
    outcome = _train(root, "classify", data=str(data), hidden_size=4, embedding_dim=4,
                     min_freq=1, baselines=False)
    return outcome, data


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ens-forecast")
    data = root / "series.csv"
    shutil.copy(FIXTURES / "series.csv", data)
    outcome = _train(root, "forecast", data=str(data), time_column="day", targets="load",
                     input_length=14, horizon=3, season_length=7, hidden_size=4)
    return outcome, data


@pytest.fixture(scope="module")
def tag_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ens-tag")
    rng = np.random.default_rng(0)
    nouns, verbs = ["cat", "dog", "bird", "fish"], ["runs", "eats", "sees", "sleeps"]
    lines = []
    for _ in range(40):  # noun verb noun ..., tags N/V: members learn it to different degrees
        tokens = [str(rng.choice(nouns if i % 2 == 0 else verbs)) for i in range(5)]
        lines.append(json.dumps({"tokens": tokens,
                                 "tags": ["N" if t in nouns else "V" for t in tokens]}))
    data = root / "tagged.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outcome = _train(root, "tag", data=str(data), hidden_size=4, embedding_dim=4, min_freq=1)
    return outcome, data


def _member_tensors(path: Path) -> dict[int, dict[str, torch.Tensor]]:
    out: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in load_artifact(path).tensors.items():
        _, index, rest = name.split(".", 2)
        out.setdefault(int(index), {})[rest] = value
    return out


def test_members_have_their_own_seeds_files_and_weights(classify_run) -> None:
    outcome, _ = classify_run
    section = outcome.metrics["ensemble"]
    assert section["size"] == 2 and section["seeds"] == [5, 6]
    assert section["member_dirs"] == ["member-0", "member-1"]
    for d in section["member_dirs"]:
        assert (outcome.run_dir / d / "history.csv").is_file()
    members = _member_tensors(outcome.artifact_path)
    assert sorted(members) == [0, 1] and members[0].keys() == members[1].keys()
    # Different seeds, different initial weights: the trained weights differ too.
    assert any(not torch.equal(members[0][k], members[1][k]) for k in members[0])
    config = load_artifact(outcome.artifact_path).config["model"]
    assert config["ensemble"]["size"] == 2 and config["ensemble"]["seeds"] == [5, 6]
    training = outcome.metrics["training"]
    assert [m["seed"] for m in training["members"]] == [5, 6]
    assert training["epochs"] == sum(m["epochs"] for m in training["members"])
    assert (outcome.run_dir / "config.toml").read_text().count("ensemble = 2") == 1


def test_classifier_probabilities_are_the_members_mean(classify_run, tmp_path) -> None:
    outcome, data = classify_run
    loaded = rnnkit.load(outcome.run_dir)
    assert isinstance(loaded.model, ClassifierEnsemble)
    predicted = classify.predict(loaded, data)
    prob_columns = [c for c in predicted.columns if c.startswith("prob_")]
    part = classify.read_for(loaded, data, labelled=False)
    inputs = loaded.preprocessing.inputs(part)
    each = [classify.predict_proba(m, inputs) for m in loaded.model.members]
    assert not np.allclose(each[0], each[1])
    np.testing.assert_allclose(predicted[prob_columns].to_numpy(), (each[0] + each[1]) / 2,
                               atol=1e-6)
    # The CLI's predict gives the same combined probabilities.
    out = tmp_path / "labels.csv"
    assert main(["predict", str(outcome.run_dir), str(data), "-o", str(out)]) == 0
    np.testing.assert_allclose(pd.read_csv(out)[prob_columns].to_numpy(),
                               predicted[prob_columns].to_numpy(), atol=1e-6)


def test_classifier_report_has_the_ensemble_beside_its_members(classify_run, capsys) -> None:
    outcome, _ = classify_run
    m = outcome.metrics
    test = m["ensemble"]["test"]
    # The run's own test scores (table, verdict) are the ensemble's ...
    assert test["ensemble"]["accuracy"] == m["test"]["model"]["accuracy"]
    # ... and evaluating the saved artifact gives them again (in memory == after loading).
    assert main(["evaluate", str(outcome.run_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(
        m["test"]["model"]["accuracy"])
    acc = test["members"]["accuracy"]
    assert len(acc["values"]) == 2
    assert acc["mean"] == pytest.approx(np.mean(acc["values"]))
    assert acc["std"] == pytest.approx(np.std(acc["values"], ddof=1))
    head = test["headline"]
    assert head["metric"] == "accuracy" and head["gain"] == pytest.approx(
        head["ensemble"] - acc["mean"])
    summary = (outcome.run_dir / "summary.md").read_text(encoding="utf-8")
    assert "## Ensemble" in summary and "An ensemble of 2 members (seeds 5, 6" in summary
    assert f"| test | accuracy | {head['ensemble']:.4g} | {acc['mean']:.4g} ± " in summary
    assert "2 ensemble members: epochs 2/2" in summary


def test_forecaster_averages_points_and_quantiles(forecast_run) -> None:
    outcome, data = forecast_run
    loaded = forecast.load_forecaster(outcome.artifact_path)
    assert isinstance(loaded.model, ForecasterEnsemble) and loaded.model.size == 2
    ensemble = forecast.predict(loaded, data, quantiles="0.1,0.5,0.9")
    each = [forecast.predict(dataclasses.replace(loaded, model=m), data, quantiles="0.1,0.5,0.9")
            for m in loaded.model.members]
    values = [c for c in ensemble.columns if c.startswith("load")]
    assert values == ["load", "load_q0.1", "load_q0.5", "load_q0.9"]
    assert not np.allclose(each[0]["load"], each[1]["load"])
    # Point: the members' mean; quantiles: averaged level by level (Vincentization).
    mean = (each[0][values].to_numpy() + each[1][values].to_numpy()) / 2
    np.testing.assert_allclose(ensemble[values].to_numpy(), mean, rtol=1e-5, atol=1e-5)
    # In memory (the run's metrics) == after loading (evaluate on the same test split).
    again = forecast.evaluate(loaded)
    assert again["model"]["mae"] == pytest.approx(outcome.metrics["test"]["model"]["mae"],
                                                  rel=1e-5)
    head = outcome.metrics["ensemble"]["test"]["headline"]
    assert head["metric"] == "mase" and not head["higher_is_better"]
    # The verdict against the baselines is the ensemble's.
    verdict = outcome.metrics["verdict"]
    assert verdict["part"] == "val"
    assert verdict["model"] == outcome.metrics["ensemble"]["val"]["ensemble"]["mase"]
    assert head["gain"] == pytest.approx(head["member_mean"] - head["ensemble"])


def test_the_first_member_is_the_single_run_of_the_base_seed(forecast_run, tmp_path) -> None:
    outcome, data = forecast_run
    options = {**FAST, "ensemble": 1}  # seed 5: member 0's
    single = rnnkit.train("forecast", runs_root=str(tmp_path), data=str(data),
                          time_column="day", targets="load", input_length=14, horizon=3,
                          season_length=7, hidden_size=4, **options)
    members = outcome.metrics["ensemble"]["test"]["members"]
    for metric in ("mae", "mase", "rmse"):
        assert members[metric]["values"][0] == pytest.approx(
            single.metrics["test"]["model"][metric], rel=1e-6)


def test_tagger_probabilities_are_the_members_mean(tag_run) -> None:
    outcome, data = tag_run
    loaded = tag.load_tagger(outcome.artifact_path)
    assert isinstance(loaded.model, TaggerEnsemble)
    tokens = [["cat", "runs", "dog"], ["bird", "sees", "fish", "eats", "cat"]]
    padded, lengths = pad_sequences([loaded.preprocessing.ids(t) for t in tokens])
    tags, probs = loaded.model.predict(padded, lengths)
    each = [m.predict(padded, lengths)[1] for m in loaded.model.members]
    torch.testing.assert_close(probs, (each[0] + each[1]) / 2)
    assert tags[0, 3:].eq(-1).all() and torch.equal(tags[1], probs[1].argmax(-1))
    assert tags[0, :3].tolist() == probs[0, :3].argmax(-1).tolist()
    predicted = tag.predict(loaded, data)
    assert len(predicted) > 0
    assert set(outcome.metrics["ensemble"]["test"]["members"]) >= {"accuracy", "macro_f1"}


def test_a_changed_byte_of_an_ensemble_artifact_is_refused(classify_run, tmp_path) -> None:
    outcome, _ = classify_run
    flipped = bytearray(outcome.artifact_path.read_bytes())
    flipped[-3] ^= 0x01
    (tmp_path / "f.safetensors").write_bytes(bytes(flipped))
    with pytest.raises(ArtifactError, match="failed its integrity check"):
        rnnkit.load(tmp_path / "f.safetensors")


def test_an_ensemble_artifact_that_does_not_add_up_is_refused(classify_run, tmp_path) -> None:
    from rnnkit.io.artifact import save_artifact

    outcome, _ = classify_run
    good = load_artifact(outcome.artifact_path)

    def saved(name, config=None, tensors=None):
        changed = dataclasses.replace(
            good, config={**good.config, "model": config or good.config["model"]},
            tensors=tensors or good.tensors)
        return save_artifact(tmp_path / f"{name}.safetensors", changed)  # signed anew

    info = good.config["model"]["ensemble"]
    three = {**good.config["model"], "ensemble": {**info, "size": 3}}
    with pytest.raises(ArtifactError, match=r"config.model.ensemble.seeds: expected 3 integers"):
        rnnkit.load(saved("size", three))
    name = "encoder.rnn.bias_hh_l0"
    stray = {**good.tensors, f"members.2.{name}": good.tensors[f"members.0.{name}"].clone()}
    with pytest.raises(ArtifactError, match=rf"\['members.2.{name}'\] belong to none"):
        rnnkit.load(saved("stray", tensors=stray))
    short = {k: v for k, v in good.tensors.items() if k != f"members.1.{name}"}
    with pytest.raises(ArtifactError, match=rf"ensemble member 1: .*{name}"):
        rnnkit.load(saved("short", tensors=short))


def test_export_and_diagnose_refuse_an_ensemble(classify_run, tmp_path, capsys) -> None:
    outcome, _ = classify_run
    assert main(["export", str(outcome.run_dir), "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "ensemble of 2 networks" in err and "one network" in err
    assert main(["diagnose", str(outcome.run_dir)]) == 2
    err = capsys.readouterr().err
    assert "ensemble of 2" in err and "one model" in err
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("task", ["lm", "translate", "summarize"])
def test_tasks_without_an_average_refuse_it_before_reading_data(tmp_path, task) -> None:
    with pytest.raises(ValueError, match=rf"ensemble applies to the tasks classify, forecast, "
                       rf"tag.*got ensemble=2 for task '{task}'"):
        rnnkit.train(task, runs_root=str(tmp_path), data=str(tmp_path / "missing.txt"),
                     ensemble=2, quiet=True)
    assert not any(tmp_path.iterdir())  # refused before any run directory


def test_bad_ensemble_options_are_refused(tmp_path, capsys) -> None:
    assert main(["train", "--task", "classify", "--data", "digits", "--ensemble", "0",
                 "--runs-dir", str(tmp_path)]) == 2
    assert "ensemble must be an int >= 1, got 0" in capsys.readouterr().err.replace("\n", " ")
    with pytest.raises(ValueError, match=r"diagnostics_every .* ensemble=2 trains 2"):
        rnnkit.train("classify", runs_root=str(tmp_path), data="digits", ensemble=2,
                     diagnostics_every=1, quiet=True)
    assert not any(tmp_path.iterdir())


def test_the_toml_key_sets_it(tmp_path) -> None:
    from rnnkit.api import build_task_configs, get_task
    from rnnkit.config import read_toml

    path = tmp_path / "run.toml"
    path.write_text('task = "classify"\n[classify]\ndata = "digits"\n[training]\nensemble = 3\n',
                    encoding="utf-8")
    _, training = build_task_configs(get_task("classify"), read_toml(path))
    assert training.ensemble == 3


def test_an_ensemble_run_is_not_resumed(classify_run, tmp_path) -> None:
    outcome, _ = classify_run
    copy = tmp_path / "interrupted"
    shutil.copytree(outcome.run_dir, copy)
    (copy / "model.safetensors").unlink()
    with pytest.raises(ValueError, match=r"ensemble=2\), and ensemble runs cannot be resumed"):
        rnnkit.train(resume=copy)


def test_an_interrupted_ensemble_run_says_it_cannot_be_resumed(tmp_path) -> None:
    import signal

    from rnnkit.cli.train import _interrupted_message
    from rnnkit.runs import RunInterrupted

    (tmp_path / "member-0").mkdir()
    text = _interrupted_message(RunInterrupted(tmp_path, signal.SIGINT))
    assert "interrupted (SIGINT)" in text and "ensemble runs cannot be resumed" in text
    assert "--resume" not in text


def test_benchmark_passes_ensemble_through(monkeypatch, capsys, tmp_path) -> None:
    import rnnkit.suite.runner as runner
    from rnnkit.suite.datasets import ForecastDataset, Series

    seen = {}

    def fake_train(config, run_dir, *, training, quiet):
        seen["ensemble"] = training.ensemble
        raise ValueError("stop here")

    monkeypatch.setattr(forecast, "train", fake_train)
    series = Series("a", np.arange(30.0), np.arange(30.0, 33.0))
    dataset = ForecastDataset("toy", [series], horizon=3, season=1, frequency="",
                                     source="test")
    result = runner.run_forecast(dataset, tmp_path, [0], "1m", ensemble=3)
    assert seen == {"ensemble": 3} and "stop here" in result.error
    out = tmp_path / "x"
    assert main(["benchmark", "--suite", "smoke", "--ensemble", "0", "--out", str(out)]) == 2
    assert "ensemble must be an int >= 1, got 0" in capsys.readouterr().err.replace("\n", " ")
    assert not out.exists()
