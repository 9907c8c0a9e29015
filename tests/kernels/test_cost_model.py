"""backend='auto' and its cost model: the fit, the verdicts, the registry's use, the disk cache.

Every test here runs on a synthetic calibration (a timer that returns times from known linear
costs), so the verdicts are exact; the real timings only run in ``rnnkit bench --calibrate``.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.kernels import LayerCall, cost_model, select_backend
from rnnkit.nn import driver

# Synthetic costs in ms per term (1, T, T·B·H, FLOP): numba has the smaller per-step cost,
# torch the smaller fixed cost and the faster matrix products.
NUMBA = (0.2, 0.002, 0.0, 1e-8)
TORCH = (0.02, 0.02, 0.0, 0.25e-8)


def synthetic_timer(family, training, lengths, shape):
    steps, batch, features, hidden = shape
    mode = {"rnn": "rnn_tanh", "lstm": "lstm", "gru": "gru"}[family]
    x = cost_model.terms(mode, cost_model.Shape(steps, batch, features, hidden, hidden))
    slow = 3.0 if training else 1.0  # training costs three forwards on both backends
    return {"numba": slow * float(x @ np.array(NUMBA)), "torch": slow * float(x @ np.array(TORCH))}


@pytest.fixture
def cost_model_on(monkeypatch, tmp_path):
    """Cost model on, its cache in tmp_path, calibrated with the synthetic timer."""
    monkeypatch.setenv("RNNKIT_COST_MODEL", "on")
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
    model = cost_model.recalibrate(synthetic_timer)
    yield model
    cost_model.use(None)


def test_bucket_rounds_to_the_nearest_power_of_two_in_log_space() -> None:
    assert [cost_model.bucket(n) for n in (0, 1, 2, 3, 5, 6, 11, 12, 1000)] == \
        [0, 1, 2, 4, 4, 8, 8, 16, 1024]
    assert cost_model.bucket_shape(7, 3, 5, 12, 3) == (8, 4, 4, 16, 4)


def test_terms_count_the_products_of_every_gate_and_the_projection() -> None:
    plain = cost_model.terms("gru", cost_model.Shape(10, 2, 3, 4, 4))
    assert plain.tolist() == [1.0, 10.0, 80.0, 2 * 10 * 2 * 3 * 4 * (3 + 4)]
    proj = cost_model.terms("lstm", cost_model.Shape(10, 2, 3, 4, 2))
    assert proj[3] == 2 * 10 * 2 * 4 * 4 * (3 + 2) + 2 * 10 * 2 * 4 * 2


def test_fit_recovers_exact_costs_and_drops_negative_terms() -> None:
    rows = np.stack([cost_model.terms("lstm", cost_model.Shape(*s, s[3]))
                     for s in cost_model.CALIBRATION_SHAPES])
    times = rows @ np.array(NUMBA)
    assert cost_model.fit(rows, times) == pytest.approx(NUMBA, rel=1e-6, abs=1e-12)
    # A cost that falls with T cannot be fitted by a non-negative c1: the term is dropped.
    falling = rows @ np.array([5.0, 0.0, 0.0, 1e-8]) - 0.01 * rows[:, 1]
    coef = cost_model.fit(rows, falling)
    assert coef[1] == 0.0 and min(coef) >= 0.0


def test_calibration_recovers_the_costs_and_gives_the_faster_backend(cost_model_on) -> None:
    model = cost_model_on
    assert set(model.coefficients) == {f"{f}/{t}/{d}" for f in ("rnn", "lstm", "gru")
                                       for t in ("inference", "training")
                                       for d in ("dense", "lengths")}
    assert model.coefficients["gru/training/lengths"]["torch"] == \
        pytest.approx([3 * c for c in TORCH], rel=1e-6, abs=1e-12)
    shape = cost_model.Shape
    # long sequence, B = 1: numba's per-step cost wins (predicted 0.84 ms vs 5.2 ms)
    assert model.choose("lstm", False, False, shape(256, 1, 32, 64, 64)) == "numba"
    # far beyond the calibrated T (160 × EXTRAPOLATION): no verdict, whatever the fit says
    assert model.choose("lstm", False, False, shape(1000, 1, 32, 64, 64)) is None
    assert model.choose("gru", True, True, shape(2, 1, 8, 2048, 2048)) is None
    # tiny call: torch's fixed cost wins
    assert model.choose("gru", True, True, shape(2, 1, 8, 16, 16)) == "torch"
    # GEMM-bound, short T, large B: torch's products win
    assert model.choose("rnn_relu", False, False, shape(4, 512, 256, 512, 512)) == "torch"
    # A cell the model does not know gets no verdict.
    assert model.choose("mingru", False, False, shape(4, 4, 4, 4, 4)) is None


def test_a_near_tie_goes_to_torch() -> None:
    flat = {"numba": [1.0, 0.0, 0.0, 0.0], "torch": [1.05, 0.0, 0.0, 0.0]}
    model = cost_model.CostModel({}, {"lstm/inference/dense": flat}, 0.0)
    s = cost_model.Shape(4, 4, 4, 4, 4)
    assert model.predict_ms("numba", "lstm", False, False, s) == 1.0
    assert model.choose("lstm", False, False, s) == "torch"  # 5% faster is within MARGIN
    flat["torch"] = [1.2, 0.0, 0.0, 0.0]
    assert model.choose("lstm", False, False, s) == "numba"


def _call(mode="lstm", shape=(1024, 1, 32, 64, 64), **fields) -> LayerCall:
    base = dict(mode=mode, device_type="cpu", dtype=torch.float32, has_bias=True, has_proj=False,
                has_lengths=False, reverse=False, requires_grad=False, shape=shape)
    return LayerCall(**{**base, **fields})


def test_auto_follows_the_verdict_and_named_backends_are_kept(cost_model_on, monkeypatch):
    assert select_backend(_call()).name == "numba"
    tiny = _call(mode="gru", shape=(2, 1, 8, 16, 16), requires_grad=True, has_lengths=True)
    assert select_backend(tiny).name == "torch"
    assert select_backend(tiny, "numba").name == "numba"  # explicit numba keeps the kernels
    # No shape (e.g. a call built by hand), float16 (torch does not serve it on the CPU), a
    # cell torch has no kernel for, or a regularised call: the preference order as before.
    assert select_backend(_call(mode="gru", shape=None)).name == "numba"
    assert select_backend(_call(mode="rnn_sigmoid", shape=(2, 1, 8, 16, 16))).name == "numba"
    assert select_backend(_call(mode="gru", shape=(2, 1, 8, 16, 16),
                                regularised=True)).name == "numba"  # torch has no regulariser
    monkeypatch.setenv("RNNKIT_COST_MODEL", "off")
    cost_model.use(cost_model_on)  # clears the selection cache
    assert select_backend(tiny).name == "numba"


def test_the_driver_passes_the_bucketed_shape_and_runs_the_chosen_backend(
        cost_model_on, monkeypatch) -> None:
    seen = []

    def recording(call, requested="auto"):
        backend = select_backend(call, requested)
        seen.append((call.shape, backend.name))
        return backend

    monkeypatch.setattr(driver, "select_backend", recording)
    torch.manual_seed(0)
    layer = rnn.GRU(5, 12, bidirectional=True)
    theirs = torch.nn.GRU(5, 12, bidirectional=True)
    theirs.load_state_dict(layer.state_dict())
    x = torch.randn(7, 3, 5)
    with torch.no_grad():
        out, h = layer(x)
        ref, h_ref = theirs(x)
    # a tiny call: torch by the synthetic model, which then runs the whole stack (both
    # directions) in one call, as torch.nn does
    assert seen == [((8, 4, 4, 16, 16), "torch")]
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(h, h_ref)
    # An LSTM projection is not calibrated: numba, with the projection in the bucketed shape.
    seen.clear()
    with torch.no_grad():
        rnn.LSTM(5, 12, proj_size=3)(x)
    assert seen == [((8, 4, 4, 16, 4), "numba")]


def test_the_cache_round_trips_and_is_keyed_by_machine(cost_model_on, tmp_path) -> None:
    path = cost_model.cache_path()
    assert path.parent == tmp_path and path.name.startswith("cost-model-")
    assert cost_model.load() == cost_model_on
    data = json.loads(path.read_text())
    assert data["format"] == cost_model.FORMAT and data["machine"] == cost_model.machine_key()
    # Another rnnkit version is another machine key: another file, and this one is refused.
    other = {**cost_model.machine_key(), "rnnkit": "0.0.0"}
    assert cost_model.cache_path(other) != path
    with pytest.raises(ValueError, match=r"made for .*'rnnkit': '0\.0\.0'"):
        cost_model.CostModel.from_json(cost_model_on.to_json().replace(
            json.dumps(cost_model.machine_key()["rnnkit"]), '"0.0.0"'), cost_model.machine_key())


@pytest.mark.parametrize("text, reason", [
    ("{not json", "not JSON"),
    ('{"format": 99}', "expected format 1, got 99"),
    ("[1, 2]", "expected format 1, got None"),
])
def test_a_corrupt_file_is_refused(text, reason) -> None:
    with pytest.raises(ValueError, match=reason):
        cost_model.CostModel.from_json(text, cost_model.machine_key())


def test_bad_coefficients_are_refused(cost_model_on) -> None:
    data = json.loads(cost_model_on.to_json())
    data["coefficients"]["lstm/inference/dense"]["torch"] = [1.0, -2.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="coefficients of 'lstm/inference/dense': expected 4 "
                                         "finite non-negative numbers"):
        cost_model.CostModel.from_json(json.dumps(data), cost_model.machine_key())


def test_a_corrupt_cache_is_ignored_and_replaced(cost_model_on, monkeypatch, caplog) -> None:
    path = cost_model.cache_path()
    path.write_text('{"format": 1, "machine": {}}')
    cost_model.use(None)
    with caplog.at_level(logging.WARNING, logger="rnnkit.kernels"):
        assert cost_model.load() is None
    assert "ignoring the cost-model calibration" in caplog.text and "made for {}" in caplog.text
    calls = []
    monkeypatch.setattr(cost_model, "_time_layers",
                        lambda *a: calls.append(a) or synthetic_timer(*a))
    with caplog.at_level(logging.INFO, logger="rnnkit.kernels"):
        model = cost_model.current()
    assert "calibrating backend='auto'" in caplog.text and "once per machine" in caplog.text
    assert len(calls) == 12 * len(cost_model.CALIBRATION_SHAPES)
    assert model.coefficients == cost_model_on.coefficients
    assert cost_model.load() == model  # the bad file was replaced by a good one


def test_the_switch_reads_off_values(monkeypatch) -> None:
    for value, on in (("off", False), ("0", False), ("No", False), ("on", True), ("", True)):
        monkeypatch.setenv("RNNKIT_COST_MODEL", value)
        assert cost_model.enabled() is on


def test_info_shows_the_calibration_and_its_verdicts(cost_model_on, monkeypatch) -> None:
    from rnnkit.cli.info import info_text

    text = info_text()
    assert f"cost model: calibrated in {cost_model_on.seconds:.1f} s ({cost_model.cache_path()})" \
        in text
    # GEMM-bound short sequence: torch; the synthetic model predicts 3·(0.02 + 0.02·20 +
    # 0.25e-8·FLOP) ms for torch, FLOP = 2·20·256·3·128·192.
    flop = 2 * 20 * 256 * 3 * 128 * 192
    numba_ms, torch_ms = (3 * (c[0] + c[1] * 20 + c[3] * flop) for c in (NUMBA, TORCH))
    assert (f"gru training T=20 B=256 F=64 H=128: torch ({numba_ms:.2f} / {torch_ms:.2f})"
            in text)
    # long T, small B: beyond the calibrated T, so auto keeps numba without asking the fit
    assert "gru training lengths T=500 B=4 F=32 H=64: numba, beyond the calibrated sizes" in text
    cost_model.use(None)
    cost_model.cache_path().unlink()
    assert "cost model: no calibration for this machine yet" in info_text()
    monkeypatch.setenv("RNNKIT_COST_MODEL", "off")
    assert "cost model: off (RNNKIT_COST_MODEL=off); auto is numba-first" in info_text()


def test_real_timing_leaves_the_callers_rng_and_grad_mode_alone() -> None:
    """The first verdict can be asked from inside inference_mode (e.g. a predict loop): the
    calibration's training timings still run backward, and the caller's random stream is
    where it was."""
    rng = torch.get_rng_state()
    with torch.inference_mode():
        ms = cost_model._time_layers("gru", True, True, (3, 2, 4, 5))
        assert torch.is_inference_mode_enabled() and not torch.is_grad_enabled()
    assert torch.equal(torch.get_rng_state(), rng)
    assert set(ms) == {"numba", "torch"} and all(0 < v < 60_000 for v in ms.values())


def test_a_training_call_routed_to_torch_matches_torch_nn_in_every_gradient(
        cost_model_on, monkeypatch) -> None:
    from tests.kernels.helpers import TOLERANCE, assert_results_close, run_layer

    seen = []

    def recording(call, requested="auto"):
        backend = select_backend(call, requested)
        seen.append(backend.name)
        return backend

    monkeypatch.setattr(driver, "select_backend", recording)
    torch.manual_seed(0)
    ours = rnn.GRU(3, 5, num_layers=2, bidirectional=True)
    theirs = torch.nn.GRU(3, 5, num_layers=2, bidirectional=True)
    theirs.load_state_dict(ours.state_dict())
    x, h0 = torch.randn(6, 4, 3), torch.randn(4, 4, 5)
    lengths = torch.tensor([6, 2, 5, 1])
    got = run_layer(ours, x, (h0,), lengths=lengths, packed=True)
    want = run_layer(theirs, x, (h0,), lengths=lengths, packed=True)
    # tiny: torch by the model, for the first call, and then for the whole stack (2 layers x 2
    # directions) in that one call
    assert seen == ["torch"]
    assert_results_close(got, want, TOLERANCE[torch.float32], "auto -> torch")


def test_call_shape_reads_hidden_and_output_sizes_off_the_weights() -> None:
    from rnnkit.functional import LayerWeights

    x = torch.zeros(7, 3, 5)
    plain = LayerWeights(torch.zeros(48, 5), torch.zeros(48, 12))  # LSTM, H = 12
    proj = LayerWeights(torch.zeros(48, 5), torch.zeros(48, 3), w_hr=torch.zeros(3, 12))
    assert cost_model.call_shape(x, plain) == (8, 4, 4, 16, 16)
    assert cost_model.call_shape(x, proj) == (8, 4, 4, 16, 4)
    # minGRU/minLSTM have no recurrent matrix: no shape, so 'auto' keeps its preference order
    assert cost_model.call_shape(x, LayerWeights(torch.zeros(24, 5), None)) is None


def test_by_default_auto_uses_a_calibration_that_exists_and_never_makes_one(
        monkeypatch, tmp_path) -> None:
    """Unset RNNKIT_COST_MODEL: no calibration on disk -> numba-first and nothing timed; one
    made with `rnnkit bench --calibrate` (here: synthetic) -> its verdicts."""
    monkeypatch.delenv("RNNKIT_COST_MODEL", raising=False)
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
    cost_model.use(None)

    def no_timing(*args):
        raise AssertionError("auto must not calibrate unless RNNKIT_COST_MODEL=on")

    monkeypatch.setattr(cost_model, "recalibrate", no_timing)
    tiny = _call(mode="gru", shape=(2, 1, 8, 16, 16), requires_grad=True, has_lengths=True)
    try:
        assert select_backend(tiny).name == "numba"
        assert not any(tmp_path.iterdir())
        assert "auto is numba-first until one exists" in "\n".join(cost_model.describe(None))
        monkeypatch.undo()  # the real recalibrate back, to make the file
        monkeypatch.setenv("RNNKIT_COST_MODEL", "on")
        monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
        cost_model.recalibrate(synthetic_timer)
        monkeypatch.delenv("RNNKIT_COST_MODEL")
        cost_model.use(None)  # forget it in memory: auto must read the file
        assert select_backend(tiny).name == "torch"  # the synthetic verdict for a tiny call
    finally:
        cost_model.use(None)
