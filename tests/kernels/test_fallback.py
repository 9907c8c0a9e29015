"""What the numba backend serves, what it declines (and says why), and who takes over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

import rnnkit.nn as rnn
from rnnkit.cli.info import info_text
from rnnkit.errors import BackendUnavailableError
from rnnkit.kernels import LayerCall, available_backends, explain, registry, select_backend


def _call(**changes) -> LayerCall:
    fields = dict(mode="gru", device_type="cpu", dtype=torch.float32, has_bias=True,
                  has_proj=False, has_lengths=True, reverse=True, requires_grad=True)
    fields.update(changes)
    return LayerCall(**fields)


def test_preference_order() -> None:
    assert available_backends() == ["auto", "numba", "torch", "scan", "reference"]


@pytest.mark.parametrize("mode", ["rnn_tanh", "rnn_relu", "rnn_sigmoid", "lstm", "gru"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_auto_picks_numba_for_every_cpu_option(mode, dtype) -> None:
    for proj in (False, True) if mode == "lstm" else (False,):
        for bias in (False, True):
            call = _call(mode=mode, dtype=dtype, has_bias=bias, has_proj=proj)
            assert select_backend(call).name == "numba"


def test_cuda_calls_go_to_torch_with_the_reason_given() -> None:
    call = _call(device_type="cuda")
    reasons = dict(explain(call))
    assert reasons["numba"] == "runs on the CPU only, got a cuda tensor"
    assert reasons["torch"] is None
    assert select_backend(call).name == "torch"


def test_cuda_sigmoid_falls_back_to_reference() -> None:
    call = _call(mode="rnn_sigmoid", device_type="cuda")
    reasons = dict(explain(call))
    assert reasons["torch"] == "torch has no fused kernel for mode 'rnn_sigmoid'"
    assert select_backend(call).name == "reference"


def test_half_precision_on_cpu_falls_back_to_reference(caplog) -> None:
    call = _call(dtype=torch.bfloat16)
    reasons = dict(explain(call))
    assert reasons["numba"] == "supports float32 and float64, got bfloat16"
    assert reasons["torch"].startswith("serves float32, float64 on cpu")
    registry._select_cached.cache_clear()  # selection is cached: make this call log again
    with caplog.at_level("DEBUG", logger="rnnkit.kernels"):
        layer = rnn.GRU(3, 4, dtype=torch.bfloat16)
        out, _ = layer(torch.randn(5, 2, 3, dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16
    assert "backend 'numba' declined: supports float32 and float64, got bfloat16" in caplog.text
    assert "-> backend 'reference'" in caplog.text
    assert select_backend(call).name == "reference"


def test_requesting_numba_for_an_unserved_call_raises() -> None:
    layer = rnn.LSTM(3, 4, backend="numba", dtype=torch.bfloat16)
    with pytest.raises(BackendUnavailableError,
                       match=r"backend 'numba' cannot run this call "
                             r"\(lstm cpu bfloat16 bias grad\): "
                             r"supports float32 and float64, got bfloat16"):
        layer(torch.randn(5, 2, 3, dtype=torch.bfloat16))


def test_info_reports_the_choice() -> None:
    text = info_text()
    assert "gru cpu float32 bias lengths grad" in text
    assert "-> numba" in text


def _run_python(code: str, env_extra: dict[str, str] | None = None) -> dict:
    env = dict(os.environ, **(env_extra or {}))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_without_numba_rnnkit_imports_and_falls_back() -> None:
    result = _run_python("""
        import json, sys
        sys.modules["numba"] = None  # makes `import numba` raise ImportError
        import torch
        import rnnkit.nn as rnn
        from rnnkit.kernels import LayerCall, explain, select_backend
        call = LayerCall("gru", "cpu", torch.float32, True, False, False, False, True)
        layer = rnn.GRU(3, 4)
        out, h = layer(torch.randn(5, 2, 3))
        y, s = layer.step(torch.randn(3), None)
        print(json.dumps({"chosen": select_backend(call).name, "reasons": dict(explain(call)),
                          "shape": list(out.shape), "step": list(y.shape)}))
    """)
    assert result["chosen"] == "torch"
    assert result["reasons"]["numba"].startswith("numba is not importable")
    assert result["shape"] == [5, 2, 4]
    assert result["step"] == [4]


def test_unknown_blas_setting_is_reported_not_raised() -> None:
    result = _run_python("""
        import json, torch
        from rnnkit.kernels import LayerCall, explain, select_backend
        call = LayerCall("lstm", "cpu", torch.float32, True, False, False, False, True)
        print(json.dumps({"chosen": select_backend(call).name, "reasons": dict(explain(call))}))
    """, {"RNNKIT_BLAS": "atlas"})
    assert result["chosen"] == "torch"
    assert result["reasons"]["numba"] == (
        "environment variable RNNKIT_BLAS must be one of ['auto', 'mkl', 'openblas'], "
        "got 'atlas'"
    )
