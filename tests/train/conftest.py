"""Training-engine tests run their small models on one CPU thread.

Models this small (H <= 16, B <= 32) gain nothing from intra-op threads, and on a busy machine
(the whole suite runs on 2 cores) oversubscribed threads made the learning test 5-40x slower.
One thread also keeps float results identical to the subprocess runs, which pin one thread.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):  # the shared fixture of tests/conftest.py, for every test here
    yield
