"""Typed configuration: TOML + flags, flags win, every problem reported at once."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rnnkit.config import ConfigError, build_configs, field_help, read_toml, to_toml


@dataclass
class ModelOptions:
    """Options of a model.

    Args:
        hidden_size: hidden units per layer.
        cell, num_layers: the recurrent cell ('lstm', 'gru' or 'rnn') and how many
            layers of it.
        dropout: between layers.
    """

    hidden_size: int = 32
    cell: str = "lstm"
    num_layers: int = 1
    dropout: float | None = None
    targets: list[str] | None = None

    def __post_init__(self) -> None:
        if self.cell not in ("lstm", "gru", "rnn"):
            raise ValueError(f"cell must be one of ['lstm', 'gru', 'rnn'], got {self.cell!r}")


@dataclass
class RunOptions:
    """Options of a run.

    Args:
        epochs: passes over the data.
        quiet: no progress bar.
    """

    epochs: int = 10
    quiet: bool = False


def test_help_is_read_from_the_docstring() -> None:
    helps = field_help(ModelOptions)
    assert helps["hidden_size"] == "hidden units per layer."
    assert helps["cell"] == helps["num_layers"]
    assert helps["num_layers"].endswith("and how many layers of it.")
    assert "targets" not in helps


def test_flags_override_the_file(tmp_path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('hidden_size = 64\ncell = "gru"\n[train]\nepochs = 3\nquiet = true\n')
    model, run = build_configs(
        [ModelOptions, RunOptions], read_toml(path), {"hidden-size": "128", "targets": "a,b"}
    )
    assert (model.hidden_size, model.cell, model.targets) == (128, "gru", ["a", "b"])
    assert (run.epochs, run.quiet) == (3, True)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        build_configs(
            [ModelOptions, RunOptions],
            {"hiden_size": 64, "epochs": "many", "dropout": "none"},
            {"quiet": "maybe", "num-layer": "2"},
        )
    message = str(info.value)
    assert message.startswith("invalid configuration, 4 problems:")
    assert "unknown option 'hiden_size' in config file (did you mean hidden_size?)" in message
    assert "epochs: expected an int, got 'many' (from config file)" in message
    assert "quiet: expected a bool (true or false), got 'maybe' (from flag)" in message
    assert "unknown option 'num_layer' in flag (did you mean num_layers?)" in message


def test_dataclass_checks_are_reported_too() -> None:
    with pytest.raises(ConfigError, match=r"cell must be one of \['lstm', 'gru', 'rnn'\], got 'x'"):
        build_configs([ModelOptions], {"cell": "x"})


def test_bad_toml_and_missing_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        read_toml(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("hidden_size = = 3\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        read_toml(bad)


def test_to_toml_round_trip(tmp_path) -> None:
    values = {"hidden_size": 8, "cell": 'g"ru', "dropout": None, "targets": ["a", "b"],
              "quiet": True, "lr": 0.5}
    path = tmp_path / "resolved.toml"
    path.write_text(to_toml(values))
    back = read_toml(path)
    assert back == {k: v for k, v in values.items() if v is not None}
