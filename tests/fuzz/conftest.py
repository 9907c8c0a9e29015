"""Hypothesis profiles of the fuzzing suite, and what its readers need.

``ci`` (the default): 50 examples per reader, derandomized so that every run of the suite tries
the same inputs, no deadline (the shared CI machines are slow). ``long``: what
``python -m tests.fuzz --examples N`` runs, random and as many examples as asked.
"""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from rnnkit.data.tagging_inputs import TagPreprocessing
from rnnkit.io import UnsignedMetadataWarning, load_artifact

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci", max_examples=50, deadline=None, derandomize=True, suppress_health_check=_QUIET,
    database=None,
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("RNNKIT_FUZZ_EXAMPLES", "5000")),
    deadline=None,
    suppress_health_check=_QUIET,
    database=None,
)
settings.load_profile(os.environ.get("RNNKIT_FUZZ_PROFILE", "ci"))

LEGACY = Path(__file__).parent.parent / "fixtures" / "legacy_0_1"


@pytest.fixture(scope="session")
def tagger_preprocessing() -> TagPreprocessing:
    """The text splitter of the rnnkit 0.1.0 tagger fixture (what read_tokens needs)."""
    with pytest.warns(UnsignedMetadataWarning):
        art = load_artifact(LEGACY / "tagger.safetensors")
    return TagPreprocessing.from_json(art.preprocessing)
