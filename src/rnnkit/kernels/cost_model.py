"""The cost model behind ``backend="auto"`` on the CPU: numba or torch, per call shape.

rnnkit's fused numba kernels win on small batches and long sequences; torch's oneDNN/MKL
kernels win on some GEMM-bound shapes (large B, short T) and on tiny calls where rnnkit's fixed
per-call cost dominates. For a CPU call that both serve, ``auto`` predicts each backend's time
from the call's shape and takes the faster one. Shape legend: T steps, B batch, F input
features, H hidden size, H_out output size (H, or the projection size of an LSTM), G gate
blocks (1 Elman, 3 GRU, 4 LSTM).

Model. For each *model key* (cell family ∈ {rnn, lstm, gru} × training or inference × with or
without per-sample lengths) and each backend b, the time of one call is linear in four terms::

    t_b(T, B, F, H) = c0 + c1·T + c2·T·B·H + c3·FLOP
    FLOP = 2·T·B·G·H·(F + H_out)  (+ 2·T·B·H·H_out for an LSTM projection)

c0 is the fixed per-call cost, c1 the per-step cost (a step's dispatch, a packed batch's
slicing), c2 the elementwise gate work, c3 the matrix products. The coefficients come from a
*calibration*: :data:`CALIBRATION_SHAPES` timed on this machine for both backends (interleaved,
fastest of up to :data:`REPEATS` rounds, see :func:`_time_layers`), fitted by least squares on
the relative error Σ_i ((t̂_i − t_i) / t_i)² (so a 0.1 ms call weighs as much as a 50 ms one)
with every c ≥ 0 (a term whose fitted coefficient is negative is dropped and the rest refitted).
The reverse direction is not a separate key: both backends run it at the cost of the forward one
(torch pays one extra copy of the input, which is small beside the recurrence).

An LSTM with a projection is not calibrated and stays on numba: torch runs it off oneDNN, on
its slower default path, with a warning.

Verdict. Within the calibrated sizes (T, B and H at most :data:`EXTRAPOLATION` times the
largest calibrated; beyond, no verdict and ``auto`` keeps numba), numba runs a call only when
it is predicted clearly faster,
t̂_numba ≤ (1 − :data:`MARGIN`)·t̂_torch; otherwise torch runs it. The bias is deliberate: the
promise of ``auto`` is never to be slower than torch, and a near tie is within the model's error.

Shapes reach the registry bucketed (:func:`bucket_shape`, each size rounded to a power of two
in log space), so calls of similar shape share one entry of the registry's selection cache.

Calibration runs once per machine, explicitly with ``rnnkit bench --calibrate``
(:data:`CALIBRATION_SHAPES` × 12 keys × 2 backends, 2–3 rounds each: 9 s on the 2-core
development machine at load 1.3, 17–38 s at load 5–6.5, where torch's OpenMP team stalls),
or with ``RNNKIT_COST_MODEL=on`` lazily at the first CPU call where the choice matters (logged
at INFO level; it leaves the caller's RNG state and grad mode alone). Without a calibration
``auto`` is numba-first: timings taken while other work runs give verdicts that cost more than
they save (docs/performance.md), so the user picks the quiet moment.
It is cached on disk as JSON (never pickle) in ``$RNNKIT_CACHE_DIR``
(default ``$XDG_CACHE_HOME/rnnkit``, else ``~/.cache/rnnkit``), one file per *machine key*: CPU
model, torch's thread count and the torch, numba and rnnkit versions. A file whose format, key
or values do not check out is ignored and replaced; the write is a temporary file renamed over
the target. ``RNNKIT_COST_MODEL=off`` turns the model off: ``auto`` then takes the first backend
that serves the call (numba first on the CPU).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

logger = logging.getLogger("rnnkit.kernels")

#: Environment variable: 'off' (or '0', 'false', 'no') turns the cost model off.
SWITCH = "RNNKIT_COST_MODEL"
#: Environment variable: the folder of the calibration files.
CACHE_DIR = "RNNKIT_CACHE_DIR"
#: Version of the JSON layout; a file of another version is refused.
FORMAT = 1
#: numba must be predicted this much faster than torch to run a call.
MARGIN = 0.10
#: The two backends the model chooses between.
BACKENDS = ("numba", "torch")
#: Cell mode -> (family, gate blocks G). Only these modes are served by both backends.
MODES = {"rnn_tanh": ("rnn", 1), "rnn_relu": ("rnn", 1), "lstm": ("lstm", 4), "gru": ("gru", 3)}
_FAMILY_MODE = {"rnn": "rnn_tanh", "lstm": "lstm", "gru": "gru"}
#: Timed shapes (T, B, F, H): tiny, step-bound, mid, GEMM-bound short T, long T, large H, long
#: T at B = 1. Small enough that the whole calibration takes seconds.
CALIBRATION_SHAPES: tuple[tuple[int, int, int, int], ...] = (
    (2, 1, 16, 32),
    (48, 1, 32, 64),
    (12, 64, 32, 96),
    (4, 256, 64, 128),
    (48, 8, 32, 160),
    (8, 16, 32, 384),
    (160, 2, 16, 48),
)
#: The model is trusted up to this factor beyond the largest calibrated T, B and H; a call
#: beyond gets no verdict and ``auto`` keeps its first choice (numba). A linear fit extrapolated
#: far from its points gave wrong verdicts (it sent LSTM training at T = 1000, H = 256 to torch,
#: predicted 9x faster, where the fixed grid measures numba faster).
EXTRAPOLATION = 2
REPEATS = 3
ROUND_BUDGET_S = 0.02
TERMS = ("1", "T", "T*B*H", "FLOP")


@dataclass(frozen=True)
class Shape:
    """The sizes of one layer call: T steps, B batch, F features, H hidden, H_out output."""

    steps: int
    batch: int
    features: int
    hidden: int
    out: int

    @classmethod
    def of(cls, shape: Sequence[int]) -> Shape:
        return cls(*(int(n) for n in shape))


def within_calibration(shape: Shape) -> bool:
    """Whether T, B and H are each at most :data:`EXTRAPOLATION` times the largest calibrated."""
    limits = (max(s[i] for s in CALIBRATION_SHAPES) * EXTRAPOLATION for i in (0, 1, 3))
    return all(n <= limit for n, limit in
               zip((shape.steps, shape.batch, shape.hidden), limits, strict=True))


def bucket(n: int) -> int:
    """``n`` rounded to the nearest power of two in log space (0 stays 0): 5 -> 4, 6 -> 8."""
    if n <= 0:
        return 0
    return 1 << round(math.log2(n))


def bucket_shape(steps: int, batch: int, features: int, hidden: int,
                 out: int) -> tuple[int, int, int, int, int]:
    """(T, B, F, H, H_out) bucketed by :func:`bucket`, the form a :class:`LayerCall` holds."""
    return (bucket(steps), bucket(batch), bucket(features), bucket(hidden), bucket(out))


def call_shape(x: torch.Tensor, weights) -> tuple[int, int, int, int, int] | None:
    """The bucketed (T, B, F, H, H_out) of a layer call on x (T, B, F) with ``weights``
    (:class:`~rnnkit.functional.LayerWeights`), or None for a cell without a recurrent matrix
    (minGRU, minLSTM: not a cell the cost model weighs).

    ``w_hh`` is (G·H, H_out) and an LSTM projection ``w_hr`` (H_out, H).
    """
    if weights.w_hh is None or x.dim() != 3:
        return None
    hidden = (weights.w_hh if weights.w_hr is None else weights.w_hr).shape[1]
    return bucket_shape(*x.shape, hidden, weights.w_hh.shape[1])


def terms(mode: str, shape: Shape) -> np.ndarray:
    """The model's four terms [1, T, T·B·H, FLOP] for a call of ``mode`` (see the module doc)."""
    gates = MODES[mode][1]
    t, b, f, h, o = shape.steps, shape.batch, shape.features, shape.hidden, shape.out
    flop = 2.0 * t * b * gates * h * (f + o) + (2.0 * t * b * h * o if o != h else 0.0)
    return np.array([1.0, t, float(t) * b * h, flop])


def model_key(mode: str, training: bool, lengths: bool) -> str:
    """e.g. 'lstm/training/lengths' or 'rnn/inference/dense'."""
    return "/".join((MODES[mode][0], "training" if training else "inference",
                     "lengths" if lengths else "dense"))


def _switch() -> str:
    return os.environ.get(SWITCH, "").strip().lower()


def enabled() -> bool:
    """False when ``RNNKIT_COST_MODEL`` says off (then ``auto`` is numba-first on the CPU)."""
    return _switch() not in ("off", "0", "false", "no")


def calibrates_lazily() -> bool:
    """Whether ``auto`` may calibrate at the first call that needs a verdict: only when
    ``RNNKIT_COST_MODEL`` says on. By default it uses a calibration that already exists
    (``rnnkit bench --calibrate``) and is numba-first without one: measured on a shared machine,
    a calibration taken at a busy moment gave verdicts that cost more than they saved
    (docs/performance.md), so when to calibrate is the user's choice."""
    return _switch() in ("on", "1", "true", "yes")


def fit(rows: np.ndarray, times: np.ndarray) -> list[float]:
    """Non-negative coefficients c minimising Σ ((rows·c − times) / times)².

    rows (n, 4) of :func:`terms`, times (n,) > 0. Terms whose coefficient comes out negative are
    dropped (set to 0) one at a time, most negative first, and the rest refitted.
    """
    a = rows / times[:, None]  # relative error: each row divided by its own time
    scale = np.maximum(np.abs(a).max(axis=0), 1e-300)  # columns span 1 to 1e9: condition them
    active = list(range(rows.shape[1]))
    coef = np.zeros(rows.shape[1])
    while active:
        sol, *_ = np.linalg.lstsq(a[:, active] / scale[active], np.ones(len(times)), rcond=None)
        sol = sol / scale[active]
        if (sol >= 0).all():
            coef[:] = 0.0
            coef[active] = sol
            break
        del active[int(np.argmin(sol))]
    return [float(c) for c in coef]


@dataclass(frozen=True)
class CostModel:
    """Fitted coefficients per model key and backend, with where and how they were measured.

    ``coefficients[key][backend]`` are (c0, c1, c2, c3) in milliseconds per term unit.
    """

    machine: Mapping[str, str]
    coefficients: Mapping[str, Mapping[str, Sequence[float]]]
    seconds: float  # how long the calibration took

    def predict_ms(self, backend: str, mode: str, training: bool, lengths: bool,
                   shape: Shape) -> float | None:
        """Predicted milliseconds of ``backend`` for the call, None if the model has no key."""
        coef = self.coefficients.get(model_key(mode, training, lengths), {}).get(backend)
        if coef is None:
            return None
        return float(terms(mode, shape) @ np.asarray(coef))

    def choose(self, mode: str, training: bool, lengths: bool, shape: Shape) -> str | None:
        """'numba' or 'torch' for the call (see the module doc's verdict), None when unknown."""
        if mode not in MODES or not within_calibration(shape):
            return None
        numba_ms, torch_ms = (self.predict_ms(b, mode, training, lengths, shape)
                              for b in BACKENDS)
        if numba_ms is None or torch_ms is None:
            return None
        return "numba" if numba_ms <= (1 - MARGIN) * torch_ms else "torch"

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "machine": dict(self.machine),
                           "seconds": self.seconds,
                           "coefficients": {k: {b: list(c) for b, c in v.items()}
                                            for k, v in self.coefficients.items()}},
                          indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, machine: Mapping[str, str]) -> CostModel:
        """Parse and check a calibration file; ValueError says what is wrong with it."""
        try:
            data = json.loads(text)
        except ValueError as err:
            raise ValueError(f"not JSON ({err})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"expected format {FORMAT}, got {_get(data, 'format')!r}")
        if data.get("machine") != dict(machine):
            raise ValueError(f"made for {data.get('machine')!r}, this machine is {dict(machine)!r}")
        coefficients = data.get("coefficients")
        seconds = data.get("seconds")
        if not isinstance(seconds, (int, float)) or not isinstance(coefficients, dict):
            raise ValueError("expected 'seconds' (a number) and 'coefficients' (an object)")
        for key, per_backend in coefficients.items():
            ok = isinstance(per_backend, dict) and set(per_backend) == set(BACKENDS) and all(
                isinstance(c, list) and len(c) == len(TERMS) and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    and v >= 0 for v in c)
                for c in per_backend.values())
            if not ok:
                raise ValueError(f"coefficients of {key!r}: expected {len(TERMS)} finite "
                                 f"non-negative numbers for each of {BACKENDS}")
        return cls(dict(machine), coefficients, float(seconds))


def _get(data: object, name: str) -> object:
    return data.get(name) if isinstance(data, dict) else None


#: Shapes whose verdicts ``rnnkit info`` shows: (mode, training, lengths, (T, B, F, H)).
EXAMPLES = (
    ("gru", True, False, (20, 256, 64, 128)),
    ("rnn_tanh", True, False, (20, 256, 64, 128)),
    ("lstm", False, False, (100, 32, 64, 256)),
    ("lstm", False, True, (35, 1, 41, 293)),
    ("lstm", True, False, (1000, 16, 64, 256)),
    ("gru", True, True, (500, 4, 32, 64)),
)


def describe(model: CostModel | None, path: Path | None = None) -> list[str]:
    """Lines for ``rnnkit info``: whether a calibration exists, and its verdicts on examples."""
    if not enabled():
        return [f"cost model: off ({SWITCH}={os.environ.get(SWITCH)}); auto is numba-first"]
    path = cache_path() if path is None else path
    if model is None:
        when = ("it runs at the first CPU call where it matters" if calibrates_lazily() else
                f"auto is numba-first until one exists (or set {SWITCH}=on to calibrate at the "
                "first CPU call where it matters)")
        return [f"cost model: no calibration for this machine yet ({path}); {when}; make one "
                "now, on a quiet machine, with `rnnkit bench --calibrate`"]
    lines = [f"cost model: calibrated in {model.seconds:.1f} s ({path})",
             "  verdicts (predicted ms numba / torch):"]
    for mode, training, lengths, (t, b, f, h) in EXAMPLES:
        shape = Shape(t, b, f, h, h)
        ms = [model.predict_ms(k, mode, training, lengths, shape) for k in BACKENDS]
        flags = ["training" if training else "inference", *(["lengths"] if lengths else [])]
        text = " / ".join("?" if m is None else f"{m:.2f}" for m in ms)
        verdict = model.choose(mode, training, lengths, shape)
        if verdict is None and not within_calibration(shape):
            verdict = "numba, beyond the calibrated sizes"
        lines.append(f"    {mode} {' '.join(flags)} T={t} B={b} F={f} H={h}: {verdict} ({text})")
    return lines


def machine_key() -> dict[str, str]:
    """What a calibration is valid for: CPU model, torch threads, torch/numba/rnnkit versions."""
    import rnnkit

    try:
        import numba

        numba_version = numba.__version__
    except ImportError:
        numba_version = "missing"
    return {"cpu": _cpu_model(), "threads": str(torch.get_num_threads()),
            "torch": torch.__version__, "numba": numba_version, "rnnkit": rnnkit.__version__}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_path(machine: Mapping[str, str] | None = None) -> Path:
    """The calibration file for ``machine`` (default: this one), named by a hash of its key."""
    machine = machine_key() if machine is None else machine
    folder = os.environ.get(CACHE_DIR) or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnnkit")
    digest = hashlib.sha256(json.dumps(dict(machine), sort_keys=True).encode()).hexdigest()
    return Path(folder) / f"cost-model-{digest[:16]}.json"


def load() -> CostModel | None:
    """The cached calibration of this machine, or None (missing, corrupt or foreign: logged)."""
    machine = machine_key()
    path = cache_path(machine)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    try:
        return CostModel.from_json(text, machine)
    except ValueError as err:
        logger.warning("rnnkit: ignoring the cost-model calibration %s (%s); it will be "
                       "measured again", path, err)
        return None


def save(model: CostModel) -> Path:
    """Write ``model`` to its cache file (temporary file + rename)."""
    from rnnkit.core.files import atomic_write_text

    return atomic_write_text(cache_path(model.machine), model.to_json())


# --- measuring --------------------------------------------------------------------------------

#: (family, training, lengths, (T, B, F, H)) -> {backend: milliseconds}.
Timer = Callable[[str, bool, bool, tuple[int, int, int, int]], dict[str, float]]


def _time_layers(family: str, training: bool, lengths: bool,
                 shape: tuple[int, int, int, int]) -> dict[str, float]:
    """Fastest ms of one unidirectional layer on each backend, run alternately (same weights).

    The minimum, not the median: on a shared machine a descheduled thread only ever adds time,
    and torch's OpenMP team suffers most from it, so the minimum is each backend's own cost and
    errs towards torch. At most :data:`REPEATS` rounds, two once a round took
    :data:`ROUND_BUDGET_S`; the first round is also the warm-up (numba's compilation or cache
    load, torch's oneDNN primitive for the shape), which the minimum then discards.
    """
    import rnnkit.nn as rnn

    steps, batch, features, hidden = shape
    cls = {"rnn": rnn.RNN, "lstm": rnn.LSTM, "gru": rnn.GRU}[family]
    # The first call that needs a verdict may come from inside no_grad or inference_mode, and
    # it must not move the caller's random stream (the layers are initialised from it).
    with torch.random.fork_rng(devices=[]), torch.inference_mode(False), torch.enable_grad():
        gen = torch.Generator().manual_seed(0)
        layers = {b: cls(features, hidden, backend=b) for b in BACKENDS}
        layers["torch"].load_state_dict(layers["numba"].state_dict())
        x = torch.randn(steps, batch, features, generator=gen)
        lens = torch.randint(1, steps + 1, (batch,), generator=gen) if lengths else None

        def call(layer: torch.nn.Module) -> None:
            if training:
                layer.zero_grad(set_to_none=True)
                out, _ = layer(x, lengths=lens)
                out.sum().backward()
            else:
                with torch.no_grad():
                    layer(x, lengths=lens)

        best = dict.fromkeys(BACKENDS, math.inf)
        for repeat in range(REPEATS):
            round_start = time.perf_counter()
            for b, layer in layers.items():
                start = time.perf_counter()
                call(layer)
                best[b] = min(best[b], time.perf_counter() - start)
            if repeat >= 1 and time.perf_counter() - round_start > ROUND_BUDGET_S:
                break
    return {b: t * 1e3 for b, t in best.items()}


def calibrate(timer: Timer | None = None) -> CostModel:
    """Time :data:`CALIBRATION_SHAPES` on both backends for every model key and fit the model.

    ``timer`` (family, training, lengths, (T, B, F, H)) -> {backend: ms} replaces the real
    measurement (:func:`_time_layers`) in tests.
    """
    timer = timer or _time_layers
    start = time.perf_counter()
    coefficients: dict[str, dict[str, list[float]]] = {}
    for family, mode in _FAMILY_MODE.items():
        for training in (False, True):
            for lengths in (False, True):
                measured = [timer(family, training, lengths, s) for s in CALIBRATION_SHAPES]
                rows = np.stack([terms(mode, Shape(*s, s[3])) for s in CALIBRATION_SHAPES])
                coefficients[model_key(mode, training, lengths)] = {
                    b: fit(rows, np.array([max(m[b], 1e-6) for m in measured]))
                    for b in BACKENDS}
    return CostModel(machine_key(), coefficients, time.perf_counter() - start)


_model: CostModel | None = None
_lock = threading.RLock()


def current(*, measure: bool = True) -> CostModel | None:
    """This machine's cost model: in memory, else from disk, else (``measure``) calibrated now."""
    global _model
    with _lock:
        if _model is None or _model.machine != machine_key():
            _model = load()
        if _model is None and measure:
            logger.info("rnnkit: calibrating backend='auto' (numba vs torch timings, once per "
                        "machine; cached in %s)", cache_path().parent)
            _model = recalibrate()
            logger.info("rnnkit: calibration took %.1f s", _model.seconds)
        return _model


def recalibrate(timer: Timer | None = None) -> CostModel:
    """Measure again, save and use the new calibration (``rnnkit bench --calibrate``)."""
    global _model
    with _lock:
        model = calibrate(timer)
        try:
            save(model)
        except OSError as err:  # a read-only home still gets the model for this process
            logger.warning("rnnkit: could not cache the calibration (%s)", err)
        _model = model
        from rnnkit.kernels.registry import _select_cached

        _select_cached.cache_clear()
        return model


def use(model: CostModel | None) -> None:
    """Use ``model`` in this process (None: read the disk cache again on the next call)."""
    global _model
    with _lock:
        _model = model
        from rnnkit.kernels.registry import _select_cached

        _select_cached.cache_clear()
