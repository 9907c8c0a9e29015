"""Static covariates: per-series attributes, embedded into the forecaster's initial state and
head; unseen categories get the unknown embedding with a warning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import rnnkit
from rnnkit.data.retail import retail_panel
from rnnkit.data.static_inputs import StaticEncoder, read_static
from rnnkit.models.forecaster import Forecaster
from rnnkit.tasks import forecast


def test_static_values_are_read_once_per_series_and_must_not_change() -> None:
    frame = pd.DataFrame({"store": ["a", "a", "b"], "size": [1.0, 1.0, 3.0],
                          "region": ["n", "n", "s"]})
    got = read_static(frame, series_column="store", columns=["size", "region"])
    assert got.to_dict("index") == {"a": {"size": 1.0, "region": "n"},
                                    "b": {"size": 3.0, "region": "s"}}
    with pytest.raises(ValueError, match=r"column 'size' must hold one value per series, but "
                                         r"series 'a' has 1.0 and 2.0"):
        read_static(frame.assign(size=[1.0, 2.0, 3.0]), series_column="store", columns=["size"])
    with pytest.raises(ValueError, match=r"static_covariates must name columns of the data, "
                                         r"but 'colour' is not one"):
        read_static(frame, series_column="store", columns=["colour"])


def test_the_encoder_learns_from_training_series_and_numbers_unknown_categories_0() -> None:
    static = pd.DataFrame({"size": [100.0, 300.0, 5000.0], "region": ["n", "s", "w"]},
                          index=["a", "b", "new"])
    enc = StaticEncoder.fit(static, ["a", "b"])
    assert enc.numeric == ["size"] and enc.categorical == ["region"]
    assert enc.vocab == [["n", "s"]] and enc.cardinalities == [3]
    assert enc.mean.tolist() == [200.0] and enc.scale.tolist() == [100.0]
    with pytest.warns(UserWarning, match=r"1 static categories were not seen in training and "
                                         r"get the unknown embedding: region='w' \(series 'new'\)"):
        rows = enc.encode(static, ["a", "b", "new"])
    assert {k: v.tolist() for k, v in rows.items()} == {
        "a": [-1.0, 1.0], "b": [1.0, 2.0], "new": [48.0, 0.0]}
    assert StaticEncoder.from_dict(enc.to_dict()).to_dict() == enc.to_dict()


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_the_static_vector_sets_the_initial_state_and_reaches_the_head(decoder) -> None:
    torch.manual_seed(0)
    model = Forecaster(1, 3, n_known=2, n_static=1, static_categories=[4], hidden_size=8,
                       decoder=decoder).eval()
    assert model.config["n_static"] == 1 and model.config["static_categories"] == [4]
    x = torch.randn(2, 12, 1 + 2)
    static = torch.tensor([[0.5, 1.0], [0.5, 3.0]])  # same number, different categories
    inputs = torch.cat([x, static[:, None, :].expand(-1, 12, -1)], dim=2)
    e = model._static(inputs)
    assert e.shape == (2, 1 + model.static_embeddings[0].embedding_dim)
    torch.testing.assert_close(e[1, 1:], model.static_embeddings[0].weight[3])
    h0 = model._initial_state(e)[0]  # LSTM: (h0, c0), each (L·D, B, H)
    assert h0.shape == (1, 2, 8) and not torch.allclose(h0[:, 0], h0[:, 1])
    same_x = torch.cat([x[:1], x[:1]])
    out = model.predict(torch.cat([same_x, static[:, None, :].expand(-1, 12, -1)], dim=2))
    assert not torch.allclose(out["point"][0], out["point"][1])  # only the category differs
    with pytest.raises(ValueError, match=r"inputs must be \(B, T \+ h, 5\) = .* known features "
                                         r"\+ static covariates\), got \(2, 12, 3\)"):
        model(x)


def test_a_model_without_static_covariates_keeps_its_parameters_and_config() -> None:
    model = Forecaster(1, 3, n_known=2, hidden_size=8)
    assert not any(k.startswith("static") for k in model.state_dict())
    assert "n_static" not in model.config


def test_an_unseen_category_at_prediction_gets_the_unknown_embedding(tmp_path) -> None:
    frame = retail_panel(3, 90, seed=3)
    frame.to_csv(tmp_path / "t.csv", index=False)
    config = forecast.ForecastConfig(
        data=str(tmp_path / "t.csv"), time_column="date", targets=["sales"],
        series_column="store", static_covariates=["store_size", "region"], horizon=3,
        input_length=14, hidden_size=4)
    run = tmp_path / "run"
    run.mkdir()
    forecast.train(config, run, training=forecast.default_training(epochs=1, plots=False),
                   quiet=True)
    loaded = forecast.load_forecaster(run / "model.safetensors")
    assert loaded.preprocessor.static.vocab == [sorted(set(frame["region"]))]
    out = rnnkit.predict(run, tmp_path / "t.csv")
    moved = frame.assign(region=np.where(frame["store"] == "s1", "mars", frame["region"]))
    with pytest.warns(UserWarning, match=r"region='mars' \(series 's1'\)"):
        other = rnnkit.predict(run, moved)
    s1 = (out["store"] == "s1").to_numpy()
    np.testing.assert_array_equal(other["sales"][~s1], out["sales"][~s1])
    assert not np.allclose(other["sales"][s1], out["sales"][s1])
    with pytest.raises(ValueError, match=r"must hold one value per series, but series 's0'"):
        rnnkit.predict(run, frame.assign(store_size=np.arange(len(frame), dtype=float)))
    with pytest.raises(ValueError, match=r"static_covariates must name columns of the data, "
                                         r"but 'region' is not one"):
        rnnkit.predict(run, frame.drop(columns="region"))
