"""One "did you mean" for every misspelt name."""

import pytest

from rnnkit.core.suggest import closest, did_you_mean


@pytest.mark.parametrize(
    ("name", "choices", "expected"),
    [
        ("hiden_size", ["hidden_size", "epochs"], " (did you mean 'hidden_size'?)"),
        ("sunspot", ["sunspots", "airline"], " (did you mean 'sunspots'?)"),
        ("yy", ["y", "x"], " (did you mean 'y'?)"),  # short names: cutoff 0.5
        ("Day", ["day", "value"], " (did you mean 'day'?)"),
        ("TEMPERATURE", ["temperature", "t"], " (did you mean 'temperature'?)"),  # case only
        ("zzzz", ["hidden_size", "epochs"], ""),
        ("anything", [], ""),
    ],
)
def test_did_you_mean_gives_the_phrase_to_append(name, choices, expected):
    assert did_you_mean(name, choices) == expected


def test_unquoted_form_of_the_config_messages():
    assert did_you_mean("num_layer", {"num_layers": 1, "epochs": 2}, quote=False) == (
        " (did you mean num_layers?)"
    )


def test_non_string_names_and_choices_compare_as_text():
    assert closest(12, [11, 120, "x"]) == "120"
    assert did_you_mean(3, ["a"]) == ""


def test_the_call_sites_share_it():
    from rnnkit.data.registry import get_dataset
    from rnnkit.tasks.forecast_config import ForecastConfig

    with pytest.raises(ValueError, match=r"'hiden_size' \(did you mean 'hidden_size'\?\)"):
        ForecastConfig.from_dict({"hiden_size": 8})
    with pytest.raises(ValueError, match=r"got 'sunspot' \(did you mean 'sunspots'\?\)"):
        get_dataset("sunspot")
