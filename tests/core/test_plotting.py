"""One plotting helper: Agg canvas without pyplot, atomic saves, one missing-matplotlib error."""

import importlib.util
import sys

import numpy as np
import pytest

from rnnkit.core.plotting import new_figure, require_matplotlib, save_figure
from rnnkit.errors import PlotDependencyError, RNNKitError

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def no_matplotlib(monkeypatch):
    """matplotlib as if it were not installed (find_spec says so, imports fail)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.split(".")[0] == "matplotlib"
                        else real(name, *a))
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_a_figure_is_saved_atomically_as_png(tmp_path):
    fig, axes = new_figure(2, 3, size=(6, 4))
    assert axes.shape == (2, 3)
    axes[0][0].plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "sub" / "f.png", dpi=50)
    assert path == tmp_path / "sub" / "f.png"
    assert path.read_bytes().startswith(PNG)
    assert [p.name for p in path.parent.iterdir()] == ["f.png"]


def test_plotting_leaves_the_global_backend_and_pyplot_alone(tmp_path):
    import matplotlib

    before = matplotlib.get_backend()
    had_pyplot = "matplotlib.pyplot" in sys.modules
    fig, _ = new_figure()
    save_figure(fig, tmp_path / "f.png")
    assert matplotlib.get_backend() == before
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot  # pyplot not imported by us


def test_missing_matplotlib_raises_the_one_error_with_the_fix(no_matplotlib):
    with pytest.raises(PlotDependencyError) as info:
        new_figure(purpose="learning-curve plots", fix="or set plots=False")
    assert str(info.value) == (
        'learning-curve plots need matplotlib, which is not installed: '
        'pip install "rnnkit[plot]" (or set plots=False)'
    )
    assert isinstance(info.value, (RNNKitError, ImportError))
    with pytest.raises(PlotDependencyError, match=r'^plots need matplotlib.*"rnnkit\[plot\]"$'):
        require_matplotlib()


def test_every_plot_function_raises_it_without_matplotlib(no_matplotlib, tmp_path):
    from rnnkit.eval.plots import plot_forecasts
    from rnnkit.models.classification_metrics import (
        classification_report,
        plot_confusion_matrix,
    )
    from rnnkit.train.history import History
    from rnnkit.train.plots import plot_history

    report = classification_report([0, 1, 1], [0, 1, 0], ["a", "b"])
    with pytest.raises(PlotDependencyError, match="confusion-matrix plots need matplotlib"):
        plot_confusion_matrix(report, tmp_path / "cm.png")
    with pytest.raises(PlotDependencyError, match=r"learning-curve plots.*TrainConfig\(plots="):
        plot_history(History(), tmp_path / "h.png")

    class Windows:
        actual = np.zeros((1, 2, 1))
        series = np.zeros(1, dtype=int)

    class Forecasts:
        windows = Windows()

    with pytest.raises(PlotDependencyError, match="forecast plots need matplotlib"):
        plot_forecasts(Forecasts(), tmp_path / "f.png", targets=["y"])
    assert not any(tmp_path.iterdir())


def test_confusion_matrix_plot_does_not_touch_the_backend(tmp_path):
    import matplotlib

    from rnnkit.models.classification_metrics import (
        classification_report,
        plot_confusion_matrix,
    )

    before = matplotlib.get_backend()
    report = classification_report([0, 1, 1], [0, 1, 0], ["a", "b"])
    path = plot_confusion_matrix(report, tmp_path / "cm.png")
    assert path.read_bytes().startswith(PNG)
    assert matplotlib.get_backend() == before
