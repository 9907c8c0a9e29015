"""Test-wide strictness: every warning is an error and every RNG starts from the same seed.

The library baselines left at 'auto' (statsforecast's AutoETS/AutoTheta/AutoARIMA beside a
forecaster, 1-NN DTW and MiniRocket beside a classifier) are off in tests through
RNNKIT_LIBRARY_BASELINES=off: statsforecast's import and fits cost seconds per run (its 1.x
releases compiled with numba, tens of seconds on a fresh machine; sktime's MiniRocket compiles
for about 45 s on first use). Only the tests of those baselines
(tests/eval/test_stat_baselines.py, tests/models/test_dtw_baseline.py,
tests/models/test_minirocket_baseline.py) turn them on, with the ``library_baselines`` fixture,
on tiny data.
"""

import os
import random

import numpy as np
import pytest
import torch


def pytest_configure(config: pytest.Config) -> None:
    os.environ["RNNKIT_LIBRARY_BASELINES"] = "off"  # see the module docstring
    # backend='auto' stays numba-first on the CPU (no calibration timings inside tests);
    # tests/kernels/test_cost_model.py turns the cost model on with a synthetic calibration.
    os.environ["RNNKIT_COST_MODEL"] = "off"
    # Warnings become errors so that a deprecated or suspicious call cannot pass unnoticed.
    config.addinivalue_line("filterwarnings", "error")


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture
def library_baselines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn the 'auto' library baselines back on for one test (see the module docstring)."""
    monkeypatch.delenv("RNNKIT_LIBRARY_BASELINES", raising=False)


@pytest.fixture
def one_torch_thread():
    """Run one test on one torch thread: its models are tiny, so intra-op threads only add
    overhead, and on a busy 2-core machine oversubscribed threads made tests 5-40x slower.
    Use it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
