"""Small trained runs shared by the export tests (one epoch each: export must reproduce a
model, not a good one)."""

import pytest

import rnnkit

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def _train(root, name, task, **options):
    return rnnkit.train(
        task, runs_root=root, name=name, epochs=1, plots=False, quiet=True, **options
    ).run_dir


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """Run directories by name (trained once per session, lazily)."""
    root = tmp_path_factory.mktemp("export-runs")
    recipes = {
        # A bidirectional two-layer LSTM with lengths: the case torch's own export lacks.
        "classify-bi": ("classify", dict(data="digits", hidden_size=12, num_layers=2,
                                         bidirectional=True, max_train=300)),
        "classify-gru": ("classify", dict(data="digits", cell="gru", hidden_size=12,
                                          max_train=300)),
        "text": ("classify", dict(data="rotten-tomatoes", hidden_size=8, embedding_dim=8,
                                  max_train=300)),
        "tag": ("tag", dict(data="chinese-segmentation", cell="rnn", bidirectional=False,
                            hidden_size=8, embedding_dim=8, max_train=60, max_length=30)),
        "forecast": ("forecast", dict(data="sunspots", hidden_size=8)),
        # Two targets, two past covariates and a calendar feature.
        "forecast-weather": ("forecast", dict(data="seattle-weather", hidden_size=8)),
    }
    made = {}

    def get(name):
        if name not in made:
            task, options = recipes[name]
            try:
                made[name] = _train(root, name, task, **options)
            except rnnkit.RNNKitError as err:  # a bundled dataset's package is missing
                pytest.skip(f"cannot train {name}: {err}")
        return made[name]

    return get
