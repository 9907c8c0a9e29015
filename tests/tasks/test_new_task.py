"""A new task is one module (here: this test file) and one registry entry: defined here, it
trains, evaluates, predicts and reloads through the same runner, API and command line as the
bundled tasks, without touching any rnnkit file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.data import BatchLoader, adding_problem
from rnnkit.io.artifact import Artifact
from rnnkit.models import SequenceRegressor
from rnnkit.tasks.pipeline import Prepared, Scores, Task, TaskConfig, TaskResult
from rnnkit.tasks.registry import TASKS


class AddingRegressor(SequenceRegressor):
    """The adding-problem regressor with the ``config`` property artifacts need."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__(2, hidden_size, cell="gru")
        self.hidden_size = hidden_size

    @property
    def config(self) -> dict[str, Any]:
        return {"hidden_size": self.hidden_size}


@dataclass
class AddingConfig(TaskConfig):
    """Options of the adding task.

    length: steps per sequence.
    hidden_size: hidden units.
    """

    length: int = 12
    hidden_size: int = 8

    def problems(self) -> list[str]:
        if not isinstance(self.length, int) or self.length < 2:
            return [f"length must be an int >= 2, got {self.length!r}"]
        return []


def mse(model: AddingRegressor, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        out, _ = model(x)
    return float(((out[:, -1, 0] - y.reshape(-1)) ** 2).mean())


class AddingTask(Task):
    name = "adding"
    artifact_kind = "adding-regressor"
    description = "sum of the two marked numbers of a sequence (a test task)"
    config_class = AddingConfig
    training_base: ClassVar[dict[str, Any]] = {"epochs": 3, "lr": 1e-2}
    headline = ("mse", False)

    def prepare(self, config: AddingConfig, training: Any, say: Any) -> Prepared:
        x, y = adding_problem(256, config.length, seed=training.seed)
        tx, ty = adding_problem(64, config.length, seed=training.seed + 1)
        train = BatchLoader(x, y, batch_size=32, target_at="last", seed=training.seed)
        val = BatchLoader(tx, ty, batch_size=64, target_at="last", shuffle=False)
        return Prepared(config, train, val, {"length": config.length},
                        {"test": (tx, ty), "train": (x, y)})

    def build_model(self, prepared: Prepared) -> AddingRegressor:
        return AddingRegressor(prepared.config.hidden_size)

    def score(self, model: AddingRegressor, prepared: Prepared, seed: int) -> Scores:
        (tx, ty), (_, y) = prepared.parts["test"], prepared.parts["train"]
        baseline = float(((ty.reshape(-1) - y.mean()) ** 2).mean())  # predict the mean
        test = {"model": {"mse": mse(model, tx, ty)}, "baselines": {"mean": {"mse": baseline}}}
        return Scores({"test": test}, {"test": test["model"]})

    def artifact_state(self, prepared: Prepared) -> dict[str, Any]:
        return prepared.preprocessing

    def table(self, part_metrics: dict[str, Any]) -> str:
        rows = [("model", part_metrics["model"]), *part_metrics["baselines"].items()]
        return "\n".join(f"| {name} | {m['mse']:.4f} |" for name, m in rows)

    def summary(self, result: TaskResult) -> str:
        return f"Adding problem, length {result.config.length}.\n\n{result.table('test')}"

    def restore(self, artifact: Artifact) -> dict[str, Any]:
        model = self.rebuild_model(AddingRegressor, artifact)
        return {"model": model, "length": artifact.preprocessing["length"]}

    def evaluate(self, loaded: dict[str, Any], data: Any = None) -> dict[str, Any]:
        x, y = adding_problem(64, loaded["length"], seed=int(data or 1))
        return {"mse": mse(loaded["model"], x, y)}

    def predict(self, loaded: dict[str, Any], data: Any) -> pd.DataFrame:
        x, _ = adding_problem(4, loaded["length"], seed=int(data))
        with torch.no_grad():
            out, _ = loaded["model"](x)
        return pd.DataFrame({"sum": out[:, -1, 0].numpy()})


@pytest.fixture
def registered():
    TASKS["adding"] = AddingTask()  # the one registry line
    yield TASKS["adding"]
    del TASKS["adding"]


def test_a_task_defined_outside_rnnkit_runs_end_to_end(tmp_path, registered, capsys) -> None:
    outcome = rnnkit.train("adding", runs_root=tmp_path, name="run", quiet=True, epochs=3)
    run = Path(outcome.run_dir)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["training"]["epochs"] == 3 and metrics["training"]["best_epoch"] >= 1
    # It learns something: better than predicting the mean after 24 updates.
    assert metrics["test"]["model"]["mse"] < metrics["test"]["baselines"]["mean"]["mse"]
    summary = (run / "summary.md").read_text()
    assert "Adding problem, length 12." in summary
    # The comparison with the baseline comes first, before the result's tables.
    assert summary.index("## Verdict") < summary.index("## Result")
    assert "The model beats every baseline on the test data (mse" in summary  # no val part
    assert 'task = "adding"' in (run / "config.toml").read_text()

    loaded = rnnkit.load(run)
    assert rnnkit.evaluate(run, 1)["mse"] == pytest.approx(metrics["test"]["model"]["mse"])
    assert len(rnnkit.predict(run, 5)) == 4 and loaded["length"] == 12

    assert main(["evaluate", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mse"] == pytest.approx(
        metrics["test"]["model"]["mse"]
    )
    with pytest.raises(rnnkit.RNNKitError, match="length must be an int >= 2, got 1"):
        rnnkit.train("adding", runs_root=tmp_path, quiet=True, length=1)
