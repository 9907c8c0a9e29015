"""``rnnkit bench --variants``: the hand-written torch.nn loops compute what rnnkit's layer
options compute (so the timing compares like with like), and the command end to end."""

from __future__ import annotations

import json

import pytest
import torch

import rnnkit.bench.variants as variants
from rnnkit.cli import main
from tests.nn.helpers import assert_close


def test_the_loops_compute_what_the_layers_compute() -> None:
    torch.manual_seed(0)
    pairs = variants.variant_pairs(3, 5)
    x = torch.randn(6, 2, 3)
    loop, ours = pairs["layer-norm LSTM"]
    with torch.no_grad():  # move the norms' gains and shifts off their 1/0 start
        for module in (loop.norm_ih, loop.norm_hh, loop.norm_c):
            module.weight.uniform_(0.5, 1.5)
            module.bias.uniform_(-0.5, 0.5)
    loop.copy_into(ours)
    (out_l, (h_l, c_l)), (out_o, (h_o, c_o)) = loop(x), ours(x)
    assert_close(out_o, out_l, torch.float32, "layer-norm output")
    assert_close(c_o[0], c_l, torch.float32, "layer-norm c_T")
    out_l.sum().backward()
    out_o.sum().backward()
    assert_close(ours.ln_weight_c_l0.grad, loop.norm_c.weight.grad, torch.float32, "gain grad")
    assert_close(ours.weight_hh_l0.grad, loop.hh.weight.grad, torch.float32, "W_hh grad")
    loop, ours = pairs["layer-norm GRU"]
    with torch.no_grad():
        for module in (loop.norm_ih, loop.norm_hh):
            module.weight.uniform_(0.5, 1.5)
            module.bias.uniform_(-0.5, 0.5)
    loop.copy_into(ours)
    (out_l, h_l), (out_o, h_o) = loop(x), ours(x)
    assert_close(out_o, out_l, torch.float32, "layer-norm GRU output")
    assert_close(h_o[0], h_l, torch.float32, "layer-norm GRU h_T")
    out_l.sum().backward()
    out_o.sum().backward()
    assert_close(ours.ln_weight_hh_l0.grad, loop.norm_hh.weight.grad, torch.float32,
                 "GRU gain grad")
    assert_close(ours.bias_ih_l0.grad, loop.norm_ih.bias.grad, torch.float32, "GRU shift grad")
    assert_close(ours.weight_hh_l0.grad, loop.hh.weight.grad, torch.float32, "GRU W_hh grad")
    loop, ours = pairs[f"zoneout {variants.ZONEOUT} LSTM"]
    loop.eval(), ours.eval()
    (out_l, (h_l, _)), (out_o, (h_o, _)) = loop(x), ours(x)
    assert_close(out_o, out_l, torch.float32, "zoneout output (evaluation)")
    assert_close(h_o[0], h_l, torch.float32, "zoneout h_T (evaluation)")
    # Recurrent dropout in training: the loop draws its mask as rnnkit does, so one seed
    # gives both the same mask.
    loop, ours = pairs[f"recurrent dropout {variants.RECURRENT_DROPOUT} LSTM"]
    loop.train(), ours.train()
    torch.manual_seed(1)
    out_l, (h_l, c_l) = loop(x)
    torch.manual_seed(1)
    out_o, (h_o, c_o) = ours(x)
    assert_close(out_o, out_l, torch.float32, "recurrent-dropout output (training)")
    assert_close(c_o[0], c_l, torch.float32, "recurrent-dropout c_T (training)")
    out_l.sum().backward()
    out_o.sum().backward()
    assert_close(ours.weight_hh_l0.grad, loop.cell.weight_hh.grad, torch.float32,
                 "recurrent-dropout W_hh grad")
    torch.manual_seed(2)
    assert (ours(x)[0] - out_o).abs().max() > 1e-3  # another seed, another mask


def test_variants_bench_on_a_tiny_shape(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(variants, "VARIANT_SHAPE", (2, 4, 3, 4))
    path = tmp_path / "variants.json"
    assert main(["bench", "--variants", "--quick", "--markdown", "--json", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "**B=2 T=4 F=3 H=4, float32, median ms**"
    assert out[2] == ("| variant | task | torch.nn loop ms | rnnkit ms | loop / rnnkit | "
                      "torch.nn.LSTM/GRU (plain, fused) ms |")
    names = ["layer-norm LSTM", "layer-norm GRU", "zoneout 0.1 LSTM",
             "recurrent dropout 0.25 LSTM"]
    assert [line.split(" | ")[:2] for line in out[4:12]] == [
        [f"| {name}", task] for task in ("inference", "training") for name in names]
    assert out[12].startswith("load average before ")
    data = json.loads(path.read_text())
    assert data["shape"] == [2, 4, 3, 4]
    for row in data["results"]:
        assert row["loop_ms"] > 0 and row["rnnkit_ms"] > 0 and row["fused_ms"] > 0
        assert row["ratio"] == pytest.approx(row["loop_ms"] / row["rnnkit_ms"])
