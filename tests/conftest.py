"""Test-wide strictness: every warning is an error and every RNG starts from the same seed."""

import random

import numpy as np
import pytest
import torch


def pytest_configure(config: pytest.Config) -> None:
    # Warnings become errors so that a deprecated or suspicious call cannot pass unnoticed.
    config.addinivalue_line("filterwarnings", "error")


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
