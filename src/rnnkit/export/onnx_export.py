"""Export a trained model to ONNX, check it in onnxruntime, and write it with what a runner
needs beside it.

Files (``model.onnx`` stands for the ``-o`` path):

* ``model.onnx`` — the graph (:mod:`rnnkit.export.graphs`), weights inside the file;
* ``model.json`` — the deployment description: kind, graph inputs and outputs, state sizes and
  the preprocessing fit on the training split (scalers, vocabulary, labels, window length),
  read by :mod:`rnnkit.deploy`;
* ``rnnkit_runner.py`` — a copy of :mod:`rnnkit.deploy.runner`, which needs only numpy and
  onnxruntime, so the folder runs where rnnkit (and torch) are not installed.

Verification happens before anything is written: the graph runs in onnxruntime on fresh inputs
at a batch size and sequence length other than the traced ones (and, for a streaming graph,
step by step over a whole sequence), beside rnnkit's own model on the same inputs. The
difference is measured as max |onnx − rnnkit| / (1 + |rnnkit|) over every output (absolute for
values near 0, relative for large ones); beyond the tolerance (1e-5 by default, float32) the
export fails with the measured value.
"""

from __future__ import annotations

import io
import json
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.export.graphs import Graph, graph_for
from rnnkit.export.recurrent import ExportError

#: Shapes the graph is traced at, and the different ones it is verified at.
TRACE_BATCH, TRACE_STEPS = 3, 7
VERIFY_BATCH, VERIFY_STEPS = 5, 12
DEFAULT_TOLERANCE = 1e-5
DEFAULT_OPSET = 18
#: The runner's file name beside every export (importable: ``from rnnkit_runner import load``).
RUNNER_NAME = "rnnkit_runner.py"
#: Version of the ``model.json`` layout, read by :mod:`rnnkit.deploy.runner`.
DEPLOY_FORMAT = 1
#: Extras that hold the export dependencies.
EXTRA_HINT = "pip install rnnkit[export]"


def require_export_packages() -> None:
    """Raise a clear ImportError naming the extra when onnx, onnxscript or onnxruntime is
    missing (they are optional: rnnkit trains and predicts without them)."""
    missing = []
    for name in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ExportError(
            f"ONNX export needs the packages {missing}, which are not installed; install them "
            f"with: {EXTRA_HINT}"
        )


@dataclass
class Agreement:
    """How closely onnxruntime reproduced rnnkit on the verification inputs."""

    max_abs: float
    max_scaled: float  # max |a − b| / (1 + |b|)
    tolerance: float
    batch: int
    steps: int
    per_output: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.max_scaled <= self.tolerance


def _dims(graph: Graph) -> tuple[Any, ...]:
    """torch.export dynamic shapes, in input order; one Dim object per symbol."""
    symbols: dict[str, Any] = {}
    specs = []
    for name in graph.input_names:
        axes = graph.dynamic.get(name, {})
        spec = {}
        for axis, (symbol, low) in axes.items():
            if symbol not in symbols:
                symbols[symbol] = torch.export.Dim(symbol, min=low)
            spec[axis] = symbols[symbol]
        specs.append(spec or None)
    if graph.fixed is None:
        return tuple(specs)
    return (*specs[: graph.fixed], tuple(specs[graph.fixed :]))  # the *states as one tuple


def _first_states(graph: Graph, named: dict[str, torch.Tensor], B: int) -> list[Any]:
    first = getattr(graph, "first_state", None)
    if first is not None:
        return first(B)
    return [named[n] for n in graph.input_names if n in ("h", "c")]


def _trace_args(graph: Graph, streaming: bool) -> tuple[torch.Tensor, ...]:
    named = graph.make_inputs(TRACE_BATCH, TRACE_STEPS, 0)
    if streaming:
        named = graph.step_inputs(named, 0, _first_states(graph, named, TRACE_BATCH))
    return tuple(named[n] for n in graph.input_names)


def trace(graph: Graph, *, streaming: bool, opset: int) -> bytes:
    """The ONNX model of ``graph`` as bytes (dynamo exporter, dynamic batch/time axes)."""
    import onnx

    graph.module.eval()
    args = _trace_args(graph, streaming)
    with warnings.catch_warnings():
        # The exporter's own chatter (deprecations inside torch, axis renaming) is not the
        # user's concern; failures still raise.
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                graph.module,
                args,
                dynamo=True,
                dynamic_shapes=_dims(graph),
                input_names=graph.input_names,
                output_names=graph.output_names,
                opset_version=opset,
                verbose=False,
                report=False,
            )
        except Exception as err:  # the exporter raises many types; say what failed
            raise ExportError(
                f"torch.onnx.export could not export this model at opset {opset}: "
                f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            ) from err
    proto = program.model_proto
    onnx.checker.check_model(proto)
    buf = io.BytesIO()
    onnx.save_model(proto, buf)
    return buf.getvalue()


def _session(model_bytes: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def run_graph(
    session: Any, graph: Graph, named: dict[str, torch.Tensor], *, streaming: bool
) -> dict[str, np.ndarray]:
    """Outputs of the ONNX graph for ``named`` inputs: one call for a sequence graph; for a
    streaming graph a loop over the steps carrying the state, with per-step outputs stacked
    on axis 1 where the graph has one result per step (the tagger)."""
    def feed(values: dict[str, Any]) -> dict[str, np.ndarray]:
        return {
            k: (v.numpy() if isinstance(v, torch.Tensor) else v)
            for k, v in values.items()
            if k in graph.input_names
        }

    names = graph.output_names
    if not streaming:
        return dict(zip(names, session.run(names, feed(named)), strict=True))
    B = next(iter(named.values())).shape[0]
    carried: list[Any] = [
        s.numpy() if isinstance(s, torch.Tensor) else s for s in _first_states(graph, named, B)
    ]
    steps = graph.steps_of(named) if hasattr(graph, "steps_of") else named["x"].shape[1]
    per_step: list[np.ndarray] = []
    outs: list[np.ndarray] = []
    n_states = len(carried)
    for t in range(steps):
        outs = session.run(names, feed(graph.step_inputs(named, t, carried)))
        carried = list(outs[len(outs) - n_states :])
        per_step.append(outs[0])
    result = dict(zip(names, outs, strict=True))
    if graph.per_step:
        result[names[0]] = np.stack(per_step, axis=1)
    return result


def verify(
    model_bytes: bytes, graph: Graph, *, streaming: bool, tolerance: float
) -> Agreement:
    """Compare onnxruntime with rnnkit at shapes other than the traced ones."""
    session = _session(model_bytes)
    named = graph.make_inputs(VERIFY_BATCH, VERIFY_STEPS, 1)
    expected = graph.reference(named)
    got = run_graph(session, graph, named, streaming=streaming)
    per_output, max_abs, max_scaled = {}, 0.0, 0.0
    for name, want in expected.items():
        have = np.asarray(got[name], dtype=np.float64)
        if have.shape != want.shape:
            raise ExportError(
                f"the ONNX output {name!r} has shape {have.shape} where rnnkit gives "
                f"{want.shape}; the export is wrong (please report it)"
            )
        diff = np.abs(have - want)
        scaled = float((diff / (1.0 + np.abs(want))).max(initial=0.0))
        per_output[name] = scaled
        max_abs = max(max_abs, float(diff.max(initial=0.0)))
        max_scaled = max(max_scaled, scaled)
    return Agreement(max_abs, max_scaled, tolerance, VERIFY_BATCH, VERIFY_STEPS, per_output)


def deploy_description(
    loaded: Any, kind: str, graph: Graph, *, streaming: bool, opset: int
) -> dict[str, Any]:
    """What :mod:`rnnkit.deploy.runner` needs beside the graph (JSON)."""
    from rnnkit.core.version import package_version

    model = loaded.model
    if kind == "language-model":  # one single-layer layer per level: L rows of one direction
        layer = model.layers[0]
        layers, directions = model.num_layers, 1
    else:
        layer = model.encoder if kind == "forecaster" else model.encoder.rnn
        layers, directions = layer.num_layers, 2 if layer.bidirectional else 1
    description: dict[str, Any] = {
        "format": DEPLOY_FORMAT,
        "kind": kind,
        "graph": "streaming" if streaming else "sequence",
        "inputs": graph.input_names,
        "outputs": graph.output_names,
        "opset": opset,
        "rnnkit_version": package_version(),
        "state": {
            "count": len(layer._recurrence.state_names),
            "layers": layers,
            "directions": directions,
            "hidden_size": layer.hidden_size,
        },
        "model": model.config,
    }
    if kind == "forecaster":
        description["preprocessing"] = loaded.preprocessor.to_dict()
        description["quantiles"] = [] if model.likelihood == "point" else list(model.quantiles)
    else:
        description["preprocessing"] = loaded.preprocessing.to_json()
    return description


@dataclass
class ExportReport:
    """What :func:`export` did: the files, the agreement and (with ``int8``) the comparison."""

    model: str
    description: str
    runner: str
    kind: str
    graph: str
    opset: int
    agreement: Agreement
    seconds: float
    size_bytes: int
    int8: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["agreement"]["ok"] = self.agreement.ok
        return out

    def lines(self) -> list[str]:
        a = self.agreement
        lines = [
            f"exported the {self.kind} ({self.graph} graph, opset {self.opset}) to {self.model} "
            f"({self.size_bytes / 1024:.1f} KiB) in {self.seconds:.1f} s",
            f"onnxruntime vs rnnkit at batch {a.batch}, {a.steps} steps (traced at batch "
            f"{TRACE_BATCH}, {TRACE_STEPS} steps): max |diff| = {a.max_abs:.3g}, max |diff|/"
            f"(1+|rnnkit|) = {a.max_scaled:.3g} (tolerance {a.tolerance:g})",
            f"wrote {self.description} (preprocessing) and {self.runner} (numpy + onnxruntime "
            "runner)",
        ]
        if self.int8 is not None:
            from rnnkit.export.quantize import int8_lines

            lines += int8_lines(self.int8)
        return lines


def export(
    model: str | os.PathLike[str] | Any,
    output: str | os.PathLike[str] | None = None,
    *,
    format: str = "onnx",
    opset: int | None = None,
    streaming: bool = False,
    tolerance: float = DEFAULT_TOLERANCE,
    int8: bool = False,
    int8_tolerance: float | None = None,
    data: Any = None,
) -> ExportReport:
    """Export a trained model (run directory, artifact file, or what :func:`rnnkit.load`
    returned) to ONNX, verify it, and write it with its deployment description and runner.

    Args:
        model: the trained model.
        output: the ``.onnx`` path (default: ``model.onnx`` beside the artifact, or
            ``model.streaming.onnx`` with ``streaming``); never a file of the run or an
            existing file of the run directory.
        format: only 'onnx'.
        opset: ONNX opset (default 18; at least 14).
        streaming: export one step (state in, state out) instead of the whole sequence.
        tolerance: largest accepted max |onnx − rnnkit| / (1 + |rnnkit|) (float32: 1e-5).
        int8: also write a dynamically quantised int8 model (see :mod:`rnnkit.export.quantize`).
        int8_tolerance: largest accepted loss of the task metric for the int8 model (default
            0.01, in the metric's units).
        data: data for the int8 metric comparison (default: the run's own evaluation data).

    Raises:
        ExportError: the model or an option cannot be exported, or onnxruntime disagrees with
            rnnkit beyond ``tolerance`` (nothing is written then).
    """
    from rnnkit.api import load_with_task
    from rnnkit.core.files import check_output
    from rnnkit.tasks.ensemble import Ensemble

    if format != "onnx":
        raise ExportError(f"format must be 'onnx', got {format!r}")
    opset = DEFAULT_OPSET if opset is None else opset
    if isinstance(opset, bool) or not isinstance(opset, int) or not 14 <= opset <= 23:
        raise ExportError(f"opset must be an integer in [14, 23], got {opset!r}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance <= 0:
        raise ExportError(f"tolerance must be a positive number, got {tolerance!r}")
    if int8 and streaming:
        raise ExportError(
            "int8 is measured on the sequence graph (latency and the task metric need whole "
            "sequences): export with int8=True (--int8) without streaming (--streaming)"
        )
    if not int8 and (data is not None or int8_tolerance is not None):
        given = "data" if data is not None else "int8_tolerance"
        raise ExportError(f"{given} is only used with int8=True (--int8), got {given} without it")
    if int8_tolerance is not None and (
        isinstance(int8_tolerance, bool)
        or not isinstance(int8_tolerance, (int, float))
        or not int8_tolerance >= 0
    ):
        raise ExportError(f"int8_tolerance must be a number >= 0, got {int8_tolerance!r}")
    require_export_packages()
    source = model if isinstance(model, (str, os.PathLike)) else None
    if output is None:
        if source is None:
            raise ExportError("output must be given when model is a loaded model, got None")
        from rnnkit.api import resolve_artifact

        folder = resolve_artifact(source).parent
        output = folder / ("model.streaming.onnx" if streaming else "model.onnx")
    output = Path(output)
    if output.suffix != ".onnx":
        raise ExportError(f"output must end in .onnx, got {str(output)!r}")
    protected = _protected(Path(source)) if source is not None else []
    targets = {
        "model": output,
        "description": output.with_suffix(".json"),
        "runner": output.with_name(RUNNER_NAME),
    }
    if int8:
        targets["int8"] = output.with_name(output.stem + ".int8.onnx")
        targets["int8_rejected"] = output.with_name(output.stem + ".int8.rejected.onnx")
    outs = {k: check_output(p, protected=protected, what=f"the {k} file") for k, p in
            targets.items()}
    if any(o.to_stdout or o.kind != "file" for o in outs.values()):
        raise ExportError(f"output must be a regular file path, got {str(output)!r}")

    started = time.perf_counter()
    _, loaded = load_with_task(model)
    if isinstance(getattr(loaded, "model", None), Ensemble):  # one graph per network
        raise ExportError(
            f"model is an ensemble of {loaded.model.size} networks (trained with ensemble="
            f"{loaded.model.size}), and an ONNX export is the graph of one network; export "
            "a run trained with ensemble=1 (the default)"
        )
    shipped = getattr(loaded, "fallback", None)
    if shipped is not None:  # predict uses the baseline, so a graph of the network would differ
        raise ExportError(
            f"model ships the {shipped['method']} baseline in the network's place "
            f"(fallback='baseline': it beat the network on {shipped['part']} "
            f"{shipped['metric']}), and the baseline has no ONNX graph; retrain with "
            f"fallback='none' (the default) to export the network"
        )
    kind = _kind_of(loaded)
    if getattr(getattr(loaded, "model", None), "copy", False) is True:
        raise ExportError(
            f"export does not support copy models (a {kind!r} trained with copy=True, the "
            "pointer-generator): its output space is the vocabulary plus each source's own "
            "out-of-vocabulary words, and mixing the attention into it is a per-example "
            "scatter inside the decoding loop, which the graphs here do not lower; use the "
            "run with rnnkit predict"
        )
    spec = graph_for(kind)
    if int8:
        from rnnkit.export.quantize import METRICS

        if kind not in METRICS:
            raise ExportError(
                f"int8 is measured for the kinds {sorted(METRICS)}, got a {kind!r} model; "
                "export it without int8 (--int8)"
            )
    graph = spec.streaming(loaded) if streaming else spec.sequence(loaded)
    model_bytes = trace(graph, streaming=streaming, opset=opset)
    agreement = verify(model_bytes, graph, streaming=streaming, tolerance=float(tolerance))
    if not agreement.ok:
        raise ExportError(
            f"onnxruntime disagrees with rnnkit: max |diff|/(1+|rnnkit|) = "
            f"{agreement.max_scaled:.3g} > tolerance {tolerance:g} (per output: "
            + ", ".join(f"{k} {v:.3g}" for k, v in agreement.per_output.items())
            + "); nothing was written"
        )
    description = deploy_description(loaded, kind, graph, streaming=streaming, opset=opset)
    int8_report = None
    if int8:
        from rnnkit.export.quantize import compare_int8

        int8_report = compare_int8(
            model_bytes, loaded, kind, description, data=data, tolerance=int8_tolerance,
            streaming=streaming,
        )
    outs["model"].write_bytes(model_bytes)
    if int8_report is not None:
        # A rejected int8 model is kept for inspection under a name no runner picks up.
        which = "int8" if int8_report["accepted"] else "int8_rejected"
        outs[which].write_bytes(int8_report.pop("bytes"))
        int8_report["path"] = str(targets[which])
        description["int8"] = {k: v for k, v in int8_report.items() if k != "bytes"}
    outs["description"].write_text(json.dumps(description, indent=1, ensure_ascii=False) + "\n")
    outs["runner"].write_text(_runner_source())
    return ExportReport(
        model=str(targets["model"]),
        description=str(targets["description"]),
        runner=str(targets["runner"]),
        kind=kind,
        graph=description["graph"],
        opset=opset,
        agreement=agreement,
        seconds=time.perf_counter() - started,
        size_bytes=len(model_bytes),
        int8=int8_report,
    )


def _protected(source: Path) -> list[tuple[str, Path]]:
    """What an export may not write over: the artifact and every file training wrote in its
    run directory. Files of an earlier export (``*.onnx``, their ``.json`` and runner) may be
    replaced by a new export."""
    from rnnkit.cli.outputs import RUN_MARKERS, run_files

    run_dir = source if source.is_dir() else source.parent
    if not source.is_dir() and not any((run_dir / m).is_file() for m in RUN_MARKERS):
        return run_files(source)  # an artifact in an ordinary folder: itself only
    return [("a file of the run directory", p) for p in _run_own_files(run_dir)]


def _run_own_files(run_dir: Path) -> list[Path]:
    """Files of a run directory that training wrote (everything but earlier exports)."""
    own = []
    for p in run_dir.rglob("*"):
        if not p.is_file() or p.suffix == ".onnx" or p.name == RUNNER_NAME:
            continue
        if p.suffix == ".json" and _is_description(p):
            continue
        own.append(p)
    return own


def _is_description(path: Path) -> bool:
    """Whether ``path`` is a deployment description an earlier export wrote."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == DEPLOY_FORMAT and "graph" in meta


def _kind_of(loaded: Any) -> str:
    from rnnkit.tasks.registry import task_for_loaded

    return task_for_loaded(loaded).artifact_kind


def _runner_source() -> str:
    from rnnkit.deploy import runner

    return Path(runner.__file__).read_text(encoding="utf-8")
