"""Export of every task model: agreement with rnnkit at new shapes (measured at export time),
the numpy + onnxruntime runner against ``rnnkit predict``, streaming against the sequence
model, the runner without torch, and the command's messages and output checks."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rnnkit
from rnnkit.cli import main
from rnnkit.deploy import runner
from rnnkit.export import ExportError, export


@pytest.mark.parametrize("name", ["classify-bi", "classify-gru", "text", "tag", "forecast"])
def test_sequence_export_agrees_with_rnnkit_at_new_shapes(runs, tmp_path, name):
    report = export(runs(name), tmp_path / "m.onnx")
    a = report.agreement
    assert (a.batch, a.steps) != (3, 7)  # verified away from the traced shapes
    assert a.ok and a.max_scaled <= 1e-5, a
    assert 0.0 <= a.max_abs < 1e-4
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["graph"] == "sequence" and meta["format"] == 1
    assert (tmp_path / "rnnkit_runner.py").read_text() == Path(runner.__file__).read_text()


def test_numeric_classifier_runner_gives_rnnkit_predictions(runs, tmp_path):
    run = runs("classify-bi")
    export(run, tmp_path / "c.onnx")
    from sklearn.datasets import load_digits

    images = load_digits().images[:40]  # (N, 8, 8): 8 steps of 8 features
    loaded = rnnkit.load(run)
    probs_rnnkit = rnnkit.tasks.classify.predict_proba(
        loaded.model, [loaded.preprocessing.normalizer.transform(im) for im in images]
    )
    model = runner.load(tmp_path / "c.onnx")
    probs = model.predict_proba(list(images))
    np.testing.assert_allclose(probs, probs_rnnkit, atol=1e-5)
    assert model.predict(list(images)) == loaded.preprocessing.labels.decode(
        probs_rnnkit.argmax(1)
    )


def test_text_classifier_runner_gives_rnnkit_predictions(runs, tmp_path):
    run = runs("text")
    export(run, tmp_path / "t.onnx")
    texts = ["A fine, moving film.", "dull and far too long", "Ｆｕｌｌ-width ＧＯＯＤ!", "?"]
    expected = rnnkit.predict(run, pd.DataFrame({"text": texts}))
    model = runner.load(tmp_path / "t.onnx")
    probs = model.predict_proba(texts)
    names = model.labels
    want = expected[[f"prob_{n}" for n in names]].to_numpy()
    np.testing.assert_allclose(probs, want, atol=1e-5)
    assert model.predict(texts) == expected["predicted_label"].tolist()


def test_tagger_runner_gives_rnnkit_predictions(runs, tmp_path):
    run = runs("tag")
    export(run, tmp_path / "g.onnx")
    # Longer than max_length=30: tagged in pieces, as rnnkit does.
    long = "迈向充满希望的新世纪——一九九八年新年讲话" * 2
    texts = ["中国人民银行今天宣布了新的政策", "我 爱 你", long]
    expected = rnnkit.predict(run, texts)
    model = runner.load(tmp_path / "g.onnx")
    rows = [
        (i, tok, tag, p)
        for i, (toks, tags, probs) in enumerate(model.tag(texts))
        for tok, tag, p in zip(toks, tags, probs, strict=True)
    ]
    assert [r[1] for r in rows] == expected["token"].tolist()
    assert [r[2] for r in rows] == expected["predicted_tag"].tolist()
    np.testing.assert_allclose([r[3] for r in rows], expected["probability"], atol=1e-5)


@pytest.mark.parametrize(("name", "dataset"), [("forecast", "sunspots"),
                                             ("forecast-weather", "seattle-weather")])
def test_forecaster_runner_gives_rnnkit_predictions(runs, tmp_path, name, dataset):
    run = runs(name)
    export(run, tmp_path / "f.onnx")
    from rnnkit.data.registry import load_dataset

    frame = load_dataset(dataset)
    expected = rnnkit.predict(run, dataset)
    pre = rnnkit.load(run).preprocessor
    model = runner.load(tmp_path / "f.onnx")
    times = pd.to_datetime(frame[pre.time_column]).to_numpy() if pre.calendar else None
    future = pd.to_datetime(expected[pre.time_column]).to_numpy() if pre.calendar else None
    covariates = frame[pre.covariates].to_numpy() if pre.covariates else None
    values = frame[pre.targets].to_numpy()
    out = model.forecast(values, covariates=covariates, times=times, future_times=future)
    for j, target in enumerate(pre.targets):
        np.testing.assert_allclose(out["point"][:, j], expected[target], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(out["lower"][:, j], expected[f"{target}_lower"], rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(out["upper"][:, j], expected[f"{target}_upper"], rtol=1e-5,
                                   atol=1e-5)
    gap = values.astype(float).copy()
    gap[-2] = np.nan
    with pytest.raises(ValueError, match="values must be finite in the last input_length="):
        model.forecast(gap, covariates=covariates, times=times, future_times=future)
    if pre.calendar:
        with pytest.raises(ValueError, match="times and future_times must be given"):
            model.forecast(values, covariates=covariates)


@pytest.mark.parametrize("name", ["classify-gru", "tag", "forecast", "forecast-weather"])
def test_streaming_step_by_step_equals_the_sequence_model(runs, tmp_path, name):
    run = runs(name)
    seq = export(run, tmp_path / "seq.onnx")
    step = export(run, tmp_path / "step.onnx", streaming=True)
    assert step.graph == "streaming" and step.agreement.ok, step.agreement
    # Beyond the export's own check (against rnnkit): the two ONNX graphs against each other.
    s_model, q_model = runner.load(tmp_path / "step.onnx"), runner.load(tmp_path / "seq.onnx")
    assert seq.agreement.ok
    rng = np.random.default_rng(0)
    B, T = 4, 9
    meta = s_model.meta
    if meta["kind"] == "forecaster":
        h = meta["preprocessing"]["horizon"]
        F = meta["model"]["n_targets"] + meta["model"]["n_covariates"] + meta["model"]["n_known"]
        K = meta["model"]["n_known"]
        x = rng.normal(size=(B, T + h, F)).astype(np.float32)
        want = q_model.run(x=x)
        state = s_model.zero_state(B)
        for t in range(T):
            extra = {"known": x[:, T:, F - K:]} if K else {}
            got = s_model.run(x_t=x[:, t], **extra, **state)
            state = {k: got[k + "_n"] for k in state}
        np.testing.assert_allclose(got["point"], want["point"], atol=1e-5)
        np.testing.assert_allclose(got["quantiles"], want["quantiles"], atol=1e-5)
        return
    if meta["model"]["input_kind"] == "tokens":
        x = rng.integers(2, meta["model"]["vocab_size"], size=(B, T)).astype(np.int64)
    else:
        x = rng.normal(size=(B, T, meta["model"]["input_size"])).astype(np.float32)
    full = np.full(B, T, dtype=np.int64)
    want = q_model.run(x=x, lengths=full, **q_model.zero_state(B))
    state = s_model.zero_state(B)
    steps = []
    for t in range(T):
        got = s_model.run(x_t=x[:, t], **state)
        state = {k: got[k + "_n"] for k in state}
        steps.append(got["probabilities"])
    result = np.stack(steps, axis=1) if meta["kind"] == "sequence-tagger" else steps[-1]
    np.testing.assert_allclose(result, want["probabilities"], atol=1e-5)
    np.testing.assert_allclose(state["h"], want["h_n"], atol=1e-5)


def test_streaming_refuses_a_bidirectional_model(runs, tmp_path):
    with pytest.raises(ExportError, match="needs a unidirectional model"):
        export(runs("classify-bi"), tmp_path / "s.onnx", streaming=True)
    assert not list(tmp_path.iterdir())


def test_disagreement_beyond_the_tolerance_fails_and_writes_nothing(runs, tmp_path):
    with pytest.raises(ExportError, match=r"max \|diff\|/\(1\+\|rnnkit\|\) = .* > tolerance "
                                          r"1e-15 .*nothing was written"):
        export(runs("classify-gru"), tmp_path / "m.onnx", tolerance=1e-15)
    assert not list(tmp_path.iterdir())


def test_runner_runs_without_torch(runs, tmp_path):
    run = runs("classify-gru")
    export(run, tmp_path / "m.onnx")
    script = (
        "import sys; sys.modules['torch'] = None\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "import numpy as np\n"
        "from rnnkit_runner import load\n"
        "m = load(sys.argv[1])\n"
        "x = [np.arange(64, dtype=float).reshape(8, 8), np.ones((5, 8))]\n"
        "print(repr(m.predict(x)), repr(m.predict_proba(x).round(6).tolist()))\n"
        "assert 'torch' not in [k for k, v in sys.modules.items() if v is not None]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "m.onnx")],
        capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    model = runner.load(tmp_path / "m.onnx")
    x = [np.arange(64, dtype=float).reshape(8, 8), np.ones((5, 8))]
    assert done.stdout.strip() == (
        f"{model.predict(x)!r} {model.predict_proba(x).round(6).tolist()!r}"
    )


def test_runner_tokenizer_is_rnnkits():
    from rnnkit.data import text

    assert runner._WORD_RE.pattern == text._WORD_RE.pattern
    tok = text.Tokenizer("word")
    sample = "It's GOOD，很好看! Ｆｕｌｌ-width don’t"
    assert runner.tokenize(sample, tok.to_json()) == tok.tokenize(sample)
    char = text.Tokenizer("char", lowercase=False)
    assert runner.tokenize(" a  b\tC ", char.to_json()) == char.tokenize(" a  b\tC ")


def test_runner_calendar_features_are_rnnkits():
    from rnnkit.data.calendar import calendar_features

    times = pd.date_range("1999-12-30 22:30", periods=30, freq="37h")
    names = ["hour", "dayofweek", "dayofyear", "month"]
    np.testing.assert_allclose(
        runner.calendar_features(times.to_numpy(), names), calendar_features(times, names),
        atol=1e-6,
    )


def test_cli_prints_the_difference_and_protects_the_run(runs, tmp_path, capsys):
    run = runs("classify-gru")
    assert main(["export", str(run), "-o", str(tmp_path / "cli.onnx")]) == 0
    out = capsys.readouterr().out
    assert "onnxruntime vs rnnkit at batch 5, 12 steps" in out
    assert "max |diff|/(1+|rnnkit|) = " in out and "(tolerance 1e-05)" in out
    # The description file would be the run's metrics.json: refused before any work.
    assert main(["export", str(run), "-o", str(run / "metrics.onnx")]) == 2
    err = capsys.readouterr().err
    assert "metrics.json" in err and "run directory" in err
    assert not (run / "metrics.onnx").exists()
    assert main(["export", str(run), "-o", str(tmp_path / "x.txt")]) == 2
    assert "output must end in .onnx, got" in capsys.readouterr().err
    assert main(["export", str(run), "--opset", "9", "-o", str(tmp_path / "y.onnx")]) == 2
    assert "opset must be an integer in [14, 23], got 9" in capsys.readouterr().err


def test_int8_reports_size_latency_and_metric_against_float32(runs, tmp_path, capsys):
    run = runs("classify-bi")
    assert main(["export", str(run), "--int8", "-o", str(tmp_path / "q.onnx")]) == 0
    out = capsys.readouterr().out
    meta = json.loads((tmp_path / "q.json").read_text())
    q = meta["int8"]
    assert q["size_bytes"]["int8"] == (tmp_path / "q.int8.onnx").stat().st_size
    assert q["size_bytes"]["int8"] < q["size_bytes"]["float32"]
    assert q["quantized_ops"].get("DynamicQuantizeLSTM") == 2  # one per layer
    assert q["latency_s"]["int8"] > 0 and q["latency_s"]["float32"] > 0
    m = q["metric"]
    assert m["name"] == "accuracy" and 0 <= m["int8"] <= 1
    assert m["float32"] == pytest.approx(rnnkit.evaluate(run)["accuracy"], abs=1e-9)
    assert m["loss"] == pytest.approx(m["float32"] - m["int8"])
    assert f"int8: accuracy {m['int8']:.4f} vs float32 {m['float32']:.4f}" in out
    # The int8 graph is a runnable model for the runner too.
    probs = runner.load(tmp_path / "q.onnx").predict_proba([np.ones((8, 8))])
    assert probs.shape == (1, 10) and abs(probs.sum() - 1) < 1e-5


def test_int8_beyond_the_tolerance_is_rejected_not_shipped(runs, tmp_path, monkeypatch):
    from rnnkit.export import quantize

    # An int8 graph that lost accuracy: the metric of the second evaluation is made worse.
    calls = []
    real = quantize._evaluate_with

    def worse(*args, **kwargs):
        value = real(*args, **kwargs)
        calls.append(value)
        return value - 0.2 if len(calls) == 2 else value

    monkeypatch.setattr(quantize, "_evaluate_with", worse)
    report = export(runs("classify-gru"), tmp_path / "r.onnx", int8=True, int8_tolerance=0.05)
    assert report.int8["accepted"] is False
    assert report.int8["metric"]["loss"] == pytest.approx(0.2)
    assert not (tmp_path / "r.int8.onnx").exists()
    assert (tmp_path / "r.int8.rejected.onnx").is_file()
    assert any("REJECTED: the metric loss 0.2000 exceeds the tolerance 0.05" in line
               for line in report.lines())
    assert (tmp_path / "r.onnx").is_file()  # float32 stays the main output


def test_options_that_do_not_fit_together_are_refused_before_any_work(runs, tmp_path):
    run = runs("classify-gru")
    with pytest.raises(ExportError, match="int8 is measured on the sequence graph"):
        export(run, tmp_path / "a.onnx", int8=True, streaming=True)
    with pytest.raises(ExportError, match="data is only used with int8=True"):
        export(run, tmp_path / "a.onnx", data="digits")
    with pytest.raises(ExportError, match="int8_tolerance must be a number >= 0, got -1"):
        export(run, tmp_path / "a.onnx", int8=True, int8_tolerance=-1)
    with pytest.raises(ExportError, match="format must be 'onnx', got 'tflite'"):
        export(run, tmp_path / "a.onnx", format="tflite")
    assert not list(tmp_path.iterdir())


def test_an_earlier_export_in_the_run_directory_may_be_replaced(runs):
    run = runs("classify-gru")
    first = export(run)
    assert first.model == str(run / "model.onnx")
    again = export(run)  # model.onnx, model.json and rnnkit_runner.py replaced, nothing else
    assert again.agreement.ok
    assert json.loads((run / "model.json").read_text())["kind"] == "sequence-classifier"


def test_cli_json_report_is_the_whole_standard_output(runs, tmp_path, capsys):
    run = runs("forecast")
    assert main(["export", str(run), "-o", str(tmp_path / "j.onnx"), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["kind"] == "forecaster" and report["graph"] == "sequence"
    assert report["agreement"]["ok"] is True
    assert report["agreement"]["max_scaled"] <= 1e-5
    assert report["size_bytes"] == (tmp_path / "j.onnx").stat().st_size
    assert "onnxruntime vs rnnkit" in captured.err


def test_a_model_that_ships_a_baseline_is_not_exported(tmp_path):
    """fallback='baseline' made predict use seasonal naive; a graph of the network would not
    be what the artifact predicts with, so export refuses and says why."""
    from rnnkit.tasks import forecast

    n, pattern = 140, np.array([3.0, 5.0, 4.0, 8.0, 6.0, 1.0, 2.0])
    y = pattern[np.arange(n) % 7] + np.random.default_rng(0).normal(0, 0.05, n)
    pd.DataFrame({"day": pd.date_range("2024-01-01", periods=n, freq="D"), "y": y}).to_csv(
        tmp_path / "weekly.csv", index=False
    )
    config = forecast.ForecastConfig(
        data=str(tmp_path / "weekly.csv"), time_column="day", targets=["y"], horizon=7,
        input_length=14, hidden_size=4, min_updates=0, fallback="baseline",
    )
    (tmp_path / "run").mkdir()
    training = forecast.default_training(epochs=1, early_stopping=None, plots=False)
    result = forecast.train(config, tmp_path / "run", training=training, quiet=True)
    assert result.metrics["fallback"]["method"] == "seasonal_naive"
    with pytest.raises(ExportError, match="ships the seasonal_naive baseline"):
        export(result.artifact_path, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_runner_adds_back_the_seasonal_profile_of_a_panel(tmp_path):
    """A monthly panel whose series are deseasonalised at training: the runner removes and
    adds back each series' profile at the phases of the given times, as rnnkit predict does."""
    from rnnkit.tasks import forecast

    rng = np.random.default_rng(0)
    frames = []
    for sid, amp in (("a", 20.0), ("b", 12.0)):
        t = np.arange(96)
        y = 100 + 0.2 * t + amp * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 96)
        frames.append(pd.DataFrame({"shop": sid, "month": pd.date_range(
            "2010-01-01", periods=96, freq="MS"), "sales": y}))
    frame = pd.concat(frames, ignore_index=True)
    frame.to_csv(tmp_path / "panel.csv", index=False)
    config = forecast.ForecastConfig(
        data=str(tmp_path / "panel.csv"), time_column="month", targets=["sales"],
        series_column="shop", horizon=6, hidden_size=8, min_updates=0,
    )
    (tmp_path / "run").mkdir()
    training = forecast.default_training(epochs=2, early_stopping=None, plots=False)
    result = forecast.train(config, tmp_path / "run", training=training, quiet=True)
    assert result.metrics["preprocessing"]["deseasonalize"]["adjusted_series"] == 2
    export(result.artifact_path, tmp_path / "p.onnx")
    model = runner.load(tmp_path / "p.onnx")
    expected = rnnkit.predict(result.artifact_path, str(tmp_path / "panel.csv"))
    for sid in ("a", "b"):
        rows = frame[frame.shop == sid]
        want = expected[expected.shop == sid]
        out = model.forecast(
            rows["sales"].to_numpy(), series=sid, times=rows["month"].to_numpy(),
            future_times=pd.to_datetime(want["month"]).to_numpy(),
        )
        np.testing.assert_allclose(out["point"][:, 0], want["sales"], rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="seasonal profile"):
        model.forecast(frame[frame.shop == "a"]["sales"].to_numpy(), series="a")
