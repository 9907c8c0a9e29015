"""Lazy compilation is announced once, and a second process loads the kernels from disk."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import torch

from rnnkit.kernels.cpu import compile as compiled


def test_kernels_are_prepared_once_per_family_and_dtype() -> None:
    first = compiled.kernels("gru", torch.float64)
    assert compiled.kernels("gru", torch.float64) is first
    assert first.forward is not None and first.backward is not None
    assert ("gru", torch.float64) in compiled.timings


def test_compilation_is_announced_only_when_not_cached(caplog, monkeypatch) -> None:
    monkeypatch.setattr(compiled, "_ready", {})
    monkeypatch.setattr(compiled, "_on_disk", lambda dispatcher, signature: False)
    with caplog.at_level(logging.WARNING, logger="rnnkit.kernels"):
        compiled.kernels("elman", torch.float64)
    assert "compiling the numba CPU kernels for elman float64 (one time" in caplog.text
    caplog.clear()
    monkeypatch.setattr(compiled, "_ready", {})
    monkeypatch.setattr(compiled, "_on_disk", lambda dispatcher, signature: True)
    with caplog.at_level(logging.WARNING, logger="rnnkit.kernels"):
        compiled.kernels("elman", torch.float64)
    assert caplog.text == ""


def test_second_process_loads_from_the_disk_cache() -> None:
    # This process has compiled (or loaded) these kernels, so the cache now holds them.
    for family in ("elman", "gru", "lstm"):
        compiled.kernels(family, torch.float32)
    code = textwrap.dedent("""
        import json, time, torch
        from rnnkit.kernels.cpu import compile as compiled
        out = {}
        for family in ("elman", "gru", "lstm"):
            compiled.kernels(family, torch.float32)
            seconds, was_compiled = compiled.timings[(family, torch.float32)]
            out[family] = {"seconds": seconds, "compiled": was_compiled}
        print(json.dumps(out))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ), timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for family, info in result.items():
        assert info["compiled"] is False, f"{family}: compiled again instead of loading"
    assert "compiling" not in done.stderr
