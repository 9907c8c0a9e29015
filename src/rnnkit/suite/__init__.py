"""A public benchmark suite: rnnkit's default configuration, unchanged, on public datasets that
ship inside pip packages, beside baselines from maintained libraries and published numbers.

One job per module: :mod:`~rnnkit.suite.datasets` (the suites and their datasets),
:mod:`~rnnkit.suite.baselines` (seasonal naive, statsforecast, aeon),
:mod:`~rnnkit.suite.scoring` (holdout MASE, sMAPE, MAPE), :mod:`~rnnkit.suite.runner` (the
default configuration with several seeds), :mod:`~rnnkit.suite.table` (the table, wins/ties/
losses, mean rank) and :mod:`~rnnkit.suite.published` (published numbers with their sources).
``rnnkit benchmark --suite NAME`` runs one.
"""

from rnnkit.suite.datasets import SUITES, suite_entries
from rnnkit.suite.runner import SuiteReport, run_suite

__all__ = ["SUITES", "SuiteReport", "run_suite", "suite_entries"]
