"""Future-known covariates: what reaches the model (no leakage), and what predict requires."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.data.forecast_inputs import ForecastPreprocessor, read_series
from rnnkit.data.retail import retail_panel
from rnnkit.data.windows import time_split
from rnnkit.models.forecaster import Forecaster
from rnnkit.tasks import forecast

H, T = 3, 14


def _table(frame: pd.DataFrame):
    return read_series(frame, time_column="date", targets=["sales"], series_column="store",
                       covariates=["price", "promo"], missing="error", gaps="keep")


def _fitted(frame: pd.DataFrame, decoder: str = "direct"):
    table = _table(frame)
    split = time_split(table.frame["date"].to_numpy(), 0.15, 0.15, min_steps=H)
    pre = ForecastPreprocessor(
        targets=["sales"], covariates=["price"] if decoder == "direct" else [],
        calendar=["dayofweek"], input_length=T, horizon=H, normalization="instance",
        transform="log", frequency=table.frequency, time_column="date", series_column="store",
        future_covariates=["promo"],
    ).fit(table, split)
    return pre, split


def _forecast_at(frame, pre, split, model, store: str, origin: int) -> tuple[np.ndarray, ...]:
    w = pre.windows(_table(frame), split, "test")
    i = int(np.flatnonzero((w.series == pre.series_ids.index(store)) & (w.origin == origin))[0])
    out = model.predict(torch.from_numpy(w.inputs[i : i + 1]))
    return w.inputs[i], out["point"].numpy(), out["quantiles"].numpy()


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_no_value_after_the_origin_leaks_and_future_values_stop_at_the_horizon(decoder) -> None:
    frame = retail_panel(3, 120, seed=1)
    pre, split = _fitted(frame, decoder)
    torch.manual_seed(0)
    model = Forecaster(1, H, n_covariates=pre.n_covariates, n_known=pre.n_known,
                       hidden_size=8, decoder=decoder).eval()
    rows = frame.index[frame["store"] == "s1"]
    origin = 110  # a test-period origin of store s1 (rows 0 … 119)
    base = _forecast_at(frame, pre, split, model, "s1", origin)

    def changed(column: str, after: int) -> pd.DataFrame:
        other = frame.copy()
        pick = rows[after + 1 :]
        other.loc[pick, column] = other.loc[pick, column] * 3.0 + 1.0
        return other

    if decoder == "direct":  # the past-only price after the origin never reaches the model
        for got, want in zip(_forecast_at(changed("price", origin), pre, split, model, "s1",
                                          origin), base, strict=True):
            np.testing.assert_array_equal(got, want)
    # promotions beyond the horizon do not either
    for got, want in zip(_forecast_at(changed("promo", origin + H), pre, split, model, "s1",
                                      origin), base, strict=True):
        np.testing.assert_array_equal(got, want)
    # but those inside the horizon are read, at the future rows' known-feature slots
    inputs, point, _ = _forecast_at(changed("promo", origin), pre, split, model, "s1", origin)
    np.testing.assert_array_equal(inputs[:T], base[0][:T])
    assert not np.array_equal(inputs[T:], base[0][T:])
    assert not np.allclose(point, base[1])


def test_future_covariates_are_scaled_on_the_training_rows_only() -> None:
    frame = retail_panel(2, 100, seed=2)
    pre, split = _fitted(frame)
    a, _ = split.rows(frame.loc[frame["store"] == "s0", "date"].to_numpy())
    train = pd.concat([g.iloc[:a] for _, g in frame.groupby("store")])
    assert pre.future_scaler.mean[0, 0] == pytest.approx(train["promo"].mean())
    assert pre.future_scaler.scale[0, 0] == pytest.approx(train["promo"].std(ddof=0))
    later = frame.copy()
    later.loc[later["date"] >= split.val_start, "promo"] = 50.0
    again, _ = _fitted(later)
    np.testing.assert_array_equal(again.future_scaler.mean, pre.future_scaler.mean)


@pytest.fixture(scope="module")
def promo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("promo")
    frame = retail_panel(2, 90, seed=3)
    frame.drop(columns=["region"]).to_csv(root / "train.csv", index=False)
    config = forecast.ForecastConfig(
        data=str(root / "train.csv"), time_column="date", targets=["sales"],
        series_column="store", future_covariates=["promo", "price"], horizon=H,
        input_length=T, hidden_size=4)
    run = root / "run"
    run.mkdir()
    forecast.train(config, run, training=forecast.default_training(epochs=1, plots=False),
                   quiet=True)
    return root, run, frame


def _future(frame: pd.DataFrame, steps: int = H) -> pd.DataFrame:
    last = frame["date"].max()
    days = pd.date_range(last + pd.Timedelta(days=1), periods=steps, freq="D")
    return pd.DataFrame([{"date": d, "store": s, "promo": 1.0, "price": 3.0}
                         for s in ("s0", "s1") for d in days])


def test_predict_requires_the_future_covariates_and_names_what_is_missing(promo_run) -> None:
    root, run, frame = promo_run
    with pytest.raises(ValueError, match=r"future must give the future-known covariates "
                                         r"\['promo', 'price'\] for the 3 steps.*got None"):
        rnnkit.predict(run, root / "train.csv")
    future = _future(frame)
    gap = future.drop(index=[1, 5])  # s0's 2nd step, s1's 3rd
    with pytest.raises(ValueError, match=r"has no row for 2 of them: series 's0' at "
                                         r"2023-04-02 00:00:00; series 's1' at 2023-04-03"):
        rnnkit.predict(run, root / "train.csv", future=gap)
    empty = future.assign(price=[3.0, np.nan, 3.0, 3.0, 3.0, 3.0])
    with pytest.raises(ValueError, match=r"empty values for 1 of them: series 's0' at "
                                         r"2023-04-02 00:00:00 \(price\)"):
        rnnkit.predict(run, root / "train.csv", future=empty)
    with pytest.raises(ValueError, match=r"future must name columns of the data, but 'price'"):
        rnnkit.predict(run, root / "train.csv", future=future.drop(columns="price"))


def test_predict_reads_the_horizon_of_the_future_table_and_nothing_after(promo_run) -> None:
    root, run, frame = promo_run
    out = rnnkit.predict(run, root / "train.csv", future=_future(frame))
    assert list(out["store"]) == ["s0"] * H + ["s1"] * H
    assert list(out["step"]) == [1, 2, 3, 1, 2, 3]
    longer = _future(frame, steps=H + 4)
    longer.loc[longer["date"] > frame["date"].max() + pd.Timedelta(days=H), "price"] = 99.0
    pd.testing.assert_frame_equal(rnnkit.predict(run, root / "train.csv", future=longer), out)
    no_promo = _future(frame).assign(promo=0.0)
    other = rnnkit.predict(run, root / "train.csv", future=no_promo)
    assert not np.allclose(other["sales"], out["sales"])
    # and from the command line
    _future(frame).to_csv(root / "future.csv", index=False)
    assert main(["predict", str(run), str(root / "train.csv"), "--future",
                 str(root / "future.csv"), "-o", str(root / "p.csv")]) == 0
    np.testing.assert_allclose(pd.read_csv(root / "p.csv")["sales"], out["sales"])


def test_a_series_unseen_in_training_is_forecast_from_its_own_history(promo_run) -> None:
    _root, run, frame = promo_run
    new = retail_panel(3, 90, seed=4).drop(columns=["region"])
    new = new[new["store"] == "s2"].assign(sales=lambda f: f["sales"] * 10)  # another level
    data = pd.concat([frame.drop(columns=["region"]), new])
    future = pd.concat([_future(frame), _future(frame).query("store == 's0'").assign(store="s2")])
    with pytest.raises(ValueError, match=r"not trained on \('s2'\).*--new-series history"):
        rnnkit.predict(run, data, future=future)
    out = rnnkit.predict(run, data, future=future, new_series="history")
    assert list(out["store"]) == ["s0"] * H + ["s1"] * H + ["s2"] * H
    seen = rnnkit.predict(run, frame.drop(columns=["region"]), future=_future(frame))
    pd.testing.assert_frame_equal(out.iloc[: 2 * H].reset_index(drop=True), seen)
    # its own scale: ten times the level of the store it was copied from
    s2 = out.loc[out["store"] == "s2", "sales"].to_numpy()
    assert s2.mean() > 4 * seen["sales"].mean()

    short = pd.concat([frame.drop(columns=["region"]), new.iloc[-5:]])
    with pytest.raises(ValueError, match=r"1 series the model was not trained on with fewer "
                                         r"than input_length=14 rows, the fewest a new series "
                                         r"needs .*: 's2' \(5 rows\).*--on-bad-rows skip"):
        rnnkit.predict(run, short, future=future, new_series="history")
    with pytest.warns(UserWarning, match=r"skipped 1 series .*'s2' \(5 rows\)"):
        out = rnnkit.predict(run, short, future=future, new_series="history",
                             on_bad_rows="skip")
    pd.testing.assert_frame_equal(out, seen)


def test_the_options_work_from_a_toml_file_and_the_command_line(tmp_path, capsys) -> None:
    frame = retail_panel(2, 90, seed=6)
    frame.to_csv(tmp_path / "r.csv", index=False)
    (tmp_path / "run.toml").write_text(
        f'task = "forecast"\ndata = "{tmp_path / "r.csv"}"\ntime_column = "date"\n'
        'targets = ["sales"]\nseries_column = "store"\nfuture_covariates = ["promo", "price"]\n'
        'static_covariates = ["store_size", "region"]\nhorizon = 3\ninput_length = 14\n'
        'hidden_size = 4\ncalibrate = "conformal"\nval_fraction = 0.3\n'
        '[train]\nepochs = 1\nplots = false\n')
    assert main(["train", "--config", str(tmp_path / "run.toml"), "--new-series", "history",
                 "--runs-dir", str(tmp_path / "runs")]) == 0
    run = next((tmp_path / "runs").iterdir())
    loaded = forecast.load_forecaster(run / "model.safetensors")
    c = loaded.config
    assert (c.future_covariates, c.static_covariates, c.calibrate, c.new_series) == (
        ["promo", "price"], ["store_size", "region"], "conformal", "history")
    assert loaded.calibration is not None and loaded.calibration.widen.shape == (3, 1)
    capsys.readouterr()
    assert main(["train", "--data", str(tmp_path / "r.csv"), "--time-column", "date",
                 "--targets", "sales", "--future-covariates", "promo,sales",
                 "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "future_covariates must not repeat a column of targets, got 'sales'" in (
        capsys.readouterr().err)


def test_bad_option_combinations_are_named() -> None:
    with pytest.raises(ValueError) as info:
        forecast.ForecastConfig(likelihood="point", calibrate="conformal",
                                static_covariates=["store"], series_column="store",
                                covariates=["price"], future_covariates=["price"])
    message = str(info.value)
    assert "future_covariates must not repeat a column of covariates, got 'price' in both" in (
        message)
    assert "static_covariates must not name the series or time column, got 'store'" in message
    assert ("calibrate='conformal' widens the prediction interval, which likelihood='point' "
            "does not have") in message
