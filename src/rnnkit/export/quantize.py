"""int8: dynamic quantisation of an exported graph, measured against float32 in the same run.

``onnxruntime.quantization.quantize_dynamic`` stores weights as int8 with a per-tensor scale and
quantises activations on the fly at each call: MatMul weights (the dense heads and the input
projections the exporter writes as MatMul), LSTM nodes (ONNX Runtime's ``DynamicQuantizeLSTM``)
and embedding tables (Gather). GRU and Elman RNN nodes stay float32 (ONNX Runtime has no
integer kernel for them). What was quantised is counted and reported.

The comparison, all in one process on the same machine:

* size: bytes of the two files;
* latency: median of repeated ``session.run`` calls of each graph on the same batch
  (64 sequences of the verification length), after a warm-up call;
* task metric: the task's own evaluation (``rnnkit evaluate``: accuracy for a classifier or a
  tagger, MASE for a forecaster) run once with the float32 graph and once with the int8 graph
  in place of the torch model, on ``data`` (default: the run's own evaluation data).

An int8 model whose metric is worse than float32's by more than ``tolerance`` (in the metric's
units; 0.01 by default) is *rejected*: it is written as ``<name>.int8.rejected.onnx`` (for
inspection) instead of ``<name>.int8.onnx``, and the report says so. The float32 model is
always the main output.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.export.recurrent import ExportError

DEFAULT_INT8_TOLERANCE = 0.01
LATENCY_BATCH = 64
LATENCY_REPEATS = 30
#: Task metric per artifact kind: (key path in the evaluation result, higher is better).
METRICS: dict[str, tuple[tuple[str, ...], bool]] = {
    "sequence-classifier": (("accuracy",), True),
    "sequence-tagger": (("accuracy",), True),
    "forecaster": (("model", "mase"), False),
}


def quantize_bytes(model_bytes: bytes) -> bytes:
    """The int8 dynamic quantisation of an ONNX model (bytes in, bytes out)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    with tempfile.TemporaryDirectory(prefix="rnnkit-int8-") as tmp:
        src, dst = Path(tmp) / "float32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(model_bytes)
        # The quantiser logs advice about image models on the root logger; not ours to show.
        root.setLevel(logging.ERROR)
        try:
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
        finally:
            root.setLevel(level)
        return dst.read_bytes()


def _op_counts(model_bytes: bytes) -> dict[str, int]:
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load_from_string(model_bytes).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


class _OrtModel:
    """An onnxruntime session standing in for a task model in the task's own evaluation code
    (the methods that code calls, with the same shapes and types)."""

    def __init__(self, session: Any, model: Any, description: dict[str, Any]) -> None:
        self.session = session
        self.model = model
        self.inputs = description["inputs"]
        state = description["state"]
        self.rows = state["layers"] * state["directions"]
        self.hidden = state["hidden_size"]
        # Attributes the evaluation code reads from a model.
        for name in ("num_classes", "likelihood", "quantiles", "horizon"):
            if hasattr(model, name):
                setattr(self, name, getattr(model, name))

    def parameters(self):
        return iter([torch.zeros(1)])

    def _run(self, **feeds: np.ndarray) -> list[np.ndarray]:
        B = next(iter(feeds.values())).shape[0]
        for name in self.inputs:
            if name not in feeds:
                feeds[name] = np.zeros((self.rows, B, self.hidden), np.float32)
        return self.session.run(None, feeds)

    def _forecaster_feeds(self, inputs: torch.Tensor) -> dict[str, np.ndarray]:
        """The model's windows (B, S, F + Ns + Kc) as the graph's inputs: ``x`` (B, S, F), and
        the static numbers ``static`` (B, Ns) and codes ``static_codes`` (B, Kc) of row 0."""
        x = inputs.numpy().astype(np.float32)
        n_static = getattr(self.model, "n_static", 0)
        n_codes = len(getattr(self.model, "static_categories", ()))
        if not n_static + n_codes:
            return {"x": x}
        F = x.shape[2] - n_static - n_codes
        feeds = {"x": np.ascontiguousarray(x[..., :F])}
        if n_static:
            feeds["static"] = np.ascontiguousarray(x[:, 0, F : F + n_static])
        if n_codes:
            feeds["static_codes"] = np.rint(x[:, 0, F + n_static :]).astype(np.int64)
        return feeds

    def _level_columns(self, levels: Any) -> list[int]:
        """Columns of the graph's quantiles output (the model's levels) for ``levels``."""
        trained = [round(q, 10) for q in self.model.quantiles]
        if self.model.likelihood == "point":
            return []
        wanted = [round(q, 10) for q in self.check_levels(levels)]
        other = [q for q in wanted if q not in trained]
        if other:
            raise ExportError(
                f"the exported forecaster gives the quantile levels it was trained with "
                f"({trained}); the int8 comparison asked for {other}"
            )
        return [trained.index(q) for q in wanted]

    def predict_proba(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = self._run(x=inputs.numpy(), lengths=lengths.numpy().astype(np.int64))
        return torch.from_numpy(out[0])

    def check_levels(self, levels: Any) -> tuple[float, ...]:
        """A forecaster's quantile levels, checked as the model checks them."""
        return self.model.check_levels(levels)

    def predict(self, inputs: torch.Tensor, lengths: torch.Tensor | None = None, *,
                seed: int = 0, levels: Any = None) -> Any:
        if "lengths" not in self.inputs:  # a forecaster: normalised windows
            point, quantiles = self._run(**self._forecaster_feeds(inputs))[:2]
            # The graph gives the model's own levels (deterministic: ``seed`` has no use).
            pick = self._level_columns(levels)
            return {"point": torch.from_numpy(point),
                    "quantiles": torch.from_numpy(quantiles[..., pick])}
        lens = lengths.numpy().astype(np.int64)
        probs = torch.from_numpy(self._run(x=inputs.numpy(), lengths=lens)[0])
        mask = torch.arange(probs.shape[1])[None, :] < lengths[:, None]
        return probs.argmax(dim=-1).masked_fill(~mask, -1), probs


def _metric(kind: str, result: dict[str, Any]) -> float:
    keys, _ = METRICS[kind]
    value: Any = result
    for k in keys:
        value = value[k]
    return float(value)


def _evaluate_with(session: Any, loaded: Any, kind: str, description: dict[str, Any],
                   data: Any) -> float:
    from rnnkit.tasks.registry import task_for_loaded

    task = task_for_loaded(loaded)
    stand_in = _OrtModel(session, loaded.model, description)
    return _metric(kind, task.evaluate(dataclasses.replace(loaded, model=stand_in), data))


def _latency(session: Any, feeds: dict[str, np.ndarray]) -> float:
    """Median seconds of one ``session.run`` over :data:`LATENCY_REPEATS` calls."""
    session.run(None, feeds)  # warm-up
    times = []
    for _ in range(LATENCY_REPEATS):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _latency_feeds(session: Any, description: dict[str, Any], loaded: Any) -> dict[str, Any]:
    from rnnkit.export.graphs import graph_for

    spec = graph_for(description["kind"])
    graph = spec.sequence(loaded)
    named = graph.make_inputs(LATENCY_BATCH, 50, 2)
    return {k: v.numpy() for k, v in named.items() if k in graph.input_names}


def compare_int8(
    model_bytes: bytes,
    loaded: Any,
    kind: str,
    description: dict[str, Any],
    *,
    data: Any = None,
    tolerance: float | None = None,
    streaming: bool = False,
) -> dict[str, Any]:
    """Quantise, then measure size, latency and the task metric against float32 (module
    docstring). Returns the report, with the int8 bytes under ``'bytes'``."""
    from rnnkit.export.onnx_export import _session

    if streaming:  # export() refuses this before any work; kept for direct callers
        raise ExportError("int8 is measured on the sequence graph, got a streaming graph")
    tolerance = DEFAULT_INT8_TOLERANCE if tolerance is None else tolerance
    int8_bytes = quantize_bytes(model_bytes)
    before, after = _op_counts(model_bytes), _op_counts(int8_bytes)
    # Operators the quantiser added (integer kernels and the activation quantisers).
    quantised = {op: n - before.get(op, 0) for op, n in after.items() if n > before.get(op, 0)}
    f32, i8 = _session(model_bytes), _session(int8_bytes)
    feeds = _latency_feeds(f32, description, loaded)
    latency = {"float32": _latency(f32, feeds), "int8": _latency(i8, feeds)}
    metric_f32 = _evaluate_with(f32, loaded, kind, description, data)
    metric_i8 = _evaluate_with(i8, loaded, kind, description, data)
    keys, higher = METRICS[kind]
    loss = (metric_f32 - metric_i8) if higher else (metric_i8 - metric_f32)
    accepted = loss <= tolerance
    return {
        "bytes": int8_bytes,
        "size_bytes": {"float32": len(model_bytes), "int8": len(int8_bytes)},
        "latency_s": latency,
        "latency_batch": {"batch": LATENCY_BATCH, "steps": 50},
        "metric": {
            "name": ".".join(keys),
            "higher_is_better": higher,
            "float32": metric_f32,
            "int8": metric_i8,
            "loss": loss,
            "tolerance": float(tolerance),
            "data": "the run's evaluation data" if data is None else str(data),
        },
        "quantized_ops": quantised,
        "accepted": accepted,
    }


def int8_lines(report: dict[str, Any]) -> list[str]:
    """The int8 comparison as printed by ``rnnkit export --int8``."""
    size, lat, m = report["size_bytes"], report["latency_s"], report["metric"]
    better = "higher" if m["higher_is_better"] else "lower"
    lines = [
        f"int8: {size['int8'] / 1024:.1f} KiB vs float32 {size['float32'] / 1024:.1f} KiB "
        f"({size['int8'] / size['float32']:.0%}); latency {lat['int8'] * 1e3:.2f} ms vs "
        f"{lat['float32'] * 1e3:.2f} ms per call (batch {report['latency_batch']['batch']}, "
        f"{report['latency_batch']['steps']} steps, median of {LATENCY_REPEATS}); the "
        f"quantiser added {report['quantized_ops'] or 'nothing'}",
        f"int8: {m['name']} {m['int8']:.4f} vs float32 {m['float32']:.4f} on "
        f"{m['data']} ({better} is better; loss {m['loss']:+.4f}, tolerance {m['tolerance']:g})",
    ]
    if report["accepted"]:
        lines.append(f"int8: accepted, wrote {report['path']}")
    else:
        lines.append(
            f"int8: REJECTED: the metric loss {m['loss']:.4f} exceeds the tolerance "
            f"{m['tolerance']:g}; written only for inspection as {report['path']} (use the "
            "float32 model, or raise --int8-tolerance)"
        )
    return lines
