"""The training engine: BPTT (full, truncated, stateful), clipping, optimisers and schedules,
callbacks, atomic checkpoints with exact resume, and data parallelism over torch.distributed.

Start with :class:`Trainer` and :class:`TrainConfig`; a model takes part through the small
task-model protocol of :mod:`rnnkit.train.protocol`. The guide is ``docs/training.md``.
"""

from rnnkit.train.bptt import (
    BPTTStrategy,
    FullBPTT,
    StatefulBPTT,
    TruncatedBPTT,
    detach_state,
    make_strategy,
    windows,
)
from rnnkit.train.callbacks import (
    BestWeights,
    Callback,
    EarlyStopping,
    HistoryWriter,
    LearningCurves,
    ModelCheckpoint,
    ProgressBar,
    default_callbacks,
)
from rnnkit.train.checkpoint import load_checkpoint, load_weights, save_checkpoint
from rnnkit.train.clipping import ClipResult, clip_gradients
from rnnkit.train.config import ConfigError, TrainConfig
from rnnkit.train.distributed import (
    DistributedContext,
    init_distributed,
    shutdown_distributed,
)
from rnnkit.train.divergence import DivergenceError
from rnnkit.train.history import History
from rnnkit.train.memory import ModelTooLargeError, build_model_within_memory
from rnnkit.train.optim import LRSchedule, PlateauReducer, build_optimizer
from rnnkit.train.plots import PlotDependencyError, plot_comparison, plot_history
from rnnkit.train.protocol import ProtocolError, State, TaskModel
from rnnkit.train.seeding import seed_everything
from rnnkit.train.time_budget import TimeBudget, parse_duration
from rnnkit.train.trainer import Trainer

__all__ = [
    "BPTTStrategy",
    "BestWeights",
    "Callback",
    "ClipResult",
    "ConfigError",
    "DistributedContext",
    "DivergenceError",
    "EarlyStopping",
    "FullBPTT",
    "History",
    "HistoryWriter",
    "LRSchedule",
    "LearningCurves",
    "ModelCheckpoint",
    "ModelTooLargeError",
    "PlateauReducer",
    "PlotDependencyError",
    "ProgressBar",
    "ProtocolError",
    "State",
    "StatefulBPTT",
    "TaskModel",
    "TimeBudget",
    "TrainConfig",
    "Trainer",
    "TruncatedBPTT",
    "build_model_within_memory",
    "build_optimizer",
    "clip_gradients",
    "default_callbacks",
    "detach_state",
    "init_distributed",
    "load_checkpoint",
    "load_weights",
    "make_strategy",
    "parse_duration",
    "plot_comparison",
    "plot_history",
    "save_checkpoint",
    "seed_everything",
    "shutdown_distributed",
    "windows",
]
