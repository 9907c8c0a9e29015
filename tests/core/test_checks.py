"""Argument checks: problem strings for configurations, ValueError for constructors."""

import math
from dataclasses import dataclass

import pytest

from rnnkit.core.checks import (
    check_choice,
    check_int,
    check_number,
    check_positive,
    choice_problem,
    choice_problems,
    int_problem,
    int_problems,
    number_problem,
)


def test_choice_problem_lists_the_choices_without_none():
    assert choice_problem("cell", "lstm", ("lstm", "gru")) is None
    assert choice_problem("cell", None, ("lstm", None)) is None
    assert choice_problem("cell", "lsmt", ("lstm", "gru", None)) == (
        "cell must be one of ['lstm', 'gru'], got 'lsmt'"
    )


@pytest.mark.parametrize(
    ("value", "optional", "expected"),
    [
        (3, False, None),
        (1, False, None),
        (None, True, None),
        (0, False, "epochs must be an int >= 1, got 0"),
        (True, False, "epochs must be an int >= 1, got True"),  # a bool is not a count
        (2.0, False, "epochs must be an int >= 1, got 2.0"),
        (None, False, "epochs must be an int >= 1, got None"),
        (0, True, "epochs must be None or an int >= 1, got 0"),
    ],
)
def test_int_problem(value, optional, expected):
    assert int_problem("epochs", value, 1, optional=optional) == expected


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (0.5, {"high": 1.0}, None),
        (1.0, {"high": 1.0}, None),
        (1.0, {"high": 1.0, "high_open": True}, "p must be a number in [0.0, 1.0), got 1.0"),
        (0.0, {"low_open": True}, "p must be a number in (0.0, inf), got 0.0"),
        (math.nan, {}, "p must be a number in [0.0, inf), got nan"),
        (False, {}, "p must be a number in [0.0, inf), got False"),
        (None, {"optional": True}, None),
        ("1", {"optional": True}, "p must be None or a number in [0.0, inf), got '1'"),
    ],
)
def test_number_problem(value, kwargs, expected):
    assert number_problem("p", value, 0.0, **kwargs) == expected


def test_raising_checks_name_the_owner_argument_expected_and_received():
    assert check_choice("mode", "min", ("min", "max")) == "min"
    assert check_int("k1", None, 1, optional=True) is None
    assert check_positive("lr", 0.1) == 0.1
    assert check_number("gamma", 1, 0.0, 1.0) == 1
    with pytest.raises(ValueError, match=r"^Model: mode must be one of \['min', 'max'\], got 'x'$"):
        check_choice("mode", "x", ("min", "max"), owner="Model")
    with pytest.raises(ValueError, match=r"^k1 must be an int >= 1, got -2$"):
        check_int("k1", -2, 1)
    with pytest.raises(ValueError, match=r"^Opt: lr must be a number in \(0\.0, inf\), got 0$"):
        check_positive("lr", 0, owner="Opt")


def test_table_checks_over_an_object():
    @dataclass
    class C:
        cell: str = "rnn"
        layers: int = 0
        window: int | None = None

    c = C()
    assert choice_problems(c, [("cell", ("lstm", "gru"))]) == [
        "cell must be one of ['lstm', 'gru'], got 'rnn'"
    ]
    assert int_problems(c, [("layers", 1, False), ("window", 2, True)]) == [
        "layers must be an int >= 1, got 0"
    ]


def test_the_config_module_re_exports_the_same_functions():
    import rnnkit.config
    import rnnkit.core.checks

    assert rnnkit.config.choice_problems is rnnkit.core.checks.choice_problems
    assert rnnkit.config.int_problems is rnnkit.core.checks.int_problems
