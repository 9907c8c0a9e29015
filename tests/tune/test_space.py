"""``--search`` specs: lists, ranges, types, and the messages of bad specs."""

import pytest

from rnnkit.tasks.classify_config import ClassifyConfig
from rnnkit.train import TrainConfig
from rnnkit.tune.space import SearchSpace, parse_param

CLASSES = [ClassifyConfig, TrainConfig]


def test_list_is_typed_by_its_option_and_grid_is_every_combination():
    space = SearchSpace.parse(["hidden_size=32,64", "cell=gru,lstm"], CLASSES)
    assert space.is_grid
    assert space.params[0].choices == (32, 64)
    assert space.grid() == [
        {"hidden_size": 32, "cell": "gru"},
        {"hidden_size": 32, "cell": "lstm"},
        {"hidden_size": 64, "cell": "gru"},
        {"hidden_size": 64, "cell": "lstm"},
    ]


def test_ranges_log_and_integer():
    lr = parse_param("lr=1e-4..1e-2:log", CLASSES)
    assert (lr.low, lr.high, lr.log, lr.integer, lr.is_list) == (1e-4, 1e-2, True, False, False)
    layers = parse_param("num_layers=1..3", CLASSES)
    assert (layers.low, layers.high, layers.integer, layers.log) == (1, 3, True, False)
    assert lr.spec() == "lr=0.0001..0.01:log"
    assert not SearchSpace.parse(["hidden_size=8,16", "lr=0.001..0.01"], CLASSES).is_grid


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("hidden_size", "search must be NAME=A,B,C or NAME=LOW..HIGH[:log], got 'hidden_size'"),
        ("hiden_size=3,4", "search: unknown option 'hiden_size' (did you mean 'hidden_size'?)"),
        ("hidden_size=3,x", "search: hidden_size: expected int or None, got 'x'"),
        ("cell=a..b", "search: a range LOW..HIGH needs a numeric option, but cell is"),
        ("lr=0.01..0.001", "search: lr: LOW must be below HIGH, got 0.01..0.001"),
        ("lr=0..0.1:log", "search: lr: a log range needs LOW > 0, got 0.0"),
        ("lr=0.1..1:cubic", "lr: the scale after ':' must be 'log' or 'linear', got 'cubic'"),
        ("hidden_size=8,8", "search: hidden_size: each value once, got '8,8'"),
        ("feature_columns=a,b", "search: feature_columns takes a list"),
    ],
)
def test_bad_specs_say_what_and_why(spec, message):
    with pytest.raises(ValueError) as err:
        SearchSpace.parse([spec], CLASSES)
    assert message in str(err.value)


def test_an_option_searched_twice_and_no_search_are_refused():
    with pytest.raises(ValueError, match=r"each option once, got \['lr'\] more than once"):
        SearchSpace.parse(["lr=0.1,0.2", "lr=0.01..0.1"], CLASSES)
    with pytest.raises(ValueError, match="give at least one NAME=A,B,C"):
        SearchSpace.parse([], CLASSES)


@pytest.mark.parametrize("metric,higher", [
    ("accuracy", True), ("macro_f1", True), ("bleu", True), ("rouge1", True),
    ("loss", False), ("mase", False), ("perplexity", False), ("bpc", False),
    ("bits_per_token", False), ("wer", False), ("per", False),
])
def test_the_direction_of_each_task_metric(metric, higher):
    from rnnkit.tune.study import higher_is_better

    assert higher_is_better(metric) is higher
