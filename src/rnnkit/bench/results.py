"""The measured numbers as plain records; :mod:`rnnkit.bench.report` renders them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Timing:
    """One (kind, shape, task) comparison; times are medians in milliseconds."""

    kind: str
    batch: int
    steps: int
    features: int
    hidden: int
    task: str  # 'inference' or 'training'
    torch_ms: float
    rnnkit_ms: float
    gflop: float

    @property
    def ratio(self) -> float:
        return self.torch_ms / self.rnnkit_ms

    @property
    def rnnkit_gflops(self) -> float:
        return self.gflop / (self.rnnkit_ms / 1e3)

    @property
    def torch_gflops(self) -> float:
        return self.gflop / (self.torch_ms / 1e3)


@dataclass
class Streaming:
    """µs per step: torch's cell, ``layer.step`` (functional) and ``layer.stream()`` (stateful)."""

    kind: str
    hidden: int
    torch_us: float
    rnnkit_us: float
    stream_us: float


@dataclass
class Memory:
    """Peak extra resident memory (MB) of one training step, each in a fresh process."""

    kind: str
    batch: int
    steps: int
    features: int
    hidden: int
    torch_mb: float
    rnnkit_mb: float


@dataclass
class Report:
    """Everything one benchmark run measured, with the conditions it ran under."""

    threads: int
    sgemm_peak_gflops: float
    timings: list[Timing] = field(default_factory=list)
    streaming: list[Streaming] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    compile_seconds: dict[str, float] = field(default_factory=dict)
    machine: str = ""
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)  # os.getloadavg() at the start
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
