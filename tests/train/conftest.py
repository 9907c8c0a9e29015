"""Training-engine tests run their small models on one CPU thread.

Models this small (H <= 16, B <= 32) gain nothing from intra-op threads, and on a busy machine
(the whole suite runs on 2 cores) oversubscribed threads made the learning test 5-40x slower.
One thread also keeps float results identical to the subprocess runs, which pin one thread.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
