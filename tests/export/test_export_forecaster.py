"""Forecaster export beyond the shared cases: the int8 comparison of a forecaster with and
without quantiles."""

import json

import numpy as np
import pytest

import rnnkit
from rnnkit.cli import main
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


@pytest.mark.parametrize("likelihood", ["gaussian", "point"])
def test_int8_export_of_a_forecaster_agrees_with_float32(forecasters, tmp_path, capsys,
                                                          likelihood):
    run = forecasters[likelihood]
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
    x = np.random.default_rng(0).normal(size=(16, 40, width)).astype(np.float32)
    a, b = f32.run(None, {"x": x}), i8.run(None, {"x": x})
    n_levels = 0 if likelihood == "point" else 3
    horizon = rnnkit.load(run).model.horizon
    assert a[1].shape == b[1].shape == (16, horizon, 1, n_levels)
    for name, fa, fb in zip(("point", "quantiles"), a[:2], b[:2], strict=True):
        gap = np.abs(fb - fa) / (1 + np.abs(fa))
        assert gap.size == 0 or gap.max() <= INT8_OUTPUT_TOLERANCE, (name, gap.max())
        assert gap.size == 0 or gap.max() > 0  # the int8 graph is not the float graph
