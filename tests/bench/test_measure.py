"""Tiny real runs of the measurements: the right cases, shapes and FLOPs; no timed assertions."""

from __future__ import annotations

import json
import math
import re
import sys

import pytest
import torch

from rnnkit.bench import KINDS, measure_memory, time_grid, time_streaming
from rnnkit.bench.cases import gate_blocks, inference_flop, pair, torch_cell
from rnnkit.bench.memory import probe_memory
from rnnkit.bench.probe import main as probe_main
from rnnkit.kernels.cpu.compile import families


def test_kinds_name_torch_and_rnnkit_layers_and_cells() -> None:
    assert KINDS == ("RNN", "LSTM", "GRU")
    for kind in KINDS:
        theirs, ours = pair(kind, 3, 4)
        assert type(theirs) is getattr(torch.nn, kind)
        assert type(ours).__name__ == kind
        assert type(torch_cell(kind, 3, 4)).__name__ == f"{kind}Cell"


def test_pair_holds_the_same_weights() -> None:
    theirs, ours = pair("LSTM", 3, 4)
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0], rtol=1e-5, atol=1e-5)


def test_flops_count_the_matrix_products() -> None:
    assert [gate_blocks(pair(kind, 3, 4)[0]) for kind in KINDS] == [1, 4, 3]
    # 2·T·B·G·H·(F + H)
    assert inference_flop(3, batch=2, steps=5, features=3, hidden=4) == 2 * 5 * 2 * 3 * 4 * 7


def test_time_grid_on_a_tiny_shape() -> None:
    messages: list[str] = []
    results = time_grid(["GRU"], [(2, 5, 3, 4)], budget_s=0.0, low=1, high=1,
                        progress=messages.append)
    assert [(t.kind, t.task, t.batch, t.steps, t.features, t.hidden) for t in results] == [
        ("GRU", "inference", 2, 5, 3, 4), ("GRU", "training", 2, 5, 3, 4)]
    flop = 2.0 * 5 * 2 * 3 * 4 * (3 + 4) / 1e9
    assert [t.gflop for t in results] == pytest.approx([flop, 3 * flop])
    assert all(t.torch_ms > 0 and t.rnnkit_ms > 0 for t in results)
    assert [m.split(":")[0] for m in messages] == ["GRU inference B=2 T=5 F=3 H=4",
                                                  "GRU training B=2 T=5 F=3 H=4"]


def test_time_streaming_on_a_tiny_layer() -> None:
    (result,) = time_streaming(["RNN"], [4], features=3, steps=4, repeats=1)
    assert (result.kind, result.hidden) == ("RNN", 4)
    assert min(result.torch_us, result.rnnkit_us, result.stream_us) > 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_memory_probe_in_fresh_processes() -> None:
    (result,) = measure_memory(["GRU"], [(2, 3, 4, 5)])
    assert (result.kind, result.batch, result.steps, result.features, result.hidden) == (
        "GRU", 2, 3, 4, 5)
    # VmHWM is reset to the resident size just before the step: the peak cannot be below it
    assert result.torch_mb >= 0 and result.rnnkit_mb >= 0
    assert math.isfinite(result.torch_mb) and math.isfinite(result.rnnkit_mb)


def test_a_failing_probe_names_itself() -> None:
    with pytest.raises(RuntimeError, match=re.escape("memory probe torch NoSuchLayer (1, 2, 3, 4) "
                                                     "failed:\nTraceback")):
        probe_memory("torch", "NoSuchLayer", (1, 2, 3, 4))


def test_probe_entry_points_print_json(capsys) -> None:
    assert probe_main(["memory", "rnnkit", "RNN", "2", "3", "4", "5"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"mb"}
    assert probe_main(["compile"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert set(answer) == {"import", "kernels", "compiled"} and answer["kernels"] >= 0
    # The compile probe prepares every kernel module of rnnkit.kernels.cpu, found not listed.
    assert families() == ("elman", "gru", "layer_norm", "lstm", "minimal", "products",
                          "regularised", "step")
