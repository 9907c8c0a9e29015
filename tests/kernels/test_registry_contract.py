"""The backend registry: explicit choice, 'auto' fallback with reasons, refusal when named."""

from __future__ import annotations

import logging

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.errors import BackendUnavailableError
from rnnkit.kernels import LayerCall, explain, register_backend, registry, select_backend
from rnnkit.kernels.reference import ReferenceBackend


class DecliningBackend(ReferenceBackend):
    """Serves only float64 calls; records what it ran."""

    name = "picky"

    def __init__(self) -> None:
        self.calls = 0

    def unsupported_reason(self, call: LayerCall) -> str | None:
        return None if call.dtype == torch.float64 else "serves float64 only"

    def run_layer(self, *args):
        self.calls += 1
        return super().run_layer(*args)


@pytest.fixture
def picky(monkeypatch):
    monkeypatch.setattr(registry, "_BACKENDS", list(registry._BACKENDS))
    backend = DecliningBackend()
    register_backend(backend, first=True)
    yield backend
    registry._select_cached.cache_clear()


CALL32 = LayerCall("gru", "cpu", torch.float32, True, False, False, False, True)


def test_auto_falls_back_and_says_why(picky, caplog) -> None:
    assert ("picky", "serves float64 only") in explain(CALL32)
    with caplog.at_level(logging.DEBUG, logger="rnnkit.kernels"):
        assert select_backend(CALL32).name != "picky"
    assert "backend 'picky' declined: serves float64 only" in caplog.text
    call64 = LayerCall("gru", "cpu", torch.float64, True, False, False, False, True)
    assert select_backend(call64) is picky


def test_named_backend_that_declines_raises(picky) -> None:
    layer = rnn.GRU(3, 4, backend="picky")
    with pytest.raises(BackendUnavailableError, match="backend 'picky' cannot run this call "
                       r"\(gru cpu float32 bias grad\): serves float64 only"):
        layer(torch.randn(5, 2, 3))
    layer = layer.double()
    layer(torch.randn(5, 2, 3, dtype=torch.float64))
    assert picky.calls == 1


def test_reference_backend_by_name_gives_reference_values() -> None:
    torch.manual_seed(0)
    auto = rnn.LSTM(3, 4, num_layers=2)
    ref = rnn.LSTM(3, 4, num_layers=2, backend="reference")
    ref.load_state_dict(auto.state_dict())
    x = torch.randn(6, 2, 3)
    torch.testing.assert_close(auto(x)[0], ref(x)[0], rtol=0, atol=2e-6)
    assert "backend='reference'" in repr(ref)
