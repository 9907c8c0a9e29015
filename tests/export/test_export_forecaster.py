"""Forecaster export beyond the shared cases: the int8 comparison of a forecaster with and
without quantiles, and a forecaster with static covariates (graph inputs, streaming start, the
runner's ``static=``)."""

import json

import numpy as np
import pandas as pd
import pytest

import rnnkit
from rnnkit.cli import main
from rnnkit.data.retail import retail_panel
from rnnkit.deploy import runner
from rnnkit.export import export
from rnnkit.export.onnx_export import _session

#: Largest max |int8 − float32| / (1 + |float32|) of the forecast outputs in normalised units
#: (measured: about 1e-3 on these models; dynamic int8 rounds each weight to 1/127 of its
#: tensor's largest magnitude).
INT8_OUTPUT_TOLERANCE = 0.01
#: Largest MASE the int8 graph may differ from float32 by (the export accepts a loss <= 0.01).
INT8_MASE_TOLERANCE = 0.01


@pytest.fixture(scope="module")
def forecasters(tmp_path_factory):
    root = tmp_path_factory.mktemp("fc-export-runs")

    def train(name, **options):
        return rnnkit.train("forecast", runs_root=root, name=name, data="sunspots",
                            hidden_size=8, epochs=1, plots=False, quiet=True,
                            **options).run_dir

    return {"gaussian": train("gaussian"), "point": train("point", likelihood="point")}


@pytest.fixture(scope="module")
def static_runs(tmp_path_factory):
    """Forecasters of a store panel with a numeric and a categorical static covariate, by
    decoder (lazily)."""
    root = tmp_path_factory.mktemp("fc-static-runs")
    frame = retail_panel(4, 120, seed=3)
    frame.to_csv(root / "panel.csv", index=False)
    made = {}

    def get(decoder):
        if decoder not in made:
            made[decoder] = rnnkit.train(
                "forecast", runs_root=root, name=decoder, data=str(root / "panel.csv"),
                time_column="date", targets=["sales"], series_column="store",
                static_covariates=["store_size", "region"], horizon=3, input_length=14,
                hidden_size=4, epochs=1, plots=False, quiet=True, decoder=decoder,
                **({"n_samples": 0} if decoder == "autoregressive" else {}),
            ).run_dir
        return made[decoder], frame

    return get


@pytest.mark.parametrize("likelihood", ["gaussian", "point", "static"])
def test_int8_export_of_a_forecaster_agrees_with_float32(forecasters, static_runs, tmp_path,
                                                          capsys, likelihood):
    run = static_runs("direct")[0] if likelihood == "static" else forecasters[likelihood]
    assert main(["export", str(run), "--int8", "-o", str(tmp_path / "f.onnx")]) == 0
    out = capsys.readouterr().out
    m = json.loads((tmp_path / "f.json").read_text())["int8"]["metric"]
    assert m["name"] == "model.mase"
    # The float32 graph in the task's own evaluation is rnnkit's evaluation.
    assert m["float32"] == pytest.approx(rnnkit.evaluate(run)["model"]["mase"], rel=1e-4)
    assert abs(m["int8"] - m["float32"]) <= INT8_MASE_TOLERANCE
    assert f"int8: model.mase {m['int8']:.4f} vs float32 {m['float32']:.4f}" in out
    assert "int8: accepted" in out
    # Output by output on the same windows.
    f32 = _session((tmp_path / "f.onnx").read_bytes())
    i8 = _session((tmp_path / "f.int8.onnx").read_bytes())
    width = f32.get_inputs()[0].shape[2]
    rng = np.random.default_rng(0)
    feeds = {"x": rng.normal(size=(16, 40, width)).astype(np.float32)}
    if likelihood == "static":  # store_size, and region's codes 0 (unknown) … 4
        feeds["static"] = rng.normal(size=(16, 1)).astype(np.float32)
        feeds["static_codes"] = rng.integers(0, 5, size=(16, 1))
    a, b = f32.run(None, feeds), i8.run(None, feeds)
    n_levels = 0 if likelihood == "point" else 3
    horizon = rnnkit.load(run).model.horizon
    assert a[1].shape == b[1].shape == (16, horizon, 1, n_levels)
    for name, fa, fb in zip(("point", "quantiles"), a[:2], b[:2], strict=True):
        gap = np.abs(fb - fa) / (1 + np.abs(fa))
        assert gap.size == 0 or gap.max() <= INT8_OUTPUT_TOLERANCE, (name, gap.max())
        assert gap.size == 0 or gap.max() > 0  # the int8 graph is not the float graph


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
@pytest.mark.parametrize("streaming", [False, True], ids=["sequence", "streaming"])
def test_static_covariates_are_graph_inputs_verified_at_new_shapes(static_runs, tmp_path,
                                                                    decoder, streaming):
    run, _ = static_runs(decoder)
    report = export(run, tmp_path / "s.onnx", streaming=streaming)
    assert report.agreement.ok and report.agreement.max_scaled <= 1e-5
    meta = json.loads((tmp_path / "s.json").read_text())
    if streaming:
        assert meta["inputs"] == ["x_t", "known", "static", "static_codes", "start", "h", "c"]
    else:
        assert meta["inputs"] == ["x", "static", "static_codes"]
    session = _session((tmp_path / "s.onnx").read_bytes())
    kinds = {i.name: i.type for i in session.get_inputs()}
    assert kinds["static"] == "tensor(float)" and kinds["static_codes"] == "tensor(int64)"


def test_streaming_start_sets_the_static_initial_state(static_runs, tmp_path):
    run, _ = static_runs("direct")
    export(run, tmp_path / "s.onnx", streaming=True)
    model = runner.load(tmp_path / "s.onnx")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 5, model.session.get_inputs()[0].shape[1])).astype(np.float32)
    known = model.session.get_inputs()[1]  # the horizon's calendar features (B, h, K)
    assert known.name == "known"
    static = {"static": np.array([[0.5], [-1.0]], np.float32),
              "static_codes": np.array([[1], [3]], np.int64),
              "known": rng.normal(size=(2, *known.shape[1:])).astype(np.float32)}
    zero = model.zero_state(2)
    first = model.run(x_t=x[:, 0], **static, start=np.ones(2, np.float32), **zero)
    # at a start the state given is ignored ...
    other = {k: v + 1.0 for k, v in zero.items()}
    again = model.run(x_t=x[:, 0], **static, start=np.ones(2, np.float32), **other)
    np.testing.assert_array_equal(first["h_n"], again["h_n"])
    # ... and without it the state given is carried (here: zeros, not the static state)
    carried = model.run(x_t=x[:, 0], **static, start=np.zeros(2, np.float32), **zero)
    assert np.abs(carried["h_n"] - first["h_n"]).max() > 1e-3
    # the static inputs shape the first state: another region, another state
    moved = model.run(x_t=x[:, 0], static=static["static"], known=static["known"],
                      static_codes=np.array([[2], [3]], np.int64),
                      start=np.ones(2, np.float32), **zero)
    assert np.abs(moved["h_n"][:, 0] - first["h_n"][:, 0]).max() > 1e-4
    np.testing.assert_allclose(moved["h_n"][:, 1], first["h_n"][:, 1], atol=1e-6)


def test_runner_takes_static_and_gives_rnnkit_predictions(static_runs, tmp_path):
    run, frame = static_runs("direct")
    export(run, tmp_path / "s.onnx")
    model = runner.load(tmp_path / "s.onnx")
    assert model.static_columns == ["store_size", "region"]
    pre = rnnkit.load(run).preprocessor

    def check(data, expected):
        for store, part in data.groupby("store"):
            want = expected[expected["store"] == store]
            times = pd.to_datetime(part["date"]).to_numpy()
            future = pd.to_datetime(want["date"]).to_numpy()
            row = part.iloc[0]
            out = model.forecast(part["sales"].to_numpy(), series=store, times=times,
                                 future_times=future,
                                 static={"store_size": row["store_size"],
                                         "region": row["region"]})
            np.testing.assert_allclose(out["point"][:, 0], want["sales"], rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(out["lower"][:, 0], want["sales_lower"], rtol=1e-5,
                                       atol=1e-5)
            np.testing.assert_allclose(out["upper"][:, 0], want["sales_upper"], rtol=1e-5,
                                       atol=1e-5)

    assert pre.calendar  # daily data: the runner is given the times
    check(frame, rnnkit.predict(run, frame))
    # an unseen region: the unknown embedding, with a warning, in both
    odd = frame.assign(region=np.where(frame["store"] == "s1", "mars", frame["region"]))
    with pytest.warns(UserWarning, match="region='mars'"):
        expected = rnnkit.predict(run, odd)
    with pytest.warns(UserWarning, match=r"1 static categories were not seen in training and "
                                         r"get the unknown embedding: region='mars'"):
        check(odd[odd["store"] == "s1"], expected)
    values = frame.loc[frame["store"] == "s0", "sales"].to_numpy()
    with pytest.raises(ValueError, match=r"static must map every static covariate "
                                         r"\['store_size', 'region'\] to the series' value, "
                                         r"got \['region'\]"):
        model.forecast(values, series="s0", static={"region": "north"})
    with pytest.raises(ValueError, match=r"static\['store_size'\] must be a number"):
        model.forecast(values, series="s0", static={"store_size": "big", "region": "north"})


def test_runner_refuses_static_for_a_model_without(forecasters, tmp_path):
    export(forecasters["gaussian"], tmp_path / "f.onnx")
    model = runner.load(tmp_path / "f.onnx")
    assert model.static_columns == []
    with pytest.raises(ValueError, match=r"static is for a model trained with "
                                         r"static_covariates; this one has none"):
        model.forecast(np.ones(60), static={"store_size": 1})


def test_runner_says_it_cannot_build_future_covariates(tmp_path):
    frame = retail_panel(3, 90, seed=3).drop(columns=["region"])
    frame.to_csv(tmp_path / "r.csv", index=False)
    run = rnnkit.train("forecast", runs_root=tmp_path, data=str(tmp_path / "r.csv"),
                       time_column="date", targets=["sales"], series_column="store",
                       future_covariates=["promo"], horizon=3, input_length=14, hidden_size=4,
                       epochs=1, plots=False, quiet=True).run_dir
    export(run, tmp_path / "f.onnx")
    model = runner.load(tmp_path / "f.onnx")
    with pytest.raises(ValueError, match=r"this runner cannot build the known-future inputs "
                                         r"\['promo'\] of this model"):
        model.forecast(np.ones(30), series="s0")
