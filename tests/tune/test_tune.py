"""``rnnkit tune`` end to end: the table, the choice, the final run, resume after SIGKILL, and
two worker processes sharing one SQLite study."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("optuna")
pytest.importorskip("sklearn")

import rnnkit
from rnnkit.cli import main
from rnnkit.tune import report
from rnnkit.tune import study as study_module
from rnnkit.tune.space import SearchSpace
from tests.tune.helpers import FAST, write_sequences

SRC = str(Path(__file__).resolve().parents[2] / "src")
ROOT = str(Path(__file__).resolve().parents[2])


def test_one_standard_error_rule_prefers_the_smaller_model_within_noise():
    table = pd.DataFrame({
        "hidden_size": [64, 16, 8],
        "parameters": [5000, 900, 400],
        "mean": [0.90, 0.88, 0.80],
        "std": [0.04, 0.03, 0.02],
        "sem": [0.04 / math.sqrt(3), 0.03 / math.sqrt(3), 0.02 / math.sqrt(3)],
        "state": ["complete"] * 3,
    })
    chosen, best, why = report.choose(table, higher_is_better=True)
    assert (best, chosen) == (0, 1)  # 0.88 is within 0.023 of 0.90; 0.80 is not
    assert "within one standard error (0.023) of the best mean 0.9" in why
    assert "(900 parameters against 5,000)" in why
    # Lower is better (an error): the smallest error wins when nothing is within noise.
    table["mean"] = [0.10, 0.20, 0.30]
    table["sem"] = [0.001, 0.001, 0.001]
    chosen, best, why = report.choose(table, higher_is_better=False)
    assert (best, chosen) == (0, 0)
    assert "no other setting lies within one standard error of it" in why


def test_choose_refuses_a_study_where_nothing_finished():
    table = pd.DataFrame({"mean": [0.5], "sem": [0.1], "parameters": [10], "state": ["pruned"]})
    with pytest.raises(ValueError, match="no setting finished all its folds"):
        report.choose(table, True)


def test_cli_tune_writes_table_plot_summary_and_a_normal_final_run(tmp_path, capsys):
    data = write_sequences(tmp_path / "seq.npz")
    sets = [arg for k, v in FAST.items() for arg in ("--set", f"{k}={v}")]
    code = main([
        "tune", "--task", "classify", "--data", str(data), "--search", "hidden_size=4,8",
        "--cv", "2", "--workers", "1", "--runs-dir", str(tmp_path / "runs"), "--name", "t",
        *sets,
    ])
    assert code == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / "t"
    assert "| hidden_size | parameters | accuracy (mean ± std) | folds | state |" in out
    table = pd.read_csv(run / "tuning.csv")
    assert sorted(table["hidden_size"]) == [4, 8]
    assert (table["folds"] == 2).all() and (table["state"] == "complete").all()
    # The mean is the mean of the stored fold scores, and the data has a signal to learn.
    assert table["mean"].tolist() == pytest.approx((table["fold_1"] + table["fold_2"]) / 2)
    assert table["mean"].max() > 0.6
    assert (run / "tuning.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (run / "summary.md").read_text()
    assert "## Choice" in summary and "Chosen: {'hidden_size': " in summary
    # The final model is a normal run directory with the chosen setting.
    chosen = json.loads((run / "tune.json").read_text())
    loaded = rnnkit.load(run / "final")
    assert loaded.config.hidden_size in (4, 8)
    assert f"'hidden_size': {loaded.config.hidden_size}" in summary
    assert chosen["cv"] == 2
    assert (run / "final" / "metrics.json").is_file()


def test_bad_options_are_refused_before_a_run_directory_exists(tmp_path):
    data = write_sequences(tmp_path / "seq.npz")
    with pytest.raises(ValueError, match=r"trials: a grid of lists runs every one of its 2"):
        rnnkit.tune("classify", ["hidden_size=4,8"], trials=5, data=str(data),
                    runs_root=tmp_path / "runs")
    with pytest.raises(ValueError, match="cv must be an integer >= 2, got 1"):
        rnnkit.tune("classify", ["hidden_size=4,8"], cv=1, data=str(data),
                    runs_root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def _options(data):
    return {**FAST, "data": str(data)}


#: Child-process prelude: the third fold's training blocks, so that a test can kill the tune
#: with exactly two folds stored, however fast the machine is (polling alone raced a fast one).
_STALL_AFTER_TWO_FOLDS = (
    "import time\n"
    "import rnnkit.tasks.pipeline as _p\n"
    "_fit, _n = _p.fit_model, [0]\n"
    "def _stalling(*a, **k):\n"
    "    _n[0] += 1\n"
    "    if _n[0] > 2:\n"
    "        time.sleep(3600)\n"
    "    return _fit(*a, **k)\n"
    "_p.fit_model = _stalling\n"
)


def _spawn_tune(run_root, data, name, extra="", prelude=""):
    code = (
        prelude + "import rnnkit\n"
        f"rnnkit.tune('classify', ['hidden_size=4,8'], cv=3, runs_root={str(run_root)!r}, "
        f"name={name!r}, heartbeat=1, quiet=True, final=False, workers=1{extra}, "
        f"**{_options(data)!r})\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + ROOT}
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _stored_folds(run):
    import optuna

    storage = f"sqlite:///{run / 'study.db'}"
    try:
        spec = study_module.TuneSpec.from_json(json.loads((run / "tune.json").read_text()))
        s = optuna.load_study(study_name=spec.study_name, storage=storage)
    except (KeyError, Exception):  # not created yet
        return []
    return [k for k in s.user_attrs if k.startswith("fold ")]


def test_a_killed_tune_resumes_without_training_finished_folds_again(tmp_path, monkeypatch):
    data = write_sequences(tmp_path / "seq.npz")
    proc = _spawn_tune(tmp_path / "runs", data, "k", prelude=_STALL_AFTER_TWO_FOLDS)
    run = tmp_path / "runs" / "k"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if (run / "study.db").exists() and len(_stored_folds(run)) >= 2:
            break
        time.sleep(0.5)
    assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.communicate()  # reaped, and its pipes closed
    done_before = set(_stored_folds(run))
    assert len(done_before) == 2
    calls = []
    original = study_module.run_fold

    def counting(spec, params, fold_index, trial=None):
        calls.append(study_module.fold_attr(study_module.setting_key(params), fold_index))
        return original(spec, params, fold_index, trial)

    monkeypatch.setattr(study_module, "run_fold", counting)
    result = rnnkit.tune(resume=run, heartbeat=1, quiet=True, final=False, workers=1)
    assert not set(calls) & done_before  # finished folds were not trained again
    assert len(calls) == 6 - len(done_before)  # every other fold was, once
    assert sorted(result.table["hidden_size"]) == [4, 8]
    assert (result.table["folds"] == 3).all()
    assert (result.table["state"] == "complete").all()


def test_two_worker_processes_share_one_sqlite_study(tmp_path):
    data = write_sequences(tmp_path / "seq.npz")
    # The first tune makes the run directory and the study; a second process joins it through
    # --storage, as a worker on another machine would.
    first = _spawn_tune(tmp_path / "runs", data, "shared")
    run = tmp_path / "runs" / "shared"
    deadline = time.monotonic() + 120
    while not (run / "study.db").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    url = f"sqlite:///{run / 'study.db'}"
    second = _spawn_tune(tmp_path / "runs", data, "joined", extra=f", storage={url!r}")
    for proc in (first, second):
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-3000:]
    import optuna

    spec = study_module.TuneSpec.from_json(json.loads((run / "tune.json").read_text()))
    joined = study_module.TuneSpec.from_json(
        json.loads((tmp_path / "runs" / "joined" / "tune.json").read_text()))
    assert joined.study_name == spec.study_name  # the same tune: the same study
    s = optuna.load_study(study_name=spec.study_name, storage=url)
    complete = [t for t in s.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.params["hidden_size"] for t in complete) == [4, 8]  # each setting once
    assert len([k for k in s.user_attrs if k.startswith("fold ")]) == 6
    table = report.study_table(s, spec, SearchSpace.parse(spec.search, _classes()))
    assert (table["folds"] == 3).all()


def _classes():
    from rnnkit.tasks.classify_config import ClassifyConfig
    from rnnkit.train import TrainConfig

    return [ClassifyConfig, TrainConfig]


def test_a_range_is_searched_by_tpe_with_a_trial_budget(tmp_path):
    data = write_sequences(tmp_path / "seq.npz")
    result = rnnkit.tune("classify", ["lr=1e-3..3e-2:log", "hidden_size=4,8"], cv=2, trials=2,
                         runs_root=tmp_path / "runs", name="r", quiet=True, final=False,
                         workers=1, **_options(data))
    table = result.table
    assert len(table) == 2
    assert ((table["lr"] >= 1e-3) & (table["lr"] <= 3e-2)).all()
    assert set(table["hidden_size"]) <= {4, 8}
    assert set(table["state"]) <= {"complete", "pruned"}
    assert result.chosen["lr"] in set(table["lr"])
    spec = json.loads((tmp_path / "runs" / "r" / "tune.json").read_text())
    assert spec["trials"] == 2 and spec["search"] == ["lr=0.001..0.03:log", "hidden_size=4,8"]


def test_opening_a_storage_retries_while_another_process_creates_its_tables():
    import sqlalchemy.exc

    calls = []

    def make():
        calls.append(1)
        if len(calls) < 3:
            raise sqlalchemy.exc.OperationalError("CREATE TABLE trials", {},
                                                  Exception("table trials already exists"))
        return "storage"

    assert study_module._create_tables_once(make) == "storage" and len(calls) == 3

    def locked():
        raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("database is locked"))

    with pytest.raises(sqlalchemy.exc.OperationalError, match="database is locked"):
        study_module._create_tables_once(locked)  # any other error is not retried
